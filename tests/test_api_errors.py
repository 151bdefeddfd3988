"""Errors a client can act on: what was wrong, where, and the shape expected (fixture index, fake encoder)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from codefinder.api.app import create_app
from codefinder.api.context import AppContext

VERIFY_SHAPE = (
    '{"description": string, "code": string, "modifiers"?: string|[…], "units"?: number, "setting"?: string}'
)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from codefinder.indexer.build import build_index
    from codefinder.indexer.settings import Settings
    from tests.conftest import FIXTURE_DATA, FIXTURE_HISTORY, FIXTURE_SOURCES, FakeEncoder

    root = tmp_path_factory.mktemp("errors")
    settings = Settings(
        data_dir=FIXTURE_DATA,
        index=root / "index",
        cache_dir=root / "cache",
        default_sources=FIXTURE_SOURCES,
        history_sources=FIXTURE_HISTORY,
    )
    encoder = FakeEncoder()
    build_index(settings, encoder)
    with TestClient(create_app(AppContext(settings=settings, encoder_factory=lambda _s: encoder))) as test_client:
        yield test_client


def detail(response) -> str:
    return response.json()["detail"]


def test_a_form_post_is_told_to_send_json(client):
    response = client.post("/verify", data={"description": "walker", "code": "E0130"})  # curl -d
    assert response.status_code == 422
    assert detail(response).startswith("send JSON with content-type: application/json")
    assert VERIFY_SHAPE in detail(response)


def test_invalid_json_gives_the_position_and_the_shape(client):
    raw = b'{"description": "walker", "code": }'
    response = client.post("/verify", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert detail(response).startswith("the body is not valid JSON at character 34")
    assert VERIFY_SHAPE in detail(response)


def test_a_json_array_is_not_an_object(client):
    response = client.post("/verify", json=["walker"])
    assert response.status_code == 422 and detail(response).startswith("the body must be a JSON object")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/verify", {"description": "walker", "code": "E0130", "limt": 3}, "limt"),
        ("/search/batch", {"queries": ["walker"], "limt": 3}, "limt"),
        ("/verify/batch", {"items": [{"description": "walker", "code": "E0130", "cde": "x"}]}, "items.0.cde"),
    ],
)
def test_unknown_fields_are_named(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422 and f"unknown field '{field}'" in detail(response)


def test_body_bytes_that_are_not_utf8(client):
    raw = b'{"description": "walk\xff", "code": "E0130"}'
    response = client.post("/verify", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid UTF-8 JSON" in detail(response)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("section=Z", "unknown section 'Z'; this index has sections A, C, E, G, J, K"),
        ("level=cpt-1", "no cpt-1 codes are loaded: add your licensed CPT files and rebuild"),
        ("kind=x", "kind must be 'code' or 'modifier'"),
        ("section=EE", "section must be one letter"),
    ],
)
def test_filters_are_validated_against_the_index(client, query, message):
    response = client.get(f"/search?q=walker&{query}")
    assert response.status_code == 422 and message in detail(response)


def test_query_bytes_that_are_not_utf8(client):
    response = client.get("/search?q=%FF%FE")
    assert response.status_code == 422 and detail(response).startswith("q is not valid UTF-8")


def test_clinical_tables_boolean_q(client):
    def codes(q: str) -> list[str]:
        response = client.get("/api/hcpcs/v3/search", params={"terms": "walker", "q": q})
        assert response.status_code == 200, response.text
        return response.json()[1]

    walkers = codes("")
    assert walkers and codes("code:E01* AND is_noc:false") == [c for c in walkers if c.startswith("E01")]
    assert codes("code:E013* OR code:E014*") == [c for c in walkers if c.startswith(("E013", "E014"))]
    assert codes("NOT code:E013*") == [c for c in walkers if not c.startswith("E013")]
    assert codes("(code:E013* OR code:E014*) AND NOT code:E0141") == [
        c for c in walkers if c.startswith(("E013", "E014")) and c != "E0141"
    ]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("code:E01* AND", "needs something on both sides"),
        ("(code:E01*", "never closed"),
        ("code:E01*)", "closes nothing"),
        ("walker OR code:E01*", "cannot be OR-ed"),
        ("colour:red", "unknown field 'colour'"),
        ("(" * 12 + "code:E01*" + ")" * 12, "nest deeper than 8"),
    ],
)
def test_clinical_tables_bad_q_is_a_422(client, q, message):
    response = client.get("/api/hcpcs/v3/search", params={"terms": "walker", "q": q})
    assert response.status_code == 422 and message in detail(response)
