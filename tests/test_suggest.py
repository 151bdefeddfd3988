"""Suggestions from documentation text: segments, attributes, negation, and the pipeline on the fixture
index (fake encoder): offsets, units, negation, nothing billable, CPT services, one batch path."""

from __future__ import annotations

import pytest

from codefinder.indexer.build import build_index
from codefinder.search.engine import SearchEngine
from codefinder.search.loader import load_index
from codefinder.search.suggest.attributes import read_attributes
from codefinder.search.suggest.negation import negated
from codefinder.search.suggest.pipeline import suggest
from codefinder.search.suggest.segments import segments, tokenize
from tests.conftest import FIXTURE_DATA


def texts_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in segments(text)]


# --- segments ---------------------------------------------------------------------------------------


def test_sentences_list_items_and_semicolons():
    text = "MAR:\n- Enoxaparin 40 mg SC daily\n- Heparin 5,000 units SC q8h; held\n2) Walker. Dr. Lee saw pt."
    assert texts_of(text) == [
        "MAR:",
        "Enoxaparin 40 mg SC daily",
        "Heparin 5,000 units SC q8h",
        "held",
        "Walker.",
        "Dr. Lee saw pt.",
    ]


def test_a_period_inside_a_number_or_after_an_initial_ends_nothing():
    assert texts_of("Vancomycin 1.25 g IV q12h. Seen by J. Smith today.") == [
        "Vancomycin 1.25 g IV q12h.",
        "Seen by J. Smith today.",
    ]


def test_a_hard_wrapped_line_is_joined():
    assert texts_of("Dispensed standard walker and left\nankle foot orthosis.\nCane.") == [
        "Dispensed standard walker and left\nankle foot orthosis.",
        "Cane.",
    ]


def test_a_run_on_text_is_cut_into_bounded_segments():
    text = ", ".join(["gauze pad"] * 200)
    found = segments(text)
    assert len(found) > 3 and all(len(s.tokens) <= 64 for s in found)
    assert found[-1].end == len(text)


def test_segments_of_nothing():
    assert segments("") == [] and segments(" \n\t ") == []


# --- attributes -------------------------------------------------------------------------------------


def attributes(text: str, drug: bool = True):
    return read_attributes(tokenize(text), [], drug)


def test_order_shorthand():
    read = attributes("ceftriaxone 1 g IVPB q48h x1")
    assert (str(read.dose), read.route, read.frequency) == ("1 g", "intravenous", "q48h x1")
    assert attributes("enoxaparin 40 mg SC daily").route == "subcutaneous"
    assert attributes("ondansetron 8 mg PO").route == "oral"


def test_a_rate_is_not_a_dose():
    read = attributes("heparin 25,000 units in 250 mL at 10 mL/h")
    assert str(read.dose) == "25000 units" and read.rate == "10 mL / h"
    assert attributes("NS at 125 mL/h").dose is None


def test_a_dose_per_kilogram_is_not_the_dose():
    assert str(attributes("infliximab 5 mg/kg = 350 mg IV").dose) == "350 mg"


def test_counts_and_sides():
    assert attributes("test strips qty 100", drug=False).quantity == 100
    assert attributes("catheters #30", drug=False).quantity == 30
    assert attributes("gauze 4x4", drug=False).quantity is None  # a size, not a count
    assert attributes("crutches x1", drug=False).quantity == 1
    assert attributes("left AFO", drug=False).side == "left"
    assert attributes("RT knee brace", drug=False).side == "right"
    assert attributes("bilateral compression stockings", drug=False).side == "bilateral"
    assert attributes("l knee", drug=False).side is None  # a lone lower-case letter is no side


# --- negation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("heparin held , enoxaparin given", [(0, 1), (3, 4)], [True, False]),
        ("pt declined flu vaccine", [(2, 4)], [True]),
        ("ceftriaxone not given", [(0, 1)], [True]),
        ("no iv access , fluids not started", [(4, 5)], [True]),
        ("no iv access so ceftriaxone given im", [(4, 5)], [False]),
        ("walker declined but cane dispensed", [(0, 1), (3, 4)], [True, False]),
        ("no change in walker", [(3, 4)], [False]),
        ("ondansetron given for nausea", [(0, 1)], [False]),
    ],
)
def test_negation_cues(text, spans, expected):
    assert negated(text.split(), spans) == expected


# --- the pipeline on the fixture index ---------------------------------------------------------------


def test_each_item_with_offsets_codes_and_units(engine):
    text = "Keytruda 200 mg IV q3 weeks given.\nStandard wheelchair dispensed. CPAP machine set up at home."
    result = suggest(engine, text, min_confidence=0)
    by_code = {item.codes[0].code: item for item in result.items if item.codes}
    assert {"J9271", "K0001", "E0601"} <= set(by_code)
    for item in result.items:
        assert text[item.start : item.end] == item.text
    keytruda = by_code["J9271"]
    assert keytruda.text.startswith("Keytruda 200 mg IV")
    assert keytruda.codes[0].units["units"] == 200 and "÷ 1 mg" in keytruda.codes[0].units["how"]
    assert keytruda.attributes.route == "intravenous" and not keytruda.negated
    assert result.to_dict()["items"][0]["start"] == 0


