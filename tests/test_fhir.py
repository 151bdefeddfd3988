"""FHIR terminology operations on fixture indexes with the fake encoder: every answer is validated against the
R4 resource models of ``fhir.resources`` (its R4B package: the terminology resources are R4's), and the
answers agree with /search, /codes and /verify."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from pydantic import SecretStr

from codefinder.api import limits
from codefinder.api.app import create_app
from codefinder.api.context import AppContext
from codefinder.indexer.build import build_index
from tests.conftest import FIXTURE_SOURCES

HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
HCPCS_HTTPS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS_VS = f"{HCPCS}?fhir_vs"
KEY = "fhir-test-key-0123456789"


@pytest.fixture
def client(built_settings, fake_encoder):
    context = AppContext(settings=built_settings, encoder_factory=lambda _s: fake_encoder)
    with TestClient(create_app(context)) as test_client:
        yield test_client


@pytest.fixture
def cpt_client(settings, fake_encoder):
    """An index holding the HCPCS fixture and a made-up CPT file (descriptors written for the tests)."""
    with_cpt = settings.model_copy(update={"default_sources": (*FIXTURE_SOURCES, "plain/made_up_cpt.csv")})
    build_index(with_cpt, fake_encoder)
    with TestClient(create_app(AppContext(settings=with_cpt, encoder_factory=lambda _s: fake_encoder))) as test_client:
        yield test_client


def no_empty_values(value: Any, where: str = "$") -> None:
    """FHIR JSON never carries an empty array, object or string."""
    assert value not in ([], {}, ""), f"{where} is empty"
    if isinstance(value, dict):
        for key, inner in value.items():
            no_empty_values(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            no_empty_values(inner, f"{where}[{i}]")


def fhir(response, resource_type: str, status: int = 200) -> dict[str, Any]:
    """The body of a FHIR answer, checked: status, content type, R4 model, no empty values."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == resource_type
    get_fhir_model_class(resource_type).model_validate(body)
    no_empty_values(body)
    return body


def outcome(response, status: int, issue_type: str) -> str:
    body = fhir(response, "OperationOutcome", status)
    issue = body["issue"][0]
    assert issue["severity"] == "error" and issue["code"] == issue_type
    return issue["diagnostics"]


def params(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in body["parameter"]:
        found.setdefault(item["name"], []).append(item)
    return found


def properties(body: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for item in params(body).get("property", []):
        parts = {part["name"]: part for part in item["part"]}
        value = next(v for k, v in parts["value"].items() if k.startswith("value"))
        found[parts["code"]["valueCode"]] = value
    return found


def as_parameters(**values: tuple[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": name, f"value{kind}": value} for name, (kind, value) in values.items()],
    }


# --- metadata -----------------------------------------------------------------------------------------


def test_metadata_is_a_capability_statement_naming_the_operations(client):
    body = fhir(client.get("/fhir/metadata"), "CapabilityStatement")
    assert body["fhirVersion"] == "4.0.1" and body["format"] == ["json"]
    operations = {
        resource["type"]: {op["name"] for op in resource["operation"]} for resource in body["rest"][0]["resource"]
    }
    assert operations == {"CodeSystem": {"lookup", "validate-code"}, "ValueSet": {"expand"}}


def test_terminology_capabilities_list_the_loaded_systems_in_the_served_version(client, cpt_client):
    response = client.get("/fhir/metadata", params={"mode": "terminology"})
    body = fhir(response, "TerminologyCapabilities")
    assert [system["uri"] for system in body["codeSystem"]] == [HCPCS]
    assert body["codeSystem"][0]["version"][0]["code"] == response.headers["x-codefinder-index"]
    with_cpt = fhir(cpt_client.get("/fhir/metadata", params={"mode": "terminology"}), "TerminologyCapabilities")
    assert [system["uri"] for system in with_cpt["codeSystem"]] == [HCPCS, CPT]
    assert "mode must be" in outcome(client.get("/fhir/metadata", params={"mode": "everything"}), 400, "invalid")


# --- $lookup ------------------------------------------------------------------------------------------


def test_lookup_gives_name_version_display_designations_and_properties(client):
    response = client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS_HTTPS, "code": "E0601"})
    body = fhir(response, "Parameters")
    found = params(body)
    assert found["name"][0]["valueString"] == "HCPCS Level II"
    assert found["version"][0]["valueString"] == response.headers["x-codefinder-index"]
    record = client.get("/codes/E0601").json()
    assert found["display"][0]["valueString"] == record["long_description"]
    designations = {
        {part["name"]: part for part in item["part"]}["use"]["valueCoding"]["code"]: item["part"][2]["valueString"]
        for item in found["designation"]
    }
    assert designations == {
        "long-descriptor": record["long_description"],
        "short-descriptor": record["short_description"],
    }
    props = properties(body)
    assert props["status"] == "active" and props["inactive"] is False
    assert props["section"] == "E" and props["level"] == "hcpcs-2" and props["noc"] is False
    assert props["kind"] == "code"


def test_lookup_status_follows_the_date(client):
    ended = properties(fhir(client.get("/fhir/CodeSystem/$lookup?system=" + HCPCS + "&code=G0202"), "Parameters"))
    assert ended["status"] == "terminated" and ended["inactive"] is True and ended["termination-date"]
    before = client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS, "code": "G0202", "date": "2010-01-01"})
    assert properties(fhir(before, "Parameters"))["status"] == "active"
    noc = client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS, "code": "J3490"})
    assert properties(fhir(noc, "Parameters"))["noc"] is True


