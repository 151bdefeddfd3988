"""A file command on a Dask cluster: partitions out, parts and a summary back.

This process reads the input with the same reader as the in-process run (``api.tables.Table`` for a table,
numbered lines for a text file), so line numbers, malformed records and encodings are exactly the same, and
cuts it into partitions of whole chunks — the chunks the in-process run makes, because the engine embeds a
chunk's texts together and the int8 query model quantizes per batch. A worker answers each chunk with the
in-process chunk function (``answer_rows``, ``search_chunk``, ``suggest_lines``) on its own engine, and
this process writes each partition's rows as one part (``part-00000.csv`` or ``.parquet``, written to a
temporary name and renamed), the malformed lines, in input order, to ``errors.csv``, and ``summary.json``
last. A part is written once, when its result first arrives: if a worker dies, Dask runs its partitions
again elsewhere and nothing is written twice. At most a few partitions per worker thread are in flight, so
memory stays bounded on any size of input.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codefinder.api.cluster import ClusterSpec, cluster_client, dashboard_available
from codefinder.api.tables import Table, renamed_columns, renamed_row, report_names
from codefinder.api.verify_report import chunks
from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.settings import Settings
from codefinder.search.verify_table import MALFORMED, REPORT_COLUMNS, TableOptions

if TYPE_CHECKING:
    from distributed import Client

OUTPUT_FORMATS = ("csv", "parquet")
SUMMARY = "summary.json"
ERRORS = "errors.csv"
PARTITION_ROWS = 10_000
IN_FLIGHT_PER_THREAD = 2  # partitions queued per worker thread: one running, one waiting


class OutputError(CodefinderError):
    """An output folder that cannot be written as asked."""


@dataclass
class JobTally:
    """What a cluster run did: rows, parts, malformed lines (counted; all of them are in errors.csv)."""

    rows: int = 0
    parts: int = 0
    errors: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    first_errors: list[str] = field(default_factory=list)


def partitions(chunks: Iterable[list[Any]], chunks_per_partition: int) -> Iterator[list[list[Any]]]:
    """Consecutive chunks grouped into partitions (the last may be shorter)."""
    group: list[list[Any]] = []
    for chunk in chunks:
        group.append(chunk)
        if len(group) == chunks_per_partition:
            yield group
            group = []
    if group:
        yield group


def chunks_per_partition(partition_rows: int, chunk_rows: int) -> int:
    return max(1, -(-partition_rows // chunk_rows))


class PartsWriter:
    """The output folder: parts by number, errors in input order, the summary last (its presence says the run
    finished). A folder that already holds files is refused, so no part of an older run can mix in."""

    def __init__(self, folder: Path, header: Sequence[str], output_format: str) -> None:
        if output_format not in OUTPUT_FORMATS:
            raise OutputError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}")
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise OutputError(f"{folder} exists and is not an empty folder; remove it or choose another output")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.header = list(header)
        self.format = output_format
        self.names: list[str] = []
        self._errors_handle = (folder / ERRORS).open("w", encoding="utf-8", newline="")
        self._errors = csv.writer(self._errors_handle)
        self._errors.writerow(["line", "error"])
        self._held: dict[int, list[tuple[str, str]]] = {}
        self._next_errors = 0

    def part_name(self, number: int) -> str:
        return f"part-{number:05d}.{self.format}"

    def write_part(self, number: int, rows: list[dict[str, str]], errors: list[tuple[str, str]]) -> None:
        path = self.folder / self.part_name(number)
        temporary = path.with_name(f".{path.name}.tmp")
        if self.format == "csv":
            with temporary.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, self.header, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            columns = {name: [row.get(name, "") for row in rows] for name in self.header}
            pq.write_table(pa.table(columns, schema=pa.schema([(n, pa.string()) for n in self.header])), temporary)
        temporary.replace(path)
        self.names.append(path.name)
        self._held[number] = errors
        while self._next_errors in self._held:  # errors.csv stays in input order
            self._errors.writerows(self._held.pop(self._next_errors))
            self._next_errors += 1

    def finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Write ``summary.json`` (with the parts' names) last; return what it says."""
        self._errors_handle.close()
        summary = {**summary, "parts": sorted(self.names)}
        path = self.folder / SUMMARY
        temporary = path.with_name(f".{SUMMARY}.tmp")
        temporary.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        temporary.replace(path)
        return summary

    def close(self) -> None:
        if not self._errors_handle.closed:
            self._errors_handle.close()


