"""Fuzzing the HTTP API (issue #6, points 5 and 6).

Hypothesis throws arbitrary Unicode (lone surrogates, control and format characters included) and a
list of hostile strings at every text input; schemathesis checks every operation against the app's
own OpenAPI document. Whatever comes in, the answer is 200 or 4xx with a JSON body, never a 500 and
never a traceback. Everything runs in-process on the tiny fixture index with the fake encoder.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from codefinder.api import limits
from codefinder.api.app import create_app
from codefinder.api.context import AppContext
from codefinder.api.schemas import AutocompleteOut, SearchOut, SuggestOut
from codefinder.indexer.build import build_index
from codefinder.indexer.settings import Settings
from codefinder.search.query import normalize_query
from tests.conftest import FIXTURE_DATA, FIXTURE_HISTORY, FIXTURE_SOURCES, FakeEncoder

# Bounded and derandomized so CI sees the same examples every run. The client fixture is module-scoped
# (built once, read-only), so sharing it across examples is sound; the health check is told so.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every code point: lone surrogates (Cs), private use, unassigned, controls, format characters.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
SYNTAX = st.sampled_from([*'()[]{}*?:"~^!+-&|\\/', " AND ", " OR ", " NOT ", "field:", "code:", "long:"])
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=300),
    st.lists(st.one_of(SYNTAX, st.text(ANY_CHAR, max_size=4), st.sampled_from(["wheel", "E06", "cpap"]))).map("".join),
)
CODES = st.one_of(
    st.sampled_from(["E0601", "J9271", "K0001", "LT", "Z9999"]), st.text(ANY_CHAR, min_size=1, max_size=16)
)

HOSTILE = [
    "(" * 10_000 + ")" * 10_000,
    "(" * 100 + "walker" + ")" * 100,
    "long:x",
    "field:x",
    "code:E0601",
    "short_desc:walker",
    "*",
    "?",
    "E06*",
    "*:*",
    "wheel~2",
    "walker^10",
    "[a TO z]",
    "{a TO z}",
    "/reg.*ex/",
    '"unterminated',
    '"',
    "AND OR NOT",
    "NOT",
    "-walker",
    "+walker",
    "a && b || !c",
    "\\",
    "\x00",
    "walker\x00cane",
    "\x01\x02\x07\x08\x7f",
    "\x1b[31m",
    "\r\n\t\v\f",
    "\u0085\u2028\u2029",
    "\u202e",
    "\u202eevil\u202c",
    "\u200b\u200c\u200d\ufeff",
    "👨\u200d👩\u200d👧\u200d👦",
    "🦽🩼🫁",
    "כיסא גלגלים",
    "مقعد متحرك",
    "كرسي \u200fمتحرك",
    "한국어 휠체어",
    "x" * 10_000,
    "w" * 256,
    "w" * 257,
    "w" * limits.MAX_QUERY_CHARS,
    "w " * limits.MAX_QUERY_CHARS,
    "ﬃ" * 200,
    "\ufdfa" * 20,
    "%00",
    "%ED%A0%80",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "NaN",
    "Infinity",
    "-1",
    "0",
    "e0601*",
    "J17?",
    "\uffff\ufffe",
    "\U0010ffff",
    "\ue000",
    "\U000e0001",
    "a\u0301\u0301\u0301\u0301\u0301",
    " ",
    "",
]


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One fixture index for the whole module: every test only reads it."""
    root = tmp_path_factory.mktemp("fuzz")
    built = Settings(
        data_dir=FIXTURE_DATA,
        index=root / "index",
        cache_dir=root / "cache",
        default_sources=FIXTURE_SOURCES,
        history_sources=FIXTURE_HISTORY,
    )
    build_index(built, FakeEncoder())
    return built


def make_app(built: Settings) -> FastAPI:
    encoder = FakeEncoder()
    return create_app(AppContext(settings=built, encoder_factory=lambda _s: encoder))


@pytest.fixture(scope="module")
def client(fuzz_settings: Settings) -> Iterator[TestClient]:
    # raise_server_exceptions=False: an unhandled error must show up as the 500 a real client would get.
    with TestClient(make_app(fuzz_settings), raise_server_exceptions=False) as test_client:
        yield test_client