def test_lookup_returns_only_the_properties_asked_for(client):
    response = client.get(
        "/fhir/CodeSystem/$lookup", params=[("system", HCPCS), ("code", "E0601"), ("property", "status")]
    )
    body = fhir(response, "Parameters")
    assert set(properties(body)) == {"status"} and "designation" not in params(body)


def test_lookup_by_post_with_code_or_coding(client):
    posted = client.post(
        "/fhir/CodeSystem/$lookup",
        json=as_parameters(system=("Uri", HCPCS), code=("Code", "K0001")),
        headers={"content-type": "application/fhir+json"},
    )
    coding = client.post(
        "/fhir/CodeSystem/$lookup", json=as_parameters(coding=("Coding", {"system": HCPCS_HTTPS, "code": "K0001"}))
    )
    assert params(fhir(posted, "Parameters"))["display"] == params(fhir(coding, "Parameters"))["display"]


def test_lookup_errors_are_operation_outcomes(client):
    lookup = "/fhir/CodeSystem/$lookup"
    assert "E9999" in outcome(client.get(lookup, params={"system": HCPCS, "code": "E9999"}), 404, "not-found")
    assert "unknown code system" in outcome(
        client.get(lookup, params={"system": "http://loinc.org", "code": "E0601"}), 404, "not-found"
    )
    assert "licensed file" in outcome(client.get(lookup, params={"system": CPT, "code": "99990"}), 404, "not-found")
    assert "code is required" in outcome(client.get(lookup, params={"system": HCPCS}), 400, "invalid")
    assert "system is required" in outcome(client.get(lookup, params={"code": "E0601"}), 400, "invalid")
    assert "not available" in outcome(
        client.get(lookup, params={"system": HCPCS, "code": "E0601", "version": "2019"}), 404, "not-found"
    )
    assert "FHIR date" in outcome(
        client.get(lookup, params={"system": HCPCS, "code": "E0601", "date": "yesterday"}), 400, "invalid"
    )
    assert "given 2 times" in outcome(
        client.get(lookup, params=[("system", HCPCS), ("code", "E0601"), ("code", "E0130")]), 400, "invalid"
    )
    assert "longer than" in outcome(client.get(lookup, params={"system": HCPCS, "code": "E" * 40}), 400, "invalid")
    long_system = as_parameters(system=("Uri", "http://" + "x" * 100_000), code=("Code", "E0601"))
    assert "system is longer than" in outcome(client.post(lookup, json=long_system), 400, "invalid")


def test_cpt_codes_answer_under_the_cpt_uri_only(cpt_client):
    body = fhir(cpt_client.get("/fhir/CodeSystem/$lookup", params={"system": CPT, "code": "99990"}), "Parameters")
    assert params(body)["name"][0]["valueString"] == "CPT"
    assert properties(body)["level"] == "cpt-1"
    wrong_system = cpt_client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS, "code": "99990"})
    outcome(wrong_system, 404, "not-found")


# --- $validate-code -----------------------------------------------------------------------------------


def validate(client, **query: str) -> dict[str, list[dict[str, Any]]]:
    return params(fhir(client.get("/fhir/CodeSystem/$validate-code", params=query), "Parameters"))


def test_validate_code_without_display_checks_membership(client):
    known = validate(client, url=HCPCS_HTTPS, code="E0601")
    assert known["result"][0]["valueBoolean"] is True and "message" not in known
    assert known["display"][0]["valueString"] == client.get("/codes/E0601").json()["long_description"]
    unknown = validate(client, url=HCPCS, code="E9999")
    assert unknown["result"][0]["valueBoolean"] is False and "E9999" in unknown["message"][0]["valueString"]
    ended = validate(client, system=HCPCS, code="G0202")
    assert ended["result"][0]["valueBoolean"] is True and "terminated" in ended["message"][0]["valueString"]


