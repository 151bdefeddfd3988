"""Searching a fixture index with the fake encoder: codes, prefixes, filters, explanations, hostile text."""

from __future__ import annotations

import datetime as dt

import pytest

from codefinder.indexer.errors import QueryError
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.loader import load_index
from tests.conftest import FailingEncoder


def codes(response):
    return [hit.code for hit in response.hits]


@pytest.mark.parametrize("query", ["E0601", "e0601", " E0601 "])
def test_exact_code_comes_first(engine, query):
    response = engine.search(query)
    assert codes(response)[0] == "E0601"
    assert response.hits[0].match == "code"


def test_code_prefix_returns_codes_in_order_ahead_of_text(engine):
    response = engine.search("E01", SearchOptions(limit=5))
    assert codes(response)[:2] == ["E0130", "E0141"]
    assert all(hit.match == "code" for hit in response.hits[:2])
    assert codes(engine.search("j9"))[:1] == ["J9271"]


def test_code_word_inside_text_query(engine):
    assert codes(engine.search("K0001 wheelchair"))[0] == "K0001"


def test_keyword_finds_words_in_any_order(engine):
    response = engine.search("wheelchair standard", SearchOptions(mode="keyword"))
    assert codes(response)[0] == "K0001"
    assert response.hits[0].ranks == {"keyword": 1}
    assert response.hits[0].matched_terms == ["standard", "wheelchair"]


def test_or_semantics_with_coordination(engine):
    response = engine.search("walker wheeled", SearchOptions(mode="keyword"))
    assert codes(response)[:2] == ["E0141", "E0130"]  # both words beat one word


def test_synonym_match_is_reported(engine):
    response = engine.search("keytruda")
    top = response.hits[0]
    assert top.code == "J9271"
    assert "keytruda" in top.matched_synonyms
    assert top.matched_terms == ["keytruda", "pembrolizumab"]  # the brand, and the generic it expands to
    assert {"from": "keytruda", "to": "pembrolizumab", "kind": "brand"} in top.matched_expansions


def test_hybrid_hits_carry_ranks_from_both_retrievers(engine):
    response = engine.search("oxygen concentrator")
    top = response.hits[0]
    assert top.code == "E1390"
    assert set(top.ranks) == {"keyword", "semantic"}
    assert top.ranks["keyword"] == 1
    assert response.index_version == engine.index.build_id


def test_every_hit_field_is_present(engine):
    hit = engine.search("cpap").hits[0].to_dict()
    for field in (
        "code",
        "system",
        "level",
        "level_label",
        "kind",
        "section",
        "section_name",
        "long_description",
        "short_description",
        "status",
        "add_date",
        "effective_date",
        "termination_date",
        "score",
        "ranks",
        "matched_terms",
        "matched_synonyms",
    ):
        assert field in hit
    assert hit["code"] == "E0601" and hit["section"] == "E" and hit["level_label"] == "HCPCS Level II"


def test_terminated_codes_excluded_unless_asked(engine):
    assert "G0202" not in codes(engine.search("screening mammography"))
    with_terminated = engine.search("screening mammography", SearchOptions(filters=Filters(include_terminated=True)))
    assert codes(with_terminated)[0] == "G0202"
    assert with_terminated.hits[0].status == "terminated"
    back_then = Filters(as_of=dt.date(2010, 1, 1))
    hit = engine.search("screening mammography", SearchOptions(filters=back_then)).hits[0]
    assert hit.code == "G0202" and hit.status == "active"


