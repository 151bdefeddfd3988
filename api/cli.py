"""The ``codefinder`` command line. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from codefinder.api.context import AppContext
from codefinder.api.limits import checked_query
from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.settings import Settings
from codefinder.search.engine import CARE_SETTINGS, MODES, SearchEngine, SearchOptions
from codefinder.search.filters import Filters

EXIT_USER_ERROR = 1
LINES_PER_CHUNK = 512  # `search --file` reads, embeds and searches this many lines at a time


class OneLineErrors(click.Group):
    """Turn every failure into one readable line; CODEFINDER_DEBUG=1 shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CodefinderError as error:
            self._die(str(error))
        except KeyboardInterrupt:
            self._die("interrupted")
        except Exception as error:  # the CLI promises no tracebacks
            if os.environ.get("CODEFINDER_DEBUG"):
                raise
            self._die(f"{type(error).__name__}: {error} (set CODEFINDER_DEBUG=1 for details)")

    @staticmethod
    def _die(message: str) -> None:
        click.echo(f"codefinder: error: {message}", err=True)
        sys.exit(EXIT_USER_ERROR)


def _context(ctx: click.Context, index: Path | None, data_dir: Path | None) -> AppContext:
    app: AppContext = ctx.obj
    updates: dict[str, Any] = {}
    if index is not None:
        updates["index"] = index
    if data_dir is not None:
        updates["data_dir"] = data_dir
    if updates:
        app.settings = app.settings.model_copy(update=updates)
    return app


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder of CMS files (default: CODEFINDER_DATA_DIR or ../shared/data).",
    )(command)
    command = click.option(
        "--index",
        "index",
        type=click.Path(path_type=Path),
        default=None,
        help="Index folder (default: CODEFINDER_INDEX or data/index).",
    )(command)
    return command


SETTING_OPTION = click.option(
    "--setting",
    type=click.Choice(CARE_SETTINGS),
    default="any",
    show_default=True,
    help="Who bills: hospital prefers the OPPS device category C codes for implants.",
)


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--system", default=None, help="HCPCS or CPT."),
            click.option("--level", default=None, help="hcpcs-2, hcpcs-modifier, cpt-1, cpt-2, cpt-3, cpt-pla."),
            click.option("--section", default=None, help="Section letter, e.g. E."),
            click.option("--kind", type=click.Choice(["code", "modifier"]), default=None),
            click.option("--include-terminated", is_flag=True, help="Also return terminated codes."),
            click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Status as of this date."),
            SETTING_OPTION,
        ]
    ):
        command = option(command)
    return command