def test_a_held_dose_is_negated(engine):
    result = suggest(engine, "Keytruda 200 mg IV held for low counts.", min_confidence=0)
    assert result.items and result.items[0].codes[0].code == "J9271" and result.items[0].negated


def test_nothing_billable_is_no_items(engine):
    for text in ("Pt tolerated well. BP 120/80, HR 88. Reassess in 30 min.", "Electronically signed by J. Smith, RN"):
        assert suggest(engine, text).items == [], text


def test_empty_text_is_no_items(engine):
    assert suggest(engine, "").items == [] and suggest(engine, "   \n").items == []


def test_a_cpt_service_needs_cpt_when_no_cpt_file_is_loaded(engine):
    result = suggest(engine, "Office visit for follow-up.")
    assert [(item.needs_cpt, item.codes) for item in result.items] == [(True, [])]
    assert result.items[0].cpt_service and not result.cpt_loaded


def test_a_cpt_service_is_answered_from_a_loaded_cpt_file(settings, fake_encoder, tmp_path):
    with_cpt = settings.model_copy(
        update={
            "index": tmp_path / "cpt-index",
            "default_sources": (*settings.default_sources, str(FIXTURE_DATA / "plain" / "made_up_cpt.csv")),
        }
    )
    build_index(with_cpt, fake_encoder)
    engine = SearchEngine(load_index(with_cpt.index), fake_encoder, with_cpt)
    result = suggest(engine, "Consultation about widget fitting.")
    assert result.cpt_loaded
    item = next(item for item in result.items if item.needs_cpt)
    assert item.codes and item.codes[0].code == "99990" and item.codes[0].system == "CPT"


def test_every_mention_is_searched_through_the_batch_path(engine, monkeypatch):
    calls = []
    original = engine.run_many

    def counting(texts, options, *args, **kwargs):
        calls.append(list(texts))
        return original(texts, options, *args, **kwargs)

    monkeypatch.setattr(engine, "run_many", counting)
    monkeypatch.setattr(engine, "search", lambda *a, **k: pytest.fail("search() called per mention"))
    suggest(engine, "Keytruda 200 mg IV. Standard wheelchair. CPAP machine.", min_confidence=0)
    assert calls and len(calls[0]) >= 3  # every mention in the first batch (accessories may get a second)


def test_limit_per_item_and_setting(engine):
    result = suggest(engine, "Standard wheelchair dispensed.", limit_per_item=2, setting="hospital", min_confidence=0)
    assert result.items and all(len(item.codes) <= 2 for item in result.items)


def test_junk_and_other_languages_give_no_items_and_no_error(engine):
    for text in ("\x00\x01\x02 ÿþ \ufffd\ufffd", "患者は車椅子を使用しています。", "🦽🩼🫁" * 50, "(" * 5000):
        assert suggest(engine, text).items == [], text


def test_keyword_mode_never_calls_the_model(engine, monkeypatch):
    monkeypatch.setattr(engine.encoder, "encode", lambda *a, **k: pytest.fail("the model was called"))
    result = suggest(engine, "Keytruda 200 mg IV. Standard wheelchair dispensed.", min_confidence=0, mode="keyword")
    assert {"J9271", "K0001"} <= {item.codes[0].code for item in result.items if item.codes}


def test_an_unknown_mode_is_refused_even_for_text_naming_nothing(engine):
    from codefinder.indexer.errors import QueryError

    with pytest.raises(QueryError, match="mode must be one of hybrid, keyword"):
        suggest(engine, "Pt tolerated well.", mode="semantic")


def test_an_attribute_family_the_descriptors_state_describes_the_item():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.suggest.lexicon import MentionLexicon

    records = [
        CodeRecord(f"V900{i}", "HCPCS", "hcpcs-2", "code", section="V", long_description=text)
        for i, text in enumerate(
            [
                "Madeup aid, digital, monaural, bte",
                "Madeup aid, analog, binaural, ite",
                "Madeup aid, digital, binaural, itc",
            ]
        )
    ]
    lexicon = MentionLexicon(records, None)
    # the descriptors abbreviate it ("bte"), but "behind the ear" is the same family: it describes the aid
    assert lexicon.describes("madeup aid", "behind the ear")
    assert not lexicon.describes("madeup aid", "off the shelf")  # a family no madeup aid descriptor states


def test_a_part_of_the_body_alone_names_no_item():
    from codefinder.indexer.knowledge import Knowledge
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.suggest.lexicon import MentionLexicon

    texts = ["Lower extremity, madeup brace", "Upper extremity, madeup sock", "Left knee, madeup", "Right knee, madeup"]
    records = [
        CodeRecord(f"L99{i:02d}", "HCPCS", "hcpcs-2", "code", section="L", long_description=text)
        for i, text in enumerate(texts)
    ]
    knowledge = Knowledge(body_sites={"lower extremity": "lower extremity", "knee": "lower extremity"})
    with_sites, without = MentionLexicon(records, knowledge), MentionLexicon(records, None)
    assert without.phrases.get("extremity") == "item" and without.phrases.get("knee") == "item"
    assert "extremity" not in with_sites.phrases and "knee" not in with_sites.phrases  # "Extremities: warm"