def test_filters_section_kind_level_system(engine):
    only_e = engine.search("wheelchair walker", SearchOptions(filters=Filters.checked(section="e")))
    assert codes(only_e) and all(code.startswith("E") for code in codes(only_e))
    modifiers = engine.search("left side", SearchOptions(filters=Filters.checked(kind="modifier")))
    assert codes(modifiers)[0] == "LT" and all(hit.kind == "modifier" for hit in modifiers.hits)
    level = engine.search("left side", SearchOptions(filters=Filters.checked(level="hcpcs-2")))
    assert "LT" not in codes(level)
    assert engine.search("wheelchair", SearchOptions(filters=Filters.checked(system="cpt"))).hits == []
    prefix = engine.search("E0", SearchOptions(filters=Filters.checked(section="K")))
    assert all(code.startswith("K") for code in codes(prefix))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"system": "ICD"}, "unknown system"),
        ({"level": "zzz"}, "unknown level"),
        ({"section": "EE"}, "one letter"),
        ({"kind": "thing"}, "kind must be"),
    ],
)
def test_bad_filter_values(kwargs, message):
    with pytest.raises(QueryError, match=message):
        Filters.checked(**kwargs)


def test_modes_and_paging(engine):
    keyword = engine.search("walker", SearchOptions(mode="keyword", limit=1))
    assert len(keyword.hits) == 1 and keyword.total >= 2
    second = engine.search("walker", SearchOptions(mode="keyword", limit=1, offset=1))
    assert codes(second) != codes(keyword)
    semantic = engine.search("walker", SearchOptions(mode="semantic"))
    assert all(set(hit.ranks) == {"semantic"} for hit in semantic.hits)
    with pytest.raises(QueryError, match="mode"):
        engine.search("walker", SearchOptions(mode="magic"))


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01", "\u200b"])
def test_empty_queries_are_query_errors(engine, query):
    with pytest.raises(QueryError, match="empty"):
        engine.search(query)


@pytest.mark.parametrize(
    "query",
    [
        "field:x",
        "long:cpap",
        "*",
        "wheel*",
        '"unterminated',
        "(((",
        ")))",
        "a AND OR NOT b",
        "~2 ^3",
        "\\",
        "\U0001f600 emoji",
        "כיסא גלגלים",
        "\ud800 lone surrogate",
        "x" * 5000,
        "(" * 10_000,
        "E0601 OR 1=1; --",
    ],
)
def test_hostile_text_never_raises(engine, query):
    """No exception, and a well-formed answer: every hit a real code, ranked, at most ``total`` of them."""
    response = engine.search(query)
    assert len(response.hits) <= min(response.total, 10)
    assert all(engine.lookup(hit.code) is not None for hit in response.hits)
    assert [hit.score for hit in response.hits] == sorted((hit.score for hit in response.hits), reverse=True)


def test_semantic_failure_degrades_to_keyword(built_settings):
    engine = SearchEngine(load_index(built_settings.index), FailingEncoder(), built_settings)
    response = engine.search("standard wheelchair")
    assert response.degraded == ["semantic"]
    assert codes(response)[0] == "K0001"


def test_numpy_vector_search_matches_faiss(engine, built_settings, fake_encoder):
    """The numpy backend (default) and FAISS's flat inner-product index rank alike."""
    from codefinder.search.vector import VectorRetriever

    numpy_side = VectorRetriever(engine.index, "numpy")
    faiss_side = VectorRetriever(engine.index, "faiss")
    for text in ("standard wheelchair", "oxygen", "left side of the body", "injection"):
        vector = fake_encoder.encode([text])[0]
        every = len(engine.index.records)
        ours = numpy_side.search(vector, every)
        reference = faiss_side.search(vector, every)
        assert [score for _, score in ours] == pytest.approx([score for _, score in reference], abs=1e-4)
        assert {row for row, _ in ours} == {row for row, _ in reference}
    mask = engine._columns.mask(Filters.checked(section="E"), dt.date.today())
    vector = fake_encoder.encode(["walker"])[0]
    ours = numpy_side.search(vector, 20, mask)
    reference = faiss_side.search(vector, 20, mask)
    assert sorted(row for row, _ in ours) == sorted(row for row, _ in reference)
    assert all(engine.index.records[row].section == "E" for row, _ in ours)


