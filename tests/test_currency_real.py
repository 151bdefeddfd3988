"""Currency, CPT notes, releases and the hospital setting on the real CMS files (marked ``integration``)."""

from __future__ import annotations

import datetime as dt

import pytest

from codefinder.indexer.changes import changes_payload, find_release
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchOptions
from codefinder.search.filters import Filters
from tests.conftest import shared_data_present

pytestmark = pytest.mark.integration

if not shared_data_present():
    pytest.skip(f"shared data not found at {Settings().data_dir}", allow_module_level=True)

TODAY = dt.date(2026, 6, 1)  # after the April 2026 Addendum B


@pytest.fixture(scope="session")
def real_engine(real_context):
    return real_context.engine()


@pytest.mark.parametrize(
    ("code", "replacement"),
    [
        ("J1030", ["J1010"]),
        ("J1170", ["J1171"]),
        ("J0171", ["J0165"]),
        ("J0135", ["J0139"]),
        ("K0553", []),
        ("K0554", []),
    ],
)
def test_retired_codes_are_not_served_as_plain_active_codes(real_engine, code, replacement):
    record = real_engine.lookup(code)
    assert record.status_on(TODAY) == "not_in_current_lists"
    assert record.missing_from == ["asp_ndc_hcpcs_crosswalk_2026_01.csv", "opps_addendum_b_2026_04_level2.csv"]
    assert record.replaced_by == replacement


def test_addendum_b_covers_its_sections_and_never_judges_h_s_t(real_engine):
    coverage = real_engine.index.manifest["currency"]["coverage"]["opps_addendum_b_2026_04_level2.csv"]
    for section in "ABELPV":
        assert coverage[section]["listed"] > 0.99 and coverage[section]["judged"], section
    for section in "HST":
        assert coverage[section]["listed"] == 0.0 and not coverage[section]["judged"], section


def test_a_current_sibling_ranks_above_the_retired_code(real_engine):
    hits = real_engine.search("methylprednisolone acetate 40 mg", SearchOptions(filters=Filters(as_of=TODAY))).hits
    codes = [hit.code for hit in hits]
    assert codes[0] == "J1010" and codes.index("J1030") > 0


def test_cpt_queries_without_cpt_files(real_engine):
    code = real_engine.search("99213")
    assert code.hits == [] and code.needs_cpt["reason"] == "code"
    mri = real_engine.search("mri brain without contrast")
    assert mri.needs_cpt["reason"] == "service" and mri.no_good_match
    assert mri.hits[0].confidence < 0.3  # a breast MRI C code is no confident answer for a brain MRI
    screening = real_engine.search("screening colonoscopy")
    assert any(hit.code.startswith("G0") and hit.confidence > 0.2 for hit in screening.hits[:3])


def test_keytruda_as_of_both_ways(real_engine):
    before = real_engine.search("keytruda", SearchOptions(filters=Filters(as_of=dt.date(2015, 6, 1))))
    assert "J9271" not in [hit.code for hit in before.hits] and before.hits[0].code == "C9027"
    after = real_engine.search("keytruda", SearchOptions(filters=Filters(as_of=dt.date(2016, 6, 1))))
    assert after.hits[0].code == "J9271"


def test_changes_from_the_2019_zip_to_the_2020_workbook(real_engine):
    releases = real_engine.index.releases
    payload = changes_payload(find_release(releases, "2019"), find_release(releases, "2020"))
    assert payload["counts"] == {"added": 396, "terminated": 91, "descriptor_changed": 83}


IMPLANTS = [
    ("breast implant", "C1789"),
    ("IMP BREAST SIL 450CC", "C1789"),
    ("silicone breast prosthesis implant", "C1789"),
    ("penile prosthesis inflatable", "C1813"),
    ("penile prosthesis non-inflatable", "C2622"),
    ("CRT-D MADEUPBRAND", "C1882"),  # CRT-D: a defibrillator other than single or dual chamber
    ("implantable neurostimulator pulse generator", "C1767"),
    ("neurostimulator electrode lead", "C1778"),
    ("hernia mesh implant", "C1781"),
    ("telescopic intraocular lens implant", "C1840"),
    ("implantable infusion pump", "C1772"),
    ("bone anchor screw", "C1713"),
    ("urinary sphincter artificial implant", "C1815"),
    ("hip joint implant", "C1776"),
]


@pytest.mark.parametrize(("query", "code"), IMPLANTS)
def test_hospital_setting_puts_the_device_c_code_first_for_implants(real_engine, query, code):
    assert real_engine.search(query, SearchOptions(limit=3, setting="hospital")).hits[0].code == code


def test_a_standard_intraocular_lens_is_not_a_special_lens(real_engine):
    # no device category names a standard lens: C1780 and C1840 are the new-technology and telescopic lenses
    first = real_engine.search("intraocular lens implant", SearchOptions(limit=3, setting="hospital")).hits[0]
    assert first.code in {"V2630", "V2632"}  # anterior and posterior chamber lenses, a near tie


@pytest.mark.parametrize("query", ["knee brace", "cpap machine", "walker", "wheelchair", "tens unit"])
def test_hospital_setting_leaves_items_without_a_device_code_alone(real_engine, query):
    plain = [hit.code for hit in real_engine.search(query, SearchOptions(limit=3)).hits]
    hospital = [hit.code for hit in real_engine.search(query, SearchOptions(limit=3, setting="hospital")).hits]
    assert plain == hospital


