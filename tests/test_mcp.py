"""``codefinder mcp``: the server runs as a subprocess and every tool is called through the official ``mcp``
client over stdio; each answers with the same JSON as its HTTP endpoint."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from codefinder.api.app import create_app
from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.api.mcp_server import TOOLS

ROOT = Path(__file__).resolve().parent.parent
# stdio_client passes only a few safe variables on; the server needs the project's own
PASSED_ON = ("CODEFINDER_", "HF_", "TRANSFORMERS_", "OMP_")
TIMING = ("took_ms",)
NOTE = "Keytruda 200 mg IV given. Standard wheelchair dispensed. Pt tolerated well."


def server_environment() -> dict[str, str]:
    passed = {name: value for name, value in os.environ.items() if name.startswith(PASSED_ON)}
    return {**passed, "PYTHONPATH": str(ROOT)}


def with_session(params: StdioServerParameters, talk: Callable[[ClientSession], Awaitable[None]]) -> None:
    async def run() -> None:
        with anyio.fail_after(120):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                await talk(session)

    anyio.run(run)


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def untimed(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key not in TIMING}


def test_every_tool_answers_as_its_endpoint_does(built_settings, fake_encoder):
    context = AppContext(settings=built_settings, encoder_factory=lambda _s: fake_encoder)
    with TestClient(create_app(context)) as client:
        expected = {
            "search": client.get("/search", params={"q": "walker", "limit": 3, "section": "E"}).json(),
            "lookup": client.get("/codes/G0202", params={"as_of": "2010-01-01"}).json(),
            "verify": client.post("/verify", json={"description": "walker", "code": "J1885"}).json(),
            "verify_rr": client.post("/verify", json={"description": "walker", "code": "E0130-LT", "units": 1}).json(),
            "suggest": client.post("/suggest", json={"text": NOTE, "limit_per_item": 2}).json(),
        }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tests.mcp_fake_server", "mcp", "--index", str(built_settings.index)],
        env=server_environment(),
        cwd=str(ROOT),
    )
    seen: dict[str, Any] = {}

    async def talk(session: ClientSession) -> None:
        listed = await session.list_tools()
        seen["tools"] = {tool.name for tool in listed.tools}
        seen["search"] = await call(session, "search_codes", query="walker", limit=3, section="E")
        seen["lookup"] = await call(session, "lookup_code", code="g0202", as_of="2010-01-01")
        seen["verify"] = await call(session, "verify_code", description="walker", code="J1885")
        seen["verify_rr"] = await call(session, "verify_code", description="walker", code="E0130-LT", units=1)
        seen["suggest"] = await call(session, "suggest_codes", text=NOTE, limit_per_item=2)
        unknown = await session.call_tool("lookup_code", {"code": "E9999"})
        seen["unknown"] = (unknown.is_error, unknown.content[0].text)
        too_many = await session.call_tool("search_codes", {"query": "walker", "limit": 500})
        seen["too_many"] = too_many.is_error
        empty = await session.call_tool("search_codes", {"query": "  "})
        seen["empty"] = (empty.is_error, empty.content[0].text)

    with_session(params, talk)
    assert seen["tools"] == {tool.__name__ for tool in TOOLS}
    assert seen["tools"] == {"search_codes", "lookup_code", "verify_code", "suggest_codes"}
    assert untimed(seen["verify_rr"]) == untimed(expected["verify_rr"])
    assert untimed(seen["suggest"]) == untimed(expected["suggest"]) and seen["suggest"]["items"]
    assert untimed(seen["search"]) == untimed(expected["search"])
    assert [hit["code"] for hit in seen["search"]["hits"]][:2] == ["E0130", "E0141"]
    assert seen["lookup"] == expected["lookup"] and seen["lookup"]["status"] == "active"
    assert untimed(seen["verify"]) == untimed(expected["verify"]) and seen["verify"]["verdict"] == "suspect"
    assert seen["unknown"][0] and "unknown code 'E9999'" in seen["unknown"][1]
    assert seen["too_many"]
    assert seen["empty"][0] and "query is empty" in seen["empty"][1]


def test_mcp_without_an_index_is_one_line(app_context, tmp_path):
    result = CliRunner().invoke(main, ["mcp", "--index", str(tmp_path / "none")], obj=app_context)
    assert result.exit_code == 1
    assert result.output.startswith("codefinder: error: ") and len(result.output.strip().splitlines()) == 1


@pytest.mark.integration
def test_the_installed_command_serves_the_real_index(real_context):
    """``codefinder mcp`` itself (the console script), on the real index with the real model."""
    command = Path(sys.executable).parent / "codefinder"
    params = StdioServerParameters(
        command=str(command),
        args=["mcp", "--index", str(real_context.settings.index)],
        env=server_environment(),
    )
    seen: dict[str, Any] = {}

    async def talk(session: ClientSession) -> None:
        seen["search"] = await call(session, "search_codes", query="cpap machine", limit=3)
        seen["lookup"] = await call(session, "lookup_code", code="E0601")
        seen["verify"] = await call(session, "verify_code", description="remicade infusion", code="J1745")

    with_session(params, talk)
    assert seen["search"]["hits"][0]["code"] == "E0601"
    assert seen["lookup"]["long_description"].startswith("Continuous positive airway pressure")
    assert seen["verify"]["verdict"] == "consistent"
