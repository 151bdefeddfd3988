"""``codefinder build``: read the sources, embed, publish an index."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from codefinder.api.cli_options import app_context, common_options


@click.command()
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
    "Default: every release in the data dir older than the newest, unless --source is given.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the current index was built from the same inputs.")
@click.pass_context
def build(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    sources: tuple[Path, ...],
    history: tuple[Path, ...],
    force: bool,
) -> None:
    """Read the sources, embed the descriptors and publish a new index (skipped when the current index was
    built from the same sources, tables, settings, model and build code, unless --force)."""
    from codefinder.indexer.build import build_index

    app = app_context(ctx, index, data_dir)
    progress = _progress_printer()
    result = build_index(
        app.settings,
        app.build_encoder(),
        list(sources) or None,
        app.settings.index,
        progress,
        list(history) or None,
        force=force,
    )
    if result.unchanged:
        click.echo(
            f"index {result.manifest['build_id']} is up to date (same sources, tables, settings, model and code); "
            "not rebuilt (--force rebuilds)"
        )
        return
    counts = result.manifest["counts"]
    click.echo(
        f"built {result.manifest['build_id']}: {counts['records']} records "
        f"({counts['by_kind'].get('code', 0)} codes, {counts['by_kind'].get('modifier', 0)} modifiers), "
        f"{result.embedded} newly embedded, {result.seconds:.1f} s -> {result.build_dir}"
    )
    click.echo(f"  encoder: {result.manifest['model']['name']}")
    for source in result.manifest["sources"]:
        skipped = f", {source['skipped']} lines skipped" if source["skipped"] else ""
        click.echo(f"  {source['name']}: {source['shape']}, {source['records']} records{skipped}")
    history_info = result.manifest["history"]
    for source in history_info["sources"]:
        click.echo(f"  {source['name']}: {source['shape']}, history (dates only)")
    if history_info["sources"]:
        click.echo(f"  termination dates from history: {history_info['filled']['termination_date']}")
    for note in result.manifest["plan"]["notes"]:
        click.echo(f"  {note}")
    for left_out in result.manifest["plan"]["cpt_directory"]["left_out"]:
        click.echo(f"  cpt/{left_out['name']}: not read ({left_out['reason']})")
    currency = result.manifest["currency"]
    if currency["marked_not_in_current_lists"]:
        sections = ", ".join(f"{section} {count}" for section, count in currency["by_section"].items())
        click.echo(
            f"  not in current lists: {currency['marked_not_in_current_lists']} ({sections}); "
            f"{currency['with_likely_replacement']} with a likely replacement"
        )


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
