"""In-process latency of the engine: lookup, autocomplete, keyword / semantic / hybrid search, verify,
and batch verify throughput (``verify_many``).

    python -m bench.latency [--n 500]      # or python -m bench.run --only latency

Each kind gets a fresh engine (fresh query-embedding cache) from one AppContext (the model loads once),
is warmed up with 20 texts that are not measured, then times every measured text once with
``time.perf_counter_ns``: the "uncached" numbers are real embeddings. Semantic and hybrid are then timed
a second time over the same texts ("cached": the embedding comes from the engine's lru_cache).
Batch verify: ``verify_many`` over 1,000 pairs on a fresh engine (nothing embedded yet), a few rounds
on different pairs, median pairs/s: distinct dev descriptions, and QA-style batches where each
description comes with several codes.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable

from bench.common import DevTexts, Row, Section, percentiles_text, print_section, summarize_ns
from codefinder.api.context import AppContext
from codefinder.api.service import settle_heap
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.verify import verify, verify_many

WARMUP = 20
VERIFY_BATCH = 1000
VERIFY_ROUNDS = 3
CODES_PER_DESCRIPTION = 4  # QA-style batches: each description with its code and 3 others of its letter
MAX_AUTOCOMPLETE_CALLS = 4000
AUTOCOMPLETE_TEXTS = 250

# (stat, limit in ms) per kind; met when every listed stat is within its limit.
TARGETS: dict[str, list[tuple[str, float]]] = {
    "lookup": [("p99_ms", 0.2)],
    "autocomplete": [("p50_ms", 1.0)],
    "hybrid": [("p50_ms", 5.0), ("p99_ms", 20.0)],
}
PAIRS_PER_S_TARGET = 500.0


def time_each(items: list, call: Callable) -> list[int]:  # type: ignore[type-arg]
    samples = []
    for item in items:
        started = time.perf_counter_ns()
        call(item)
        samples.append(time.perf_counter_ns() - started)
    return samples


def keystrokes(texts: list[str], limit: int) -> list[str]:
    """The first 1..N characters of each text, as typed keystroke by keystroke."""
    prefixes: list[str] = []
    for text in texts:
        prefixes += [text[:i] for i in range(1, len(text) + 1)]
        if len(prefixes) >= limit:
            break
    return prefixes[:limit]


def target_row(what: str, kind: str, stats: dict[str, float], note: str = "") -> Row:
    targets = TARGETS.get(kind)
    measured = percentiles_text(stats) + (f"; {note}" if note else "")
    if not targets:
        return Row(what, measured, values=stats)
    target = ", ".join(f"{stat.split('_')[0]} ≤ {limit:g} ms" for stat, limit in targets)
    met = all(stats[stat] <= limit for stat, limit in targets)
    return Row(what, measured, target, met, stats)


def run(n: int = 500, settings: Settings | None = None) -> Section:
    started = time.perf_counter()
    settings = settings or Settings()
    dev = DevTexts.load(settings)
    context = AppContext(settings=settings)
    section = Section("latency", "In-process latency (one thread)")

    load_started = time.perf_counter()
    engine = fresh_engine(context)
    load_s = time.perf_counter() - load_started
    encoder = engine.encoder
    section.notes.append(
        f"Index `{engine.index.build_id}` ({len(engine.index.records)} records); encoder "
        f"{type(encoder).__name__} `{encoder.name}`; model + index load {load_s:.1f} s, index alone "
        f"{_reload_seconds(context):.1f} s."
    )

    warm, measured = dev.texts[:WARMUP], dev.texts[WARMUP : WARMUP + n]
    section.notes.append(
        f"Texts: {len(measured)} distinct dev texts (dev chargemaster descriptions and data/eval/queries.csv, "
        f"shuffled), each timed once per kind on a fresh engine (heap settled as the server settles it) after "
        f"{WARMUP} warm-up texts; uncached = "
        "every query really embedded, cached = the same texts again (embedding from the engine's cache)."
    )

    # Code lookup: every dev gold code once.
    for code in dev.codes[:WARMUP]:
        engine.lookup(code)
    stats = summarize_ns(time_each(dev.codes, engine.lookup))
    section.rows.append(target_row("code lookup `engine.lookup(code)`", "lookup", stats))

    # Autocomplete: keystroke-by-keystroke prefixes of dev texts, on a fresh engine (fresh prefix cache).
    engine = fresh_engine(context)
    for text in warm:
        engine.autocomplete(text[:3], 8)
    prefixes = keystrokes(measured[:AUTOCOMPLETE_TEXTS], MAX_AUTOCOMPLETE_CALLS)
    stats = summarize_ns(time_each(prefixes, lambda p: engine.autocomplete(p, 8)))
    section.rows.append(target_row("autocomplete (limit 8), every keystroke", "autocomplete", stats))

    for mode in ("keyword", "semantic", "hybrid"):
        engine = fresh_engine(context)
        options = SearchOptions(mode=mode)
        for text in warm:
            engine.search(text, options)
        stats = summarize_ns(time_each(measured, lambda t, e=engine, o=options: e.search(t, o)))
        label = "" if mode == "keyword" else ", uncached"
        section.rows.append(target_row(f"{mode} search{label}", mode, stats))
        if mode != "keyword":
            cached = summarize_ns(time_each(measured, lambda t, e=engine, o=options: e.search(t, o)))
            section.rows.append(target_row(f"{mode} search, cached embedding", "", cached))

    engine = fresh_engine(context)
    for description, code in dev.pairs[:WARMUP]:
        verify(engine, description, code)
    pairs = dev.pairs[WARMUP : WARMUP + n]
    stats = summarize_ns(time_each(pairs, lambda pair: verify(engine, *pair)))
    section.rows.append(target_row("verify (description, code), uncached", "verify", stats))
    section.rows += verify_many_rows(context, dev)

    section.seconds = time.perf_counter() - started
    return section


def repeated_pairs(
    pairs: list[tuple[str, str]], codes: list[str], n: int, per: int = CODES_PER_DESCRIPTION, seed: int = 5
) -> list[tuple[str, str]]:
    """``n`` pairs over ``n / per`` descriptions, shuffled: each description with its own code and
    ``per - 1`` other codes of the same letter (a QA file checks several lines per description)."""
    rng = random.Random(seed)
    by_letter: dict[str, list[str]] = {}
    for code in codes:
        by_letter.setdefault(code[:1], []).append(code)
    out: list[tuple[str, str]] = []
    for description, code in pairs:
        others = [other for other in by_letter.get(code[:1], []) if other != code]
        if len(others) < per - 1:
            continue
        out += [(description, code), *((description, other) for other in rng.sample(others, per - 1))]
        if len(out) >= n:
            break
    rng.shuffle(out)
    return out[:n]


def verify_many_rows(context: AppContext, dev: DevTexts) -> list[Row]:
    """Median pairs/s of ``verify_many`` over ``VERIFY_BATCH`` pairs, each round on a fresh engine and other pairs."""
    rows = []
    workloads = {
        "distinct descriptions": [dev.pairs[i * VERIFY_BATCH : (i + 1) * VERIFY_BATCH] for i in range(VERIFY_ROUNDS)],
        f"{CODES_PER_DESCRIPTION} codes per description": [
            repeated_pairs(dev.pairs[i * VERIFY_BATCH :], dev.codes, VERIFY_BATCH, seed=i) for i in range(VERIFY_ROUNDS)
        ],
    }
    for label, rounds in workloads.items():
        rates = []
        for pairs in rounds:
            engine = fresh_engine(context)
            started = time.perf_counter()
            verify_many(engine, pairs)
            rates.append(len(pairs) / (time.perf_counter() - started))
        rate = statistics.median(rates)
        values = {"pairs": len(rounds[0]), "rounds": len(rounds), "pairs_per_s": rate, "rounds_pairs_per_s": rates}
        rows.append(
            Row(
                f"`verify_many`, {len(rounds[0])} pairs, {label}, uncached",
                f"{rate:.0f} pairs/s (median of {len(rounds)} rounds: {', '.join(f'{r:.0f}' for r in rates)})",
                f"≥ {PAIRS_PER_S_TARGET:g} pairs/s",
                rate >= PAIRS_PER_S_TARGET,
                values,
            )
        )
    return rows


def fresh_engine(context: AppContext) -> SearchEngine:
    """A new engine with its heap settled as ``codefinder serve`` settles it (``settle_heap``): the engines
    this bench discarded are collected first, not in the middle of the next measurement."""
    gc.unfreeze()
    engine = context.engine()
    settle_heap()
    return engine


def _reload_seconds(context: AppContext) -> float:
    started = time.perf_counter()
    context.engine()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="distinct texts per kind")
    parser.add_argument("--verify-many", action="store_true", help="only the batch verify throughput rows")
    args = parser.parse_args()
    if args.verify_many:
        settings = Settings()
        section = Section("latency", "batch verify")
        section.rows = verify_many_rows(AppContext(settings=settings), DevTexts.load(settings))
    else:
        section = run(args.n)
    print_section(section)


if __name__ == "__main__":
    main()
