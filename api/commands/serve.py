"""``codefinder serve``: the HTTP API and the web page, in one process or several (uvicorn's workers)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from codefinder.api.cli_options import app_context, common_options
from codefinder.indexer.errors import CodefinderError

WORKER_READY_SECONDS = 60


@click.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Serving processes (uvicorn workers); each loads and verifies the index. SIGHUP to this process or "
    "POST /admin/reload restarts them one by one on a newly published index.",
)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="One JSON line per request.")
@click.pass_context
def serve(
    ctx: click.Context,
    index: Path | None,
    data_dir: Path | None,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve the HTTP API and the web page (model and index load once, at startup; SIGHUP or
    POST /admin/reload loads a newly published index)."""
    import logging

    import uvicorn

    from codefinder.api.access_log import configure_access_logging
    from codefinder.api.app import create_app

    context = app_context(ctx, index, data_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_access_logging(logging.INFO if access_log else logging.WARNING)
    if workers == 1:
        # uvicorn's own access log prints query strings (patient details); ours leaves them out
        uvicorn.run(create_app(context), host=host, port=port, workers=1, log_level=log_level, access_log=False)
        return
    _check_index_before_forking(context.settings.index)
    # Workers are new processes: they read their settings from the environment, as this one did.
    settings = context.settings
    os.environ.update(
        {
            "CODEFINDER_INDEX": str(settings.index),
            "CODEFINDER_DATA_DIR": str(settings.data_dir),
            "CODEFINDER_SERVE_WORKERS": str(workers),
            "CODEFINDER_SERVE_MASTER_PID": str(os.getpid()),
            "CODEFINDER_LOG_LEVEL": log_level,
            "CODEFINDER_ACCESS_LOG": "true" if access_log else "false",
        }
    )
    uvicorn.run(
        "codefinder.api.worker_app:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        # a replacement worker loads the model and verifies the index before it answers "ready"
        timeout_worker_healthcheck=WORKER_READY_SECONDS,
    )


def _check_index_before_forking(index: Path) -> None:
    """Several workers start only from a verified index (one line if not), rather than N failing workers."""
    from codefinder.search.loader import load_index

    try:
        load_index(index)
    except CodefinderError as error:
        raise CodefinderError(f"not starting {index}: {error}") from error
