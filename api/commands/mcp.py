"""``codefinder mcp``: codefinder's tools for AI assistants, as a Model Context Protocol server over stdio."""

from __future__ import annotations

from pathlib import Path

import click

from codefinder.api.cli_options import app_context, common_options


@click.command("mcp")
@common_options
@click.pass_context
def mcp(ctx: click.Context, index: Path | None, data_dir: Path | None) -> None:
    """Serve search_codes, lookup_code and verify_code to an MCP client (Claude Desktop, an IDE…) over
    stdin/stdout. The model and index load once, before the first message; stdout carries only the protocol."""
    from codefinder.api.app import package_version
    from codefinder.api.mcp_server import build_server

    engine = app_context(ctx, index, data_dir).engine()
    build_server(engine, package_version()).run("stdio")
