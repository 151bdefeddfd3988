"""``codefinder eval``: recall and MRR on a labeled file."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import click

from codefinder.api.cli_options import SETTING_OPTION, app_context, common_options
from codefinder.indexer.errors import CodefinderError
from codefinder.search.engine import MODES, SearchEngine, SearchOptions
from codefinder.search.filters import Filters


@click.command(name="eval")
@common_options
@click.argument("labeled_file", type=click.Path(path_type=Path))
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option(
    "--cap-per-code",
    type=click.IntRange(1, None),
    default=None,
    help="Use at most N rows per gold code (the dev chargemaster is skewed).",
)
@click.option(
    "--part",
    type=click.Choice(["tune", "check"]),
    default=None,
    help="Only this part of the fixed 70/30 tune/check split (tune on 'tune'; 'check' is for reporting).",
)
@click.option("--worst", type=click.IntRange(0, 500), default=15, show_default=True)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Judge codes as of this date (a file labeled in 2022 billed codes retired since).",
)
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
    part: str | None,
    worst: int,
    as_of: dt.datetime | None,
    as_json: bool,
    setting: str,
) -> None:
    """Recall@1/5/10 and MRR on a labeled file (query|description, gold|code)."""
    from codefinder.search.evaluate import evaluate, read_labeled

    app = app_context(ctx, index, data_dir)
    items = read_labeled(labeled_file, cap_per_code, part)
    engine = app.engine()
    report = evaluate(items, _ranker(engine, mode, setting, as_of.date() if as_of else None), worst=worst)
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


def _ranker(
    engine: SearchEngine, mode: str, setting: str = "any", as_of: dt.date | None = None
) -> Callable[[str], tuple[list[str], float]]:
    filters = Filters(include_terminated=True, as_of=as_of)
    options = SearchOptions(limit=10, mode=mode, filters=filters, setting=setting)

    def ranked(query: str) -> tuple[list[str], float]:
        try:
            response = engine.search(query, options)
        except CodefinderError:
            return [], 0.0
        return [hit.code for hit in response.hits], response.took_ms

    return ranked
