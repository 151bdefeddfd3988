"""Typo correction: hand-picked cases, and a brute-force reference check on a generated vocabulary."""

from __future__ import annotations

import random

import pytest

from codefinder.search.spelling import Correction, SpellCorrector, osa_distance

VOCABULARY = {
    "wheelchair": 900,
    "oxygen": 800,
    "concentrator": 300,
    "portable": 400,
    "catheter": 700,
    "nebulizer": 150,
    "brace": 500,
    "trace": 20,
    "sling": 60,
    "sting": 60,
    "mask2": 100,
    "e0601": 10,
    "oxy": 5,
}


@pytest.fixture(scope="module")
def corrector() -> SpellCorrector:
    return SpellCorrector(VOCABULARY)


def reference_osa(a: str, b: str) -> int:
    """Textbook full-table optimal string alignment, written independently of the module's banded one."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        table[i][0] = i
    for j in range(len(b) + 1):
        table[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[len(a)][len(b)]


@pytest.mark.parametrize(
    ("typed", "expected", "distance"),
    [
        ("wheelchiar", "wheelchair", 1),  # transposition
        ("oxigen", "oxygen", 1),  # substitution
        ("concentrater", "concentrator", 1),  # substitution
        ("cathetter", "catheter", 1),  # insertion
        ("cathter", "catheter", 1),  # deletion
        ("nebuliser", "nebulizer", 1),  # British spelling, only the US one is known
        ("WheelChiar", "wheelchair", 1),  # case is ignored
        ("wheellchiar", "wheelchair", 2),  # extra letter plus transposition
        ("portabel", "portable", 1),
    ],
)
def test_corrects_common_typos(corrector: SpellCorrector, typed: str, expected: str, distance: int) -> None:
    assert corrector.correct_word(typed) == Correction(typed.lower(), expected, distance)


def test_tie_goes_to_the_more_frequent_word(corrector: SpellCorrector) -> None:
    # "crace" is one substitution from both "brace" (500) and "trace" (20).
    assert corrector.correct_word("crace") == Correction("crace", "brace", 1)


def test_tie_at_equal_frequency_goes_to_the_alphabetically_first(corrector: SpellCorrector) -> None:
    assert corrector.correct_word("sxing") == Correction("sxing", "sling", 1)


def test_known_words_are_never_corrected(corrector: SpellCorrector) -> None:
    # "trace" is known, though the far more frequent "brace" is one edit away.
    assert "trace" in corrector
    assert "Trace" in corrector
    assert corrector.correct_word("trace") is None
    assert corrector.correct_word("TRACE") is None


@pytest.mark.parametrize("word", ["oxi", "oxg", "e0602", "15mm", "mask3", "x-ray", "o2", "", "wheel chiar"])
def test_short_and_non_alphabetic_words_are_left_alone(corrector: SpellCorrector, word: str) -> None:
    assert corrector.correct_word(word) is None


def test_words_with_digits_are_not_candidates(corrector: SpellCorrector) -> None:
    # "maskz" is one edit from "mask2", but a word is never turned into a code or a dose.
    assert corrector.correct_word("maskz") is None


@pytest.mark.parametrize("word", ["zzzzzzzz", "wheelxxxxx", "brxcy", "qqqq"])
def test_too_far_gives_none(corrector: SpellCorrector, word: str) -> None:
    # "brxcy" is 2 from "brace", but five-letter words get only one edit.
    assert corrector.correct_word(word) is None


def test_max_distance_and_min_length_are_honoured() -> None:
    strict = SpellCorrector(VOCABULARY, max_distance=1)
    assert strict.correct_word("wheellchiar") is None
    assert strict.correct_word("wheelchiar") == Correction("wheelchiar", "wheelchair", 1)
    assert SpellCorrector(VOCABULARY, max_distance=0).correct_word("wheelchiar") is None
    assert SpellCorrector(VOCABULARY, min_length=7).correct_word("oxigen") is None
    with pytest.raises(ValueError, match="max_distance"):
        SpellCorrector(VOCABULARY, max_distance=3)


def test_an_f_for_a_ph_is_found_though_two_edits_away() -> None:
    corrector = SpellCorrector({"madeuphin": 3, "madeup": 1})
    assert corrector.correct_word("madeufin") == Correction("madeufin", "madeuphin", 2)
    assert [c.corrected for c in corrector.candidates("madeufin")] == ["madeuphin"]
    assert SpellCorrector({"madeuphin": 3}, max_distance=1).correct_word("madeufin") is None


def test_vocabulary_is_lower_cased_and_merged() -> None:
    corrector = SpellCorrector({"Brace": 5, "brace": 5, "trace": 8})
    assert "BRACE" in corrector
    assert len(corrector) == 2
    assert corrector.correct_word("crace") == Correction("crace", "brace", 1)  # 10 beats 8


def test_correct_returns_words_in_order_and_the_corrections(corrector: SpellCorrector) -> None:
    words, corrections = corrector.correct(["portable", "Oxigen", "concentrater", "15mm", "e0601", "zzzzzzzz"])
    assert words == ["portable", "oxygen", "concentrator", "15mm", "e0601", "zzzzzzzz"]
    assert corrections == [
        Correction("oxigen", "oxygen", 1),
        Correction("concentrater", "concentrator", 1),
    ]
    assert corrector.correct([]) == ([], [])


def test_osa_distance_matches_the_reference() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        limit = rng.randint(0, 3)
        assert osa_distance(a, b, limit) == min(reference_osa(a, b), limit + 1), (a, b, limit)


ALPHABET = "aeinorst"  # few letters, so generated words have many near neighbours


def _misspell(rng: random.Random, word: str) -> str:
    """One random edit of any kind, or an extra letter plus one more edit (the distance-2 kinds looked up)."""
    kinds = [rng.choice("istd")] if rng.random() < 0.6 else ["i", rng.choice("istd")]
    for kind in kinds:
        i = rng.randrange(len(word))
        if kind == "i":
            word = word[:i] + rng.choice(ALPHABET) + word[i:]
        elif kind == "s":
            word = word[:i] + rng.choice(ALPHABET) + word[i + 1 :]
        elif kind == "t" and i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif kind == "d" and len(word) > 4:
            word = word[:i] + word[i + 1 :]
    return word


def test_choices_match_a_brute_force_search() -> None:
    rng = random.Random(20240601)
    vocabulary: dict[str, int] = {}
    while len(vocabulary) < 600:
        word = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(4, 9)))
        vocabulary[word] = rng.randint(1, 5)  # few values, so frequency ties happen too
    corrector = SpellCorrector(vocabulary)
    words = sorted(vocabulary)

    found_at = {1: 0, 2: 0}
    for _ in range(300):
        typed = _misspell(rng, rng.choice(words))
        result = corrector.correct_word(typed)
        if typed in vocabulary:
            assert result is None
            continue
        allowed = corrector.allowed_distance(len(typed))
        # Words differing in length by more than 2 are more than 2 edits away: skipped for speed only.
        ranked = sorted(
            (reference_osa(typed, word), -vocabulary[word], word) for word in words if abs(len(word) - len(typed)) <= 2
        )
        best = ranked[0] if ranked else None
        if best is None or best[0] > allowed:
            assert result is None, typed
            continue
        assert result is not None, typed
        assert result.distance == best[0] == reference_osa(typed, result.corrected), typed
        if best[0] == 1:  # distance 1 is searched exhaustively, so ties must resolve exactly as brute force
            assert result.corrected == best[2], typed
        found_at[best[0]] += 1
    assert found_at[1] > 100 and found_at[2] > 20, found_at
