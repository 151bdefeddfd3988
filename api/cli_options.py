"""What several commands share: the data-dir and index options, the search filters, the context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from codefinder.api.cluster import CLUSTER_HELP, ClusterError, ClusterSpec, parse_cluster
from codefinder.api.cluster_jobs import OUTPUT_FORMATS, PARTITION_ROWS
from codefinder.api.context import AppContext
from codefinder.search.engine import CARE_SETTINGS, SearchOptions
from codefinder.search.filters import Filters


def app_context(ctx: click.Context, index: Path | None, data_dir: Path | None) -> AppContext:
    """The command's context: the one on ``ctx`` with its --index and --data-dir (that one is not changed)."""
    app: AppContext = ctx.obj
    updates: dict[str, Any] = {}
    if index is not None:
        updates["index"] = index
    if data_dir is not None:
        updates["data_dir"] = data_dir
    return app.with_settings(**updates) if updates else app


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder of CMS files (default: CODEFINDER_DATA_DIR; ../shared/data beside a checkout).",
    )(command)
    command = click.option(
        "--index",
        "index",
        type=click.Path(path_type=Path),
        default=None,
        help="Index folder (default: CODEFINDER_INDEX, else <CODEFINDER_HOME>/index; data/index in a checkout).",
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


def search_options(
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


def _cluster(_ctx: click.Context, _param: click.Parameter, value: str) -> ClusterSpec:
    try:
        return parse_cluster(value)
    except ClusterError as error:
        raise click.BadParameter(str(error)) from error


def cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--cluster`` and what a cluster run writes: parts of how many input rows, as CSV or Parquet."""
    for option in reversed(
        [
            click.option("--cluster", default="none", show_default=True, callback=_cluster, help=CLUSTER_HELP),
            click.option(
                "--partition-rows",
                type=click.IntRange(1, 1_000_000),
                default=PARTITION_ROWS,
                show_default=True,
                help="With --cluster: input rows per task and per output part (whole chunks).",
            ),
            click.option(
                "--output-format",
                type=click.Choice(OUTPUT_FORMATS),
                default="csv",
                show_default=True,
                help="With --cluster: the format of the output parts.",
            ),
        ]
    ):
        command = option(command)
    return command


def file_job_context(app: AppContext) -> AppContext:
    """The context of a file command: no query vectors kept from one chunk for the next, so a chunk's answers
    depend on the chunk alone (the int8 query model quantizes per batch) — the same in this process, on any
    cluster worker, and after --resume."""
    return app.with_settings(query_embedding_cache=0)