def url(path: str, **params: str) -> str:
    """A URL carrying the exact UTF-8 bytes of each value; a lone surrogate goes out as raw invalid
    UTF-8 (``%ED%A0%80``), which is what a broken client would send and no encoder of ours would."""
    query = "&".join(
        f"{key}={quote_from_bytes(value.encode('utf-8', 'surrogatepass'), safe='')}" for key, value in params.items()
    )
    return f"{path}?{query}"


def post_json(client: TestClient, path: str, body: Any) -> httpx.Response:
    """JSON written with ``\\uXXXX`` escapes, so lone surrogates reach the server as ``"\\ud800"``."""
    raw = json.dumps(body, ensure_ascii=True).encode("ascii")
    return client.post(path, content=raw, headers={"content-type": "application/json"})


def assert_sane(response: httpx.Response, what: object) -> Any:
    """200 or 4xx, a JSON body, no traceback; the parsed body."""
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    assert response.status_code >= 200, (what, response.status_code)
    assert "Traceback" not in response.text and 'File "' not in response.text, (what, response.text[:500])
    data = response.json()
    if response.status_code >= 400:
        assert isinstance(data["detail"], str) and "\n" not in data["detail"], (what, data)
    return data


# --- normalize_query ---------------------------------------------------------------------------


@FUZZ
@given(TEXT)
def test_normalized_query_is_clean_utf8(text: str) -> None:
    normalized = normalize_query(text)
    normalized.encode("utf-8")  # never a lone surrogate
    assert normalized == normalized.strip() and "  " not in normalized
    assert not any(ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in normalized)
    assert normalize_query(normalized) == normalized


# --- property tests, one per endpoint ----------------------------------------------------------


@FUZZ
@given(q=TEXT)
def test_search_any_text(client: TestClient, q: str) -> None:
    response = client.get(url("/search", q=q))
    data = assert_sane(response, q)
    if response.status_code == 200:  # returned as a plain JSONResponse: the documented model is checked here
        assert SearchOut.model_validate(data).query == normalize_query(data["query"])


@FUZZ
@given(q=TEXT)
def test_autocomplete_any_text(client: TestClient, q: str) -> None:
    response = client.get(url("/autocomplete", q=q))
    data = assert_sane(response, q)
    if response.status_code == 200:
        assert AutocompleteOut.model_validate(data).query == normalize_query(data["query"])


@FUZZ
@given(terms=TEXT, q=st.none() | TEXT, ef=st.none() | TEXT | st.sampled_from(["short_desc:\ud800", "code:\x00"]))
def test_clinical_tables_any_text(client: TestClient, terms: str, q: str | None, ef: str | None) -> None:
    params = {"terms": terms} | ({"q": q} if q is not None else {}) | ({"ef": ef} if ef is not None else {})
    data = assert_sane(client.get(url("/api/hcpcs/v3/search", **params)), params)
    if isinstance(data, list):
        json.dumps(data, ensure_ascii=False).encode("utf-8")


@FUZZ
@given(max_list=TEXT | st.sampled_from(["²", "٣", "①", "1e3", " 7 ", "-1", "0", "500", "501"]))
def test_clinical_tables_any_max_list(client: TestClient, max_list: str) -> None:
    assert_sane(client.get(url("/api/hcpcs/v3/search", terms="walker", maxList=max_list)), max_list)


@FUZZ
@given(description=TEXT, code=CODES)
def test_verify_any_text(client: TestClient, description: str, code: str) -> None:
    assert_sane(post_json(client, "/verify", {"description": description, "code": code}), (description, code))


@FUZZ
@given(items=st.lists(st.fixed_dictionaries({"description": TEXT, "code": CODES}), min_size=1, max_size=4))
def test_verify_batch_any_text(client: TestClient, items: list[dict[str, str]]) -> None:
    assert_sane(post_json(client, "/verify/batch", {"items": items}), items)


@FUZZ
@given(queries=st.lists(TEXT, min_size=1, max_size=4), mode=st.sampled_from(["hybrid", "keyword", "semantic"]) | TEXT)
def test_batch_search_any_text(client: TestClient, queries: list[str], mode: str) -> None:
    assert_sane(post_json(client, "/search/batch", {"queries": queries, "mode": mode, "limit": 3}), queries)


