"""HTTP API on a fixture index with the fake encoder: every endpoint, every limit, hostile input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from codefinder.api import limits
from codefinder.api.app import create_app
from codefinder.api.context import AppContext
from tests.conftest import FailingEncoder


@pytest.fixture
def client(built_settings, fake_encoder):
    context = AppContext(settings=built_settings, encoder_factory=lambda _s: fake_encoder)
    with TestClient(create_app(context)) as test_client:
        yield test_client


@pytest.fixture
def empty_client(settings, fake_encoder):
    context = AppContext(settings=settings, encoder_factory=lambda _s: fake_encoder)
    with TestClient(create_app(context)) as test_client:
        yield test_client


def test_search_returns_hits_with_every_field(client):
    response = client.get("/search", params={"q": "standard wheelchair"})
    assert response.status_code == 200
    data = response.json()
    assert data["hits"][0]["code"] == "K0001"
    assert data["index_version"] and data["took_ms"] >= 0 and data["total"] >= 1
    hit = data["hits"][0]
    for field in (
        "system",
        "level",
        "level_label",
        "section",
        "section_name",
        "long_description",
        "short_description",
        "status",
        "termination_date",
        "score",
        "ranks",
        "matched_terms",
        "matched_synonyms",
    ):
        assert field in hit


def test_search_filters_modes_and_paging(client):
    modifiers = client.get("/search", params={"q": "left side", "kind": "modifier"}).json()
    assert modifiers["hits"][0]["code"] == "LT"
    keyword = client.get("/search", params={"q": "walker", "mode": "keyword", "limit": 1, "offset": 1}).json()
    assert keyword["offset"] == 1 and len(keyword["hits"]) == 1
    terminated = client.get("/search", params={"q": "screening mammography", "include_terminated": "true"}).json()
    assert terminated["hits"][0]["code"] == "G0202" and terminated["hits"][0]["status"] == "terminated"
    as_of = client.get("/search", params={"q": "screening mammography", "as_of": "2010-01-01"}).json()
    assert as_of["hits"][0]["status"] == "active"
    assert client.get("/search", params={"q": "walker", "section": "E"}).json()["hits"][0]["section"] == "E"


def test_code_and_prefix_queries(client):
    assert client.get("/search", params={"q": "e0601"}).json()["hits"][0]["code"] == "E0601"
    codes = [hit["code"] for hit in client.get("/search", params={"q": "E01"}).json()["hits"][:2]]
    assert codes == ["E0130", "E0141"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"q": "x" * (limits.MAX_QUERY_CHARS + 1)}, f"longer than {limits.MAX_QUERY_CHARS:,}".replace(",", "")),
        ({"q": ""}, "q is empty"),
        ({"q": "   "}, "q is empty"),
        ({"q": "walker", "limit": limits.MAX_LIMIT + 1}, "limit"),
        ({"q": "walker", "limit": 0}, "limit"),
        ({"q": "walker", "offset": limits.MAX_OFFSET + 1}, "offset"),
        ({"q": "walker", "offset": -1}, "offset"),
        ({"q": "walker", "mode": "magic"}, "mode must be"),
        ({"q": "walker", "setting": "clinic"}, "setting must be"),
        ({"q": "walker", "section": "EE"}, "one letter"),
        ({"q": "walker", "level": "nope"}, "unknown level"),
        ({"q": "walker", "system": "ICD"}, "unknown system"),
        ({"q": "walker", "kind": "thing"}, "kind must be"),
        ({"q": "walker", "as_of": "yesterday"}, "as_of"),
        ({}, "q"),
    ],
)
def test_search_limits_give_422_naming_the_limit(client, params, needle):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert needle in response.json()["detail"]


def test_a_query_too_long_for_a_search_is_pointed_to_suggest(client):
    detail = client.get("/search", params={"q": "walker " * 400}).json()["detail"]
    assert "longer than 2000 characters" in detail and "/suggest" in detail
    note = "Ceftriaxone 1 g IVPB given for cellulitis. " * 45  # a pasted note of ~1,900 characters: searched
    assert len(note) <= limits.MAX_QUERY_CHARS and client.get("/search", params={"q": note}).status_code == 200


def test_normalization_happens_before_the_length_check(client):
    # MAX_QUERY_CHARS full-width letters normalize (NFKC) to as many ASCII letters: allowed
    assert client.get("/search", params={"q": "\uff41" * limits.MAX_QUERY_CHARS}).status_code == 200


HOSTILE = [
    "field:x",
    "long:cpap",
    "*",
    "wheel*",
    '"',
    '"unterminated',
    "(((",
    ")))",
    "a AND OR NOT b",
    "\\",
    "~",
    "\U0001f600\U0001f680",
    "כיסא גלגלים",
    "مقعد متحرك",
    "\u202eevil\u202c",
    "\x00",
    "\x01\x02\x1b[31m",
    "\u200b\u200d",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "%00",
    "../../etc/passwd",
    "NaN",
    "-1",
    "e0601*",
    "J17?",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_never_500(client, text):
    for path, params in (
        ("/search", {"q": text}),
        ("/autocomplete", {"q": text}),
        ("/api/hcpcs/v3/search", {"terms": text}),
    ):
        response = client.get(path, params=params)
        assert response.status_code in (200, 422), (path, text, response.text)
        assert "Traceback" not in response.text
    verify = client.post("/verify", json={"description": text, "code": "E0601"})
    assert verify.status_code in (200, 422)


def test_codes_endpoint(client):
    data = client.get("/codes/e0601").json()
    assert data["code"] == "E0601" and data["long_description"].startswith("Continuous positive")
    assert data["level_label"] == "HCPCS Level II" and data["status"] == "active"
    terminated = client.get("/codes/G0202").json()
    assert terminated["status"] == "terminated" and terminated["termination_date"] == "2014-12-31"
    missing = client.get("/codes/Z9999")
    assert missing.status_code == 404 and missing.json()["detail"] == "unknown code 'Z9999'"
    assert client.get("/codes/" + "A" * 40).status_code == 422


def test_autocomplete(client):
    data = client.get("/autocomplete", params={"q": "wheel"}).json()
    assert data["suggestions"][0]["code"] == "K0001"
    assert data["suggestions"][0]["match"] == "word"
    codes = client.get("/autocomplete", params={"q": "E0"}).json()["suggestions"]
    assert [s["code"] for s in codes[:2]] == ["E0130", "E0141"] and codes[0]["match"] == "code"
    assert client.get("/autocomplete", params={"q": "keytr"}).json()["suggestions"][0]["code"] == "J9271"
    assert client.get("/autocomplete", params={"q": "oxy conc"}).json()["suggestions"][0]["code"] == "E1390"
    assert client.get("/autocomplete", params={"q": "wheel", "limit": limits.MAX_AUTOCOMPLETE + 1}).status_code == 422


def test_autocomplete_takes_the_search_filters(client):
    """With section J chosen, "walker" offers no E code (the page's suggestion chips follow its filters)."""
    assert [s["code"] for s in client.get("/autocomplete", params={"q": "walk"}).json()["suggestions"]][:2] == [
        "E0130",
        "E0141",
    ]
    in_j = client.get("/autocomplete", params={"q": "walk", "section": "J"}).json()["suggestions"]
    assert all(s["section"] == "J" for s in in_j) and not any(s["code"].startswith("E") for s in in_j)
    lower_case = client.get("/autocomplete", params={"q": "in", "section": "j"}).json()["suggestions"]
    assert {s["section"] for s in lower_case} == {"J"}
    modifiers = client.get("/autocomplete", params={"q": "left", "kind": "modifier"}).json()["suggestions"]
    assert [s["code"] for s in modifiers] == ["LT"]
    assert client.get("/autocomplete", params={"q": "walk", "system": "HCPCS", "level": "hcpcs-2"}).status_code == 200
    for bad, word in (({"section": "Z"}, "section"), ({"kind": "drug"}, "kind"), ({"system": "ICD"}, "system")):
        response = client.get("/autocomplete", params={"q": "walk", **bad})
        assert response.status_code == 422 and word in response.json()["detail"], response.json()


def test_autocomplete_does_not_call_the_model(client, fake_encoder):
    before = fake_encoder.calls
    client.get("/autocomplete", params={"q": "cpap"})
    assert fake_encoder.calls == before


def test_batch_search(client):
    response = client.post("/search/batch", json={"queries": ["cpap", "keytruda", "E0130"], "limit": 2})
    data = response.json()
    assert [result["hits"][0]["code"] for result in data["results"]] == ["E0601", "J9271", "E0130"]
    assert all(len(result["hits"]) <= 2 for result in data["results"])
    too_many = client.post("/search/batch", json={"queries": ["x"] * (limits.MAX_BATCH_QUERIES + 1)})
    assert too_many.status_code == 422 and "queries" in too_many.json()["detail"]
    assert client.post("/search/batch", json={"queries": []}).status_code == 422
    assert client.post("/search/batch", json={"queries": ["ok", ""]}).json()["detail"] == "queries[1] is empty"
    assert client.post("/search/batch", json={"queries": ["ok"], "limit": 51}).status_code == 422


@pytest.fixture
def strict_client(built_settings, fake_encoder):
    """The fixture index holds 14 codes, so every code is in any top 10: verify against the top 1 here."""
    strict = built_settings.model_copy(update={"verify_consistent_rank": 1, "verify_retriever_rank": 1})
    with TestClient(create_app(AppContext(settings=strict, encoder_factory=lambda _s: fake_encoder))) as test_client:
        yield test_client


def test_verify_verdicts(strict_client):
    client = strict_client
    consistent = client.post("/verify", json={"description": "keytruda", "code": "J9271"}).json()
    assert consistent["verdict"] == "consistent" and consistent["rank"] == 1
    assert consistent["record"]["code"] == "J9271" and consistent["better_candidates"] == []
    suspect = client.post("/verify", json={"description": "standard wheelchair", "code": "J9271"}).json()
    assert suspect["verdict"] == "suspect"
    assert suspect["better_candidates"][0]["code"] == "K0001"
    unknown = client.post("/verify", json={"description": "wheelchair", "code": "Z9999"}).json()
    assert unknown["verdict"] == "unknown_code" and unknown["record"] is None
    terminated = client.post("/verify", json={"description": "screening mammography", "code": "G0202"}).json()
    assert terminated["verdict"] == "terminated"
    assert client.post("/verify", json={"description": "", "code": "E0601"}).status_code == 422
    assert client.post("/verify", json={"description": "cpap", "code": ""}).status_code == 422
    assert client.post("/verify", json={"code": "E0601"}).status_code == 422


def test_verify_batch(strict_client):
    client = strict_client
    items = [{"description": "keytruda", "code": "J9271"}, {"description": "walker", "code": "J9271"}]
    data = client.post("/verify/batch", json={"items": items}).json()
    assert [r["verdict"] for r in data["results"]] == ["consistent", "suspect"]
    too_many = client.post("/verify/batch", json={"items": [items[0]] * (limits.MAX_VERIFY_ITEMS + 1)})
    assert too_many.status_code == 422


def test_body_size_limit_is_enforced_on_bytes_received(client):
    big = b'{"queries": ["' + b"x" * (300 * 1024) + b'"]}'
    response = client.post("/search/batch", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        yield b'{"queries": ["'
        for _ in range(40):
            yield b"x" * 8192
        yield b'"]}'

    streamed = client.post("/search/batch", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_malformed_json_is_422(client):
    response = client.post("/verify", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_clinical_tables_shape_and_defaults(client):
    data = client.get("/api/hcpcs/v3/search", params={"terms": "walk"}).json()
    total, codes, extra, display = data
    assert total == 2 and set(codes) == {"E0130", "E0141"}
    assert extra is None
    assert display[0][0] in codes and len(display[0]) == 2  # default df=code,display


def test_clinical_tables_parameters(client):
    params = {"terms": "wheel", "ef": "short_desc,is_noc:noc", "df": "code,long_desc", "maxList": "1"}
    total, codes, extra, display = client.get("/api/hcpcs/v3/search", params=params).json()
    assert len(codes) == 1 and total >= 1
    assert set(extra) == {"short_desc", "noc"} and len(extra["short_desc"]) == 1
    assert display[0][1]
    paged = client.get("/api/hcpcs/v3/search", params={"terms": "walker", "count": 1, "offset": 1}).json()
    assert len(paged[1]) == 1 and paged[0] == 2
    assert client.get("/api/hcpcs/v3/search", params={"terms": "walker", "maxList": ""}).json()[0] == 2
    obsolete = client.get("/api/hcpcs/v3/search", params={"terms": "mammography", "q": "obsolete:true"}).json()
    assert obsolete[1] == ["G0202"]
    codes_only = client.get("/api/hcpcs/v3/search", params={"terms": "E01", "sf": "code"}).json()
    assert codes_only[1] == ["E0130", "E0141"]


@pytest.mark.parametrize(
    "params",
    [
        {"terms": "walker", "maxList": "501"},
        {"terms": "walker", "maxList": "abc"},
        {"terms": "walker", "count": 501},
        {"terms": "walker", "offset": 7501},
        {"terms": "walker", "df": "code,nonsense"},
        {"terms": "walker", "ef": "x"},
        {"terms": "walker", "sf": "add_dt"},
        {},
        {"terms": ""},
    ],
)
def test_clinical_tables_limits(client, params):
    response = client.get("/api/hcpcs/v3/search", params=params)
    assert response.status_code == 422, response.text


def test_clinical_tables_falls_back_to_hybrid_search(client):
    params = {"terms": "pembrolizumab therapy"}
    total, codes, _extra, _display = client.get("/api/hcpcs/v3/search", params=params).json()
    assert codes[0] == "J9271" and total >= 1


def test_operations_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["index_version"]
    version = client.get("/version").json()
    assert version["counts"]["records"] == 14 and version["model"]["name"] == "fake-hashing-encoder"
    assert version["files"]["records.jsonl"] and len(version["files"]["records.jsonl"]) == 64
    assert version["codefinder_version"] and "/" not in str(version["sources"]) and "/" not in str(version["history"])


def test_without_an_index_only_healthz_answers(empty_client):
    assert empty_client.get("/healthz").status_code == 200
    ready = empty_client.get("/readyz")
    assert ready.status_code == 503 and "codefinder build" in ready.json()["detail"]
    assert empty_client.get("/search", params={"q": "cpap"}).status_code == 503
    assert empty_client.get("/codes/E0601").status_code == 503


def test_semantic_failure_is_reported_as_degraded(built_settings):
    context = AppContext(settings=built_settings, encoder_factory=lambda _s: FailingEncoder())
    with TestClient(create_app(context)) as failing:
        data = failing.get("/search", params={"q": "standard wheelchair"}).json()
    assert data["degraded"] == ["semantic"] and data["hits"][0]["code"] == "K0001"


def test_cors_off_by_default_and_allowlist_when_configured(client, built_settings, fake_encoder):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/search", headers=headers).headers
    allowed = built_settings.model_copy(update={"cors_origins": ["https://coder.example"]})
    with TestClient(create_app(AppContext(settings=allowed, encoder_factory=lambda _s: fake_encoder))) as cors:
        ok = cors.get("/healthz", headers={"Origin": "https://coder.example"})
        assert ok.headers["access-control-allow-origin"] == "https://coder.example"
        other = cors.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_model_and_index_load_once(built_settings, fake_encoder):
    loads = []

    def factory(_settings):
        loads.append(1)
        return fake_encoder

    with TestClient(create_app(AppContext(settings=built_settings, encoder_factory=factory))) as once:
        for _ in range(5):
            once.get("/search", params={"q": "cpap"})
    assert loads == [1]


def test_openapi_documents_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/search",
        "/search/batch",
        "/codes/{code}",
        "/autocomplete",
        "/verify",
        "/verify/batch",
        "/api/hcpcs/v3/search",
        "/healthz",
        "/readyz",
        "/version",
    ):
        assert path in paths


def test_web_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "codefinder" in page.text.lower()


def test_the_hospital_setting_is_accepted_everywhere_a_search_runs(client):
    assert (
        client.get("/search", params={"q": "anchor screw", "setting": "hospital"}).json()["hits"][0]["code"] == "C1713"
    )
    batch = client.post("/search/batch", json={"queries": ["anchor screw"], "setting": "hospital"})
    assert batch.status_code == 200 and batch.json()["results"][0]["hits"][0]["code"] == "C1713"
    one = client.post("/verify", json={"description": "anchor screw", "code": "C1713", "setting": "hospital"})
    assert one.status_code == 200 and one.json()["rank"] == 1
    items = [{"description": "anchor screw", "code": "C1713"}]
    assert client.post("/verify/batch", json={"items": items, "setting": "hospital"}).status_code == 200
    refused = client.post("/verify/batch", json={"items": items, "setting": "dme"})
    assert refused.status_code == 422 and "setting must be" in refused.json()["detail"]


# --- /suggest -----------------------------------------------------------------------------------------


def test_suggest_finds_each_item(client):
    text = "Keytruda 200 mg IV given. Standard wheelchair dispensed. Pt tolerated well. BP 120/80."
    response = client.post("/suggest", json={"text": text, "limit_per_item": 3})
    assert response.status_code == 200
    data = response.json()
    assert data["index_version"] and data["segments"] == 4 and data["cpt_loaded"] is False
    codes = [item["codes"][0]["code"] for item in data["items"]]
    assert "J9271" in codes and all(len(item["codes"]) <= 3 for item in data["items"])
    for item in data["items"]:
        assert text[item["start"] : item["end"]] == item["text"]
        assert set(item) >= {"query", "negated", "needs_cpt", "attributes", "codes"}
    keytruda = next(item for item in data["items"] if item["codes"][0]["code"] == "J9271")
    assert keytruda["codes"][0]["units"]["units"] == 200 and keytruda["attributes"]["route"] == "intravenous"


def test_suggest_in_keyword_mode_still_finds_each_item(client):
    text = "Keytruda 200 mg IV given. Standard wheelchair dispensed."
    response = client.post("/suggest", json={"text": text, "mode": "keyword"})
    assert response.status_code == 200
    assert {"J9271", "K0001"} <= {item["codes"][0]["code"] for item in response.json()["items"]}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"text": ""}, "text is empty"),
        ({"text": " \n\t "}, "text is empty"),
        ({"text": "\u200b\u0000"}, "text is empty"),
        ({"text": "x" * (limits.MAX_SUGGEST_CHARS + 1)}, "20000"),
        ({"text": "walker", "limit_per_item": 0}, "limit_per_item"),
        ({"text": "walker", "limit_per_item": limits.MAX_LIMIT_PER_ITEM + 1}, "limit_per_item"),
        ({"text": "walker", "setting": "clinic"}, "setting must be"),
        ({"text": "walker", "mode": "semantic"}, "mode"),
        ({}, "text"),
    ],
)
def test_suggest_bad_input_is_a_clear_422(client, body, needle):
    response = client.post("/suggest", json=body)
    assert response.status_code == 422, response.text
    assert needle in response.json()["detail"].replace(",", "")


@pytest.mark.parametrize(
    "text",
    [
        "Pt tolerated well. Reassess in 30 min. Signed: J. Smith RN",
        "BP 128/76, HR 72, RR 16, SpO2 98% on room air.",
        "\x01\x02\x7f ÿþ \ufffd binary \x00 junk",
        "患者は車椅子を使用しています。",
        "El paciente descansa cómodamente.",
        "x" * limits.MAX_SUGGEST_CHARS,
    ],
)
def test_suggest_text_naming_nothing_billable_is_an_empty_list(client, text):
    response = client.post("/suggest", json={"text": text})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
