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


def test_supplies_and_drugs_are_not_cpt_services():
    for text in ("cpap machine", "walker with wheels", "ceftriaxone 1 g iv", "knee brace", "test strips"):
        assert cpt_services_in(text, KNOWLEDGE) == [], text
    assert cpt_services_in("mri", None) == []
