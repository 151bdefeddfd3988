"""Attribute families: each parser on made-up descriptors and queries, unit conversion, and agreement."""

from __future__ import annotations

import pytest

from codefinder.indexer.attributes import (
    AREA,
    PRESSURE,
    WEIGHT,
    Mode,
    Quantity,
    agreement,
    attribute_from_json,
    descriptor_attributes,
    dose_multiple,
    parse_age,
    parse_attributes,
    parse_dimensions,
    parse_doses,
    parse_modes,
    parse_quantities,
    parse_radionuclides,
    query_attributes,
)

UNITS = {"mg": "mg", "mcg": "mcg", "g": "g", "gm": "g", "unit": "unit", "units": "unit", "cc": "ml", "ml": "ml"}


def quantities(family, text):
    return parse_quantities(family, text.lower())[0]


def families(attributes):
    return {a.family for a in attributes}


# --- areas ----------------------------------------------------------------------------------------------


def test_area_bands_in_square_inches():
    assert quantities(AREA, "Madeup pad, 16 sq. in. or less, each") == [Quantity("area", None, 16.0)]
    assert quantities(AREA, "madeup pad, more than 16 sq. in. but less than or equal to 48 sq. in., each") == [
        Quantity("area", 16.0, 48.0, low_open=True)
    ]
    assert quantities(AREA, "madeup pad, more than 48 sq. in.") == [Quantity("area", 48.0, None, low_open=True)]


def test_dimensions_are_multiplied_and_centimetres_converted():
    assert parse_dimensions("foam pad 4x4")[0] == [Quantity.point("area", 16.0)]
    assert parse_dimensions("pad 6 in x 6 in")[0] == [Quantity.point("area", 36.0)]
    (area,) = parse_dimensions("pad 10 x 10 cm")[0]
    assert area.low == pytest.approx(100 / 6.4516)
    assert parse_dimensions("barrier, larger than 4 x 4 inches")[0] == [Quantity("area", 16.0, None, low_open=True)]
    assert parse_dimensions("barrier, 4 x 4 inches or smaller")[0] == [Quantity("area", None, 16.0)]


def test_three_dimensions_are_not_an_area():
    assert parse_dimensions("SPACER MADEUP 6X22X55MM")[0] == []


def test_square_centimetres_are_square_inches_too():
    (area,) = quantities(AREA, "madeup pad 100 sq cm")
    assert area.low == pytest.approx(15.5, abs=0.01)


# --- weights and capacities -----------------------------------------------------------------------------


def test_weight_capacities():
    text = "madeup bed, weight capacity greater than 350 pounds, but less than or equal to 600 pounds"
    assert quantities(WEIGHT, text) == [Quantity("weight", 350.0, 600.0, low_open=True)]
    assert quantities(WEIGHT, "madeup chair, patient weight capacity 301 to 450 pounds") == [
        Quantity("weight", 301.0, 450.0)
    ]
    assert quantities(WEIGHT, "patient weight capacity up to and including 300 pounds") == [
        Quantity("weight", None, 300.0)
    ]
    assert quantities(WEIGHT, "patient weight capacity 601 pounds or more") == [Quantity("weight", 601.0, None)]


def test_kilograms_become_pounds():
    (weight,) = quantities(WEIGHT, "bed for a 200 kg patient")
    assert weight.low == pytest.approx(440.9, abs=0.1)


# --- pressure, nutrition, percent, width, duration, volume ----------------------------------------------------


def test_pressure_ranges_and_floors():
    assert quantities(PRESSURE, "madeup stocking, below knee, 18-30 mmhg, each") == [Quantity("pressure", 18.0, 30.0)]
    assert quantities(PRESSURE, "madeup stocking, 40 mmhg or greater") == [Quantity("pressure", 40.0, None)]


def test_lead_and_channel_counts_with_the_comparison_inside():
    assert parse_attributes("madeup stimulator, two lead, localized", UNITS) == (Quantity.point("leads", 2.0),)
    assert parse_attributes("madeup stimulator, four or more leads", UNITS) == (Quantity("leads", 4.0, None),)
    assert parse_attributes("madeup stimulator 4 leads", UNITS) == (Quantity.point("leads", 4.0),)
    assert parse_attributes("madeup sleep test, minimum of 7 channels", UNITS) == (Quantity("channels", 7.0, None),)
    # the same shape in every family: "300 or more pounds"
    assert parse_attributes("madeup chair, 300 or more pounds", UNITS) == (Quantity("weight", 300.0, None),)
    assert Quantity("leads", 4.0, None).holds(Quantity.point("leads", 4.0))