def test_hospital_setting_puts_a_near_top_device_c_code_before_its_dmepos_siblings():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.rerank import apply_hospital_devices

    records = [CodeRecord.new(code) for code in ("L8600", "L8031", "C1789", "J9271", "C1713")]
    fused = {0: 0.100, 1: 0.091, 2: 0.090, 3: 0.050, 4: 0.040}  # C1713 is far from the top: left alone
    lifted = apply_hospital_devices(fused, records, 0.1)
    assert sorted(lifted, key=lifted.get, reverse=True)[:3] == [2, 0, 1]
    assert lifted[4] == fused[4] and lifted[3] == fused[3]
    no_device = {0: 0.1, 1: 0.09}
    assert apply_hospital_devices(no_device, records, 0.1) == no_device
    assert apply_hospital_devices(fused, records, 0.0) == fused


def test_quality_reporting_and_private_payer_codes_are_told_by_what_they_are():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.code_sets import is_private_payer_code, is_quality_reporting

    assert is_quality_reporting(CodeRecord.new("G8845", opps_status_indicator="M"))
    assert is_quality_reporting(CodeRecord.new("M1277"))  # a MIPS quality code Addendum B may not list
    assert is_quality_reporting(CodeRecord.new("3008F"))  # CPT Category II
    assert not is_quality_reporting(CodeRecord.new("G0328", opps_status_indicator="A"))
    assert not is_quality_reporting(CodeRecord.new("M0201"))  # billable M code, no status M
    assert not is_quality_reporting(CodeRecord.new("J7345", opps_status_indicator="M"))  # a DME MAC drug bills
    assert not is_quality_reporting(CodeRecord.new("RR"))
    assert is_private_payer_code(CodeRecord.new("S0028"))
    assert not is_private_payer_code(CodeRecord.new("J1308"))


def test_s_codes_and_reporting_codes_give_way_to_the_codes_of_like_score():
    from codefinder.indexer.records import CodeRecord
    from codefinder.search.code_sets import is_private_payer_code, is_quality_reporting, rows_where
    from codefinder.search.rerank import weigh_rows

    records = [CodeRecord.new("S0028"), CodeRecord.new("J1308"), CodeRecord.new("G8845", opps_status_indicator="M")]
    private_payer, reporting = rows_where(records, is_private_payer_code), rows_where(records, is_quality_reporting)
    assert (private_payer, reporting) == ({0}, {2})
    fused = {0: 0.100, 1: 0.095, 2: 0.099}
    assert weigh_rows(fused, private_payer, 0.9) == {0: pytest.approx(0.090), 1: 0.095, 2: 0.099}
    assert weigh_rows(fused, reporting, 0.9) == {0: 0.100, 1: 0.095, 2: pytest.approx(0.0891)}
    assert weigh_rows(fused, private_payer, 1.0) == weigh_rows(fused, frozenset({7}), 0.5) == fused


def test_a_code_stating_only_another_route_gives_way():
    from codefinder.search.rerank import apply_route_conflict

    routes = {0: frozenset({"injection"}), 1: frozenset({"oral"}), 2: frozenset(), 3: frozenset({"injection"})}
    fused = {0: 0.10, 1: 0.09, 2: 0.095, 3: 0.01}
    moved = apply_route_conflict(fused, frozenset({"oral"}), routes.__getitem__, 0.2)
    assert moved[0] == pytest.approx(0.08) and moved[1] == fused[1] and moved[2] == fused[2]
    assert moved[3] == fused[3]  # far from the top: left alone
    assert apply_route_conflict(fused, frozenset(), routes.__getitem__, 0.2) == fused


def test_the_kind_of_code_a_coder_asks_for():
    from codefinder.search.asked_kind import NOTHING_ASKED, asked_kind

    j = asked_kind(["j", "code", "for", "zofran"])
    assert (j.section, j.modifier, j.spent) == ("J", False, frozenset({0, 1}))
    assert asked_kind(["jcode", "ondansetron"]).section == "J"
    assert asked_kind(["g-codes", "wellness"]).section == "G"
    rental = asked_kind(["rental", "modifier"])
    assert (rental.section, rental.modifier, rental.spent) == (None, True, frozenset({1}))
    assert asked_kind(["vitamin", "d", "code"]) == NOTHING_ASKED  # D is not a Level II section here
    assert asked_kind(["size", "l", "brace"]) == NOTHING_ASKED  # a lone letter is a size
    assert asked_kind(["modifier"]) == asked_kind(["modifier"]) and not asked_kind(["modifier"]).spent


