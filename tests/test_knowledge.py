"""Domain knowledge: the tables, the query rewriter, and each kind of knowledge end to end on the fixture index."""

from __future__ import annotations

from pathlib import Path

import pytest

from codefinder.indexer.errors import SourceError
from codefinder.indexer.knowledge import BrandTagger, Knowledge, load_knowledge
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchOptions
from codefinder.search.rewrite import QueryRewriter, tokenize
from codefinder.search.verify import verify

REAL_TABLES = Settings().knowledge_dir

TINY = Knowledge(
    brand_to_generics={"toradol": ["ketorolac"], "solu medrol": ["methylprednisolone"]},
    generic_to_brands={"ketorolac": ["toradol"], "methylprednisolone": ["solu medrol"]},
    phrases={
        "cpap": [("continuous positive airway pressure", "abbreviation")],
        "walker with wheels": [("walker wheeled", "lay")],
        "nebuliser": [("nebulizer", "spelling")],
    },
    shorthand={"cath": ["catheter"], "bal": ["balloon"], "inj": ["injection"]},
    noise={"hchg"},
    unit_canonical={"ml": "ml", "cc": "ml", "mg": "mg"},
)
VOCABULARY = {
    "catheter": 40,
    "balloon": 12,
    "injection": 900,
    "ketorolac": 2,
    "wheelchair": 300,
    "oxygen": 80,
    "concentrator": 3,
    "concentrated": 9,
    "cc": 50,
    "ml": 70,
    "walker": 8,
    "wheeled": 4,
    "standard": 20,
}


def rewriter(cooccurrence=None) -> QueryRewriter:
    return QueryRewriter(TINY, VOCABULARY, expansion_weight=0.5, cooccurrence=cooccurrence)


def test_real_tables_load_with_hundreds_of_rows():
    knowledge = load_knowledge(REAL_TABLES)
    assert len(knowledge.brand_to_generics) >= 300
    assert knowledge.brand_to_generics["toradol"] == ["ketorolac"]
    assert "midazolam" in knowledge.brand_to_generics["versed"]
    assert ("continuous positive airway pressure", "abbreviation") in knowledge.phrases["cpap"]
    assert "catheter" in knowledge.shorthand["cath"] and "hchg" in knowledge.noise
    assert knowledge.unit_canonical["cc"] == "ml"


def test_every_table_names_its_source():
    for path in REAL_TABLES.glob("*.csv"):
        header = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert any("source" in line.lower() for line in header), path.name


