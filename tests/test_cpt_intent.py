"""CPT intent: codes of CPT's form and phrases naming CPT services (from the real knowledge table)."""

from __future__ import annotations

from codefinder.indexer.knowledge import load_knowledge
from codefinder.indexer.settings import Settings
from codefinder.search.cpt_intent import cpt_code_level, cpt_services_in

KNOWLEDGE = load_knowledge(Settings().knowledge_dir)


def test_code_forms():
    assert cpt_code_level("99213") == "cpt-1"
    assert cpt_code_level(" 0001F ") == "cpt-2"
    assert cpt_code_level("0042t") == "cpt-3"
    assert cpt_code_level("0001U") == "cpt-pla"
    assert cpt_code_level("E0601") is None and cpt_code_level("9921") is None and cpt_code_level("mri") is None


def test_service_phrases_longest_first_with_plurals_and_offsets():
    text = "MRI brain without contrast, then two office visits and a CBC"
    found = cpt_services_in(text, KNOWLEDGE)
    assert [(s.term, s.service) for s in found] == [
        ("mri", "imaging study (mri)"),
        ("office visit", "evaluation and management visit"),
        ("cbc", "laboratory test"),
    ]
    assert text[found[1].start : found[1].end] == "office visits"


def test_vaccine_products_and_their_administration_are_cpt():
    found = cpt_services_in("tdap vaccine and a shingles shot, then vaccine administration", KNOWLEDGE)
    assert [s.service for s in found] == [
        "vaccine or toxoid product",
        "vaccine or toxoid product",
        "immunization administration",
    ]


def test_a_quality_reporting_code_is_not_the_service_the_query_names():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.cpt_answer import cpt_note

    note = cpt_note("tdap vaccine", KNOWLEDGE, frozenset())
    assert note is not None and note.reason == "service"
    measure = CodeRecord.new("M1999", long_description="Made-up measure: patient received the vaccine")
    administration = CodeRecord.new("G9999", long_description="Made-up administration of a vaccine")
    assert note.not_the_service(measure, KNOWLEDGE) and not note.not_the_service(administration, KNOWLEDGE)


def test_supplies_and_drugs_are_not_cpt_services():
    for text in ("cpap machine", "walker with wheels", "ceftriaxone 1 g iv", "knee brace", "test strips"):
        assert cpt_services_in(text, KNOWLEDGE) == [], text
    assert cpt_services_in("mri", None) == []


def test_body_regions_group_sites_and_prefer_longer_phrases():
    from codefinder.search.cpt_intent import body_regions_in

    assert body_regions_in("MRI brain without contrast", KNOWLEDGE) == {"head"}
    assert body_regions_in("x-ray of both knees and the left ankle", KNOWLEDGE) == {"lower extremity"}
    assert body_regions_in("mri thoracic spine", KNOWLEDGE) == {"spine"}  # not the chest
    assert body_regions_in("office visit", KNOWLEDGE) == frozenset() and body_regions_in("mri", None) == frozenset()


def test_a_hit_for_another_body_site_is_the_wrong_site():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.cpt_answer import cpt_note

    note = cpt_note("mri brain without contrast", KNOWLEDGE, frozenset())
    assert note is not None and note.reason == "service" and note.regions == {"head"}
    breast = CodeRecord.new("C8908", long_description="Magnetic resonance imaging, breast; bilateral")
    plain = CodeRecord.new("S8042", long_description="Magnetic resonance imaging (mri), low-field")
    head = CodeRecord.new("C9999", long_description="Made-up imaging of the head")
    assert note.wrong_site(breast, KNOWLEDGE) and not note.wrong_site(plain, KNOWLEDGE)
    assert not note.wrong_site(head, KNOWLEDGE)
    assert note.not_the_service(breast, KNOWLEDGE) and not note.not_the_service(plain, KNOWLEDGE)
    assert cpt_note("mri brain", KNOWLEDGE, frozenset({"cpt-1"})) is None  # CPT loaded: no note
    assert cpt_note("99213", KNOWLEDGE, frozenset({"cpt-2"})).reason == "code"
