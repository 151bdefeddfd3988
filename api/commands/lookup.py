"""``codefinder lookup``: everything known about one code."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from codefinder.api.cli_options import app_context, common_options
from codefinder.indexer.errors import CodefinderError
from codefinder.search.cpt_answer import cpt_not_loaded


@click.command()
@common_options
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def lookup(ctx: click.Context, index: Path | None, data_dir: Path | None, code: str, as_json: bool) -> None:
    """Show everything known about one code."""
    from codefinder.search.loader import load_index

    app = app_context(ctx, index, data_dir)
    loaded = load_index(app.settings.index)
    row = loaded.row_of_code.get(code.strip().upper())
    if row is None:
        levels = frozenset(r.level for r in loaded.records if r.system == "CPT")
        raise CodefinderError(
            cpt_not_loaded(code, levels) or f"unknown code {code.strip().upper()!r} (not in index {loaded.build_id})"
        )
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