def test_a_malformed_table_row_names_file_and_line(tmp_path: Path):
    for path in REAL_TABLES.glob("*.csv"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    broken = tmp_path / "drug_names.csv"
    broken.write_text(broken.read_text(encoding="utf-8") + "onlyonecolumn\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"drug_names\.csv:\d+: expected 2 columns"):
        load_knowledge(tmp_path)


def test_brand_names_become_terms_of_their_drug_record():
    tagger = BrandTagger(TINY)
    record = CodeRecord.new("J1885", long_description="Injection, ketorolac tromethamine, per 15 mg")
    assert tagger.brands(record) == ["toradol"]
    assert tagger.brands(CodeRecord.new("K0001", long_description="Standard wheelchair")) == []


def test_a_brand_with_a_code_of_its_own_is_not_tagged_on_its_siblings():
    knowledge = Knowledge(generic_to_brands={"made globulin": ["madeuprin", "otherin", "otherin max"]})
    named = CodeRecord.new("J9901", long_description="Injection, made globulin, (madeuprin), 500 mg")
    maxed = CodeRecord.new("J9902", long_description="Injection, made globulin, 1 g", synonyms=["otherin max"])
    plain = CodeRecord.new("J9903", long_description="Injection, made globulin, not otherwise specified, 500 mg")
    tagger = BrandTagger(knowledge, [named, maxed, plain])
    assert tagger.brands(named) == ["madeuprin"]  # its own brand, not its competitors'
    assert tagger.brands(maxed) == ["otherin"]  # "otherin max" (a synonym already) is the otherin line
    assert tagger.brands(plain) == []  # every brand has a code of its own
    assert BrandTagger(knowledge).brands(plain) == ["madeuprin", "otherin", "otherin max"]  # no codes known


def test_tokenize_reads_units_and_thousands():
    assert tokenize("NS 1,000ML") == ["ns", "1000", "ml"]
    assert tokenize("KETOROLAC 15MG/ML") == ["ketorolac", "15", "mg/ml"]
    assert rewriter().rewrite("KETOROLAC 15MG/ML").words == ["ketorolac", "15", "mg", "ml"]
    assert tokenize("E0601 cpap") == ["e0601", "cpap"]
    assert tokenize("3.5X80MM") == ["3.5", "x", "80", "mm"]


def test_brand_to_generic():
    result = rewriter().rewrite("toradol 30 mg")
    assert ("toradol", "ketorolac", "brand") in [(e.source, e.target, e.kind) for e in result.expansions]
    assert "ketorolac" in result.semantic_text and "toradol" in result.semantic_text
    assert dict(result.keyword_terms)["ketorolac"] == 0.5  # an expansion weighs less than the user's words


def test_multi_word_brand_and_lay_phrases():
    assert [e.target for e in rewriter().rewrite("solu medrol 125").expansions] == ["methylprednisolone"]
    lay = rewriter().rewrite("walker with wheels")
    assert [(e.target, e.kind) for e in lay.expansions] == [("walker wheeled", "lay")]


def test_abbreviation_and_spelling():
    assert rewriter().rewrite("cpap").semantic_text == "continuous positive airway pressure"
    assert [e.kind for e in rewriter().rewrite("nebuliser").expansions] == ["spelling"]


def test_chargemaster_shorthand_noise_and_charge_numbers():
    result = rewriter().rewrite("HCHG 12345678 CATH BAL 15MM")
    assert result.dropped == ["hchg", "12345678"]
    assert result.semantic_text.startswith("catheter balloon")
    stems = dict(result.keyword_terms)
    assert stems["cath"] == 1.0 and stems["cathet"] == 0.5  # the token itself and its expansion


def test_units_reach_the_spelling_descriptors_use():
    result = rewriter().rewrite("normal saline 1,000 ml")
    assert ("ml", "cc", "unit") in [(e.source, e.target, e.kind) for e in result.expansions]


def test_typos_are_corrected_and_known_words_are_not():
    result = rewriter().rewrite("wheelchiar standard")
    assert result.did_you_mean == "wheelchair standard"
    assert [(e.source, e.target, e.kind) for e in result.corrections] == [("wheelchiar", "wheelchair", "typo")]
    assert rewriter().rewrite("standard wheelchair").did_you_mean is None
    assert rewriter().rewrite("balloon").expansions == []


def test_a_corrected_word_is_searched_with_full_weight():
    terms = dict(rewriter().rewrite("ketorolak 15 mg").keyword_terms)
    assert terms["ketorolac"] == 1.0 and "ketorolak" not in terms


def test_typos_are_corrected_before_phrases_are_looked_up():
    knowledge = Knowledge(phrases={"sleep apnea machine": [("continuous positive airway pressure device", "lay")]})
    vocabulary = {"sleep": 30, "apnea": 12, "machine": 5, "continuous": 40, "device": 300}
    result = QueryRewriter(knowledge, vocabulary).rewrite("sleep apnia machine")
    assert [(e.source, e.target, e.kind) for e in result.expansions] == [
        ("apnia", "apnea", "typo"),
        ("sleep apnea machine", "continuous positive airway pressure device", "lay"),
    ]
    assert result.did_you_mean == "sleep apnea machine"


def test_a_phrase_is_found_when_its_words_are_scattered():
    knowledge = Knowledge(phrases={"sleep apnea machine": [("continuous positive airway pressure device", "lay")]})
    vocabulary = {"sleep": 30, "apnea": 12, "machine": 5, "breathing": 3}
    result = QueryRewriter(knowledge, vocabulary).rewrite("breathing machine for sleep apnea")
    assert ("sleep apnea machine", "continuous positive airway pressure device", "lay") in [
        (e.source, e.target, e.kind) for e in result.expansions
    ]
    assert result.semantic_text.endswith("continuous positive airway pressure device")
    assert QueryRewriter(knowledge, vocabulary).rewrite("sleep machine").expansions == []  # every word needed


def test_words_written_apart_are_joined_when_descriptors_write_them_as_one():
    vocabulary = {"ultralightweight": 3, "wheelchair": 300, "manual": 40, "ultra": 1, "light": 9, "weight": 20}
    result = QueryRewriter(Knowledge(), vocabulary).rewrite("ultra light weight manual wheelchair")
    assert [(e.source, e.target, e.kind) for e in result.expansions] == [
        ("ultra light weight", "ultralightweight", "compound")
    ]
    assert dict(result.keyword_terms)["ultralightweight"] == 1.0
    assert QueryRewriter(Knowledge(), vocabulary).rewrite("manual wheelchair").expansions == []


def test_a_phrase_is_found_through_the_shorthand_that_spells_it():
    knowledge = Knowledge(
        phrases={"femoral head": [("joint device implantable", "lay")]}, shorthand={"fem": ["femoral"]}
    )
    result = QueryRewriter(knowledge, {"femoral": 5, "head": 30, "joint": 40}).rewrite("FEM HEAD C TAPER 28")
    found = [(e.source, e.target, e.kind) for e in result.expansions]
    assert ("femoral head", "joint device implantable", "lay") in found


def test_bare_numbers_and_single_letters_weigh_less_than_words():
    terms = dict(QueryRewriter(TINY, VOCABULARY, number_weight=0.3).rewrite("ketorolac 15 mg d").keyword_terms)
    assert terms["ketorolac"] == 1.0 and terms["15"] == 0.3 and terms["mg"] == 1.0 and terms["d"] == 0.3


def test_packaging_words_of_a_drug_order_weigh_little_and_stay_out_of_the_embedded_text():
    knowledge = Knowledge(shorthand={"solr": ["injection powder for solution"]}, unit_canonical={"mg": "mg"})
    vocabulary = {"abatacept": 1, "vial": 30, "syringe": 40, "each": 50}
    result = QueryRewriter(knowledge, vocabulary, number_weight=0.3).rewrite("ABATACEPT 250 MG SOLR 1 EACH VIAL")
    terms = dict(result.keyword_terms)
    assert terms["abatacept"] == 1.0 and terms["vial"] == terms["solr"] == terms["each"] == 0.3
    assert "powder" not in terms and "vial" not in result.semantic_text and "abatacept" in result.semantic_text
    supply = dict(QueryRewriter(knowledge, vocabulary, number_weight=0.3).rewrite("SYRINGE 10 ML VIAL").keyword_terms)
    assert supply["vial"] == 1.0  # no drug strength: not a drug order, every word counts


def test_a_drug_orders_pen_or_syringe_is_packaging_not_a_device_phrase():
    knowledge = Knowledge(phrases={"insulin pen": [("insulin delivery device reusable pen", "lay")]})
    vocabulary = {"insulin": 30, "glargine": 2, "pen": 4, "delivery": 20, "device": 90}
    rewriter = QueryRewriter(knowledge, vocabulary, number_weight=0.3)
    order = rewriter.rewrite("INSULIN GLARGINE 100 UNIT/ML PEN")
    assert dict(order.keyword_terms)["pen"] == 0.3 and "deliveri" not in dict(order.keyword_terms)
    assert "pen" not in order.semantic_text.split()
    device = rewriter.rewrite("insulin pen")  # no strength: the device is what is named
    assert dict(device.keyword_terms)["deliveri"] > 0


def test_a_phrase_whose_head_follows_with_is_not_what_the_query_names():
    knowledge = Knowledge(
        phrases={
            "echo contrast": [("injectable contrast material for use in echocardiography", "lay")],
            "drop arm commode": [("commode chair with detachable arms", "lay")],
        },
        shorthand={"w/con": ["with contrast"]},
    )
    vocabulary = {"echocardiography": 9, "contrast": 40, "commode": 6, "chair": 30, "arms": 8}
    rewriter = QueryRewriter(knowledge, vocabulary)

    def phrases(query: str) -> list[str]:
        return [e.source for e in rewriter.rewrite(query).expansions if e.kind == "lay"]

    assert phrases("transesophageal echo with contrast") == []  # the echocardiogram, not the contrast agent
    assert phrases("ECHO TEE W/CON") == []  # "with" read from the shorthand
    assert phrases("contrast for echo") == ["echo contrast"]
    assert phrases("commode chair with drop arms") == ["drop arm commode"]  # its head, commode, comes first


def test_the_vehicle_of_a_premixed_drug_order_weighs_like_packaging():
    from codefinder.search.rewrite import vehicle_positions

    knowledge = Knowledge(phrases={"d5w": [("5% dextrose/water", "abbreviation")]}, unit_canonical={"ml": "ml"})
    vocabulary = {"heparin": 9, "dextrose": 30, "water": 40, "lactated": 4, "ringers": 4}
    result = QueryRewriter(knowledge, vocabulary, number_weight=0.3).rewrite("HEPARIN 25,000 UNITS IN D5W 250 ML")
    terms = dict(result.keyword_terms)
    assert terms["heparin"] == 1.0 and terms["d5w"] == 0.3 and "dextros" not in terms
    assert "heparin" in result.semantic_text and "dextrose" not in result.semantic_text

    def vehicle(text: str) -> frozenset[int]:
        return vehicle_positions(text.split())

    assert vehicle("famotidine 20 mg in sodium chloride 0.9 % 50 ml") == frozenset(range(3, 10))
    # the fluid ordered, not a vehicle: nothing names a drug before "in", or no strength is given
    assert vehicle("5 % dextrose in lactated ringers 1000 ml") == frozenset()
    assert vehicle("dextrose 5 % in water 500 ml") == frozenset()
    assert vehicle("heparin in d5w") == frozenset()
    # what follows "in" is not only a diluent: the words keep their weight
    assert vehicle("glucose 4 g in chewable tablets") == frozenset()


def test_device_brand_names_expand_and_stay_in_the_embedded_text():
    knowledge = Knowledge(phrases={"mahurkar": [("short-term hemodialysis catheter", "device")]})
    result = QueryRewriter(knowledge, {"catheter": 40, "hemodialysis": 9}).rewrite("CATH MAHURKAR 12FR")
    assert ("mahurkar", "short-term hemodialysis catheter", "device") in [
        (e.source, e.target, e.kind) for e in result.expansions
    ]
    assert "mahurkar short-term hemodialysis catheter" in result.semantic_text
    assert load_knowledge(REAL_TABLES).phrases  # the real devices table loads with the others


def test_a_drug_no_descriptor_names_gets_its_unclassified_code():
    def noc(query: str) -> str | None:
        return rewriter().rewrite(query).unclassified_code

    assert noc("ZORBITAZOLE 4MG/ML SOLN 4 ML VIAL") == "J3490"
    assert noc("zorbizumab 100 mg") == "J3590"  # -mab: a biologic
    assert noc("zorbitazole 10 mg tabs") == "J8499"
    assert noc("ketorolac 15 mg") is None  # a drug the index knows
    assert noc("ketorolak 15 mg") is None  # a typo of one
    assert noc("zorbitazole") is None  # no strength or route: not recognizably a drug order
    assert noc("catheter mahurkar 12 fr") is None
    expansion = rewriter().rewrite("zorbitazole 4 mg iv").expansions[-1]
    assert (expansion.source, expansion.kind) == ("zorbitazole", "unclassified")


def test_a_word_a_chargemaster_cut_short_is_completed():
    vocabulary = {"tixagevimab": 2, "cilgavimab": 2, "injection": 900, "cilastatin": 3}
    result = QueryRewriter(Knowledge(), vocabulary).rewrite("TIXAGEV AND CILGAV INJ")
    assert [(e.source, e.target, e.kind) for e in result.corrections] == [
        ("tixagev", "tixagevimab", "truncation"),
        ("cilgav", "cilgavimab", "truncation"),
    ]
    assert result.did_you_mean == "tixagevimab and cilgavimab inj"
    assert QueryRewriter(Knowledge(), vocabulary).rewrite("tix").corrections == []  # too short to complete


def test_a_word_written_without_its_vowels_is_expanded():
    knowledge = Knowledge(phrases={"mahurkar": [("short-term hemodialysis catheter", "device")]})
    vocabulary = {"humeral": 12, "humerus": 3, "catheter": 40, "tray": 9, "component": 5}
    result = QueryRewriter(knowledge, vocabulary).rewrite("TRAY CATH MHRKR HMRL")
    assert [(e.source, e.target, e.kind) for e in result.corrections] == [
        ("mhrkr", "mahurkar", "contraction"),  # a table word
        ("hmrl", "humeral", "contraction"),  # an index word (humerus is "hmrs")
    ]
    assert ("mahurkar", "short-term hemodialysis catheter", "device") in [
        (e.source, e.target, e.kind) for e in result.expansions
    ]
    assert dict(result.keyword_terms)["mahurkar"] == 1.0
    assert QueryRewriter(knowledge, vocabulary).rewrite("st").corrections == []  # too short to tell


def test_strength_units_of_a_drug_order_weigh_like_numbers():
    knowledge = Knowledge(unit_canonical={"mg": "mg", "ml": "ml"})
    vocabulary = {"famotidine": 3, "ml": 80, "mg": 300, "syringe": 40}
    terms = dict(QueryRewriter(knowledge, vocabulary, number_weight=0.3).rewrite("FAMOTIDINE 40MG/4ML").keyword_terms)
    assert terms["famotidin"] == 1.0 and terms["mg"] == 1.0 and terms["ml"] == 0.3
    supply = dict(QueryRewriter(knowledge, vocabulary, number_weight=0.3).rewrite("SYRINGE 10 ML").keyword_terms)
    assert supply["ml"] == 1.0  # no drug strength: the volume names the supply


def test_crosswalk_drug_names_lose_their_packaging_words():
    from codefinder.indexer.sources.delimited import drug_name_synonym

    assert drug_name_synonym("IXEMPRA KIT") == "ixempra"
    assert drug_name_synonym("Kanjinti (kit)") == "kanjinti"
    assert drug_name_synonym("KIT") == "kit"  # nothing else to keep


def test_an_ambiguous_abbreviation_takes_the_meaning_its_neighbours_go_with():
    knowledge = Knowledge(
        phrases={"lr": [("lactated ringers", "abbreviation")]},
        shorthand={"lr": ["leukocytes reduced"]},
    )
    vocabulary = {"platelets": 9, "leukocytes": 12, "reduced": 20, "lactated": 4, "ringers": 4, "dextrose": 30}
    together = {("leukocytes", "platelets"): 6, ("reduced", "platelets"): 6, ("lactated", "dextrose"): 3}
    together |= {("ringers", "dextrose"): 3}

    def cooccurrence(word: str, others: list[str]) -> int:
        return sum(together.get((word, other), 0) for other in others)

    def meanings(query: str) -> set[str]:
        rewriter = QueryRewriter(knowledge, vocabulary, cooccurrence=cooccurrence)
        return {e.target for e in rewriter.rewrite(query).expansions if e.source == "lr"}

    assert meanings("PLATELETS PHER L/R IRRAD") == {"leukocytes reduced"}  # L/R is the table's lr
    assert meanings("D5 LR 1000 ML dextrose") == {"lactated ringers"}
    assert meanings("LR") == {"lactated ringers", "leukocytes reduced"}  # nothing to tell: both


def test_in_a_drug_order_an_ambiguous_short_form_is_the_route():
    knowledge = Knowledge(phrases={"sc": [("subcutaneous", "abbreviation"), ("single chamber", "abbreviation")]})
    vocabulary = {"heparin": 9, "units": 50, "subcutaneous": 5, "single": 30, "chamber": 12, "pacemaker": 8}

    def meanings(query: str) -> set[str]:
        return {e.target for e in QueryRewriter(knowledge, vocabulary).rewrite(query).expansions if e.source == "sc"}

    assert meanings("heparin 5000 units SC") == {"subcutaneous"}
    assert meanings("pacemaker SC") == {"subcutaneous", "single chamber"}  # no dose: not a drug order


def test_words_of_the_language_are_never_corrected():
    vocabulary = {"bands": 40, "knee": 90, "more": 30}
    plain = QueryRewriter(Knowledge(), vocabulary).rewrite("machine that bends my knee")
    assert ("bends", "bands", "typo") in [(e.source, e.target, e.kind) for e in plain.corrections]
    english = QueryRewriter(Knowledge(), vocabulary, lexicon=frozenset({"bends", "machine", "move"}))
    assert english.rewrite("machine that bends my knee").corrections == []
    assert english.rewrite("kneee").did_you_mean == "knee"  # a typo is still a typo


def test_typo_correction_uses_the_other_words_to_choose():
    def cooccurrence(word: str, others: list[str]) -> int:
        return 5 if word == "concentrator" and "oxygen" in others else 0

    result = rewriter(cooccurrence).rewrite("oxigen concentrater")
    assert result.did_you_mean == "oxygen concentrator"


# --- end to end on the fixture index (real tables) ---------------------------------------------------


def test_brand_query_finds_the_generic_code(engine):
    response = engine.search("toradol")
    assert response.hits[0].code == "J1885"
    assert {"from": "toradol", "to": "ketorolac", "kind": "brand"} in response.hits[0].matched_expansions
    assert "toradol" in response.hits[0].matched_synonyms  # the brand is also a term of the record


def test_abbreviation_query(engine):
    assert engine.search("o2 concentrator").hits[0].code == "E1390"


def test_chargemaster_shorthand_query(engine):
    response = engine.search("HCHG STRL WTR 10CC")
    assert response.hits[0].code == "A4216"
    assert response.ignored == ["hchg"]


def test_unit_conversion_query(engine):
    hit = engine.search("sterile water 10 cc").hits[0]
    assert hit.code == "A4216"
    assert {"from": "cc", "to": "ml", "kind": "unit"} in hit.matched_expansions


def test_typo_query_says_did_you_mean(engine):
    response = engine.search("standard wheelchiar")
    assert response.hits[0].code == "K0001"
    assert response.did_you_mean == "standard wheelchair"


def test_confidence_and_no_good_match(engine):
    good = engine.search("standard wheelchair")
    assert good.hits[0].confidence is not None and 0.0 <= good.hits[0].confidence <= 1.0
    assert good.no_good_match is False
    named = engine.search("E0601")
    assert named.hits[0].confidence is None and named.hits[0].confidence_band == "code" and not named.no_good_match
    assert engine.search("e06").hits[0].confidence_band == "code prefix"
    # junk queries -> no_good_match is checked on the real index (tests/test_integration.py): the fake
    # encoder's 64 hashed dimensions make any text look a little like something


def test_verify_uses_calibrated_confidence(engine):
    right = verify(engine, "toradol 15 mg injection", "J1885")
    assert right.verdict == "consistent" and right.confidence is not None
    wrong = verify(engine, "toradol 15 mg injection", "K0001")
    assert wrong.verdict == "suspect" and wrong.confidence < right.confidence
    assert wrong.better_candidates[0].code == "J1885"


def test_unclassified_drug_query_leads_with_the_noc_code(engine):
    response = engine.search("ZORBITAZOLE 4MG/ML SOLN 4 ML VIAL")
    assert response.hits[0].code == "J3490"
    why = {"from": "zorbitazole", "to": "unclassified drugs", "kind": "unclassified"}
    assert why in response.hits[0].matched_expansions
    assert engine.search("ketorolac 15 mg").hits[0].code == "J1885"


def test_knowledge_can_be_switched_off(built_settings, fake_encoder):
    from codefinder.search.engine import SearchEngine
    from codefinder.search.loader import load_index

    plain = SearchEngine(
        load_index(built_settings.index), fake_encoder, built_settings.model_copy(update={"use_knowledge": False})
    )
    response = plain.search("ketorolac 15mg", SearchOptions(mode="keyword"))
    assert response.expansions == [] and response.did_you_mean is None
    assert all(hit.matched_expansions == [] and hit.confidence is None for hit in response.hits)
    assert plain.search("standard wheelchiar", SearchOptions(mode="keyword")).did_you_mean is None


def test_route_words_choose_between_injectable_and_oral_siblings():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.rerank import apply_route_agreement, query_routes, record_routes

    injectable = CodeRecord("J9001", "HCPCS", "hcpcs-2", "code", long_description="Injection, madeupazole, 1 mg")
    oral = CodeRecord("J9002", "HCPCS", "hcpcs-2", "code", long_description="Madeupazole, oral, 1 mg")
    unrelated = CodeRecord("E9003", "HCPCS", "hcpcs-2", "code", long_description="Made-up walker, folding")
    records = [injectable, oral, unrelated]
    assert query_routes("MADEUPAZOLE 1 MG IVPB") == {"injection"} and query_routes("madeupazole po") == {"oral"}
    assert query_routes("madeupazole 1 mg") == frozenset()
    assert query_routes("MADEUPAZOLE 250 MG SOLR 1 EACH VIAL") == {"injection"}  # containers only injectables use
    assert query_routes("MADEUPAZOLE 5MG/5ML SYRP") == {"oral"}
    assert record_routes(injectable) == {"injection"} and record_routes(oral) == {"oral"}

    def routes_of(row: int) -> frozenset[str]:
        return record_routes(records[row])

    fused = {0: 0.95, 1: 1.0, 2: 0.2}
    iv = apply_route_agreement(fused, query_routes("madeupazole iv"), routes_of, bonus=0.2)
    assert max(iv, key=iv.get) == 0  # the injectable sibling now leads
    po = apply_route_agreement({0: 1.0, 1: 0.95, 2: 0.2}, query_routes("madeupazole tab"), routes_of, bonus=0.2)
    assert max(po, key=po.get) == 1
    assert apply_route_agreement(fused, frozenset(), routes_of, bonus=0.2) == fused  # no route word: no change


def test_without_clauses_choose_between_with_and_without_siblings():
    from codefinder.indexer.text import analyze
    from codefinder.search.rerank import apply_negation_agreement, negation_facts

    without = "Hospital bed, semi-electric, without side rails, with mattress"
    with_rails = "Hospital bed, semi-electric, with any type side rails, with mattress"
    assert negation_facts(without, analyze)[0] == {"side", "rail"}
    assert negation_facts("Needle with or without catheter", analyze)[0] == frozenset()  # "or without": neither
    records = [negation_facts(without, analyze), negation_facts(with_rails, analyze)]
    fused = {0: 1.0, 1: 0.98}
    wanted = negation_facts("semi electric hospital bed with side rails", analyze)
    reranked = apply_negation_agreement(fused, wanted, records.__getitem__, penalty=0.1)
    assert max(reranked, key=reranked.get) == 1
    assert negation_facts("Injection, epoetin alfa, (for non-esrd use)", analyze)[0] == {"esrd"}
    assert negation_facts("hydrocolloid dressing 4x4 no border", analyze)[0] == {"border"}
    assert negation_facts("Continuous passive motion device for use other than knee", analyze)[0] == {"knee"}
    assert negation_facts("Wheelchair accessory, no. 2 footplates", analyze)[0] == frozenset()
    both = "Magnetic resonance angiography without contrast followed by with contrast"
    assert negation_facts(both, analyze)[0] == frozenset()
    assert negation_facts("mra without followed by with contrast", analyze)[0] == frozenset()  # "W-W/O CON"
    assert negation_facts("non-adjunctive cgm receiver", analyze) == ({"adjunct"}, {"cgm", "receiv"})
    unwanted = negation_facts("hospital bed without rails", analyze)
    assert apply_negation_agreement({0: 0.98, 1: 1.0}, unwanted, records.__getitem__, penalty=0.1)[1] < 0.98
    assert negation_facts("Madeup formula, excludes inherited disease of metabolism", analyze)[0] == {
        "inherit",
        "diseas",
        "metabol",
    }
    # "other than X or Y" negates both
    assert negation_facts("Madeup defibrillator, other than single or dual chamber", analyze)[0] == {
        "singl",
        "dual",
        "chamber",
    }


def test_the_words_typed_decide_against_an_expansion_naming_both_siblings():
    from codefinder.indexer.text import analyze
    from codefinder.search.rerank import negations_conflict, query_negation_facts

    # an expansion of "madeup prosthesis" naming both siblings must not cancel the "inflatable" typed
    expanded = "madeup prosthesis inflatable prosthesis madeup inflatable non-inflatable"
    said = query_negation_facts("madeup prosthesis inflatable", expanded, analyze)
    assert "inflat" in said[1] and "inflat" not in said[0]
    non_inflatable = (frozenset({"inflat"}), frozenset({"madeup", "prosthesi"}))
    assert negations_conflict(non_inflatable, said)
    # where the words are silent, what an expansion states still counts ("madeupbrand": a covered stent)
    brand = query_negation_facts("madeupbrand stent", "madeupbrand stent covered", analyze)
    assert "cover" in brand[1]


def test_unstated_qualifiers_demote_the_processed_sibling():
    from codefinder.indexer.text import analyze
    from codefinder.search.rerank import UNSTATED_QUALIFIERS, apply_qualifier_agreement

    qualifier_stems = frozenset(analyze(UNSTATED_QUALIFIERS))
    descriptions = ["Red blood cells, leukocytes reduced, irradiated, each unit", "Red blood cells, leukocytes reduced"]
    qualifiers = [frozenset(analyze(text)) & qualifier_stems for text in descriptions]
    fused = {0: 1.0, 1: 0.97}
    plain = apply_qualifier_agreement(fused, frozenset(analyze("leukoreduced red cells")), qualifiers.__getitem__, 0.1)
    assert max(plain, key=plain.get) == 1
    asked = apply_qualifier_agreement(fused, frozenset(analyze("irradiated red cells")), qualifiers.__getitem__, 0.1)
    assert asked == fused  # the query states it: no change


def test_an_unstated_esrd_means_the_non_esrd_sibling_and_dialysis_states_it():
    from codefinder.indexer.text import analyze
    from codefinder.search.rerank import (
        UNSTATED_QUALIFIERS,
        apply_qualifier_agreement,
        negation_facts,
        stated_qualifiers,
    )

    qualifier_stems = frozenset(analyze(UNSTATED_QUALIFIERS))
    descriptions = [
        "Injection, madeupatroban, for esrd on dialysis, 1 mg",
        "Injection, madeupatroban, non-esrd use, 1 mg",
    ]
    # what a record says positively: "non-esrd" does not state esrd
    qualifiers = [(frozenset(analyze(t)) & qualifier_stems) - negation_facts(t, analyze)[0] for t in descriptions]
    assert qualifiers == [{"esrd"}, frozenset()]
    fused = {0: 1.0, 1: 0.97}
    plain = apply_qualifier_agreement(
        fused, stated_qualifiers(frozenset(analyze("madeupatroban 50 mg"))), qualifiers.__getitem__, 0.1
    )
    assert max(plain, key=plain.get) == 1
    dialysis = stated_qualifiers(frozenset(analyze("madeupatroban for dialysis patient")))
    assert "esrd" in dialysis and apply_qualifier_agreement(fused, dialysis, qualifiers.__getitem__, 0.1) == fused


def test_a_strength_per_millilitre_implies_an_injectable():
    from codefinder.search.rerank import concentration_route

    assert concentration_route("MADEUPAZOLE 2MG/ML SOLN") == {"injection"}
    assert concentration_route("MADEUPARIN 10,000 UNITS/ML SOLN") == {"injection"}
    assert concentration_route("MADEUPAZOLE 4 MG/5 ML SOLN") == frozenset()  # oral liquids are per 5 ml
    assert concentration_route("madeupazole 4 mg") == frozenset()


def test_the_hospital_setting_prefers_the_device_category_c_code_to_its_dmepos_sibling():
    from codefinder.search.rerank import apply_hospital_devices, is_opps_device_category

    records = [
        CodeRecord.new("L9990", long_description="Implantation of made-up prosthesis, silicone"),
        CodeRecord.new("C1999", long_description="Prosthesis, made-up (implantable)"),
        CodeRecord.new("C9999", long_description="Injection, made-up drug, 1 mg"),  # a drug C code: no device
    ]
    assert [is_opps_device_category(r) for r in records] == [False, True, False]
    fused = {0: 1.0, 1: 0.95, 2: 0.97}
    hospital = apply_hospital_devices(fused, records, bonus=0.1)
    assert max(hospital, key=hospital.get) == 1 and hospital[2] == fused[2]
    far = apply_hospital_devices({0: 1.0, 1: 0.5}, records, bonus=0.1)
    assert far[1] == 0.5  # only near-top siblings are reordered


def test_calibration_sees_out_of_domain_queries_whose_hits_are_all_wrong():
    from bench.tune import junk_queries

    lexicon = frozenset({"garden", "tonight", "insurance", "weather", "pizza", "mountain"})
    first, again = junk_queries(lexicon, count=20), junk_queries(lexicon, count=20)
    assert [q.query for q in first] == [q.query for q in again]  # seeded: the fit is reproducible
    assert all(q.gold == () and 2 <= len(q.query.split()) <= 3 for q in first)
    assert junk_queries(frozenset()) == []