@FUZZ
@given(text=TEXT, setting=st.sampled_from(["any", "hospital"]) | TEXT, limit=st.integers(-2, 30))
def test_suggest_any_text(client: TestClient, text: str, setting: str, limit: int) -> None:
    response = post_json(client, "/suggest", {"text": text, "setting": setting, "limit_per_item": limit})
    data = assert_sane(response, (text, setting, limit))
    if response.status_code == 200:  # returned as a plain response: the documented model is checked here
        result = SuggestOut.model_validate(data)
        for item in result.items:
            assert text[item.start : item.end] == item.text


@FUZZ
@given(code=TEXT)
def test_code_detail_any_text(client: TestClient, code: str) -> None:
    path = "/codes/" + quote_from_bytes(code.encode("utf-8", "surrogatepass"), safe="")
    assert_sane(client.get(path), code)


# --- hostile strings, every text input ---------------------------------------------------------


@pytest.mark.parametrize(
    "text", HOSTILE, ids=lambda text: repr(text[:24]) + (f"…{len(text)}" if len(text) > 24 else "")
)
def test_hostile_strings(client: TestClient, text: str) -> None:
    normalized = normalize_query(text)
    too_long = len(text) > 16 * limits.MAX_QUERY_CHARS or len(normalized) > limits.MAX_QUERY_CHARS
    for path, params, checked in (
        ("/search", {"q": text}, True),
        ("/autocomplete", {"q": text}, True),
        ("/api/hcpcs/v3/search", {"terms": text}, True),
        ("/api/hcpcs/v3/search", {"terms": "walker", "q": text[: limits.MAX_QUERY_CHARS]}, False),
    ):
        response = client.get(url(path, **params))
        assert_sane(response, (path, text))
        if checked and (too_long or not normalized):
            assert response.status_code == 422, (path, text)
    for body_path, body in (
        ("/verify", {"description": text, "code": "E0601"}),
        ("/verify", {"description": "walker", "code": text}),
        ("/verify/batch", {"items": [{"description": text, "code": "E0601"}]}),
        ("/search/batch", {"queries": [text]}),
        ("/suggest", {"text": text}),
    ):
        assert_sane(post_json(client, body_path, body), (body_path, text))


# Raw bytes no UTF-8 encoder would produce: lone and paired surrogates as CESU-8, overlongs, stray bytes.
RAW_ESCAPES = ["%ED%A0%80", "%ED%BF%BF", "%ED%A0%BD%ED%B8%80", "%FF", "%C0%80", "%E2%82", "%F4%90%80%80", "%00", "%"]


@pytest.mark.parametrize("raw", RAW_ESCAPES)
def test_invalid_utf8_in_the_url(client: TestClient, raw: str) -> None:
    for target in (
        f"/search?q=walker{raw}",
        f"/autocomplete?q={raw}wheel",
        f"/api/hcpcs/v3/search?terms=walk{raw}",
        f"/api/hcpcs/v3/search?terms=walker&q={raw}&ef=short_desc:{raw}&df=code,display{raw}",
        f"/codes/E06{raw}",
    ):
        assert_sane(client.get(target), target)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud83d", "\\ude00\\ud83d", "\\u0000", "\\u202e", "\\ufeff"])
def test_escaped_surrogates_in_json(client: TestClient, escape: str) -> None:
    bodies = {
        "/verify": f'{{"description": "walker{escape}", "code": "E01{escape}30"}}',
        "/verify/batch": f'{{"items": [{{"description": "{escape}", "code": "{escape}"}}]}}',
        "/search/batch": f'{{"queries": ["cpap {escape}"], "mode": "{escape}"}}',
        "/suggest": f'{{"text": "cpap {escape} walker", "setting": "{escape}"}}',
    }
    for path, raw in bodies.items():
        response = client.post(path, content=raw.encode("ascii"), headers={"content-type": "application/json"})
        assert_sane(response, (path, raw))