def read_parts(folder: Path) -> Iterator[dict[str, str]]:
    """Every row of a finished run's parts, in input order."""
    summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    for name in summary["parts"]:
        path = folder / name
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            yield from pq.read_table(path).to_pylist()
        else:
            with path.open(encoding="utf-8", newline="") as handle:
                yield from csv.DictReader(handle)


def run_partitions(
    client: Client,
    job: str,
    parts: Iterable[list[Any]],
    task: Callable[..., list[dict[str, str]]],
    task_args: tuple[Any, ...],
    writer: PartsWriter,
    errors_of: Callable[[dict[str, str]], tuple[str, str] | None],
    count_of: Callable[[dict[str, str]], str | None],
    on_part: Callable[[int], None] | None = None,
    stop_at_error: bool = False,
) -> JobTally:
    """Submit ``task(partition, *task_args)`` for each partition (a bounded number in flight), write each
    result as its part, and count rows, errors (``errors_of``: (line, why) or None) and ``count_of`` values."""
    from distributed import as_completed

    threads = max(1, sum(client.nthreads().values()))
    window = threads * IN_FLIGHT_PER_THREAD
    run_id = uuid.uuid4().hex[:8]
    source = enumerate(parts)
    numbers: dict[str, int] = {}
    pending = as_completed()
    tally = JobTally()

    def submit_next() -> bool:
        item = next(source, None)
        if item is None:
            return False
        number, partition = item
        future = client.submit(task, partition, *task_args, key=f"codefinder-{job}-{run_id}-{number:05d}", pure=False)
        numbers[future.key] = number
        pending.add(future)
        return True

    for _ in range(window):
        if not submit_next():
            break
    for future in pending:
        rows = future.result()
        number = numbers.pop(future.key)
        future.release()
        errors = [error for error in map(errors_of, rows) if error is not None]
        if errors and stop_at_error:
            raise OutputError(f"{errors[0][1]} (--strict)")
        writer.write_part(number, rows, errors)
        tally.rows += len(rows)
        tally.parts += 1
        tally.errors += len(errors)
        tally.first_errors += [why for _, why in errors[: max(0, 20 - len(tally.first_errors))]]
        tally.counts.update(value for value in map(count_of, rows) if value is not None)
        if on_part is not None:
            on_part(len(rows))
        submit_next()
    return tally


def summary_of(job: str, source: Path, cluster: str, client: Client, tally: JobTally, seconds: float,
               output_format: str, **extra: Any) -> dict[str, Any]:
    from codefinder.api.cluster_engine import engine_build

    builds = sorted({build for build in client.run(engine_build).values() if build})
    return {
        "command": job,
        "input": str(source),
        "cluster": cluster,
        "workers": len(client.nthreads()),
        "index_version": builds[0] if len(builds) == 1 else builds,
        "rows": tally.rows,
        "errors": tally.errors,
        "format": output_format,
        "seconds": round(seconds, 2),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        **extra,
    }


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def dashboard_link(client: Client, spec: ClusterSpec) -> str | None:
    """The scheduler's dashboard: a running scheduler's own; a local cluster's where bokeh is installed."""
    if spec.kind == "local" and not dashboard_available():
        return None
    try:
        return str(client.dashboard_link)
    except Exception:  # a scheduler without a web server
        return None


