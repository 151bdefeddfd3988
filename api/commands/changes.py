"""``codefinder changes OLD NEW``: codes added, terminated and descriptor-changed between two HCPCS releases."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from codefinder.api.cli_options import app_context, common_options
from codefinder.indexer.changes import CHANGE_KINDS, CSV_COLUMNS, Release, changes_payload, find_release
from codefinder.indexer.releases import release_date
from codefinder.indexer.sources import read_source

LABELS = {"added": "added", "terminated": "terminated", "descriptor_changed": "changed"}


@click.command()
@common_options
@click.argument("old")
@click.argument("new")
@click.option("--format", "output", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--change", "kinds", multiple=True, type=click.Choice(CHANGE_KINDS), help="Only these (repeatable).")
@click.pass_context
def changes(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    old: str,
    new: str,
    output: str,
    kinds: tuple[str, ...],
) -> None:
    """What changed from release OLD to release NEW: codes added, terminated, and descriptor changes.

    OLD and NEW are release files as CMS ships them (xlsx, fixed-width text, the release zip), or releases
    the index was built from, named by file name, part of it, or date (2019, 2020-10)."""
    app = app_context(ctx, index, data_dir)
    built: list[Release] | None = None

    def release(wanted: str) -> Release:
        nonlocal built
        path = Path(wanted)
        if path.is_file():
            result = read_source(path)
            day = release_date(result.path, result.records)
            return Release.from_records(Path(result.path).name, day, result.records)
        if built is None:
            from codefinder.search.loader import load_index

            built = load_index(app.settings.index).releases
        return find_release(built, wanted)

    payload = changes_payload(release(old), release(new), kinds or CHANGE_KINDS)
    if output == "json":
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(payload["changes"])
    else:
        _print_table(payload)


def _print_table(payload: dict[str, Any]) -> None:
    width = shutil.get_terminal_size((120, 20)).columns
    old, new = payload["from"], payload["to"]
    counts = ", ".join(f"{count} {LABELS[kind]}" for kind, count in payload["counts"].items())
    click.echo(f"{old['name']} ({old['date']}) -> {new['name']} ({new['date']}): {counts}")
    for change in payload["changes"]:
        text = change["new_description"] or change["old_description"] or ""
        if change["change"] == "descriptor_changed":
            text = f"{change['old_description']} => {change['new_description']}"
        when, action = change["date"] or "", change["action_code"] or ""
        head = f"{LABELS[change['change']]:<11}{change['code']:<7}{when:<11}{action:<2}"
        room = max(20, width - len(head) - 1)
        click.echo(head + (text if len(text) <= room else text[: room - 1] + "…"))