# Odd but valid for /verify (unknown keys are ignored, the last duplicate wins): 200 there, 4xx elsewhere.
ODD_BUT_VALID = [
    b'{"description": "walker", "description": "cpap", "code": "E0601"}',
]
HOSTILE_BODIES = [
    b'{"description": "walker", "code": "E0601", "extra": {"\\ud800": NaN}}',  # an unknown field: 422
    b'{"description": "walker\xff", "code": "E0601"}',
    b'{"description": "walker\xed\xa0\x80", "code": "E0601"}',
    b"\xff\xfe{\x00}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"description": ' + b"[" * 50_000 + b"]" * 50_000 + b', "code": "E0601"}',
    b'{"description": null, "code": 1e400}',
    b'{"queries": "walker", "limit": 1e400}',
    b'{"queries": ["walker"], "limit": 100000000000000000000000000000}',
    b'{"queries": ["walker"], "limit": -Infinity}',
    b'{"items": [{"description": "walker", "code": "E0601"}], "items": null}',
    b"null",
    b"",
    b'"\\ud800"',
]


@pytest.mark.parametrize("raw", HOSTILE_BODIES + ODD_BUT_VALID, ids=lambda raw: repr(raw[:20]))
@pytest.mark.parametrize("path", ["/verify", "/verify/batch", "/search/batch", "/suggest"])
def test_hostile_json_bodies(client: TestClient, path: str, raw: bytes) -> None:
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert_sane(response, (path, raw[:40]))
    expected = (200,) if raw in ODD_BUT_VALID and path == "/verify" else (400, 413, 422)
    assert response.status_code in expected, (path, raw[:40], response.status_code)


def test_invalid_unicode_is_rejected_or_dropped_never_echoed(client: TestClient) -> None:
    # In a JSON body a lone surrogate is not a valid string: 422 naming the field.
    response = post_json(client, "/verify", {"description": "walker\ud800", "code": "e0130"})
    assert response.status_code == 422 and response.json()["detail"].startswith("description:")
    # In a URL, bytes that are not UTF-8 decode to U+FFFD: a 422 saying so, not a search for what is left.
    for path in (url("/search", q="cpap\ud800 machine"), "/autocomplete?q=whe%FFel", "/search?q=%FF%FE"):
        response = client.get(path)
        assert response.status_code == 422 and "not valid UTF-8" in response.json()["detail"], path
    extra = assert_sane(client.get(url("/api/hcpcs/v3/search", terms="walker", ef="short_desc:\x1b[31m\x00")), "ctss")
    assert list(extra[2]) == ["[31m"]


def test_verify_code_is_cleaned(client: TestClient) -> None:
    data = assert_sane(post_json(client, "/verify", {"description": "walker", "code": "\x00e0130\u200b "}), "verify")
    assert data["code"] == "E0130" and data["verdict"] != "unknown_code"
    empty = post_json(client, "/verify", {"description": "walker", "code": "\x00\u202e"})
    assert empty.status_code == 422 and "code is empty" in empty.json()["detail"]


def test_full_width_code_is_the_code(client: TestClient) -> None:
    data = assert_sane(post_json(client, "/verify", {"description": "walker", "code": "ｅ０１３０"}), "verify")
    assert data["code"] == "E0130" and data["verdict"] != "unknown_code"


# --- schemathesis: every operation against the app's own OpenAPI document ----------------------


def documented_operations() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every documented operation, read at collection time from an app that is
    never started (the document does not depend on the index), so a new endpoint is fuzzed without edits
    here. Negative cases (input that breaks the schema) only for operations that take any input."""
    unused = Settings(
        data_dir=FIXTURE_DATA,
        index=Path("unused-index"),
        default_sources=FIXTURE_SOURCES,
        history_sources=FIXTURE_HISTORY,
    )
    cases = []
    for path, item in make_app(unused).openapi()["paths"].items():
        for method, operation in item.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture(scope="module")
def api_schema(fuzz_settings: Settings) -> Any:
    """The OpenAPI document served by a fresh app, loaded in-process; schemathesis runs the app's lifespan
    (so the fixture index loads) and sends every request through ASGI, no server and no network."""
    return schemathesis.openapi.from_asgi("/openapi.json", make_app(fuzz_settings))


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
]
SCHEMA_FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# schemathesis.pytest.from_fixture / @schema.parametrize would be the usual spelling, but its pytest plugin
# (4.32.5) writes Node._nodeid, which pytest 9 no longer has; the operation strategies are public API.
@pytest.mark.parametrize(
    ("method", "path", "mode"), documented_operations(), ids=lambda value: getattr(value, "value", value)
)
def test_openapi_conformance(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @SCHEMA_FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()