def test_protein_grams_and_percent():
    attributes = parse_attributes("madeup solution, 10 to 51 grams of protein - premix", UNITS)
    assert Quantity("protein", 10.0, 51.0) in attributes
    attributes = parse_attributes("madeup solution, amino acid, 5.5% through 7%", UNITS)
    assert Quantity("percent", 5.5, 7.0) in attributes
    assert Quantity.point("protein", 60.0) in parse_attributes("tpn 60 g protein", UNITS)


def test_widths_in_words_and_inches():
    attributes = parse_attributes(
        "madeup bandage, width greater than or equal to three inches and less than five inches", UNITS
    )
    assert attributes == (Quantity("length", 3.0, 5.0, high_open=True),)
    assert parse_attributes("ace wrap 4 inch", UNITS) == (Quantity.point("length", 4.0),)


def test_billing_units_are_marked():
    (minutes,) = descriptor_attributes("Madeup service, per 15 minutes", UNITS)
    assert minutes == Quantity.point("duration", 15.0, billing=True)
    assert Quantity.point("volume", 500.0, billing=True) in descriptor_attributes(
        "madeup solution (500 ml = 1 unit)", UNITS
    )


def test_durations_and_volumes_convert():
    assert Quantity.point("duration", 120.0) in parse_attributes("madeup infusion 2 hours", UNITS)
    assert Quantity.point("volume", 1000.0) in parse_attributes("madeup bag 1 l", UNITS)


# --- doses (the dose agreement the reranker had, folded in) ---------------------------------------------------


def test_doses_convert_within_a_dimension():
    assert parse_doses("MADEUPOL 1G SOLR", UNITS) == [Quantity.point("dose:mg", 1000.0)]
    assert parse_doses("madeupol 500 mcg", UNITS) == [Quantity.point("dose:mg", 0.5)]
    assert parse_doses("madeup ambulance, level 2", UNITS) == [Quantity.point("grade:level", 2.0)]
    assert parse_doses("madeup wheelchair group iii", UNITS) == [Quantity.point("grade:group", 3.0)]


def test_up_to_doses_agree_with_any_smaller_query_dose():
    up_to = descriptor_attributes("Injection, madeupone, up to 4 mg", UNITS)
    per = descriptor_attributes("Injection, madeupone, 0.1 mg", UNITS)
    assert "dose:mg" in agreement(up_to, parse_attributes("madeupone 2mg/ml", UNITS))[0]
    assert "dose:mg" not in agreement(up_to, parse_attributes("madeupone 10 mg", UNITS))[0]
    assert "dose:mg" not in agreement(per, parse_attributes("madeupone 2 mg", UNITS))[0]
    assert "dose:mg" in agreement(per, parse_attributes("madeupone 0.1 mg", UNITS))[0]


def test_dose_bands_and_floors_agree_with_the_doses_inside_them_and_contradict_others():
    band = descriptor_attributes("Made-up contrast, 200-299 mg/ml iodine, per ml", UNITS)
    floor = descriptor_attributes("Made-up contrast, 400 or greater mg/ml, per ml", UNITS)
    assert agreement(band, parse_attributes("MADEUPOL 240MG/ML SOLN", UNITS))[0] == {"dose:mg"}
    assert agreement(band, parse_attributes("MADEUPOL 350MG/ML SOLN", UNITS))[1] == {"dose:mg"}
    assert agreement(floor, parse_attributes("madeupol 400 mg/ml", UNITS))[0] == {"dose:mg"}
    assert agreement(floor, parse_attributes("madeupol 240 mg/ml", UNITS))[1] == {"dose:mg"}


def test_a_strength_billed_in_several_units_never_conflicts():
    per_15 = descriptor_attributes("Injection, madeupine, per 15 mg", UNITS)
    assert agreement(per_15, parse_attributes("madeupine 30 mg", UNITS)) == (frozenset(), frozenset())