def test_validate_code_with_a_display_gives_the_verify_verdict(client):
    for description, code in (("standard wheelchair", "K0001"), ("walker", "J1885"), ("cpap machine", "E0601")):
        verdict = client.post("/verify", json={"description": description, "code": code}).json()
        answer = validate(client, url=HCPCS, code=code, display=description)
        assert answer["result"][0]["valueBoolean"] is (verdict["verdict"] == "consistent")
        if verdict["verdict"] != "consistent":
            message = answer["message"][0]["valueString"]
            assert message.startswith(verdict["verdict"] + ":")
            assert all(hit["code"] in message for hit in verdict["better_candidates"])


def test_validate_code_display_mismatch_is_false_with_the_verdict_and_better_codes(client):
    answer = validate(client, url=HCPCS, code="J1885", display="walker")
    assert answer["result"][0]["valueBoolean"] is False
    message = answer["message"][0]["valueString"]
    assert message.startswith("suspect:") and "better candidates: " in message and "E0130" in message
    assert answer["display"][0]["valueString"].startswith("Injection, ketorolac")


def test_validate_code_accepts_the_codes_own_descriptors_as_display(client):
    record = client.get("/codes/G0202").json()
    for display in (record["long_description"].upper(), "  " + record["short_description"]):
        answer = validate(client, url=HCPCS, code="G0202", display=display)
        assert answer["result"][0]["valueBoolean"] is True and "terminated" in answer["message"][0]["valueString"]
    verdict = client.post("/verify", json={"description": record["long_description"], "code": "G0202"}).json()
    assert verdict["verdict"] == "terminated"  # /verify judges a description; FHIR's display check is membership


def test_validate_code_by_post_with_a_coding_or_codeable_concept(client):
    url = "/fhir/CodeSystem/$validate-code"
    coding = {"system": HCPCS, "code": "E0601", "display": "cpap machine"}
    by_coding = params(fhir(client.post(url, json=as_parameters(coding=("Coding", coding))), "Parameters"))
    concept = {"coding": [{"system": "http://snomed.info/sct", "code": "1"}, coding], "text": "cpap"}
    by_concept = params(
        fhir(client.post(url, json=as_parameters(codeableConcept=("CodeableConcept", concept))), "Parameters")
    )
    expected = validate(client, url=HCPCS, code="E0601", display="cpap machine")
    assert by_coding["result"] == by_concept["result"] == expected["result"]


def test_validate_code_errors(client):
    url = "/fhir/CodeSystem/$validate-code"
    outcome(client.get(url, params={"url": "http://loinc.org", "code": "1"}), 404, "not-found")
    assert "required" in outcome(client.get(url, params={"code": "E0601"}), 400, "invalid")
    assert "different code systems" in outcome(
        client.get(url, params={"url": HCPCS, "system": CPT, "code": "E0601"}), 400, "invalid"
    )
    too_long = "x" * (limits.MAX_VERIFY_DESCRIPTION_CHARS + 1)
    assert f"longer than {limits.MAX_VERIFY_DESCRIPTION_CHARS}" in outcome(
        client.get(url, params={"url": HCPCS, "code": "E0601", "display": too_long}), 400, "invalid"
    )
    both = as_parameters(code=("Code", "E0601"), coding=("Coding", {"system": HCPCS, "code": "E0601"}))
    assert "one of code, coding" in outcome(client.post(url, json=both), 400, "invalid")


# --- $expand ------------------------------------------------------------------------------------------


def expand(client, **query: Any) -> dict[str, Any]:
    return fhir(client.get("/fhir/ValueSet/$expand", params=query), "ValueSet")


def test_expand_with_a_filter_is_the_search_answer_paged(client):
    search = client.get("/search", params={"q": "walker", "limit": 4}).json()
    first = expand(client, url=HCPCS_VS, filter="walker", count=2)
    second = expand(client, url=HCPCS_VS, filter="walker", count=2, offset=2)
    codes = [item["code"] for item in first["expansion"]["contains"] + second["expansion"]["contains"]]
    assert codes == [hit["code"] for hit in search["hits"]]
    assert first["expansion"]["total"] == second["expansion"]["total"] == search["total"]
    assert second["expansion"]["offset"] == 2
    item = first["expansion"]["contains"][0]
    assert item["system"] == HCPCS and item["display"] == search["hits"][0]["long_description"]
    used = {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in first["expansion"]["parameter"]}
    assert used["filter"] == "walker" and used["count"] == 2 and used["offset"] == 0
    assert used["used-codesystem"] == f"{HCPCS}|{first['version']}"


def test_expand_without_a_filter_lists_the_system_in_code_order(client):
    body = expand(client, url=f"{HCPCS_HTTPS}?fhir_vs")
    codes = [item["code"] for item in body["expansion"]["contains"]]
    assert codes == sorted(codes) and "G0202" not in codes and body["expansion"]["total"] == len(codes)
    with_inactive = expand(client, url=HCPCS_VS, activeOnly="false", includeDesignations="true")
    terminated = next(item for item in with_inactive["expansion"]["contains"] if item["code"] == "G0202")
    assert terminated["inactive"] is True and terminated["designation"][0]["value"]
    only_total = expand(client, url=HCPCS_VS, count=0)
    assert "contains" not in only_total["expansion"] and only_total["expansion"]["total"] == len(codes)


