"""Batch verify (``verify_many``) answers every pair exactly as the per-pair ``verify`` does, searching each
distinct description once; ``SearchEngine.run_many`` makes the same runs as ``run``."""

from __future__ import annotations

import csv
import datetime as dt
import random
from typing import Any

import pytest

from codefinder.indexer.errors import QueryError
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.loader import load_index
from codefinder.search.verify import verify, verify_many
from tests.conftest import FailingEncoder, FakeEncoder

DESCRIPTIONS = [
    "cpap machine",
    "CPAP  machine",  # normalizes like the one above: searched once, answered for both
    "walker",
    "walker with wheels",
    "rigid pickup walker adjustable",
    "toradol 15 mg injection",
    "ketorolac 30 mg",
    "keytruda",
    "standard wheelchair",
    "wheelchiar",
    "oxygen concentrator 85 percent",
    "screening mammography bilateral",
    "sterile water 10 ml flush",
    "left side knee",
    "volunteer transportation per mile",
    "anchor screw",
    "E0601",
    "e0601 cpap",
    "j1885 toradol",
    "xyzzy plugh",
]
EXTRA_CODES = ["Z9999", " e0601 ", "j9271", "LT"]


def all_pairs(engine: SearchEngine) -> list[tuple[str, str]]:
    codes = [record.code for record in engine.index.records] + EXTRA_CODES
    return [(description, code) for description in DESCRIPTIONS for code in codes]


def as_dicts(results: list[Any]) -> list[dict[str, Any]]:
    return [result.to_dict() for result in results]


@pytest.mark.parametrize("as_of", [None, dt.date(2000, 1, 1), dt.date(2099, 12, 31)])
def test_verify_many_matches_verify_pair_by_pair(engine, as_of):
    pairs = all_pairs(engine)
    random.Random(5).shuffle(pairs)
    fast = verify_many(engine, pairs, as_of)
    assert len(fast) == len(pairs)
    assert as_dicts(fast) == as_dicts([verify(engine, d, c, as_of) for d, c in pairs])
    verdicts = {result.verdict for result in fast}
    assert {"consistent", "suspect", "unknown_code"} <= verdicts


def test_verify_many_matches_without_calibration(built_settings, fake_encoder):
    """Knowledge off: no calibration, so the verdict comes from the ranks (the other branch of consistent)."""
    settings = built_settings.model_copy(update={"use_knowledge": False, "verify_consistent_rank": 2})
    engine = SearchEngine(load_index(settings.index), fake_encoder, settings)
    assert engine.calibration is None
    pairs = all_pairs(engine)
    assert as_dicts(verify_many(engine, pairs)) == as_dicts([verify(engine, d, c) for d, c in pairs])


def test_each_distinct_description_is_searched_and_embedded_once(engine, fake_encoder, monkeypatch):
    searched: list[str] = []
    assemble = engine._assemble

    def counting(query: str, *args: Any) -> Any:
        searched.append(query)
        return assemble(query, *args)

    monkeypatch.setattr(engine, "_assemble", counting)
    pairs = all_pairs(engine)
    before = fake_encoder.texts_encoded
    verify_many(engine, pairs)
    distinct = {" ".join(d.split()) for d in DESCRIPTIONS}
    assert sorted(searched) == sorted(distinct)
    assert fake_encoder.texts_encoded - before == len({engine.rewrite(q).semantic_text for q in distinct})
    searched.clear()
    verify_many(engine, pairs[:50])  # embeddings come from the cache now
    assert fake_encoder.texts_encoded - before == len({engine.rewrite(q).semantic_text for q in distinct})


def test_unknown_codes_are_not_searched_and_empty_descriptions_fail_as_in_verify(engine):
    assert verify_many(engine, []) == []
    unknown = verify_many(engine, [("", "Z9999"), ("walker", "nope")])
    assert [u.verdict for u in unknown] == ["unknown_code", "unknown_code"]
    assert as_dicts(unknown) == as_dicts([verify(engine, "", "Z9999"), verify(engine, "walker", "nope")])
    with pytest.raises(QueryError):
        verify(engine, " \u200b ", "E0601")
    with pytest.raises(QueryError):
        verify_many(engine, [("walker", "E0130"), (" \u200b ", "E0601")])


def test_check_runs_between_searches_and_can_stop_the_batch(engine):
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise TimeoutError("past the deadline")

    pairs = [(description, "E0601") for description in DESCRIPTIONS]
    with pytest.raises(TimeoutError):
        verify_many(engine, pairs, check=check)
    assert len(calls) == 3
    assert len(verify_many(engine, pairs, check=lambda: None)) == len(pairs)


def test_a_failing_encoder_degrades_every_pair_as_verify_does(built_settings):
    engine = SearchEngine(load_index(built_settings.index), FailingEncoder(), built_settings)
    pairs = [(d, c) for d in DESCRIPTIONS[:6] for c in ("E0601", "J1885", "K0001")]
    assert as_dicts(verify_many(engine, pairs)) == as_dicts([verify(engine, d, c) for d, c in pairs])


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_run_many_makes_the_runs_run_makes(engine, mode):
    options = SearchOptions(limit=20, mode=mode, filters=Filters(kind="code"))
    texts = [*DESCRIPTIONS, "walker"]
    runs = dict(engine.run_many(texts, options))
    assert sorted(runs) == list(range(len(texts)))
    for i, text in enumerate(texts):
        single = engine.run(text, options)
        assert runs[i].ordered == single.ordered
        assert runs[i].rankings == single.rankings
        assert runs[i].degraded == single.degraded
        assert runs[i].explain.original_stems == single.explain.original_stems


def test_run_many_embeds_in_batches(engine, fake_encoder):
    before_calls, before_texts = fake_encoder.calls, fake_encoder.texts_encoded
    list(engine.run_many(DESCRIPTIONS, SearchOptions(), batch_size=4))
    texts = {engine.rewrite(" ".join(d.split())).semantic_text for d in DESCRIPTIONS}
    assert fake_encoder.texts_encoded - before_texts == len(texts)
    assert fake_encoder.calls - before_calls == -(-len(texts) // 4)


@pytest.mark.integration
def test_verify_many_matches_verify_on_real_dev_pairs(real_context):
    """Real model, real index, dev chargemaster descriptions (each with its code and two others)."""
    settings: Settings = real_context.settings
    engine = real_context.engine()
    with (settings.data_dir / "eval" / "dev_chargemaster.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(11)
    rows = rng.sample(rows, 120)
    codes = [record.code for record in engine.index.records]
    pairs = [(row["description"], code) for row in rows for code in (row["code"], *rng.sample(codes, 2))]
    rng.shuffle(pairs)
    fast = verify_many(engine, pairs)  # embeds the descriptions; verify below reuses the same vectors
    assert as_dicts(fast) == as_dicts([verify(engine, d, c) for d, c in pairs])
    assert {"consistent", "suspect"} <= {result.verdict for result in fast}


def test_fake_encoder_is_batch_invariant():
    """The comparisons above rely on it: a text embeds alike alone or in a batch."""
    encoder = FakeEncoder()
    together = encoder.encode(DESCRIPTIONS)
    for i, text in enumerate(DESCRIPTIONS):
        assert (encoder.encode([text])[0] == together[i]).all()
