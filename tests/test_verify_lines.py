"""Verification of whole lines on a fixture index: every verdict, each rule's reason, modifiers and billed
units, through ``verify``, ``verify_many`` and the HTTP API (fake encoder; the policy is set per test so the
verdicts do not depend on the fake encoder's confidences)."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from codefinder.api import limits
from codefinder.api.app import create_app
from codefinder.api.context import AppContext
from codefinder.indexer.build import build_index
from codefinder.search.cpt_intent import NOT_LOADED
from codefinder.search.engine import SearchEngine
from codefinder.search.loader import load_index
from codefinder.search.modifiers import ModifierError
from codefinder.search.verify import VERDICTS, VerifyItem, verify, verify_many
from codefinder.search.verify_policy import VerifyPolicy
from tests.conftest import FIXTURE_DATA

NOTHING_FIRES = VerifyPolicy(0.0, None, 1.0, None, 5, False)
EVERYTHING_LOW = dataclasses.replace(NOTHING_FIRES, low_confidence_below=1.01)


@pytest.fixture
def engine(verify_engine: SearchEngine) -> SearchEngine:
    verify_engine.verify_policy = NOTHING_FIRES
    return verify_engine


def test_every_verdict(engine):
    consistent = verify(engine, "keytruda", "J9271")
    assert consistent.verdict == "consistent" and consistent.reasons == [] and consistent.better_candidates == []
    engine.verify_policy = EVERYTHING_LOW
    suspect = verify(engine, "keytruda", "J9271")
    assert suspect.verdict == "suspect" and [r.rule for r in suspect.reasons] == ["low_confidence"]
    assert "J9271" in suspect.reasons[0].message and "barely matches" in suspect.reasons[0].message
    assert suspect.better_candidates and all(hit.code != "J9271" for hit in suspect.better_candidates)
    unknown = verify(engine, "wheelchair", "Z9999")
    assert unknown.verdict == "unknown_code" and unknown.reasons[0].rule == "unknown_code"
    terminated = verify(engine, "screening mammography", "G0202")
    assert terminated.verdict == "terminated" and "terminated" in terminated.reasons[0].message
    for cpt in ("99213", "0001F", "0002T", "0003U"):
        needs = verify(engine, "office visit", cpt)
        assert needs.verdict == "needs_cpt" and needs.reasons[0].message == f"{cpt}: {NOT_LOADED}"
    assert {consistent.verdict, suspect.verdict, unknown.verdict, terminated.verdict, needs.verdict} == set(VERDICTS)


def test_a_cpt_code_missing_from_a_loaded_cpt_file_is_unknown(settings, fake_encoder, tmp_path):
    cpt = settings.model_copy(update={"index": tmp_path / "cpt-index"})
    build_index(cpt, fake_encoder, sources=[FIXTURE_DATA / "plain" / "made_up_cpt.csv"], history=[])
    engine = SearchEngine(load_index(cpt.index), fake_encoder, cpt)
    assert verify(engine, "imaginary widget", "99999").verdict == "unknown_code"  # Category I is loaded
    assert verify(engine, "imaginary widget", "99990").verdict in ("consistent", "suspect")
    assert verify(engine, "pretend steps", "0009F").verdict == "unknown_code"


def test_off_topic_names_what_the_description_reads_as(engine):
    engine.verify_policy = dataclasses.replace(NOTHING_FIRES, off_topic_below=1.01)
    result = verify(engine, "walker with wheels", "J9271")
    assert result.verdict == "suspect" and result.reasons[0].rule == "off_topic"
    assert "the description reads as durable medical equipment (E0" in result.reasons[0].message


def test_clearly_outranked_says_which_words_the_better_codes_match(engine):
    engine.verify_policy = dataclasses.replace(NOTHING_FIRES, outranked_at_least=0.0, outranked_ratio_at_least=1.0)
    result = verify(engine, "walker with wheels", "E0130")
    assert result.verdict == "suspect" and result.reasons[0].rule == "clearly_outranked"
    assert result.reasons[0].message.startswith("E0130 is “Walker, rigid (pickup), adjustable or fixed height”")
    assert "“wheels”" in result.reasons[0].message and "E0141" in result.reasons[0].message


def test_not_retrieved_names_the_code_the_description_finds_instead(engine):
    from codefinder.search.verify_reasons import reason_for
    from codefinder.search.verify_rules import Candidate, Evidence

    record = engine.lookup("J9271")
    best = Candidate(engine.index.row_of_code["E0141"], "E0141", "E", 0.84)
    evidence = Evidence(code="J9271", section="J", rank=None, confidence=0.0002, top=(best,))
    message = reason_for("not_retrieved", engine, None, record, evidence)  # type: ignore[arg-type]
    assert message.startswith("J9271 (“") and message.endswith(
        "is not among the codes the description finds; the best is E0141 (confidence 0.84)"
    )


def test_dose_sibling_says_both_doses(engine):
    engine.verify_policy = dataclasses.replace(NOTHING_FIRES, dose_sibling=True)
    result = verify(engine, "madeupalbumin 5% 50 ml", "P9942")
    assert result.verdict == "suspect"
    assert [(r.rule, r.message) for r in result.reasons] == [
        ("dose_sibling", "dose 50 ml vs code unit 250 ml; P9941 is 50 ml")
    ]
    assert verify(engine, "madeupalbumin 5% 250 ml", "P9942").verdict == "consistent"


def test_modifiers_as_written_are_read_and_checked(engine):
    rental = verify(engine, "walker", "E0130-RR")
    assert rental.code == "E0130" and rental.modifiers == ["RR"] and rental.flags == []
    assert rental.to_dict()["modifiers"] == ["RR"]
    assert verify(engine, "walker", "E0130", modifiers="RR NU").modifiers == ["RR", "NU"]
    drug_rental = verify(engine, "keytruda", "J9271 RR")
    assert [f.rule for f in drug_rental.flags] == ["pricing_modifier"]
    both_sides = verify(engine, "wrist splint", "L9901-LT-RT")
    assert [f.rule for f in both_sides.flags] == ["modifier_conflict"]
    assert "LT (Left side) and RT (Right side)" in both_sides.flags[0].message
    assert [f.rule for f in verify(engine, "walker", "E0130-59").flags] == ["modifier_unchecked"]
    with pytest.raises(ModifierError, match="unknown modifier 'ZZ'"):
        verify(engine, "walker", "E0130 ZZ")
    with pytest.raises(ModifierError, match=r"items\[1\]\.code: unknown modifier 'ZZ'"):
        verify_many(engine, [("walker", "E0130"), ("walker", "E0130-ZZ")])
    unknown = verify(engine, "walker", "Z9999-RR")  # an unknown code keeps its (known) modifiers
    assert unknown.verdict == "unknown_code" and unknown.modifiers == ["RR"]


@pytest.mark.parametrize(
    ("description", "code", "billed", "expected", "mismatch"),
    [
        ("madeupcillin 1 g iv", "J9901", 4, 4, False),  # g -> mg, per 250 mg
        ("madeupcillin 1 g iv", "J9901", 2, 4, True),
        ("madeupcillin 300 mg", "J9901", 2, 2, False),  # a partial unit is billed whole
        ("madeupmorph 4 mg", "J9902", 1, 1, False),  # an "up to" code
        ("madeupmorph 4 mg", "J9902", 2, 1, True),
        ("madeupmorph 15 mg", "J9902", 2, 2, False),
        ("keytruda 200 mg", "J9271", 200, 200, False),  # per 1 mg
    ],
)
def test_billed_units_against_the_stated_dose(engine, description, code, billed, expected, mismatch):
    result = verify(engine, description, code, units=billed)
    assert result.units is not None and result.units.expected is not None
    assert result.units.expected.units == expected
    flags = [f for f in result.flags if f.rule == "units_mismatch"]
    assert bool(flags) == mismatch
    if mismatch:
        assert f"expected {expected}, billed {billed}" in flags[0].message and "→" in flags[0].message


def test_units_how_they_were_computed_and_when_they_are_not_compared(engine):
    data = verify(engine, "madeupcillin 1 g", "J9901", units=2).to_dict()["units"]
    assert data == {
        "billed": 2,
        "expected": 4,
        "dose": "1 g",
        "per": "250 mg",
        "per_source": "descriptor",
        "how": "1 g = 1000 mg; 1000 mg ÷ 250 mg = 4 → 4 units",
    }
    wasted = verify(engine, "madeupcillin 1 g", "J9901 JW", units=1)
    assert wasted.units is not None and wasted.units.expected is None and "discarded" in wasted.units.to_dict()["how"]
    assert not [f for f in wasted.flags if f.rule == "units_mismatch"]
    assert verify(engine, "walker", "E0130").units is None  # no dose, no units billed: nothing to say


def test_verify_many_answers_items_as_verify_does(engine):
    engine.verify_policy = dataclasses.replace(NOTHING_FIRES, low_confidence_below=0.3, outranked_at_least=0.5)
    items = [
        VerifyItem("madeupcillin 1 g", "J9901", units=2),
        VerifyItem("walker", "E0130-RR"),
        VerifyItem("keytruda", "J9271", "RR"),
        VerifyItem("office visit", "99213-25"),
        VerifyItem("madeupalbumin 50 ml", "P9942"),
        ("walker with wheels", "E0130"),
    ]
    many = [v.to_dict() for v in verify_many(engine, items)]
    single = []
    for item in items:
        one = item if isinstance(item, VerifyItem) else VerifyItem(*item)
        single.append(verify(engine, one.description, one.code, modifiers=one.modifiers, units=one.units).to_dict())
    assert many == single


# --- HTTP ----------------------------------------------------------------------------------------


@pytest.fixture
def client(verify_settings, fake_encoder):
    context = AppContext(settings=verify_settings, encoder_factory=lambda _settings: fake_encoder)
    with TestClient(create_app(context)) as test_client:
        yield test_client


def test_verify_api_takes_modifiers_and_units(client):
    data = client.post("/verify", json={"description": "madeupcillin 1 g", "code": "J9901-JW", "units": 1}).json()
    assert data["code"] == "J9901" and data["modifiers"] == ["JW"] and data["units"]["billed"] == 1
    data = client.post(
        "/verify", json={"description": "madeupcillin 1 g", "code": "J9901", "modifiers": ["RR"], "units": 2}
    ).json()
    assert {f["rule"] for f in data["flags"]} == {"pricing_modifier", "units_mismatch"}
    assert data["units"]["expected"] == 4 and data["verdict"] in ("consistent", "suspect")
    assert all(set(reason) == {"rule", "message"} for reason in data["reasons"])


def test_unknown_modifiers_are_422_naming_them(client):
    one = client.post("/verify", json={"description": "walker", "code": "E0130-ZZ"})
    assert one.status_code == 422 and one.json()["detail"] == "code: unknown modifier 'ZZ'"
    apart = client.post("/verify", json={"description": "walker", "code": "E0130", "modifiers": "RR Q9"})
    assert apart.status_code == 422 and "'Q9'" in apart.json()["detail"]
    items = [{"description": "walker", "code": "E0130"}, {"description": "walker", "code": "E0130 XX"}]
    batch = client.post("/verify/batch", json={"items": items})
    assert batch.status_code == 422 and batch.json()["detail"] == "items[1].code: unknown modifier 'XX'"
    assert client.post("/verify", json={"description": "walker", "code": "E0130", "units": -1}).status_code == 422
    long_code = client.post("/verify", json={"description": "walker", "code": "E0130" + "-RR" * 20})
    assert long_code.status_code == 422


def test_verify_batch_items_carry_modifiers_and_units(client):
    items = [
        {"description": "madeupcillin 1 g", "code": "J9901", "units": 4},
        {"description": "wrist splint", "code": "L9901 LT RT"},
    ]
    results = client.post("/verify/batch", json={"items": items}).json()["results"]
    assert results[0]["units"]["expected"] == 4 and not results[0]["flags"]
    assert [f["rule"] for f in results[1]["flags"]] == ["modifier_conflict"]


CSV = (
    "Charge Description,HCPCS,Mod,Qty,verdict\n"
    "madeupcillin 1 g,J9901,,2,x\n"
    "walker,E0130,RR,,y\n"
    "walker,E0130,ZZ,,z\n"
    ",E0130,,,\n"
    "too,many,fields,here,at,all\n"
)


def test_verify_csv_answers_a_chunk_with_the_report_columns(client):
    response = client.post("/verify/csv", json={"csv": CSV, "first_line": 101})
    assert response.status_code == 200, response.text
    data = response.json()
    detected = {"description": "Charge Description", "code": "HCPCS", "modifiers": "Mod", "units": "Qty"}
    assert data["detected"] == detected
    assert data["columns"][:5] == ["Charge Description", "HCPCS", "Mod", "Qty", "input verdict"]
    assert data["columns"][5:8] == ["line", "verdict", "confidence"]
    rows = data["rows"]
    assert [row["line"] for row in rows] == ["101", "102", "103", "104", "105"]
    assert rows[0]["input verdict"] == "x" and rows[0]["expected_units"] == "4" and "units_mismatch" in rows[0]["flags"]
    assert rows[1]["verdict"] in ("consistent", "suspect") and rows[1]["flags"] == ""
    assert [row["verdict"] for row in rows[2:]] == ["malformed"] * 3
    assert rows[2]["reasons"] == "line 103: unknown modifier 'ZZ'"
    assert rows[3]["reasons"].startswith("line 104: no description")
    assert rows[4]["reasons"] == "line 105: 6 fields where the header has 5"


def test_verify_csv_limits(client):
    header = "description,code\n"
    too_many = header + "walker,E0130\n" * (limits.MAX_VERIFY_ITEMS + 1)
    refused = client.post("/verify/csv", json={"csv": too_many})
    assert refused.status_code in (413, 422)
    assert client.post("/verify/csv", json={"csv": "a,b\n1,2\n"}).status_code == 422  # no such columns
    chunk = {"csv": "a,b\nwalker,E0130\n", "description_column": "a", "code_column": "b"}
    named = client.post("/verify/csv", json=chunk)
    assert named.status_code == 200 and named.json()["rows"][0]["line"] == "2"
    assert client.post("/verify/csv", json={"csv": ""}).status_code == 422
    assert client.post("/verify/csv", json={"csv": header, "first_line": 1}).status_code == 422
