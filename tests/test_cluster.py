"""``--cluster``: the cluster spec, the output folder, Parquet parts as input; and, on a real LocalCluster of 2
worker processes with the real index, results identical to the in-process run row for row (the dev
chargemaster), a worker killed in the middle of a run, and a worker without the index."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from codefinder.api.cli import main
from codefinder.api.cluster import ClusterError, ClusterSpec, parse_cluster
from codefinder.api.cluster_jobs import ERRORS, SUMMARY, ClusterRun, OutputError, PartsWriter, partitions, read_parts
from codefinder.api.context import AppContext
from codefinder.api.tables import Table, detect_columns
from codefinder.api.verify_report import verify_table
from codefinder.indexer.settings import Settings
from codefinder.search.verify_table import TableOptions

DEV_CHARGEMASTER = Settings().data_dir / "eval" / "dev_chargemaster.csv"


# --- no cluster needed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", ClusterSpec("none")),
        ("local:2", ClusterSpec("local", workers=2)),
        ("LOCAL:1", ClusterSpec("local", workers=1)),
        ("tcp://scheduler.example:8786", ClusterSpec("remote", address="tcp://scheduler.example:8786")),
    ],
)
def test_cluster_specs(text, expected):
    assert parse_cluster(text) == expected


def test_local_without_a_count_takes_the_cores():
    spec = parse_cluster("local")
    assert spec.kind == "local" and spec.workers >= 1


@pytest.mark.parametrize("text", ["local:0", "local:x", "remote", "tcp://host", "http://host:8786", ""])
def test_bad_cluster_specs_are_one_line_errors(text):
    with pytest.raises(ClusterError, match="--cluster"):
        parse_cluster(text)


def test_partitions_are_whole_chunks():
    chunks = [[1, 2], [3, 4], [5]]
    assert list(partitions(chunks, 2)) == [[[1, 2], [3, 4]], [[5]]]


def test_parts_writer_keeps_errors_in_input_order_and_refuses_a_used_folder(tmp_path):
    out = tmp_path / "out"
    writer = PartsWriter(out, ["line", "x"], "csv")
    writer.write_part(1, [{"line": "3", "x": "c"}], [("3", "line 3: bad")])
    writer.write_part(0, [{"line": "2", "x": "b"}], [("2", "line 2: bad")])
    writer.finish({"rows": 2})
    assert [row["line"] for row in read_parts(out)] == ["2", "3"]
    with (out / ERRORS).open(encoding="utf-8") as handle:
        assert [row["line"] for row in csv.DictReader(handle)] == ["2", "3"]
    assert json.loads((out / SUMMARY).read_text())["parts"] == ["part-00000.csv", "part-00001.csv"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(OutputError, match="not an empty folder"):
        PartsWriter(out, ["line"], "csv")


def test_parquet_parts_round_trip(tmp_path):
    writer = PartsWriter(tmp_path / "out", ["line", "x"], "parquet")
    writer.write_part(0, [{"line": "2", "x": "b"}], [])
    writer.finish({})
    assert list(read_parts(tmp_path / "out")) == [{"line": "2", "x": "b"}]


def test_a_folder_of_parquet_parts_is_one_table_numbered_across_parts(tmp_path):
    folder = tmp_path / "lines"
    folder.mkdir()
    pq.write_table(pa.table({"description": ["walker", "cane"], "code": ["E0130", "E0100"]}), folder / "b.parquet")
    pq.write_table(pa.table({"description": ["crutch"], "code": ["E0110"]}), folder / "a.parquet")
    (folder / "_SUCCESS").write_text("")
    table = Table(folder)
    assert table.format == "parquet" and table.total_rows == 3
    assert [(row.line, row.values["description"]) for row in table.rows()] == [
        (1, "crutch"),
        (2, "walker"),
        (3, "cane"),
    ]
    assert [row.line for row in table.rows(after=2)] == [3]


def test_cluster_options_that_do_not_fit(tmp_path, app_context):
    source = tmp_path / "lines.csv"
    source.write_text("description,code\nwalker,E0130\n", encoding="utf-8")
    runner = CliRunner()
    resumed = runner.invoke(main, ["verify", str(source), "--cluster", "local:1", "--resume"], obj=app_context)
    assert resumed.exit_code == 2 and "--resume goes with --cluster none" in resumed.output
    parquet = runner.invoke(main, ["verify", str(source), "--output-format", "parquet"], obj=app_context)
    assert parquet.exit_code == 2 and "--output-format goes with --cluster" in parquet.output
    bad = runner.invoke(main, ["verify", str(source), "--cluster", "local:none"], obj=app_context)
    assert bad.exit_code == 2 and "--cluster" in bad.output
    stdin = runner.invoke(main, ["search", "--file", "-", "--cluster", "local:1"], input="walker\n", obj=app_context)
    assert stdin.exit_code == 1 and "not '-'" in stdin.output


# --- a real LocalCluster -----------------------------------------------------------------------------


def _children() -> set[int]:
    """This process's children, but multiprocessing's resource tracker (started once, kept for the process)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture
def no_leaked_processes():
    """Every process a cluster started is gone once the run is over."""
    before = _children()
    yield
    left = _children() - before
    for pid in left:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
            psutil.Process(pid).wait(timeout=10)
    assert not {pid for pid in left if psutil.pid_exists(pid)}, "the cluster left processes running"


@pytest.fixture(scope="module")
def dev_file(tmp_path_factory) -> Path:
    """The dev chargemaster and two malformed lines after it: one without a code, one with a field too many."""
    if not DEV_CHARGEMASTER.is_file():
        pytest.skip("dev chargemaster not found")
    path = tmp_path_factory.mktemp("cluster") / "dev.csv"
    text = DEV_CHARGEMASTER.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + "\nCATH FOLEY 16FR,,made-up\nWALKER,E0130,made-up,extra\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def file_settings(real_context):
    return real_context.settings.model_copy(update={"query_embedding_cache": 0})


def _options(table: Table) -> TableOptions:
    return TableOptions(detect_columns(table.header, {}, str(table.path)), max_description_chars=256)


@pytest.fixture(scope="module")
def in_process_report(real_context, file_settings, dev_file, tmp_path_factory) -> list[dict[str, str]]:
    """The in-process report of the file, as ``codefinder verify FILE`` writes it."""
    context = AppContext(settings=file_settings)
    engine = context.engine()
    table = Table(dev_file)
    report = tmp_path_factory.mktemp("in-process") / "report.csv"
    verify_table(engine, table, _options(table), report)
    with report.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _run(settings, out: Path, on_part=None) -> ClusterRun:
    return ClusterRun(ClusterSpec("local", workers=2), settings, out, partition_rows=1000, on_part=on_part)


@pytest.mark.integration
def test_two_workers_give_the_in_process_report_row_for_row(
    file_settings, dev_file, in_process_report, tmp_path, no_leaked_processes
):
    from codefinder.api.cluster_jobs import verify_on_cluster

    table = Table(dev_file)
    out = tmp_path / "report"
    tally, summary = verify_on_cluster(_run(file_settings, out), table, _options(table), 1000, strict=False)
    rows = list(read_parts(out))
    assert len(rows) == len(in_process_report) == 4489
    assert rows == in_process_report
    assert summary["rows"] == 4489 and summary["workers"] == 2 and len(summary["parts"]) == 5
    # the malformed lines are in the report (verdict malformed) and in errors.csv, with their line numbers
    with (out / ERRORS).open(encoding="utf-8") as handle:
        errors = list(csv.DictReader(handle))
    assert [row["line"] for row in errors] == ["4489", "4490"]
    assert "no code" in errors[0]["error"] and "4 fields where the header has 3" in errors[1]["error"]
    assert tally.errors == 2


@pytest.mark.integration
def test_a_worker_killed_mid_run_every_row_exactly_once(
    file_settings, dev_file, in_process_report, tmp_path, no_leaked_processes
):
    from codefinder.api.cluster_jobs import verify_on_cluster

    killed: list[int] = []

    def kill_a_worker(_rows: int) -> None:
        if killed:
            return
        commands = {child.pid: " ".join(child.cmdline()) for child in psutil.Process().children(recursive=True)}
        workers = [pid for pid, text in commands.items() if "multiprocessing.spawn" in text and pid in _children()]
        assert workers, "no worker processes found"
        os.kill(workers[0], signal.SIGKILL)
        killed.append(workers[0])

    table = Table(dev_file)
    out = tmp_path / "report"
    _, summary = verify_on_cluster(
        _run(file_settings, out, on_part=kill_a_worker), table, _options(table), 1000, strict=False
    )
    assert killed
    rows = list(read_parts(out))
    lines = [row["line"] for row in rows]
    assert len(lines) == len(set(lines)) == summary["rows"] == 4489
    assert rows == in_process_report


@pytest.mark.integration
def test_a_worker_without_the_index_is_a_one_line_error_naming_it(app_context, tmp_path, no_leaked_processes):
    from distributed import LocalCluster

    source = tmp_path / "lines.csv"
    source.write_text("description,code\nwalker,E0130\n", encoding="utf-8")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster:
        worker = next(iter(cluster.scheduler.workers))
        result = CliRunner().invoke(
            main,
            ["verify", str(source), "--index", str(tmp_path / "missing"), "--cluster", cluster.scheduler_address],
            obj=app_context,
        )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert f"worker {worker}: no index at" in result.output