def test_a_line_in_capitals_reads_as_a_hospital_charge_line(real_engine):
    def first(query: str) -> str:
        return real_engine.search(query, SearchOptions(limit=3)).hits[0].code

    assert first("BREAST IMPLANT SILICONE") == "C1789"  # as a chargemaster writes it: the hospital's code
    assert first("breast implant silicone") == "L8600"  # the same words typed: no setting assumed


def test_s_codes_follow_the_national_code_unless_a_hospital_bills(real_engine):
    def first(query: str, setting: str = "any") -> str:
        return real_engine.search(query, SearchOptions(limit=3, setting=setting)).hits[0].code

    assert first("famotidine 20 mg iv") == "J1308"  # S0028 is the same drug, for payers other than Medicare
    assert first("famotidine 20 mg iv", "hospital") == "S0028"  # a chargemaster bills it to those payers
    assert first("nutrition counseling dietitian visit") == "S9470"  # an S code the words name still leads
    assert first("methadone 10mg tabs") == "S0109"  # oral methadone, not "Injection, methadone"


def test_coders_ask_for_a_section_or_a_modifier(real_engine):
    def first(query: str) -> str:
        return real_engine.search(query, SearchOptions(limit=3)).hits[0].code

    assert first("j code for zofran") == "J2405"  # was Q0162, the oral tablet
    assert first("KX modifier") == "KX"
    assert first("modifier for right side") == "RT"
    assert first("new equipment modifier") == "NU"
    assert first("g code for annual wellness visit") in {"G0438", "G0439"}


def test_patients_words_for_common_items(real_engine):
    def first(query: str) -> str:
        return real_engine.search(query, SearchOptions(limit=3)).hits[0].code

    assert first("machine to help me breathe at night") == "E0601"
    assert first("oxygen for when i walk around") in {"E1392", "E0431", "E0433", "E0443", "K0738"}
    assert first("pads for bedwetting adults").startswith(("T45", "A4554"))


def test_a_plural_of_a_known_word_is_not_a_typo(real_engine):
    sores = real_engine.search("mattress that prevents bed sores", SearchOptions(limit=3))
    assert sores.did_you_mean is None  # was "bed scores"
    assert sores.hits[0].code in {"E0373", "E0184", "E0185", "E0186", "E0187", "E0196", "E0197", "E0198", "E0199"}
    filters = real_engine.search("cpap filtres disposable", SearchOptions(limit=3))
    assert filters.did_you_mean and "filters" in filters.did_you_mean and filters.hits[0].code == "A7038"


def test_an_order_naming_its_benefit_category_finds_the_item(real_engine):
    def first(query: str) -> str:
        return real_engine.search(query, SearchOptions(limit=3)).hits[0].code

    assert first("DME order: rolling walker, dx gait instability") in {"E0141", "E0143"}  # was K0900
    assert first("dme miscellaneous") == "E1399"


def test_a_drug_named_leads_over_another_drug_of_like_score(real_engine):
    from codefinder.search.drug_names import DrugNames

    names = DrugNames.from_index(real_engine.index, real_engine.facts.attributes)
    assert {"filgrastim", "epinephrin", "vancomycin"} <= names.name_stems  # a few drug codes name each
    assert not {"inject", "sodium", "dextros", "biosimilar"} & names.name_stems  # wording, or not only drugs
    hits = real_engine.search("FILGRASTIM 300MCG/0.5ML SOSY", SearchOptions(limit=3, setting="hospital")).hits
    assert all("filgrastim" in (hit.long_description or "").lower() for hit in hits)  # not calcitriol's "mcg"
    # a dose picks between codes of the drug named: iron sucrose per 1 mg, not iron dextran per 50 mg
    assert real_engine.search("venofer 100 mg", SearchOptions(limit=3)).hits[0].code == "J1756"
    # an injection billed per 0.1 ml: "gadavist 1 ml" is gadobutrol, not gadopiclenol's "1 ml"
    assert real_engine.search("RX GADAVIST 1ML", SearchOptions(limit=3)).hits[0].code == "A9585"


def test_quality_reporting_codes_follow_the_service(real_engine):
    def first(query: str) -> str:
        return real_engine.search(query, SearchOptions(limit=3)).hits[0].code

    assert first("fit test colorectal screening") == "G0328"  # not M1277 "… results documented"
    assert first("positive airway pressure therapy prescribed") == "G8845"  # its own words still find it


def test_shorthand_learned_from_cms_short_descriptors(real_engine):
    learned = real_engine.index.knowledge.learned_shorthand
    assert len(learned) > 200 and learned["stcking"] == "stocking"
    assert "rig" not in learned  # an English word is not taken for an abbreviation
    found = real_engine.rewrite("GRADIENT STCKING THIGH 30-40")
    assert ("stcking", "stocking", "learned") in [(e.source, e.target, e.kind) for e in found.expansions]
    # the custom-made sibling ("…, 30-40 mmhg, custom, each") is not what a plain line means
    assert real_engine.search("GRADIENT STCKING THIGH 30-40", SearchOptions(limit=3)).hits[0].code == "A6534"
