"""``codefinder serve``: the HTTP API and the web page."""

from __future__ import annotations

from pathlib import Path

import click

from codefinder.api.cli_options import app_context, common_options


@click.command()
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

    app = create_app(app_context(ctx, index, data_dir))
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_access_logging(logging.INFO if access_log else logging.WARNING)
    # uvicorn's own access log prints query strings (patient details); ours leaves them out
    uvicorn.run(app, host=host, port=port, workers=1, log_level=log_level, access_log=False)
