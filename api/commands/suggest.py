"""``codefinder suggest``: the billable items of documentation text, as a table, JSON, or JSON lines for a
file of documents."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from codefinder.api.cli_options import SETTING_OPTION, app_context, cluster_options, common_options, file_job_context
from codefinder.api.cluster import ClusterSpec
from codefinder.api.cluster_jobs import ClusterRun, cluster_source, lines_file_on_cluster
from codefinder.api.limits import MAX_LIMIT_PER_ITEM, checked_document
from codefinder.indexer.errors import CodefinderError
from codefinder.search.engine import SearchEngine
from codefinder.search.suggest.pipeline import SuggestResponse, suggest


@click.command("suggest")
@common_options
@click.argument("text", required=False)
@click.option(
    "--file",
    "document_file",
    type=click.File("r", encoding="utf-8"),
    help="Read documents from a file ('-' for stdin), one per line; prints one JSON line per document.",
)
@click.option("--whole", is_flag=True, help="With --file: the whole file is one document.")
@click.option("--limit-per-item", type=click.IntRange(1, MAX_LIMIT_PER_ITEM), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@SETTING_OPTION
@cluster_options
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="With --cluster: the folder of parts (default: FILE's name + .suggest).")
@click.pass_context
def suggest_command(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    text: str | None,
    document_file: Any,
    whole: bool,
    limit_per_item: int,
    as_json: bool,
    setting: str,
    cluster: ClusterSpec,
    partition_rows: int,
    output_format: str,
    output: Path | None,
) -> None:
    """Find each billable item a note, order or MAR entry names, with its codes, units and modifiers."""
    if text is None and document_file is None:
        raise click.UsageError(
            "the text is missing: give a TEXT (codefinder suggest \"Ceftriaxone 1 g IVPB given\") or --file FILE"
        )
    if text is not None and document_file is not None:
        raise click.UsageError("give a TEXT or --file, not both")
    if whole and document_file is None:
        raise click.UsageError("--whole goes with --file")
    app = app_context(ctx, index, data_dir)
    if document_file is not None:
        app = file_job_context(app)
        settings = app.settings
        if not cluster.in_process:
            if whole:
                raise click.UsageError("--whole is one document: run it without --cluster")
            source = cluster_source(document_file)
            run = ClusterRun(cluster, settings, output or source.with_name(f"{source.stem}.suggest"), output_format,
                             partition_rows)
            numbered = ((n, document) for n, document in enumerate(document_file, start=1) if document.strip())
            lines_file_on_cluster(run, "suggest", source, numbered, 1, suggest_partition_task(),
                                  (setting, limit_per_item))
            return
    engine = app.engine()
    if document_file is not None:
        documents = [(1, document_file.read())] if whole else enumerate(document_file, start=1)
        for payload in suggest_lines(engine, documents, setting, limit_per_item):
            click.echo(json.dumps(payload, ensure_ascii=False))
        return
    assert text is not None
    response = suggest(engine, checked_document(text), setting=setting, limit_per_item=limit_per_item)
    if as_json:
        click.echo(json.dumps(response.to_dict(), ensure_ascii=False, indent=2))
        return
    _print_table(response)


def suggest_lines(
    engine: SearchEngine, documents: Iterable[tuple[int, str]], setting: str, limit_per_item: int
) -> Iterator[dict[str, Any]]:
    """One JSON-ready answer per non-blank document: its items, or its line number and why it was refused."""
    for number, document in documents:
        if not document.strip():
            continue
        try:
            response = suggest(engine, checked_document(document), setting=setting, limit_per_item=limit_per_item)
        except CodefinderError as error:
            yield {"line": number, "text": document[:80], "error": str(error)}
            continue
        yield {"line": number, **response.to_dict()}


def suggest_partition_task() -> Any:
    """The worker's task (imported here only on the cluster path: it imports distributed)."""
    from codefinder.api.cluster_engine import suggest_partition

    return suggest_partition


def _print_table(response: SuggestResponse) -> None:
    if not response.items:
        click.echo("no billable items found")
    for number, item in enumerate(response.items, start=1):
        flags = [flag for flag, on in (("NOT GIVEN", item.negated), ("CPT", item.needs_cpt)) if on]
        click.echo(f"{number:>3}. {item.text}  [{item.start}:{item.end}]" + (f"  {' '.join(flags)}" if flags else ""))
        if item.needs_cpt and not item.codes:
            click.echo(f"{'':>8}{item.cpt_service}: CPT code, not loaded; add your licensed CPT files")
        for code in item.codes:
            units = f"  × {code.units['units']} ({code.units['how']})" if code.units else ""
            modifiers = f"  modifiers {'-'.join(code.modifiers)}" if code.modifiers else ""
            confidence = "" if code.confidence is None else f"  {code.confidence:.2f}"
            click.echo(f"{'':>8}{code.code:<6} {code.description[:70]}{confidence}{units}{modifiers}")
    click.echo(f"{len(response.items)} items, {response.took_ms:.1f} ms, index {response.index_version}")