def test_expand_count_is_capped_and_bad_paging_refused(client):
    capped = expand(client, url=HCPCS_VS, filter="walker", count=5000)
    used = {p["name"]: p.get("valueInteger") for p in capped["expansion"]["parameter"]}
    assert used["count"] == limits.MAX_LIMIT
    unfiltered = expand(client, url=HCPCS_VS, count=10**6)
    assert {p["name"]: p.get("valueInteger") for p in unfiltered["expansion"]["parameter"]}["count"] == (
        limits.FHIR_MAX_EXPAND_COUNT
    )
    url = "/fhir/ValueSet/$expand"
    assert "0 or more" in outcome(client.get(url, params={"url": HCPCS_VS, "count": "-1"}), 400, "invalid")
    assert "whole number" in outcome(client.get(url, params={"url": HCPCS_VS, "count": "ten"}), 400, "invalid")
    too_far = {"url": HCPCS_VS, "filter": "walker", "offset": limits.MAX_OFFSET + 1}
    assert "offset must be at most" in outcome(client.get(url, params=too_far), 400, "invalid")
    assert "true or false" in outcome(client.get(url, params={"url": HCPCS_VS, "activeOnly": "maybe"}), 400, "invalid")
    too_long = "x" * (limits.MAX_QUERY_CHARS + 1)
    assert f"longer than {limits.MAX_QUERY_CHARS}" in outcome(
        client.get(url, params={"url": HCPCS_VS, "filter": too_long}), 400, "invalid"
    )


def test_expand_unknown_value_sets(client):
    url = "/fhir/ValueSet/$expand"
    assert "fhir_vs" in outcome(client.get(url, params={"url": HCPCS}), 404, "not-found")
    assert "unknown value set" in outcome(client.get(url, params={"url": "http://loinc.org?fhir_vs"}), 404, "not-found")
    assert "url is required" in outcome(client.get(url), 400, "invalid")


def test_expand_by_post(client):
    body = as_parameters(url=("Uri", HCPCS_VS), filter=("String", "oxygen"), count=("Integer", 1))
    posted = fhir(client.post("/fhir/ValueSet/$expand", json=body), "ValueSet")
    got = expand(client, url=HCPCS_VS, filter="oxygen", count=1)
    assert posted["expansion"]["contains"] == got["expansion"]["contains"]


# --- the edge ------------------------------------------------------------------------------------------


def test_bad_bodies_and_unserved_paths_are_operation_outcomes(client):
    url = "/fhir/CodeSystem/$lookup"
    assert "Parameters resource" in outcome(client.post(url, json={"resourceType": "Patient"}), 400, "invalid")
    bad_json = client.post(url, content=b"{not json", headers={"content-type": "application/fhir+json"})
    outcome(bad_json, 400, "invalid")
    no_value = {"resourceType": "Parameters", "parameter": [{"name": "code"}]}
    assert "needs one value" in outcome(client.post(url, json=no_value), 400, "invalid")
    outcome(client.get("/fhir/Patient/1"), 404, "not-found")
    outcome(client.put("/fhir/metadata"), 405, "not-supported")


def test_the_rest_of_the_api_keeps_its_error_shape(client):
    response = client.get("/search", params={"q": ""})
    assert response.status_code == 422 and response.json() == {"detail": "q is empty"}
    assert client.get("/nowhere").json() == {"detail": "Not Found"}


def test_no_index_is_503_as_an_operation_outcome(settings, fake_encoder):
    context = AppContext(settings=settings, encoder_factory=lambda _s: fake_encoder)
    with TestClient(create_app(context)) as client:
        outcome(client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS, "code": "E0601"}), 503, "transient")


def test_middleware_errors_under_fhir_are_operation_outcomes(built_settings, fake_encoder):
    keyed = built_settings.model_copy(update={"api_keys": SecretStr(KEY), "max_body_bytes": 64})
    context = AppContext(settings=keyed, encoder_factory=lambda _s: fake_encoder)
    with TestClient(create_app(context)) as client:
        fhir(client.get("/fhir/metadata"), "CapabilityStatement")  # readable before authenticating
        outcome(client.get("/fhir/CodeSystem/$lookup", params={"system": HCPCS, "code": "E0601"}), 401, "login")
        big = as_parameters(system=("Uri", HCPCS), code=("Code", "E0601"))
        outcome(client.post("/fhir/CodeSystem/$lookup", json=big, headers={"X-API-Key": KEY}), 413, "too-long")
        assert client.get("/search", params={"q": "walker"}).json()["detail"].startswith("a valid API key")