def test_dose_ranges_in_words():
    range_ = descriptor_attributes("Madeupine, oral, greater than 6 mg, but less than or equal to 10 mg", UNITS)
    assert Quantity("dose:mg", 6.0, 10.0, low_open=True) in range_
    assert "dose:mg" in agreement(range_, parse_attributes("madeupine 8 mg", UNITS))[0]


def test_the_fewest_whole_billing_units():
    per_1000 = descriptor_attributes("Injection, madeuparin, per 1000 units", UNITS)
    per_10 = descriptor_attributes("Injection, madeuparin, per 10 units", UNITS)
    query = parse_attributes("madeuparin 5,000 units/ml", UNITS)
    assert dose_multiple(per_1000, query) == 5 and dose_multiple(per_10, query) == 500
    assert dose_multiple(per_1000, parse_attributes("madeuparin 2500 units", UNITS)) == float("inf")


# --- patient, order in time, materials and modes ------------------------------------------------------------


def test_ages():
    assert parse_age("madeup vaccine, when administered to individuals 3 years of age and older")[0] == [
        Quantity("age", 3.0, None)
    ]
    (months,) = parse_age("madeup vaccine, 6-35 months of age")[0]
    assert (months.low, months.high) == pytest.approx((0.5, 35 / 12))
    assert parse_age("for a 4 year old")[0] == [Quantity.point("age", 4.0)]
    assert parse_age("renewal within 12 months")[0] == []  # a period, not an age


def test_patient_and_age_group():
    assert set(parse_modes("madeup shoe, child")) == {Mode("patient", "pediatric"), Mode("age group", "child")}
    assert parse_modes("madeup formula, for adults") == [Mode("patient", "adult")]


def test_order_in_time():
    assert parse_modes("madeup visit, initial visit") == [Mode("sequence", "initial")]
    assert parse_modes("each additional 20 minutes of madeup care") == [Mode("sequence", "subsequent")]
    assert parse_modes("madeup bandage, first-aid type") == []


@pytest.mark.parametrize(
    ("text", "family", "value"),
    [
        ("madeup lens, single vision", "lens", "single vision"),
        ("madeup lens, trifocal", "lens", "trifocal"),
        ("madeup bed, semi electric", "power", "semi-electric"),
        ("madeup pump, non-electric", "power", "manual"),
        ("madeup device, with back-up rate feature", "backup rate", "with"),
        ("bipap st", "backup rate", "with"),
        ("madeup canister, non-disposable", "disposability", "reusable"),
        ("madeup oxygen system, rental", "acquisition", "rental"),
        ("madeup urinal; female", "sex", "female"),
        ("madeup joint device (implantable)", "placement", "implantable"),
        ("madeup catheter, two-way", "ways", "two-way"),
        ("madeup walker, rigid (pickup)", "wheels", "without wheels"),
        ("madeup walker with wheels", "wheels", "wheeled"),
        ("madeup walker, heavy duty, without wheels", "wheels", "without wheels"),
    ],
)
def test_modes(text, family, value):
    assert Mode(family, value) in parse_modes(text)
    assert len([m for m in parse_modes(text) if m.family == family]) == 1


def test_the_joints_an_orthosis_spans():
    assert parse_modes("madeup lso brace") == [Mode("placement", "external"), Mode("orthosis span", "lumbar-sacral")]
    tlso = descriptor_attributes("Thoracic-lumbar-sacral-orthosis (tlso), madeup", UNITS)
    assert Mode("orthosis span", "thoracic-lumbar-sacral") in tlso
    assert Mode("orthosis span", "lumbar-sacral") not in tlso  # the shorter span is not read inside the longer
    assert agreement(tlso, parse_attributes("lumbar sacral orthosis", UNITS))[1] == {"orthosis span"}
    kafo = [m for m in parse_modes("knee ankle foot orthosis, madeup upright") if m.family == "orthosis span"]
    assert kafo == [Mode("orthosis span", "knee-ankle-foot")]  # not also an ankle-foot orthosis
    assert parse_modes("madeup tlso") == [Mode("orthosis span", "thoracic-lumbar-sacral")]  # no "lso" inside


def test_a_record_naming_either_value_agrees_with_both():
    record = descriptor_attributes("Madeup bed, manual or electric", UNITS)
    assert agreement(record, parse_attributes("manual madeup bed", UNITS))[0] == {"power"}
    assert agreement(record, parse_attributes("electric madeup bed", UNITS))[0] == {"power"}