@dataclass(frozen=True)
class ClusterRun:
    """Where and how a file command runs on a cluster, and what this process shows while it does."""

    spec: ClusterSpec
    settings: Settings
    output: Path
    output_format: str = "csv"
    partition_rows: int = PARTITION_ROWS
    on_start: Callable[[str | None], None] | None = None  # gets the dashboard link, if any
    on_part: Callable[[int], None] | None = None  # gets the rows of each part written

    def run(
        self,
        job: str,
        source: Path,
        header: Sequence[str],
        parts: Iterable[list[Any]],
        task: Callable[..., list[dict[str, str]]],
        task_args: tuple[Any, ...],
        errors_of: Callable[[dict[str, str]], tuple[str, str] | None],
        count_of: Callable[[dict[str, str]], str | None] = lambda _row: None,
        stop_at_error: bool = False,
    ) -> tuple[JobTally, dict[str, Any]]:
        watch = Stopwatch()
        writer = PartsWriter(self.output, header, self.output_format)
        try:
            with cluster_client(self.spec, self.settings, str(self.settings.index)) as client:
                ready = watch.seconds
                if self.on_start is not None:
                    self.on_start(dashboard_link(client, self.spec))
                tally = run_partitions(
                    client, job, parts, task, task_args, writer, errors_of, count_of, self.on_part, stop_at_error
                )
                summary = summary_of(
                    job, source, str(self.spec), client, tally, watch.seconds, self.output_format,
                    counts=dict(tally.counts), startup_seconds=round(ready, 2),
                )
            summary = writer.finish(summary)
        finally:
            writer.close()
        return tally, summary


def verify_on_cluster(
    run: ClusterRun, table: Table, options: TableOptions, chunk_rows: int, strict: bool
) -> tuple[JobTally, dict[str, Any]]:
    """``codefinder verify FILE --cluster``: the report as parts, the same rows as the in-process report."""
    from codefinder.api.cluster_engine import verify_partition

    names = report_names(table.header)  # as verify_table names them
    renamed = dataclasses.replace(options, columns=renamed_columns(options.columns, names))
    rows = (renamed_row(row, names) for row in table.rows())
    parts = partitions(chunks(rows, chunk_rows), chunks_per_partition(run.partition_rows, chunk_rows))

    def malformed(row: dict[str, str]) -> tuple[str, str] | None:
        return (row["line"], row["reasons"]) if row["verdict"] == MALFORMED else None

    header = [*names.values(), *REPORT_COLUMNS]
    return run.run(
        "verify", table.path, header, parts, verify_partition, (renamed,), malformed, lambda row: row["verdict"], strict
    )


def lines_on_cluster(
    run: ClusterRun, job: str, source: Path, numbered: Iterable[tuple[int, str]], chunk_lines: int,
    task: Callable[..., list[dict[str, str]]], task_args: tuple[Any, ...],
) -> tuple[JobTally, dict[str, Any]]:
    """``search --file`` / ``suggest --file`` with ``--cluster``: one row per line (its number and the JSON line
    the in-process run prints), partitions of whole chunks of ``chunk_lines``."""
    chunked = partitions(chunks(numbered, chunk_lines), chunks_per_partition(run.partition_rows, chunk_lines))
    return run.run(job, source, ["line", "result"], chunked, task, task_args, refused_line)


def refused_line(row: dict[str, str]) -> tuple[str, str] | None:
    return (row["line"], row["error"]) if row.get("error") else None


def lines_file_on_cluster(
    run: ClusterRun, job: str, source: Path, numbered: Iterable[tuple[int, str]], chunk_lines: int,
    task: Callable[..., list[dict[str, str]]], task_args: tuple[Any, ...],
) -> None:
    """``search --file`` / ``suggest --file`` with ``--cluster``, with a progress bar and the closing lines."""
    import click
    from tqdm import tqdm

    bar = tqdm(unit=" lines", desc=f"{job} {source.name} on {run.spec}", disable=None, file=sys.stderr)

    def started(link: str | None) -> None:
        if link:
            tqdm.write(f"dashboard: {link}", file=sys.stderr)

    with bar:
        tally, _ = lines_on_cluster(
            dataclasses.replace(run, on_start=started, on_part=bar.update), job, source, numbered, chunk_lines,
            task, task_args,
        )
    click.echo(f"{tally.rows:,} lines, {tally.errors:,} refused (in {ERRORS})")
    click.echo(f"results: {run.output} ({tally.parts} parts, {SUMMARY})")


def cluster_source(file: Any) -> Path:
    """The path of a ``--file`` a cluster run reads (not stdin: it is read again while workers answer)."""
    name = getattr(file, "name", "-")
    if name in ("-", "<stdin>") or not Path(name).is_file():
        raise OutputError("--cluster reads a file: give its path, not '-'")
    return Path(name)
