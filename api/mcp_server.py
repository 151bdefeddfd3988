"""codefinder's tools for AI assistants, over the Model Context Protocol (the official ``mcp`` package).

Each tool answers with the same JSON as its HTTP endpoint, from the same engine, checked by the same limits:
``search_codes`` is ``GET /search``, ``lookup_code`` is ``GET /codes/{code}``, ``verify_code`` is
``POST /verify``, ``suggest_codes`` is ``POST /suggest``. A tool is one function in ``TOOLS``: its signature
is the input schema the assistant sees, its docstring the description, and the engine comes from the
server's lifespan.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from codefinder.api import limits
from codefinder.api.errors import UnknownCode
from codefinder.api.limits import checked_query
from codefinder.api.routes import checked_mode, checked_setting, verify_answer
from codefinder.api.schemas import SETTING_DESCRIPTION, SuggestIn, VerifyIn
from codefinder.api.suggest import suggest_answer
from codefinder.indexer.errors import CodefinderError
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.verify import record_dict

INSTRUCTIONS = (
    "codefinder finds HCPCS Level II (and, with a licensed file, CPT) codes for plain-language descriptions of "
    "procedures, supplies, drugs and services, including chargemaster shorthand and brand names. Use "
    "search_codes to find candidate codes, lookup_code for everything about one code, verify_code to check "
    "an assigned code against its description, and suggest_codes for the billable items in a note or order. "
    "Answers name the index version they came from."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)

Tool = Callable[..., dict[str, Any]]
Setting = Annotated[str, Field(description=SETTING_DESCRIPTION)]
AsOf = Annotated[dt.date | None, Field(description="statuses as of this date (YYYY-MM-DD); default today")]


def engine_of(ctx: Context) -> SearchEngine:
    return ctx.request_context.lifespan_context


def search_codes(
    ctx: Context,
    query: Annotated[str, Field(description="what was done or supplied, a code, or a code prefix")],
    limit: Annotated[int, Field(ge=1, le=limits.MAX_LIMIT, description="hits to return")] = 10,
    offset: Annotated[int, Field(ge=0, le=limits.MAX_OFFSET, description="hits to skip")] = 0,
    mode: Annotated[str, Field(description="hybrid (best), keyword or semantic")] = "hybrid",
    system: Annotated[str | None, Field(description="HCPCS or CPT")] = None,
    level: Annotated[str | None, Field(description="hcpcs-2, hcpcs-modifier, cpt-1, cpt-2, cpt-3 …")] = None,
    section: Annotated[str | None, Field(description="HCPCS section letter, e.g. E for equipment")] = None,
    kind: Annotated[str | None, Field(description="code or modifier")] = None,
    include_terminated: Annotated[bool, Field(description="also return terminated codes")] = False,
    as_of: AsOf = None,
    setting: Setting = "any",
) -> dict[str, Any]:
    """Ranked candidate codes for a plain-language description (or a code or code prefix), each with its
    descriptors, status, calibrated confidence and why it matched; `no_good_match` says when even the best
    hit is weak. The same answer as GET /search."""
    filters = Filters.checked(system, level, section, kind, include_terminated, as_of)
    options = SearchOptions(
        limit=limit, offset=offset, mode=checked_mode(mode), filters=filters, setting=checked_setting(setting)
    )
    return engine_of(ctx).search(checked_query(query, "query"), options).to_dict()


def lookup_code(
    ctx: Context,
    code: Annotated[str, Field(max_length=limits.MAX_CODE_CHARS, description="a HCPCS or CPT code, e.g. E0601")],
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Everything known about one code: descriptors, level, section, dates, status (terminated codes say so).
    The same answer as GET /codes/{code}."""
    record = engine_of(ctx).lookup(code)
    if record is None:
        raise UnknownCode(f"unknown code {code.strip().upper()!r}")
    return record_dict(record, as_of)


def verify_code(
    ctx: Context,
    description: Annotated[str, Field(description="the description the code was assigned for")],
    code: Annotated[str, Field(description="the assigned code as written; modifiers may follow: E0130-RR, J9271 JW")],
    modifiers: Annotated[str | None, Field(description='modifiers given apart from the code: "RR NU"')] = None,
    units: Annotated[float | None, Field(ge=0, description="the units billed, checked against the stated dose")] = None,
    setting: Setting = "any",
) -> dict[str, Any]:
    """QA check of an assigned code against its description: a verdict (consistent, suspect, unknown_code,
    terminated, needs_cpt) with one line of why per rule, the code's rank and confidence, better candidates
    when it is not consistent, and flags for modifiers and billed units. The same answer as POST /verify."""
    body = VerifyIn(description=description, code=code, modifiers=modifiers, units=units, setting=setting)
    return verify_answer(engine_of(ctx), body)


def suggest_codes(
    ctx: Context,
    text: Annotated[str, Field(description="a note, an order set or MAR entries (at most 20,000 characters)")],
    limit_per_item: Annotated[int, Field(ge=1, le=limits.MAX_LIMIT_PER_ITEM, description="codes per item")] = 5,
    setting: Setting = "any",
) -> dict[str, Any]:
    """The billable HCPCS Level II items documentation text names (drugs with dose and route, supplies,
    equipment, orthoses, services), each with where it is, its ranked codes with confidence, billing units
    worked out from a stated dose or count, LT/RT from a stated side, and whether it was given. A CPT service
    is flagged needs_cpt. The same answer as POST /suggest."""
    body = SuggestIn(text=text, limit_per_item=limit_per_item, setting=setting)
    return suggest_answer(engine_of(ctx), body)


TOOLS: tuple[Tool, ...] = (search_codes, lookup_code, verify_code, suggest_codes)


def one_line_errors(tool: Tool) -> Tool:
    """A user's mistake reaches the assistant as the API's one-line message (the SDK hides the text of any
    other exception)."""

    @functools.wraps(tool)
    def answered(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return tool(*args, **kwargs)
        except CodefinderError as error:
            raise ToolError(str(error)) from error
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors()
            )
            raise ToolError(problems) from error

    return answered


def build_server(engine: SearchEngine, version: str, tools: tuple[Tool, ...] = TOOLS) -> MCPServer:
    """An MCP server answering ``tools`` from ``engine`` (loaded before the server starts, so a missing index
    is a one-line error, not a failed tool call)."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[SearchEngine]:
        yield engine

    server = MCPServer(
        name="codefinder", version=version, instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING"
    )
    for tool in tools:
        server.add_tool(one_line_errors(tool), annotations=READ_ONLY)
    return server