def test_with_or_without_names_no_value():
    assert "cuff" not in families(parse_attributes("madeup tube, with or without cuffed tip", UNITS))
    assert "cuff" in families(parse_attributes("madeup tube, cuffed", UNITS))


# --- agreement ---------------------------------------------------------------------------------------------


def test_a_query_value_inside_an_interval_agrees_and_outside_conflicts():
    small = descriptor_attributes("Madeup dressing, pad size 16 sq. in. or less", UNITS)
    large = descriptor_attributes("Madeup dressing, pad size more than 48 sq. in.", UNITS)
    query = parse_attributes("madeup dressing 4x4", UNITS)
    assert agreement(small, query) == ({"area"}, frozenset())
    assert agreement(large, query) == (frozenset(), {"area"})


def test_a_family_the_record_does_not_state_is_neither():
    plain = descriptor_attributes("Madeup walker, folding", UNITS)
    assert agreement(plain, parse_attributes("walker for a 400 lb patient", UNITS)) == (frozenset(), frozenset())


def test_modes_agree_or_conflict():
    record = descriptor_attributes("Madeup bed, semi-electric", UNITS)
    assert agreement(record, parse_attributes("semi electric madeup bed", UNITS))[0] == {"power"}
    assert agreement(record, parse_attributes("full electric madeup bed", UNITS))[1] == {"power"}


def test_attributes_survive_json():
    for attribute in descriptor_attributes(
        "Madeup bed, semi-electric, weight capacity greater than 350 pounds, per 15 minutes", UNITS
    ):
        assert attribute_from_json(attribute.to_json()) == attribute


def test_a_query_states_the_modes_of_its_words_and_unambiguous_ones_of_its_expansions():
    both = query_attributes("hinged madeup knee", "madeup knee orthosis joint device implantable", UNITS)
    assert "placement" not in families(both)  # the expansion names both values: no constraint
    said = query_attributes("hinged madeup knee brace", "madeup knee orthosis joint device implantable", UNITS)
    assert [m for m in said if m.family == "placement"] == [Mode("placement", "external")]  # the words say
    assert Mode("patient", "pediatric") in query_attributes("madeup chair", "madeup chair pediatric size", UNITS)
    assert Quantity.point("dose:mg", 399.0) in query_attributes("madeupaque 300", "madeupaque 300-399 mg/ml", UNITS)


# --- radionuclides --------------------------------------------------------------------------------------------


def test_radionuclides_by_symbol_or_name_and_mass_number():
    def isotopes(text: str) -> list[str]:
        return [mode.value for mode in parse_radionuclides(text.lower())]

    assert isotopes("Madeup ga-67 citrate, diagnostic") == ["ga-67"]
    assert isotopes("GA67 MADEUP") == isotopes("gallium 67 madeup") == ["ga-67"]
    assert isotopes("TC99M madeupate") == isotopes("technetium tc-99m madeupate") == ["tc-99m"]
    assert isotopes("I-131 caps") == isotopes("i131 caps") == ["i-131"]
    assert isotopes("cobalt co-57/58, madeupamin") == ["co-57", "co-58"]
    # only the mass numbers an element is used with, and a one-letter symbol only joined to its number
    assert isotopes("c-1 esterase inhibitor") == isotopes("vitamin b-12") == isotopes("i 131 units") == []
    assert isotopes("madeupine in 5% dextrose") == []


def test_another_isotope_of_the_same_element_conflicts():
    query = parse_attributes("HCHG GA-67 MADEUP DIAGNOSTIC PER MCI".lower(), UNITS)
    same = descriptor_attributes("Gallium ga-67 madeupate, diagnostic, per millicurie", UNITS)
    other = descriptor_attributes("Gallium ga-68, madeupotide, diagnostic, 0.01 mci", UNITS)
    assert agreement(same, query) == (frozenset({"radionuclide", "purpose"}), frozenset())
    assert agreement(other, query) == (frozenset({"purpose"}), frozenset({"radionuclide"}))