def test_a_modifier_named_beside_the_word_modifier_is_an_exact_code():
    from codefinder.search.query import code_intent

    assert code_intent("KX modifier").exact == ("KX",)
    assert code_intent("modifier rt, lt modifier").exact == ("RT", "LT")
    assert code_intent("modifier for right side").exact == ()  # "for" is no code, nor is "to" or "of"
    assert code_intent("E0130-RR").exact == ("E0130",)
    assert code_intent("KX").exact == ("KX",) and code_intent("kx walker").exact == ()


def test_a_benefit_category_beside_an_item_weighs_like_packaging():
    from codefinder.search.rewrite import category_words

    assert category_words(["dme", "order", "rolling", "walker"], frozenset()) == {"dme"}
    assert category_words(["dme"], frozenset()) == set()  # alone it is what is asked for
    assert category_words(["dme", "miscellaneous"], frozenset()) == set()  # E1399
    assert category_words(["miscellaneous", "dme", "item", "not", "elsewhere", "classified"], frozenset()) == set()
    assert category_words(["dme", "hchg", "bed"], frozenset({"hchg"})) == {"dme"}


def test_a_code_of_another_drug_gives_way_to_the_drug_named():
    from codefinder.search.drug_names import DrugNames, apply_other_drug

    names = DrugNames(
        drug_rows=frozenset({0, 1, 2, 3}),
        name_stems=frozenset({"filgrastim", "lispro"}),
        drug_stems=frozenset({"filgrastim", "lispro", "insulin", "calcitriol"}),
    )
    stems = {
        0: frozenset({"calcitriol", "mcg"}),
        1: frozenset({"filgrastim"}),
        2: frozenset({"insulin"}),
        3: frozenset({"calcitriol"}),
        4: frozenset({"pump"}),
    }
    fused = {0: 0.10, 1: 0.09, 4: 0.095, 3: 0.01}
    named = names.named_in(["filgrastim", "300", "mcg"])
    assert named == (frozenset({"filgrastim"}), frozenset({"filgrastim"}))
    moved = apply_other_drug(fused, named, names, stems.__getitem__, 0.2)
    assert moved[0] == pytest.approx(0.08) and moved[1] == fused[1]
    assert moved[4] == fused[4]  # not a drug code: left alone
    assert moved[3] == fused[3]  # far from the top: left alone
    # "insulin lispro": the code of every insulin shares "insulin", so it is the same drug
    lispro = names.named_in(["insulin", "lispro"])
    assert apply_other_drug({2: 0.10, 1: 0.09}, lispro, names, stems.__getitem__, 0.2) == {2: 0.10, 1: 0.09}
    # no near-top code names the query's drug: nothing says the others are another drug
    assert apply_other_drug({0: 0.10, 2: 0.09}, named, names, stems.__getitem__, 0.2) == {0: 0.10, 2: 0.09}
    assert apply_other_drug(fused, names.named_in(["walker"]), names, stems.__getitem__, 0.2) == fused


def test_a_shared_word_does_not_make_another_salt_the_same_drug():
    from codefinder.search.drug_names import DrugNames, other_drug_rows

    names = DrugNames(
        drug_rows=frozenset({0, 1}),
        name_stems=frozenset({"madeupium", "sucros"}),
        drug_stems=frozenset({"madeupium", "sucros", "dextran"}),
    )
    stems = {0: frozenset({"madeupium", "dextran"}), 1: frozenset({"madeupium", "sucros"})}
    named = names.named_in(["madeupium", "sucros", "100", "mg"])
    assert other_drug_rows({0: 0.10, 1: 0.099}, named, names, stems.__getitem__) == {0}
    # with no near-top code naming all the query names, a shared word still makes the same drug
    assert other_drug_rows({0: 0.10}, named, names, stems.__getitem__) == frozenset()


