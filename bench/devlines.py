"""Search latency on the dev chargemaster lines themselves (longer than the mixed bench texts): hybrid search
in-process, and ``GET /search`` over HTTP against ``codefinder serve``, one request at a time.

    python -m bench.devlines [--n 600]      # or python -m bench.run --only devlines

In-process: a fresh engine (heap settled as the server settles it), 20 warm-up lines not measured, then every
measured line once (each really embedded). HTTP: a fresh ``codefinder serve`` with the query-embedding cache off,
20 warm-up requests, then each line once as ``GET /search?q=…`` on one kept-alive connection; the client's
wall time per request (request sent to body read). Other lines than the in-process ones, so nothing is cached.
"""

from __future__ import annotations

import argparse
import http.client
import random
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.common import SEED, Row, Section, percentiles_text, print_section, summarize_ns
from bench.latency import WARMUP, fresh_engine, time_each
from bench.load import running_server
from codefinder.api.context import AppContext
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchOptions
from codefinder.search.evaluate import read_labeled

# (stat, limit in ms): the targets of issue 13 for the dev chargemaster lines
IN_PROCESS_TARGET = ("p50_ms", 6.0)
HTTP_TARGET = ("p50_ms", 8.0)


def chargemaster_lines(settings: Settings) -> list[str]:
    """The distinct dev chargemaster descriptions, in a fixed shuffled order."""
    lines = list(
        dict.fromkeys(item.query for item in read_labeled(settings.data_dir / "eval" / "dev_chargemaster.csv"))
    )
    random.Random(SEED).shuffle(lines)
    return lines


def target_row(what: str, stats: dict[str, float], target: tuple[str, float]) -> Row:
    stat, limit = target
    return Row(what, percentiles_text(stats), f"{stat.split('_')[0]} ≤ {limit:g} ms", stats[stat] <= limit, stats)


def in_process(settings: Settings, lines: list[str]) -> Row:
    engine = fresh_engine(AppContext(settings=settings))
    options = SearchOptions(mode="hybrid")
    for line in lines[:WARMUP]:
        engine.search(line, options)
    stats = summarize_ns(time_each(lines[WARMUP:], lambda line: engine.search(line, options)))
    return target_row("hybrid search in-process, dev chargemaster lines, uncached", stats, IN_PROCESS_TARGET)


def over_http(lines: list[str]) -> Row:
    samples = []
    with (
        tempfile.TemporaryDirectory(prefix="codefinder-devlines-") as tmp,
        running_server(Path(tmp), env={"CODEFINDER_QUERY_EMBEDDING_CACHE": "0"}) as server,
    ):
        parsed = urllib.parse.urlsplit(server.base)
        connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
        try:
            for i, line in enumerate(lines):
                started = time.perf_counter_ns()
                connection.request("GET", f"/search?q={urllib.parse.quote(line, safe='')}")
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter_ns() - started
                if response.status != 200:
                    raise RuntimeError(f"GET /search answered {response.status} for {line!r}")
                if i >= WARMUP:
                    samples.append(elapsed)
        finally:
            connection.close()
    stats = summarize_ns(samples)
    return target_row("`GET /search` over HTTP, dev chargemaster lines, one at a time, uncached", stats, HTTP_TARGET)


def run(n: int = 600, settings: Settings | None = None) -> Section:
    started = time.perf_counter()
    settings = settings or Settings()
    lines = chargemaster_lines(settings)
    section = Section("devlines", "Dev chargemaster lines (issue 13 speed targets)")
    first, second = lines[: n + WARMUP], lines[n + WARMUP : 2 * (n + WARMUP)]
    section.rows.append(in_process(settings, first))
    section.rows.append(over_http(second or first))
    section.notes.append(
        f"{n} distinct lines of `dev_chargemaster.csv` per row (other lines for HTTP than in-process), each once, "
        f"after {WARMUP} warm-up lines; hybrid mode, default settings; the server runs with "
        "CODEFINDER_QUERY_EMBEDDING_CACHE=0 and is timed by one client on a kept-alive connection."
    )
    section.seconds = time.perf_counter() - started
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="measured lines per row")
    args = parser.parse_args()
    print_section(run(args.n))


if __name__ == "__main__":
    main()