def test_a_diagnostic_dose_is_not_a_therapeutic_one():
    # "tx" is expanded to "treatment" by the knowledge tables; the expansion states the purpose
    query = query_attributes("madeup i-131 solution tx per mci", "madeup i-131 solution treatment per mci", UNITS)
    therapeutic = descriptor_attributes("Iodine i-131 madeupide solution, therapeutic, per millicurie", UNITS)
    diagnostic = descriptor_attributes("Iodine i-131 madeupide solution, diagnostic, per millicurie", UNITS)
    assert agreement(therapeutic, query) == (frozenset({"purpose", "radionuclide"}), frozenset())
    assert agreement(diagnostic, query) == (frozenset({"radionuclide"}), frozenset({"purpose"}))


def test_hearing_aid_circuit_and_style():
    query = parse_attributes("madeup hearing aid digital monaural behind the ear", UNITS)
    digital_bte = descriptor_attributes("Hearing aid, digital, monaural, bte", UNITS)
    programmable = descriptor_attributes(
        "Hearing aid, digitally programmable analog, monaural, bte (behind the ear)", UNITS
    )
    digital_ite = descriptor_attributes("Hearing aid, digital, monaural, ite", UNITS)
    assert agreement(digital_bte, query) == (
        frozenset({"hearing aid circuit", "ears", "hearing aid style"}),
        frozenset(),
    )
    assert agreement(programmable, query)[1] == {"hearing aid circuit"}
    assert agreement(digital_ite, query)[1] == {"hearing aid style"}
    assert parse_modes("back pain by the visual analog scale") == []


def test_aluminum_is_a_frame_other_than_wood():
    query = parse_attributes("aluminum underarm madeup crutches", UNITS)
    other = descriptor_attributes("Madeup crutches underarm, other than wood, adjustable or fixed, pair", UNITS)
    wood = descriptor_attributes("Madeup crutches underarm, wood, adjustable or fixed, pair", UNITS)
    assert agreement(other, query) == (frozenset({"frame material"}), frozenset())
    assert agreement(wood, query) == (frozenset(), frozenset({"frame material"}))


@pytest.mark.parametrize(
    ("query", "agrees", "conflicts"),
    [
        (
            "short arm fiberglass cast",
            "Madeup supplies, short arm cast, adult, fiberglass",
            "Madeup supplies, short arm cast, adult, plaster",
        ),
        ("long leg splint", "Madeup supplies, long leg splint, adult", "Madeup supplies, short leg splint, adult"),
        ("tunneled madeup catheter", "Catheter, madeup, long-term", "Catheter, madeup, short-term"),
        ("folding madeup walker", "Madeup walker, folding, wheeled", "Madeup walker, rigid, wheeled"),
        (
            "madeup orthosis double upright",
            "Madeup orthosis, double upright, free knee",
            "Madeup orthosis, single upright, free knee",
        ),
        (
            "full leg madeup appliance",
            "Madeup appliance for use with madeup compressor, full leg",
            "Madeup appliance, half leg",
        ),
    ],
)
def test_sibling_families_read_from_descriptors(query, agrees, conflicts):
    wanted = parse_attributes(query, UNITS)
    assert agreement(descriptor_attributes(agrees, UNITS), wanted)[1] == frozenset()
    assert agreement(descriptor_attributes(conflicts, UNITS), wanted)[1] != frozenset()


def test_off_the_shelf_is_read_however_it_is_hyphenated():
    for text in ("madeup orthosis, off-the-shelf", "madeup orthosis, off-the shelf", "madeup orthosis, off the shelf"):
        assert Mode("fabrication", "off-the-shelf") in parse_modes(text)  # L1833 writes "off-the shelf"


def test_one_ear_named_is_a_monaural_hearing_aid():
    assert Mode("ears", "monaural") in parse_modes("madeup hearing aid, right ear")
    assert Mode("ears", "binaural") in parse_modes("madeup hearing aids, both ears")


def test_equal_to_or_greater_than_is_a_closed_bound():
    from codefinder.indexer.attributes import Quantity, agreement, parse_attributes

    floor = parse_attributes("Madeup formula, calorically dense (equal to or greater than 1.5 kcal/ml)", {})
    assert floor == (Quantity("calories", 1.5, None, False, False),)
    assert agreement(floor, parse_attributes("madeup formula 1.5 kcal/ml", {}))[0] == {"calories"}
    ceiling = parse_attributes("Madeup chair, weight capacity equal to or less than 300 pounds", {})
    assert ceiling == (Quantity("weight", None, 300.0, False, False),)
