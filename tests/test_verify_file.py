"""``codefinder verify FILE``: CSV, TSV and Parquet in, a report CSV (and HTML) out; malformed rows reported
with their line and skipped (or fatal with --strict); a stopped run resumed to the same report."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.api.tables import Table, detect_columns
from codefinder.api.verify_report import ReportError, progress_path, verify_table
from codefinder.search.verify_table import REPORT_COLUMNS, TableOptions

ROWS = [
    ("madeupcillin 1 g iv", "J9901", "", "2", "pharmacy"),
    ("walker", "E0130", "RR", "", "dme"),
    ("keytruda 200 mg", "J9271-JW", "", "", "oncology"),
    ("office visit", "99213", "", "", "clinic"),
    ("wrist splint", "L9901", "LT RT", "", "ortho"),
    ("cpap machine", "E0601", "", "", "dme"),
    ("screening mammography", "G0202", "", "", "imaging"),
]
HEADER = ("Charge Description", "HCPCS", "Modifiers", "Units", "Dept")


def write_csv(path: Path, rows=ROWS, header=HEADER, delimiter: str = ",", encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def context(verify_settings, fake_encoder) -> AppContext:
    return AppContext(settings=verify_settings, encoder_factory=lambda _settings: fake_encoder)


@pytest.fixture
def run(context):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), obj=context, catch_exceptions=False)

    return invoke


def test_a_csv_file_makes_a_report_and_an_html_page(run, tmp_path):
    source = write_csv(tmp_path / "lines.csv")
    result = run("verify", str(source), "--html")
    assert result.exit_code == 0, result.output
    report = tmp_path / "lines.report.csv"
    rows = read_report(report)
    assert list(rows[0]) == [*HEADER, *REPORT_COLUMNS]
    assert [row["line"] for row in rows] == [str(n) for n in range(2, 9)]
    assert [row["HCPCS"] for row in rows] == [row[1] for row in ROWS]  # the input as given
    by_code = {row["HCPCS"]: row for row in rows}
    assert "units_mismatch" in by_code["J9901"]["flags"] and by_code["J9901"]["expected_units"] == "4"
    assert by_code["99213"]["verdict"] == "needs_cpt"
    assert by_code["G0202"]["verdict"] == "terminated"
    assert "modifier_conflict" in by_code["L9901"]["flags"]
    assert by_code["J9271-JW"]["units_how"] == ""
    assert "7 rows: " in result.output and f"report: {report}" in result.output
    page = (tmp_path / "lines.report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Verdicts by section" in page and "needs_cpt" in page
    for external in ("<script", "<link", "src=", "href=", "@import", "url("):
        assert external not in page  # self-contained


def test_tsv_parquet_and_named_columns_give_the_same_verdicts(run, tmp_path):
    run("verify", str(write_csv(tmp_path / "lines.csv")))
    expected = [row["verdict"] for row in read_report(tmp_path / "lines.report.csv")]

    tsv = write_csv(tmp_path / "lines.tsv", delimiter="\t")
    assert run("verify", str(tsv)).exit_code == 0
    assert [row["verdict"] for row in read_report(tmp_path / "lines.report.csv")] == expected

    table = pa.table({name: [row[i] for row in ROWS] for i, name in enumerate(("what", "billed as", "m", "u", "d"))})
    parquet = tmp_path / "lines.parquet"
    pq.write_table(table, parquet, row_group_size=3)
    result = run(
        "verify", str(parquet), "--description-column", "what", "--code-column", "billed as",
        "--modifiers-column", "m", "--units-column", "u", "-o", str(tmp_path / "pq.csv"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_report(tmp_path / "pq.csv")
    assert [row["verdict"] for row in rows] == expected
    assert [row["line"] for row in rows] == [str(n) for n in range(1, 8)]  # Parquet rows count from 1


def test_columns_are_found_by_name_or_refused_in_one_line(run, tmp_path):
    header = ("desc", "CPT/HCPCS Code", "qty")
    table = Table(write_csv(tmp_path / "a.csv", [("walker", "E0130", "1")], header))
    columns = detect_columns(table.header, {}, "a.csv")
    found = (columns.description, columns.code, columns.modifiers, columns.units)
    assert found == ("desc", "CPT/HCPCS Code", None, "qty")
    odd = write_csv(tmp_path / "odd.csv", [("walker", "E0130")], ("text", "billed"))
    result = run("verify", str(odd))
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "no description column" in result.output and "--description-column" in result.output
    missing = run("verify", str(odd), "--description-column", "nope")
    assert missing.exit_code == 1 and "no column 'nope'" in missing.output


def test_a_file_that_is_not_there_is_a_usage_error_naming_it(run, tmp_path):
    result = run("verify", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "missing.csv" in result.output and "does not exist" in result.output


def test_malformed_rows_are_reported_with_their_line_and_skipped_unless_strict(run, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text(
        "description,code,units\n"
        "walker,E0130,\n"
        "walker,E0130,lots\n"  # line 3: units not a number
        "walker,E0130,,extra\n"  # line 4: a field too many
        '"cpap\nmachine",E0601,\n'  # lines 5-6: one record over two lines
        "walker,E0130 ZZ,\n"  # line 7: unknown modifier
        ",E0601,\n",  # line 8: no description
        encoding="utf-8",
    )
    result = run("verify", str(source))
    assert result.exit_code == 0, result.output
    for line in ("line 3: units 'lots' is not a number", "line 4: 4 fields", "line 7: unknown modifier 'ZZ'", "line 8"):
        assert f"skipped {line}" in result.output
    rows = read_report(tmp_path / "bad.report.csv")
    assert [(row["line"], row["verdict"] == "malformed") for row in rows] == [
        ("2", False), ("3", True), ("4", True), ("5", False), ("7", True), ("8", True)
    ]  # fmt: skip
    strict = run("verify", str(source), "--strict", "-o", str(tmp_path / "strict.csv"))
    assert strict.exit_code == 1 and strict.output.count("\n") == 1
    assert "line 3: units 'lots' is not a number (--strict)" in strict.output


def test_text_that_is_not_utf8_is_one_line_and_readable_with_its_encoding(run, tmp_path):
    source = tmp_path / "latin.csv"
    source.write_bytes("description,code\ncaf\xe9 walker,E0130\n".encode("cp1252"))
    result = run("verify", str(source))
    assert result.exit_code == 1 and "pass --encoding" in result.output and result.output.count("\n") == 1
    assert run("verify", str(source), "--encoding", "cp1252").exit_code == 0


class Stop(Exception):
    """Stands for the kill: raised after a chunk is written."""


def test_a_stopped_run_resumes_to_the_report_an_unstopped_run_writes(run, context, tmp_path):
    rows = [(f"walker number {i}", "E0130" if i % 3 else "J9271", "", "", "dme") for i in range(23)]
    source = write_csv(tmp_path / "many.csv", rows)
    assert run("verify", str(source), "-o", str(tmp_path / "whole.csv"), "--chunk-rows", "4").exit_code == 0

    report = tmp_path / "stopped.csv"
    engine = context.engine()
    table = Table(source)
    options = TableOptions(detect_columns(table.header, {}, "many.csv"))
    done = []

    def stop_after_two_chunks(count: int) -> None:
        done.append(count)
        if len(done) == 2:
            raise Stop

    with pytest.raises(Stop):
        verify_table(engine, table, options, report, chunk_rows=4, on_chunk=stop_after_two_chunks)
    assert progress_path(report).is_file() and len(read_report(report)) == 8
    with report.open("a", encoding="utf-8") as handle:  # a row half-written when the process died
        handle.write("walker number 8,E01")

    again = run("verify", str(source), "-o", str(report), "--chunk-rows", "4")
    assert again.exit_code == 1 and "--resume" in again.output  # an unfinished run is not overwritten
    changed = run("verify", str(source), "-o", str(report), "--resume", "--setting", "hospital")
    assert changed.exit_code == 1 and "options changed" in changed.output
    resumed = run("verify", str(source), "-o", str(report), "--resume", "--chunk-rows", "4")
    assert resumed.exit_code == 0, resumed.output
    assert report.read_text(encoding="utf-8") == (tmp_path / "whole.csv").read_text(encoding="utf-8")
    assert not progress_path(report).exists()
    nothing = run("verify", str(source), "-o", str(report), "--resume")
    assert nothing.exit_code == 1 and "nothing to resume" in nothing.output


def test_resume_refuses_an_input_that_changed(context, tmp_path):
    source = write_csv(tmp_path / "lines.csv")
    report = tmp_path / "r.csv"
    table = Table(source)
    options = TableOptions(detect_columns(table.header, {}, "lines.csv"))

    def stop(_count: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        verify_table(context.engine(), table, options, report, chunk_rows=2, on_chunk=stop)
    write_csv(source, [*ROWS, ("walker", "E0130", "", "", "dme")])
    with pytest.raises(ReportError, match="input_bytes"):
        verify_table(context.engine(), Table(source), options, report, resume=True)
