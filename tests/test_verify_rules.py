"""The pieces of a verdict on their own: codes as coders write them, modifier checks, the named rules on
evidence made by hand, the reason helpers, the policy file, and a sibling billed per the stated dose."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import pytest

from codefinder.indexer.records import CodeRecord
from codefinder.search.billing_units import Quantity, billing_unit, sibling_per_dose, unit_template, whole_units
from codefinder.search.modifiers import (
    ModifierError,
    checked_modifiers,
    is_dme,
    modifier_findings,
    parse_written_code,
    split_modifiers,
)
from codefinder.search.verify_policy import VerifyPolicy, VerifyPolicyError, file_sha256
from codefinder.search.verify_reasons import code_span, confidence_text, value_text
from codefinder.search.verify_rules import Candidate, Evidence, fired_rules

# --- codes as written ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code", "modifiers"),
    [
        ("E0130-RR", "E0130", ("RR",)),
        ("E0130 RR", "E0130", ("RR",)),
        ("J9271 JW", "J9271", ("JW",)),
        ("L3916-LT-RT", "L3916", ("LT", "RT")),
        (" e0130-rr ", "E0130", ("RR",)),
        ("E0130RR", "E0130", ("RR",)),  # glued on, as some exports write them
        ("E0130RRNU", "E0130", ("RR", "NU")),
        ("E0130, RR; NU", "E0130", ("RR", "NU")),
        ("99213-25", "99213", ("25",)),
        ("0001F", "0001F", ()),
        ("E0130", "E0130", ()),
        ("walker", "WALKER", ()),  # not a code's shape: one (unknown) code, as before
        ("E0130R", "E0130R", ()),  # an odd tail is not a modifier
        ("LT", "LT", ()),
    ],
)
def test_codes_as_coders_write_them(written, code, modifiers):
    parsed = parse_written_code(written)
    assert (parsed.code, parsed.modifiers) == (code, modifiers)


def test_modifiers_given_apart_follow_those_written_each_once():
    assert parse_written_code("E0130-RR", "NU RR").modifiers == ("RR", "NU")
    assert parse_written_code("E0130", ["rr", "nu,kx"]).modifiers == ("RR", "NU", "KX")
    assert split_modifiers(None) == () and split_modifiers(" ") == ()


def modifier(code: str, description: str, termination: str | None = None) -> CodeRecord:
    return CodeRecord.new(code, long_description=description, termination_date=termination)


MODIFIERS = {
    "LT": modifier("LT", "Left side (used to identify procedures performed on the left side of the body)"),
    "RT": modifier("RT", "Right side (used to identify procedures performed on the right side of the body)"),
    "RR": modifier("RR", "Rental (use the 'rr' modifier when dme is to be rented)"),
    "NU": modifier("NU", "New equipment"),
    "JW": modifier("JW", "Drug amount discarded/not administered to any patient"),
    "JZ": modifier("JZ", "Zero drug amount discarded/not administered to any patient"),
    "QQ": modifier("QQ", "A made-up modifier that has ended", termination="2001-12-31"),
}


def test_modifiers_are_checked_against_the_records_the_index_holds():
    records, notes = checked_modifiers(("LT", "RR"), MODIFIERS.get, cpt_modifiers_loaded=False)
    assert [r.code for r in records] == ["LT", "RR"] and notes == []
    with pytest.raises(ModifierError, match="line 7: unknown modifier 'ZZ'"):
        checked_modifiers(("LT", "ZZ"), MODIFIERS.get, False, "line 7")
    with pytest.raises(ModifierError, match="is not a modifier"):
        checked_modifiers(("RRR",), MODIFIERS.get, False)
    # a code is not a modifier, even though the lookup knows it
    with pytest.raises(ModifierError, match="unknown modifier 'E0'"):
        checked_modifiers(("E0",), {"E0": CodeRecord.new("E0130")}.get, False)


def test_a_cpt_modifier_is_noted_unchecked_without_cpt_modifiers_and_refused_with_them():
    records, notes = checked_modifiers(("59",), MODIFIERS.get, cpt_modifiers_loaded=False)
    assert records == [] and notes[0].kind == "modifier_unchecked" and "59" in notes[0].message
    with pytest.raises(ModifierError, match="'59'"):
        checked_modifiers(("59",), MODIFIERS.get, cpt_modifiers_loaded=True)


DRUG = CodeRecord.new("J9901", long_description="Injection, madeupcillin sodium, per 250 mg")
WALKER = CodeRecord.new("E0130", long_description="Walker, rigid (pickup), adjustable or fixed height")
PUMP = CodeRecord.new("B9901", long_description="Madeup nutrition infusion pump, any type")
ORTHOSIS = CodeRecord.new("L9901", long_description="Wrist hand orthosis, madeup splint, prefabricated")


DAY = dt.date(2026, 1, 1)


def kinds(code: CodeRecord, *mods: str) -> list[str]:
    return [f.kind for f in modifier_findings(code, [MODIFIERS[m] for m in mods], DAY)]


def test_contradictions_the_descriptors_make_knowable():
    assert kinds(ORTHOSIS, "LT", "RT") == ["modifier_conflict"]
    assert kinds(DRUG, "JW", "JZ") == ["modifier_conflict"]
    assert kinds(DRUG, "RR") == ["pricing_modifier"]
    assert kinds(ORTHOSIS, "NU") == ["pricing_modifier"]
    assert kinds(WALKER, "RR") == [] and kinds(WALKER, "NU") == []  # DME
    assert kinds(PUMP, "RR") == []  # a pump outside the DME sections is equipment too
    assert kinds(ORTHOSIS, "LT") == [] and kinds(DRUG, "JW") == []
    assert kinds(WALKER, "QQ") == ["modifier_status"]
    assert is_dme(WALKER) and is_dme(PUMP) and not is_dme(DRUG)
    message = modifier_findings(DRUG, [MODIFIERS["RR"]], DAY)[0].message
    assert message.startswith("RR prices durable medical equipment; J9901 is not DME")


# --- the named rules, on evidence made by hand ------------------------------------------------------

POLICY = VerifyPolicy(
    low_confidence_below=0.001,
    outranked_at_least=0.9,
    outranked_ratio_at_least=100.0,
    off_topic_below=0.05,
    off_topic_top=5,
    dose_sibling=True,
)


def evidence(confidence: float, top: list[tuple[str, float]], code: str = "E0601", **extra) -> Evidence:
    candidates = tuple(Candidate(i, c, c[0], conf) for i, (c, conf) in enumerate(top))
    return Evidence(code=code, section=code[0], rank=None, confidence=confidence, top=candidates, **extra)


def test_each_rule_fires_on_its_own_evidence():
    assert fired_rules(evidence(0.8, [("E0601", 0.8), ("E0470", 0.1)]), POLICY) == []
    assert fired_rules(evidence(0.0005, [("E0470", 0.01)]), POLICY) == ["low_confidence"]
    # three bi-level codes together 0.95, 297 times the CPAP code's 0.0032
    bipap = evidence(0.0032, [("E0472", 0.68), ("E0470", 0.15), ("E0471", 0.12), ("E0601", 0.0032)])
    assert fired_rules(bipap, POLICY) == ["clearly_outranked"]
    assert [c.code for c in bipap.likelier] == ["E0472", "E0470", "E0471"]
    assert fired_rules(evidence(0.02, [("J9271", 0.6), ("J1885", 0.3)]), POLICY) == ["off_topic"]
    assert fired_rules(evidence(0.02, [("E0470", 0.5), ("J1885", 0.3)]), POLICY) == []  # its section is there
    dose = sibling_per_dose("madeupalbumin 50 ml", ALBUMIN_250, [ALBUMIN_50, ALBUMIN_250])
    assert fired_rules(evidence(0.5, [("P9942", 0.5)], "P9942", dose_sibling=dose), POLICY) == ["dose_sibling"]


def test_an_attribute_the_code_states_otherwise_is_a_conflict_when_near_top_codes_agree():
    from codefinder.indexer.attributes import Mode, Quantity, attribute_text
    from codefinder.search.verify_rules import Conflict

    bilevel = Conflict("airway pressure", "continuous", "bi-level", ("E0470", "E0471", "E0472"))
    found = evidence(0.2, [("E0470", 0.5), ("E0601", 0.2)], conflicts=(bilevel,))
    assert fired_rules(found, replace(POLICY, attribute_conflict=True)) == ["attribute_conflict"]
    assert fired_rules(found, POLICY) == []  # off unless the policy turns it on (an older policy file)
    assert attribute_text(Mode("power", "semi-electric")) == "semi-electric"
    assert attribute_text(Quantity("area", 16.0, None, low_open=True)) == "more than 16 sq in"
    assert attribute_text(Quantity("area", 16.0, 48.0)) == "16-48 sq in"
    assert attribute_text(Quantity("weight", None, 300.0)) == "300 lb or less"


def test_a_code_the_description_does_not_retrieve_is_suspect_when_the_best_hit_is_confident():
    policy = replace(POLICY, low_confidence_below=0.0, outranked_at_least=None, not_retrieved_top_at_least=0.7)
    unretrieved = evidence(0.0002, [("J2550", 0.84), ("Q0169", 0.008)], "J2508")
    assert fired_rules(unretrieved, policy) == ["not_retrieved"]
    assert fired_rules(replace(unretrieved, rank=12), policy) == []  # retrieved: the other rules judge it
    assert fired_rules(evidence(0.0002, [("J2550", 0.5)], "J2508"), policy) == []  # the best is not sure
    assert fired_rules(unretrieved, replace(policy, not_retrieved_top_at_least=None)) == []  # off
    # outranked only by its own successor (an outdated code): not "not retrieved"
    assert fired_rules(replace(unretrieved, successors=frozenset({"J2550"})), policy) == []


def test_rules_switched_off_by_the_policy_do_not_fire():
    off = VerifyPolicy(0.0, None, 100.0, None, 5, False)
    bipap = evidence(0.0032, [("E0472", 0.68), ("E0470", 0.15), ("E0471", 0.12)])
    assert fired_rules(bipap, off) == []
    assert fired_rules(evidence(0.0, [("J9271", 0.9)]), off) == []


def test_rules_are_listed_most_specific_first():
    walker_as_drug = evidence(0.00001, [("J9271", 0.95), ("J1885", 0.04)])
    assert fired_rules(walker_as_drug, POLICY) == ["clearly_outranked", "off_topic", "low_confidence"]


def test_code_spans_and_confidences_read_well():
    assert code_span(["E0472", "E0470", "E0471"]) == "E0470–E0472"
    assert code_span(["E0141", "E0149", "E0143"]) == "E0141, E0149, E0143"
    assert code_span(["E0601"]) == "E0601"
    assert confidence_text(0.0032) == "0.0032" and confidence_text(0.00001) == "< 0.0001"
    assert value_text("continuous", "airway pressure") == "continuous (airway pressure)"
    assert value_text("without wheels", "wheels") == "without wheels"  # the value says its family


# --- the policy file -------------------------------------------------------------------------------


def test_policy_round_trips_and_names_its_calibration(tmp_path, caplog):
    calibration = tmp_path / "calibration.json"
    calibration.write_text("{}", encoding="utf-8")
    path = tmp_path / "policy.json"
    chosen = VerifyPolicy(0.0002, 0.9, 100.0, 0.05, 5, True, calibration_sha256=file_sha256(calibration))
    chosen.save(path)
    with caplog.at_level(logging.WARNING):
        assert VerifyPolicy.load(path, calibration) == chosen
    assert "another calibration" not in caplog.text
    calibration.write_text('{"retuned": true}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        VerifyPolicy.load(path, calibration)
    assert "another calibration" in caplog.text and "bench.verify_rates" in caplog.text


def test_a_missing_or_broken_policy_is_an_error(tmp_path):
    with pytest.raises(VerifyPolicyError, match="missing"):
        VerifyPolicy.load(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"low_confidence_below": 1}', encoding="utf-8")
    with pytest.raises(VerifyPolicyError, match="cannot be read"):
        VerifyPolicy.load(broken)


# --- a sibling billed per the stated dose ------------------------------------------------------------

ALBUMIN_50 = CodeRecord.new("P9941", long_description="Infusion, madeupalbumin 5%, 50 ml")
ALBUMIN_250 = CodeRecord.new("P9942", long_description="Infusion, madeupalbumin 5%, 250 ml")
SOLONE_40 = CodeRecord.new("J9941", long_description="Injection, madeupsolone acetate, 40 mg")
SOLONE_80 = CodeRecord.new("J9942", long_description="Injection, madeupsolone acetate, 80 mg")
SOLONE_1 = CodeRecord.new("J9943", long_description="Injection, madeupsolone acetate, 1 mg")
MORPH_UP_TO = CodeRecord.new("J9902", long_description="Injection, madeupmorph sulfate, up to 10 mg")


def test_a_sibling_per_the_dose_is_found_when_the_code_would_round():
    found = sibling_per_dose("madeupalbumin 5% 50 ml", ALBUMIN_250, [ALBUMIN_50, ALBUMIN_250])
    assert found is not None and found.code == "P9941"
    assert str(found) == "dose 50 ml vs code unit 250 ml; P9941 is 50 ml"
    assert unit_template(ALBUMIN_50) == unit_template(ALBUMIN_250)


def test_a_dose_in_whole_units_of_the_code_is_billed_right_with_that_many():
    family = [SOLONE_1, SOLONE_40, SOLONE_80]
    assert sibling_per_dose("madeupsolone 80 mg", SOLONE_40, family) is None  # 2 units of 40 mg
    assert sibling_per_dose("madeupsolone 40 mg", SOLONE_1, family) is None  # 40 units of 1 mg
    assert sibling_per_dose("madeupsolone 80 mg", SOLONE_80, family) is None  # the code itself
    assert sibling_per_dose("madeupsolone 40 mg", SOLONE_80, family) is not None  # half of 80 mg: rounds
    assert sibling_per_dose("madeupmorph 4 mg", MORPH_UP_TO, [MORPH_UP_TO]) is None
    assert sibling_per_dose("madeupsolone", SOLONE_40, family) is None  # no dose stated
    per_40 = billing_unit(SOLONE_40)
    assert per_40 is not None
    assert whole_units(Quantity.of(120, "mg"), per_40) and not whole_units(Quantity.of(60, "mg"), per_40)
