"""Billing units from a stated dose and a code's unit (made-up drug names; real unit arithmetic)."""

from __future__ import annotations

import pytest

from codefinder.indexer.records import CodeRecord
from codefinder.search.billing_units import billing_unit, count_units, expected_units, stated_dose, units_for


def drug(code: str, description: str, dosage: str | None = None) -> CodeRecord:
    return CodeRecord.new(code, long_description=description, drug_dosage=dosage)


PER_250_MG = drug("J9901", "Injection, madeupcillin sodium, per 250 mg")
UP_TO_10_MG = drug("J9902", "Injection, madeupmorph sulfate, up to 10 mg")
PER_1000_UNITS = drug("J9903", "Injection, madeuparin sodium, per 1000 units")
TRAILING_0_1_MG = drug("J9904", "Injection, madeupinephrine, 0.1 mg")
PER_250_CC = drug("J9905", "Infusion, madeup saline solution, 250 cc")
CROSSWALK_ONLY = drug("J9906", "Injection, madeupumab", dosage="10 MG")


@pytest.mark.parametrize(
    ("text", "record", "units"),
    [
        ("madeupcillin 1 g IV q24h", PER_250_MG, 4),  # g -> mg
        ("madeupcillin 1gm", PER_250_MG, 4),
        ("madeupcillin 500 mg", PER_250_MG, 2),
        ("madeupcillin 300 mg", PER_250_MG, 2),  # a partial unit is billed whole
        ("madeupmorph 4 mg iv", UP_TO_10_MG, 1),  # an "up to" code: one unit covers it
        ("madeupmorph 2 mg/ml, 2 ml", UP_TO_10_MG, 1),
        ("madeupmorph 15 mg", UP_TO_10_MG, 2),
        ("madeuparin 5,000 units sc", PER_1000_UNITS, 5),
        ("madeupinephrine 0.3 mg", TRAILING_0_1_MG, 3),  # no float drift to 4
        ("madeupinephrine 300 mcg", TRAILING_0_1_MG, 3),  # mcg -> mg
        ("NS 1,000 ML", PER_250_CC, 4),  # ml = cc
        ("madeupumab 400 mg", CROSSWALK_ONLY, 40),  # the crosswalk's HCPCS dosage when the descriptor has none
    ],
)
def test_expected_units(text, record, units):
    computed = units_for(text, record)
    assert computed is not None and computed.units == units, computed
    assert computed.explanation.endswith(f"{units} unit{'s' if units != 1 else ''}")


def test_the_explanation_shows_the_conversion_and_the_rounding():
    computed = units_for("madeupcillin 1.1 g", PER_250_MG)
    assert computed is not None
    assert computed.explanation == "1.1 g = 1100 mg; 1100 mg ÷ 250 mg = 4.4; rounded up to 5 → 5 units"
    assert computed.to_dict()["per_source"] == "descriptor"
    assert units_for("madeupumab 400 mg", CROSSWALK_ONLY).to_dict()["per_source"] == "crosswalk"


def test_no_units_across_dimensions_or_without_a_dose():
    assert units_for("madeupcillin 10 ml", PER_250_MG) is None  # mg vs ml
    assert units_for("madeupcillin", PER_250_MG) is None
    assert units_for("madeupcillin 1 g", drug("J9907", "Injection, madeupnone")) is None


def test_concentrations():
    assert stated_dose("MADEUPARIN 5000 UNIT/ML") is None  # a strength, not a dose
    assert str(stated_dose("madeuparin 100 units/ml 5 ml")) == "500 units"
    assert str(stated_dose("madeupzofran 4 mg/2 ml vial")) == "4 mg"
    assert str(stated_dose("D5W 1,000 ML")) == "1000 ml"


def test_billing_unit_shapes():
    assert str(billing_unit(UP_TO_10_MG)) == "up to 10 mg"
    assert str(billing_unit(PER_250_MG)) == "250 mg"
    assert str(billing_unit(drug("J9908", "Injection, madeupase, per ml"))) == "1 ml"
    assert expected_units(stated_dose("2 g"), billing_unit(PER_250_MG)).units == 8


def test_a_thousands_separator_is_no_clause_break():
    record = drug("J9907", "Injection, madeupicillin benzathine, 100,000 units")
    assert str(billing_unit(record)) == "100000 units"
    assert units_for("madeupicillin 2,400,000 units IM", record).units == 24


def test_a_descriptor_saying_what_one_unit_is():
    record = drug("J9908", "5% madeupdextrose/water (500 ml = 1 unit)")
    assert str(billing_unit(record)) == "500 ml"
    assert units_for("madeupdextrose 1,000 mL IV", record).units == 2


@pytest.mark.parametrize(
    ("description", "quantity", "units", "how"),
    [
        ("Madeup test strips for home monitor, per 50 strips", 100, 2, "100 ÷ 50 strips a unit"),
        ("Madeup lancets, per box of 100", 100, 1, "100 ÷ 100"),
        ("Madeup lancets, per box of 100", 150, 2, "rounded up to 2"),
        ("Madeup ground mileage, per statute mile", 12, 12, "12 ÷ 1 statute mile"),
        ("Madeup skin substitute, per square centimeter", 44, 44, "square centimeter"),
        ("Madeup catheter, straight tip, each", 30, 30, "billed each"),
        ("Madeup filter, disposable", 2, 2, "no unit stated"),
    ],
)
def test_count_units(description, quantity, units, how):
    computed = count_units(quantity, CodeRecord.new("A9999", long_description=description))
    assert computed is not None and computed.units == units and how in computed.explanation


def test_no_count_units_for_a_dose_code_or_a_unit_of_time():
    assert count_units(3, PER_250_MG) is None
    assert count_units(3, CodeRecord.new("B9999", long_description="Madeup feeding kit, per day")) is None
