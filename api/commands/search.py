"""``codefinder search``: one query as a table or JSON, or a file of queries as JSON lines."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from codefinder.api.cli_options import (
    app_context,
    cluster_options,
    common_options,
    file_job_context,
    filter_options,
    search_options,
)
from codefinder.api.cluster import ClusterSpec
from codefinder.api.cluster_jobs import ClusterRun, cluster_source, lines_file_on_cluster
from codefinder.api.limits import checked_query
from codefinder.indexer.errors import CodefinderError
from codefinder.search.engine import MODES, SearchEngine, SearchOptions

LINES_PER_CHUNK = 512  # `search --file` reads, embeds and searches this many lines at a time


@click.command()
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
    help="Search one query per line; prints one JSON line per query (with --cluster: writes parts).",
)
@filter_options
@cluster_options
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="With --cluster: the folder of parts (default: FILE's name + .search).")
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
    cluster: ClusterSpec,
    partition_rows: int,
    output_format: str,
    output: Path | None,
    **filters: Any,
) -> None:
    """Search codes by description, code or code prefix."""
    if query is None and query_file is None:
        raise click.UsageError(
            'what to search for is missing: give a QUERY (codefinder search "cpap machine") or --file FILE'
        )
    if query is not None and query_file is not None:
        raise click.UsageError("give a QUERY or --file, not both")
    app = app_context(ctx, index, data_dir)
    options = search_options(limit, offset, mode, **filters)
    if query_file is not None:
        app = file_job_context(app)
        settings = app.settings
        if not cluster.in_process:
            source = cluster_source(query_file)
            run = ClusterRun(cluster, settings, output or source.with_name(f"{source.stem}.search"), output_format,
                             partition_rows)
            lines_file_on_cluster(run, "search", source, numbered_lines(query_file), LINES_PER_CHUNK,
                                  search_partition_task(), (options,))
            return
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
    for chunk in _chunks(numbered_lines(lines), LINES_PER_CHUNK):
        yield from search_chunk(engine, chunk, options)


def numbered_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line."""
    numbered = ((number, line.strip()) for number, line in enumerate(lines, start=1))
    return ((number, text) for number, text in numbered if text)


def search_chunk(
    engine: SearchEngine, chunk: Sequence[tuple[int, str]], options: SearchOptions
) -> Iterator[dict[str, Any]]:
    """The answers of one chunk of numbered lines, searched together (``search_many``); the unit a cluster
    worker runs too, so both give the same answers."""
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


def search_partition_task() -> Any:
    """The worker's task (imported here only on the cluster path: it imports distributed)."""
    from codefinder.api.cluster_engine import search_partition

    return search_partition


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


STATUS_MARKS = {
    "terminated": " TERMINATED",
    "not_yet_effective": " NOT YET EFFECTIVE",
    "not_in_current_lists": " NOT IN CURRENT LISTS",
}


def _print_table(response: dict[str, Any]) -> None:
    """Hits as a coder reads them: the confidence in words first, then what matched; warnings above the list."""
    width = shutil.get_terminal_size((120, 20)).columns
    if response.get("did_you_mean"):
        click.echo(f"did you mean: {response['did_you_mean']}")
    if response.get("needs_cpt"):
        click.echo(f"note: {response['needs_cpt']['message']}")
    if not response["hits"]:
        click.echo(f"no codes match {response['query']!r}")
        return
    if response.get("no_good_match"):
        click.echo("no good match: even the best hit is unlikely to be right; check before using any of these")
    for rank, hit in enumerate(response["hits"], start=response["offset"] + 1):
        badge = hit["section"] or ("MOD" if hit["kind"] == "modifier" else hit["level"])
        status = STATUS_MARKS.get(hit["status"], "")
        if hit["replaced_by"]:
            status += f" -> {', '.join(hit['replaced_by'])}"
        description = hit["long_description"] or hit["short_description"] or ""
        ranks = " ".join(f"{name[0]}{r}" for name, r in hit["ranks"].items() if r is not None)
        why = ", ".join(hit["matched_synonyms"] or hit["matched_terms"])
        head = f"{rank:>3}. {hit['code']:<6} [{badge}]{status} "
        room = max(20, width - len(head) - 2)
        click.echo(head + (description if len(description) <= room else description[: room - 1] + "…"))
        details = [hit["level_label"], _confidence_text(hit)]
        if why:
            details.append(f"matched: {why}")
        details.append(f"score {hit['score']:.4f} ({ranks or hit['match']})")
        click.echo(f"{'':>12}" + "; ".join(details))
    click.echo(f"{response['total']} candidates, {response['took_ms']:.1f} ms, index {response['index_version']}")


def _confidence_text(hit: dict[str, Any]) -> str:
    band = hit.get("confidence_band")
    if band in ("code", "code prefix"):
        return band + " match"
    if hit.get("confidence") is None:
        return "no confidence (calibration off)"
    return f"{band} ({round(hit['confidence'] * 100)}%)"
