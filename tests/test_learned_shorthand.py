"""Shorthand learned from made-up short and long descriptors, and how a query reads it."""

from __future__ import annotations

from codefinder.indexer.knowledge import Knowledge
from codefinder.indexer.learned_shorthand import abbreviates, learn_shorthand
from codefinder.indexer.records import CodeRecord
from codefinder.search.rewrite import QueryRewriter


def record(code: str, short: str, long: str) -> CodeRecord:
    return CodeRecord.new(code, short_description=short, long_description=long)


RECORDS = [
    record("A9101", "Madeup drsg foam", "Madeup dressing, foam, each"),
    record("A9102", "Madeup drsg gel", "Madeup dressing, gel, each"),
    record("A9103", "Madeup rig splint", "Madeup rigid splint, each"),
    record("A9104", "Madeup rig brace", "Madeup rigid brace, each"),
    record("A9105", "Madeup wchr seat", "Madeup wheelchair seat, each"),  # one code only
    record("A9106", "Madeup ca test", "Madeup cancer test, each"),  # two letters
    record("A9107", "Madeup bndg roll", "Madeup bandage, roll, each"),
    record("A9108", "Madeup bndg wrap", "Madeup bandage, wrap, each"),
    record("A9109", "Madeup flt pad", "Madeup felt filter pad, each"),  # "flt" could be either word
    record("A9110", "Madeup flt pad", "Madeup felt filter pad, each"),
]


def test_a_short_word_is_an_abbreviation_of_a_longer_word_with_its_letters_in_order():
    assert abbreviates("drsg", "dressing") and abbreviates("nrostm", "neurostimulator")
    assert not abbreviates("drsg", "drug") and not abbreviates("dressing", "drsg")
    assert not abbreviates("rsg", "dressing")  # the first letter is kept


def test_learned_shorthand_keeps_what_several_codes_agree_on():
    learned = learn_shorthand(RECORDS, english={"rig"}, curated={"bndg"})
    assert learned == {"drsg": "dressing"}
    # "rig" is an English word, "bndg" has a curated row, "wchr" one code, "ca" two letters; "flt" could stand
    # for "felt" or "filter" in both its codes (half a code each: under two codes)
    assert learn_shorthand(RECORDS, english=set(), curated=set())["rig"] == "rigid"


def test_a_query_reads_learned_shorthand_unless_a_curated_row_says_otherwise():
    knowledge = Knowledge(shorthand={"bndg": ["bandage"]}, learned_shorthand={"drsg": "dressing", "bndg": "bond"})
    vocabulary = {"dressing": 20, "foam": 10, "bandage": 5, "drsg": 2, "bndg": 2}
    result = QueryRewriter(knowledge, vocabulary).rewrite("drsg foam bndg")
    assert [(e.source, e.target, e.kind) for e in result.expansions] == [
        ("drsg", "dressing", "learned"),
        ("bndg", "bandage", "shorthand"),
    ]
    assert "dressing" in result.semantic_text.split() and "bond" not in result.semantic_text


def test_the_snapshot_keeps_learned_shorthand():
    knowledge = Knowledge(learned_shorthand={"drsg": "dressing"})
    assert Knowledge.from_json(knowledge.to_json()).learned_shorthand == {"drsg": "dressing"}
    older = {key: value for key, value in knowledge.to_json().items() if key != "learned_shorthand"}
    assert Knowledge.from_json(older).learned_shorthand == {}  # an index built before it