def test_a_dose_chooses_only_between_codes_of_the_drug_named():
    from codefinder.indexer.attributes import parse_attributes, query_attributes
    from codefinder.search.rerank import apply_dose_agreement

    # the query's 100 mg is 2 units of the other drug's "50 mg", 100 of the named drug's "1 mg"
    attributes = {
        0: parse_attributes("Injection, madeupium dextran, 50 mg", {}),
        1: parse_attributes("Injection, madeupium sucrose, 1 mg", {}),
    }
    wanted = query_attributes("madeupium sucrose 100 mg", "madeupium sucrose 100 mg", {})
    fused = {0: 0.10, 1: 0.099}
    assert apply_dose_agreement(fused, wanted, attributes.__getitem__, 0.2)[0] > 0.10  # fewest units
    chosen = apply_dose_agreement(fused, wanted, attributes.__getitem__, 0.2, other_drugs=frozenset({0}))
    assert chosen[0] == 0.10 and chosen[1] > 0.10


def test_shared_rows_of_two_postings_agree_with_numpy():
    import numpy as np

    from codefinder.search.autocomplete import shared_count

    rng = np.random.default_rng(3)
    for _ in range(200):
        first = np.unique(rng.integers(0, 400, rng.integers(0, 60))).astype(np.int32)
        second = np.unique(rng.integers(0, 400, rng.integers(0, 300))).astype(np.int32)
        expected = np.intersect1d(first, second, assume_unique=True).size
        assert shared_count(first, second) == shared_count(second, first) == expected


def test_the_half_precision_prefilter_gives_the_exact_ranking():
    """A corpus big enough to be prefiltered ranks exactly as a full fp32 scan does (an independent
    reference: every score, rounded, ordered by score then row), with and without a mask, ties included."""
    from types import SimpleNamespace

    import numpy as np

    from codefinder.search.vector import MIN_PREFILTERED, SCORE_DECIMALS, VectorRetriever

    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(MIN_PREFILTERED + 500, 48)).astype(np.float32)
    vectors[100:140] = vectors[99]  # exact ties: decided by row
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = SimpleNamespace(records=[None] * len(vectors), vectors=vectors)
    retriever = VectorRetriever(index)  # type: ignore[arg-type]
    assert retriever._coarse is not None

    def reference(query: np.ndarray, depth: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        scores = np.round(vectors @ query, SCORE_DECIMALS)
        rows = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
        order = rows[np.lexsort((rows, -scores[rows]))][:depth]
        return [(int(row), float(scores[row])) for row in order]

    mask = rng.random(len(vectors)) < 0.3
    for n in range(30):
        query = vectors[99] if n == 0 else rng.normal(size=48).astype(np.float32)
        query /= np.linalg.norm(query)
        for depth in (1, 10, 50, 800):
            assert retriever.search(query, depth) == reference(query, depth, None)
            assert retriever.search(query, depth, mask) == reference(query, depth, mask)


def test_a_line_in_capitals_is_read_as_a_hospital_charge_line():
    from codefinder.search.engine import care_setting

    assert care_setting("any", "BREAST IMPLANT SILICONE 450CC") == "hospital"
    assert care_setting("any", "breast implant silicone") == "any"
    assert care_setting("any", "CPAP") == "any"  # one word in capitals is an abbreviation typed alone
    assert care_setting("any", "CATH BALLOON PTA 4MM") == "hospital"
    assert care_setting("hospital", "walker") == "hospital"


def test_an_injection_billed_by_volume_is_a_drug_billed_per_that_volume():
    from codefinder.indexer.attributes import descriptor_attributes
    from codefinder.search.drug_names import is_drug_code

    attributes = descriptor_attributes("Injection, madeupobutrol, 0.1 ml", {})
    assert is_drug_code("Injection, madeupobutrol, 0.1 ml", attributes)
    assert all(a.billing for a in attributes)  # 1 ml is 10 units, not another volume
    supply = descriptor_attributes("Syringe with needle, sterile, 1 cc or less, each", {})
    assert not is_drug_code("Syringe with needle, sterile, 1 cc or less, each", supply)
