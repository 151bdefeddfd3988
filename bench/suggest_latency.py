"""In-process latency of ``suggest`` on 2,000-character notes (target: p50 ≤ 40 ms, p99 ≤ 120 ms).

    python -m bench.suggest_latency [--n 200] [--print]   # writes its table into docs/suggest.md

The notes are made from data/eval/notes.csv: a sentence naming an item (a single-item sentence or a
sentence of a multi-item note), then two that name nothing billable, and so on until the next sentence
would pass 2,000 characters — about one item per 140 characters, the density of the issue's 428-character
visit note with three items; each note is a different shuffle. The engine runs with no query-embedding cache
(``query_embedding_cache=0``, as the HTTP benchmark does), so every mention is really embedded; after
10 warm-up notes each note is timed once with ``time.perf_counter_ns``. Reading the text alone
(segmentation, mentions, attributes — no search) is timed too.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time

from threadpoolctl import threadpool_limits

from bench.common import Row, Section, machine, percentiles_text, print_section, summarize_ns
from bench.latency import fresh_engine
from bench.suggest_eval import read_notes, write_block
from codefinder.api.context import AppContext
from codefinder.indexer.knowledge import Knowledge
from codefinder.indexer.settings import Settings
from codefinder.search.engine import BATCH_SIZE
from codefinder.search.suggest.lexicon import MentionLexicon
from codefinder.search.suggest.mentions import find_mentions
from codefinder.search.suggest.pipeline import mention_query, suggest
from codefinder.search.suggest.segments import segments

LATENCY_BEGIN = "<!-- suggest_latency:begin -->"
LATENCY_END = "<!-- suggest_latency:end -->"
NOTE_CHARS = 2000
WARMUP = 10
SEED = 16
PLAIN_PER_ITEM = 3
TARGETS = (("p50_ms", 40.0), ("p99_ms", 120.0))


def sentences() -> tuple[list[str], list[str]]:
    """The note set's sentences: those naming items (single-item rows, multi-item notes' sentences) and
    those naming nothing billable."""
    items, plain = [], []
    for row in read_notes():
        if row.kind == "note":
            items += [part.strip() for part in re.split(r"(?<=[.])\s+|\n", row.text) if part.strip()]
        elif row.kind == "sentence":
            items.append(row.text)
        else:
            plain.append(row.text)
    return items, plain


def notes(count: int, seed: int = SEED) -> list[str]:
    """``count`` notes of at most NOTE_CHARS characters: an item sentence, then PLAIN_PER_ITEM sentences
    naming nothing billable, over and over, from fresh shuffles."""
    rng = random.Random(seed)
    items, plain = sentences()
    made = []
    for _ in range(count):
        rng.shuffle(items)
        rng.shuffle(plain)
        stream = (
            sentence
            for n, item in enumerate(items)
            for sentence in (item, *(plain[(n * PLAIN_PER_ITEM + k) % len(plain)] for k in range(PLAIN_PER_ITEM)))
        )
        parts: list[str] = []
        length = 0
        for sentence in stream:
            if length + len(sentence) + 1 > NOTE_CHARS:
                break
            parts.append(sentence)
            length += len(sentence) + 1
        made.append(" ".join(parts))
    return made


def run(n: int = 200, settings: Settings | None = None) -> Section:
    started = time.perf_counter()
    settings = (settings or Settings()).model_copy(update={"query_embedding_cache": 0})
    if settings.blas_threads > 0:  # as open_engine and the server hold it
        threadpool_limits(settings.blas_threads, user_api="blas")
    context = AppContext(settings=settings)
    engine = fresh_engine(context)
    _ = engine.mention_lexicon  # built off the startup path; waited for here, not in the first note
    texts = notes(WARMUP + n)
    for text in texts[:WARMUP]:
        suggest(engine, text)
    measured = texts[WARMUP:]
    items: list[int] = []

    def timed(text: str) -> None:
        items.append(len(suggest(engine, text).items))

    samples, cpu = [], []
    for text in measured:
        begun, begun_cpu = time.perf_counter_ns(), time.process_time_ns()
        timed(text)
        samples.append(time.perf_counter_ns() - begun)
        cpu.append(time.process_time_ns() - begun_cpu)
    stats = summarize_ns(samples)
    met = all(stats[stat] <= limit for stat, limit in TARGETS)
    section = Section("suggest", "suggest on 2,000-character notes, in-process (one thread)")
    section.rows.append(
        Row(
            "`suggest`, 2,000-character note, every mention embedded",
            percentiles_text(stats),
            ", ".join(f"{stat.split('_')[0]} ≤ {limit:g} ms" for stat, limit in TARGETS),
            met,
            stats,
        )
    )
    section.rows.append(
        Row(
            "the same, CPU time of the process (both threads; less sensitive to other load on the machine)",
            percentiles_text(summarize_ns(cpu)),
        )
    )
    lexicon, knowledge = engine.mention_lexicon, engine.index.knowledge
    reading, searching, mentions = [], [], []
    for text in measured:
        begun = time.perf_counter_ns()
        found = [m for segment in segments(text) for m in find_mentions(text, segment, lexicon, knowledge)]
        reading.append(time.perf_counter_ns() - begun)
        mentions.append(len(found))
    section.rows.append(
        Row("reading the note alone (segments, mentions; no search)", percentiles_text(summarize_ns(reading)))
    )
    # The model's share: the same notes' mention texts (as the engine rewrites them) embedded in the engine's
    # batches, nothing searched; and the whole of suggest with no model call at all (keyword retrieval).
    embedding = []
    for text in measured:
        semantic = sorted({engine.rewrite(q).semantic_text for q in _queries(text, lexicon, knowledge)}, key=len)
        begun = time.perf_counter_ns()
        engine.encoder.encode(semantic, batch_size=BATCH_SIZE)
        embedding.append(time.perf_counter_ns() - begun)
    section.rows.append(
        Row(
            f"the model alone: the mentions' texts embedded (batches of {BATCH_SIZE}), nothing searched",
            percentiles_text(summarize_ns(embedding)),
        )
    )
    keyword = []
    for text in measured:
        begun = time.perf_counter_ns()
        suggest(engine, text, mode="keyword")
        keyword.append(time.perf_counter_ns() - begun)
    section.rows.append(
        Row(
            "`suggest` with keyword retrieval only (no model call; less accurate: docs/suggest.md)",
            percentiles_text(summarize_ns(keyword)),
        )
    )
    # The engine's own share, on a fresh engine: the same notes' mentions through search_many, nothing else.
    engine = fresh_engine(context)
    for text in texts[:WARMUP]:
        list(engine.search_many(_queries(text, lexicon, knowledge)))
    for text in measured:
        queries = _queries(text, lexicon, knowledge)
        begun = time.perf_counter_ns()
        list(engine.search_many(queries))
        searching.append(time.perf_counter_ns() - begun)
    section.rows.append(
        Row(
            "the engine alone: `search_many` over the same mentions' queries", percentiles_text(summarize_ns(searching))
        )
    )
    section.notes.append(
        f"{len(measured)} notes of {statistics.mean(len(t) for t in measured):.0f} characters on average, "
        f"{statistics.mean(mentions):.1f} mentions searched and {statistics.mean(items):.1f} items reported per "
        f"note; index `{engine.index.build_id}`."
    )
    section.seconds = time.perf_counter() - started
    return section


def _queries(text: str, lexicon: MentionLexicon, knowledge: Knowledge | None) -> list[str]:
    found = [m for segment in segments(text) for m in find_mentions(text, segment, lexicon, knowledge)]
    return [mention_query(text, m) for m in found]


def table(section: Section) -> str:
    lines = ["| what | measured | target | met |", "|---|---|---|:-:|"]
    for row in section.rows:
        met = "—" if row.met is None else ("yes" if row.met else "no")
        lines.append(f"| {row.what} | {row.measured} | {row.target} | {met} |")
    return "\n".join([*lines, "", *section.notes, f"Measured {section.measured_at} on {machine_line()}."])


def machine_line() -> str:
    facts = machine()
    return f"{facts.get('cpu', 'unknown CPU')}, {facts.get('cores', '?')} cores, load average {os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="notes timed")
    parser.add_argument("--print", dest="print_only", action="store_true", help="print only, docs/suggest.md untouched")
    args = parser.parse_args()
    section = run(args.n)
    print_section(section)
    if not args.print_only:
        write_block(table(section), LATENCY_BEGIN, LATENCY_END)


if __name__ == "__main__":
    main()