@click.group(cls=OneLineErrors)
@click.version_option(package_name="codefinder")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Find HCPCS Level II and CPT codes from plain-language descriptions."""
    if ctx.obj is None:
        ctx.obj = AppContext(settings=Settings())


@main.command()
@common_options
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A source file (repeatable; order = priority). Default: the CMS files in the data dir.",
)
@click.option(
    "--history",
    "history",
    multiple=True,
    type=click.Path(path_type=Path),
    help="An older full HCPCS release read for code dates only (repeatable; newest first). "
    "Default: the data dir's 2020 and 2019 releases, unless --source is given.",
)
@click.pass_context
def build(
    ctx: click.Context, index: Path | None, data_dir: Path | None, sources: tuple[Path, ...], history: tuple[Path, ...]
) -> None:
    """Read the sources, embed the descriptors and publish a new index."""
    from codefinder.indexer.build import build_index

    app = _context(ctx, index, data_dir)
    progress = _progress_printer()
    result = build_index(
        app.settings, app.build_encoder(), list(sources) or None, app.settings.index, progress, list(history) or None
    )
    counts = result.manifest["counts"]
    click.echo(
        f"built {result.manifest['build_id']}: {counts['records']} records "
        f"({counts['by_kind'].get('code', 0)} codes, {counts['by_kind'].get('modifier', 0)} modifiers), "
        f"{result.embedded} newly embedded, {result.seconds:.1f} s -> {result.build_dir}"
    )
    for source in result.manifest["sources"]:
        skipped = f", {source['skipped']} lines skipped" if source["skipped"] else ""
        click.echo(f"  {source['name']}: {source['shape']}, {source['records']} records{skipped}")
    history_info = result.manifest["history"]
    for source in history_info["sources"]:
        click.echo(f"  {source['name']}: {source['shape']}, history (dates only)")
    if history_info["sources"]:
        click.echo(f"  termination dates from history: {history_info['filled']['termination_date']}")


def _progress_printer() -> Callable[[str, int, int], None]:
    tty = sys.stderr.isatty()
    last: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        if tty:
            click.echo(f"\r{stage}: {done}/{total} ({percent}%)", err=True, nl=done >= total)
        elif percent // 10 != last.get(stage, -1) or done >= total:
            last[stage] = percent // 10
            click.echo(f"{stage}: {done}/{total} ({percent}%)", err=True)

    return report


def _options(
    limit: int,
    offset: int,
    mode: str,
    system: str | None,
    level: str | None,
    section: str | None,
    kind: str | None,
    include_terminated: bool,
    as_of: dt.datetime | None,
    setting: str,
) -> SearchOptions:
    filters = Filters.checked(system, level, section, kind, include_terminated, as_of.date() if as_of else None)
    return SearchOptions(limit=limit, offset=offset, mode=mode, filters=filters, setting=setting)


@main.command()
@common_options
@click.argument("query", required=False)
@click.option("--limit", type=click.IntRange(1, 500), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0, 10_000), default=0)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--file",
    "query_file",
    type=click.File("r", encoding="utf-8"),
    help="Search one query per line; prints one JSON line per query.",
)
@filter_options
@click.pass_context
def search(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    query: str | None,
    limit: int,
    offset: int,
    mode: str,
    as_json: bool,
    query_file: Any,
    **filters: Any,
) -> None:
    """Search codes by description, code or code prefix."""
    if (query is None) == (query_file is None):
        raise click.UsageError("give a QUERY or --file, not both")
    app = _context(ctx, index, data_dir)
    options = _options(limit, offset, mode, **filters)
    engine = app.engine()
    if query_file is not None:
        for payload in search_lines(engine, query_file, options):
            click.echo(json.dumps(payload, ensure_ascii=False))
        return
    assert query is not None
    response = engine.search(query, options)
    if as_json:
        click.echo(json.dumps(response.to_dict(), ensure_ascii=False, indent=2))
        return
    _print_table(response.to_dict())


def search_lines(engine: SearchEngine, lines: Iterable[str], options: SearchOptions) -> Iterator[dict[str, Any]]:
    """One JSON-ready answer per non-blank line, in order: the search, or the line number and why the line
    was refused (the API's limits). Read and searched a chunk at a time, so a long file streams."""
    numbered = ((number, line.strip()) for number, line in enumerate(lines, start=1))
    for chunk in _chunks(((n, text) for n, text in numbered if text), LINES_PER_CHUNK):
        answers: dict[int, dict[str, Any]] = {}
        valid: list[tuple[int, str]] = []
        for number, text in chunk:
            try:
                valid.append((number, checked_query(text, f"line {number}")))
            except CodefinderError as error:
                answers[number] = {"line": number, "query": text[:80], "error": str(error)}
        responses = engine.search_many([text for _, text in valid], options)
        for (number, _), response in zip(valid, responses, strict=True):
            answers[number] = {"line": number, **response.to_dict()}
        for number, _ in chunk:
            yield answers[number]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _print_table(response: dict[str, Any]) -> None:
    width = shutil.get_terminal_size((120, 20)).columns
    if not response["hits"]:
        click.echo(f"no codes match {response['query']!r}")
        return
    for rank, hit in enumerate(response["hits"], start=response["offset"] + 1):
        badge = hit["section"] or ("MOD" if hit["kind"] == "modifier" else hit["level"])
        status = " TERMINATED" if hit["status"] == "terminated" else ""
        description = hit["long_description"] or hit["short_description"] or ""
        ranks = " ".join(f"{name[0]}{r}" for name, r in hit["ranks"].items() if r is not None)
        why = ", ".join(hit["matched_synonyms"] or hit["matched_terms"])
        head = f"{rank:>3}. {hit['code']:<6} [{badge}]{status} "
        room = max(20, width - len(head) - 2)
        click.echo(head + (description if len(description) <= room else description[: room - 1] + "…"))
        click.echo(
            f"{'':>12}{hit['level_label']}; score {hit['score']:.4f} ({ranks or hit['match']})"
            + (f"; matched: {why}" if why else "")
        )
    click.echo(f"{response['total']} candidates, {response['took_ms']:.1f} ms, index {response['index_version']}")


@main.command()
@common_options
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def lookup(ctx: click.Context, index: Path | None, data_dir: Path | None, code: str, as_json: bool) -> None:
    """Show everything known about one code."""
    from codefinder.search.loader import load_index

    app = _context(ctx, index, data_dir)
    loaded = load_index(app.settings.index)
    row = loaded.row_of_code.get(code.strip().upper())
    if row is None:
        raise CodefinderError(f"unknown code {code.strip().upper()!r} (not in index {loaded.build_id})")
    record = loaded.records[row]
    data = {
        **json.loads(record.to_json()),
        "level_label": record.level_label,
        "status": record.status_on(dt.date.today()),
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key, value in data.items():
        if value not in (None, "", [], False):
            click.echo(f"{key:>22}: {', '.join(value) if isinstance(value, list) else value}")


@main.command(name="eval")
@common_options
@click.argument("labeled_file", type=click.Path(path_type=Path))
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option(
    "--cap-per-code",
    type=click.IntRange(1, None),
    default=None,
    help="Use at most N rows per gold code (the dev chargemaster is skewed).",
)
@click.option("--worst", type=click.IntRange(0, 500), default=15, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@SETTING_OPTION
@click.pass_context
def evaluate_command(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    labeled_file: Path,
    mode: str,
    cap_per_code: int | None,
    worst: int,
    as_json: bool,
    setting: str,
) -> None:
    """Recall@1/5/10 and MRR on a labeled file (query|description, gold|code)."""
    from codefinder.search.evaluate import evaluate, read_labeled

    app = _context(ctx, index, data_dir)
    items = read_labeled(labeled_file, cap_per_code)
    engine = app.engine()
    report = evaluate(items, _ranker(engine, mode, setting), worst=worst)
    if as_json:
        payload = {"file": str(labeled_file), "mode": mode, "setting": setting, **report.to_dict()}
        click.echo(json.dumps(payload, indent=2))
        return
    header = f"{'group':<14}{'n':>6}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'MRR':>8}"
    click.echo(f"{labeled_file.name}, mode {mode}, median {report.median_ms:.1f} ms/query")
    click.echo(header)
    rows = [
        ("overall", report.overall),
        *((f"letter {k}", m) for k, m in report.by_letter.items()),
        *((f"kind {k}", m) for k, m in report.by_kind.items()),
    ]
    for name, m in rows:
        click.echo(f"{name:<14}{m.count:>6}{m.recall[1]:>8.3f}{m.recall[5]:>8.3f}{m.recall[10]:>8.3f}{m.mrr:>8.3f}")
    if report.worst:
        click.echo("worst misses:")
        for outcome in report.worst:
            where = f"rank {outcome.rank}" if outcome.rank else "not in top 10"
            click.echo(
                f"  {outcome.item.query!r} gold {'|'.join(outcome.item.gold)}: {where}; "
                f"top {', '.join(outcome.top[:3])}"
            )


@main.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="One JSON line per request.")
@click.pass_context
def serve(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    host: str,
    port: int,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve the HTTP API and the web page (model and index load once, at startup; SIGHUP or
    POST /admin/reload loads a newly published index)."""
    import logging

    import uvicorn

    from codefinder.api.access_log import configure_access_logging
    from codefinder.api.app import create_app

    app = create_app(_context(ctx, index, data_dir))
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_access_logging(logging.INFO if access_log else logging.WARNING)
    # uvicorn's own access log prints query strings (patient details); ours leaves them out
    uvicorn.run(app, host=host, port=port, workers=1, log_level=log_level, access_log=False)


def _ranker(engine: SearchEngine, mode: str, setting: str = "any") -> Callable[[str], tuple[list[str], float]]:
    options = SearchOptions(limit=10, mode=mode, filters=Filters(include_terminated=True), setting=setting)

    def ranked(query: str) -> tuple[list[str], float]:
        try:
            response = engine.search(query, options)
        except CodefinderError:
            return [], 0.0
        return [hit.code for hit in response.hits], response.took_ms

    return ranked


if __name__ == "__main__":
    main()
