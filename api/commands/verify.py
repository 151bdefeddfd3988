"""``codefinder verify FILE``: check every line of a CSV, TSV or Parquet file and write a report.

The file streams through ``api.verify_report`` a chunk at a time (bounded memory on any size of file), with a
progress bar on a terminal; the report CSV is the input's columns plus the verdict, confidence, better codes,
reasons and flags, and ``--html`` adds a self-contained page with a summary and a chart of verdicts by
section. ``--resume`` continues a run that was stopped; a malformed row is reported with its line and skipped
(``--strict`` stops at it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import click
from tqdm import tqdm

from codefinder.api import limits
from codefinder.api.cli_options import SETTING_OPTION, app_context, cluster_options, common_options, file_job_context
from codefinder.api.cluster import ClusterSpec
from codefinder.api.cluster_jobs import ERRORS, SUMMARY, ClusterRun, read_parts, verify_on_cluster
from codefinder.api.tables import FORMATS, Table, detect_columns, report_names
from codefinder.api.verify_html import report_stats, rows_stats, write_html
from codefinder.api.verify_report import CHUNK_ROWS, verify_table
from codefinder.search.verify_table import Columns, TableOptions

MALFORMED_SHOWN = 20


def default_report(source: Path) -> Path:
    return source.with_name(f"{source.stem}.report.csv")


def default_parts(source: Path) -> Path:
    return source.with_name(f"{source.stem}.report")


@click.command(name="verify")
@common_options
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--report", "-o", "report", type=click.Path(path_type=Path), default=None,
              help="Report CSV to write (default: FILE.report.csv beside FILE).")
@click.option("--html", "html", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="Also write a self-contained HTML report (default path: the report's, .html).")
@click.option("--format", "table_format", type=click.Choice(FORMATS), default=None,
              help="Input format (default: from the file name, else sniffed).")
@click.option("--delimiter", default=None, help="CSV delimiter (default: sniffed from the header line).")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="Text encoding of a CSV/TSV file.")
@click.option("--description-column", default=None, help="Column with the description (default: found by name).")
@click.option("--code-column", default=None, help="Column with the code, modifiers may follow it (default: found).")
@click.option("--modifiers-column", default=None, help="Column with modifiers given apart (default: found, if any).")
@click.option("--units-column", default=None, help="Column with the billed units (default: found, if any).")
@click.option("--candidates", type=click.IntRange(0, 10), default=3, show_default=True,
              help="Better codes listed for a line that is not consistent.")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Code status as of this date.")
@click.option("--resume", is_flag=True, help="Continue the stopped run that wrote --report.")
@click.option("--strict", is_flag=True, help="Stop at the first malformed row instead of skipping it.")
@click.option("--chunk-rows", type=click.IntRange(1, limits.MAX_VERIFY_ITEMS), default=CHUNK_ROWS, show_default=True,
              help="Rows verified (and written) at a time.")
@SETTING_OPTION
@cluster_options
@click.pass_context
def verify_command(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    file: Path,
    report: Path | None,
    html: str | None,
    table_format: str | None,
    delimiter: str | None,
    encoding: str,
    description_column: str | None,
    code_column: str | None,
    modifiers_column: str | None,
    units_column: str | None,
    candidates: int,
    as_of: dt.datetime | None,
    resume: bool,
    strict: bool,
    chunk_rows: int,
    setting: str,
    cluster: ClusterSpec,
    partition_rows: int,
    output_format: str,
) -> None:
    """Check the code of every line of FILE (CSV, TSV, Parquet, or a folder of Parquet parts) against its
    description; write a report (with --cluster: a folder of parts, errors.csv and summary.json)."""
    app = app_context(ctx, index, data_dir)
    app = file_job_context(app)
    settings = app.settings
    table = Table(file, table_format, delimiter, encoding)
    given = {
        "description": description_column,
        "code": code_column,
        "modifiers": modifiers_column,
        "units": units_column,
    }
    columns = detect_columns(table.header, given, str(file))
    options = TableOptions(
        columns,
        setting=setting,
        as_of=as_of.date() if as_of else None,
        candidates=candidates,
        max_description_chars=limits.MAX_VERIFY_DESCRIPTION_CHARS,
    )
    if not cluster.in_process:
        if resume:
            raise click.UsageError("--resume goes with --cluster none; a cluster run is started again whole")
        run = ClusterRun(cluster, settings, report or default_parts(file), output_format, partition_rows)
        verify_cluster(run, table, options, chunk_rows, strict, html, columns)
        return
    if output_format != "csv":
        raise click.UsageError("--output-format goes with --cluster (the in-process report is one CSV)")
    report = report or default_report(file)
    engine = app.engine()
    by_bytes = table.total_rows is None
    bar = tqdm(
        total=table.total_bytes if by_bytes else table.total_rows,
        unit="B" if by_bytes else " rows",
        unit_scale=by_bytes,
        desc=f"verifying {file.name}",
        disable=None,  # a bar on a terminal only
        file=sys.stderr,
    )
    shown = 0
    rows_done = 0

    def advanced(rows: int) -> None:
        nonlocal rows_done
        rows_done += rows
        bar.update((table.bytes_read - bar.n) if by_bytes else rows)
        bar.set_postfix_str(f"{rows_done:,} rows", refresh=False)

    def malformed(why: str) -> None:
        nonlocal shown
        shown += 1
        if shown <= MALFORMED_SHOWN:
            tqdm.write(f"codefinder: skipped {why}", file=sys.stderr)

    with bar:
        verify_table(engine, table, options, report, resume, strict, advanced, malformed, chunk_rows)
    if shown > MALFORMED_SHOWN:
        click.echo(f"codefinder: … and {shown - MALFORMED_SHOWN:,} more malformed rows (verdict 'malformed')", err=True)
    stats = report_stats(report)
    click.echo(f"{stats.summary_line()}")
    click.echo(f"report: {report}")
    if html is not None:
        html_path = Path(html) if html else report.with_suffix(".html")
        names = report_names(table.header)
        write_html(stats, html_path, file.name, names[columns.description], names[columns.code])
        click.echo(f"html: {html_path}")


def verify_cluster(
    run: ClusterRun, table: Table, options: TableOptions, chunk_rows: int, strict: bool, html: str | None,
    columns: Columns,
) -> None:
    """The cluster path: parts written by this process as workers answer them, then the same summary line."""
    bar = tqdm(total=table.total_rows, unit=" rows", desc=f"verifying {table.path.name} on {run.spec}", disable=None,
               file=sys.stderr)

    def started(link: str | None) -> None:
        if link:
            tqdm.write(f"dashboard: {link}", file=sys.stderr)

    with bar:
        tally, _ = verify_on_cluster(
            dataclasses.replace(run, on_start=started, on_part=bar.update), table, options, chunk_rows, strict
        )
    for why in tally.first_errors[:MALFORMED_SHOWN]:
        click.echo(f"codefinder: skipped {why}", err=True)
    if tally.errors > MALFORMED_SHOWN:
        click.echo(f"codefinder: … and {tally.errors - MALFORMED_SHOWN:,} more malformed rows (in {ERRORS})", err=True)
    stats = rows_stats(read_parts(run.output))
    click.echo(stats.summary_line())
    click.echo(f"report: {run.output} ({tally.parts} parts, {ERRORS}, {SUMMARY})")
    if html is not None:
        html_path = Path(html) if html else run.output.with_suffix(".html")
        names = report_names(table.header)
        write_html(stats, html_path, table.path.name, names[columns.description], names[columns.code])
        click.echo(f"html: {html_path}")
