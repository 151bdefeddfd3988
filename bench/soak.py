"""A bounded soak: ``wrk`` at concurrency 32 for 60 s against ``codefinder serve`` on loopback.

    python -m bench.soak [--duration 60] [--concurrency 32]    # or python -m bench.run --only soak

Passes when no response is a 5xx (counted per status by a Lua ``response`` hook, plus socket errors
reported separately) and memory is flat: the median RSS of the last tenth of the run is within
``RSS_GROWTH_LIMIT_MB`` of the median after warm-up. The queries rotate through dev texts and their
keystroke prefixes, half ``/search`` and half ``/autocomplete``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.common import DevTexts, Row, Section, fmt_ms, print_section, proc_memory_mb
from bench.latency import keystrokes
from bench.load import parse_wrk, running_server, wrk_command
from codefinder.indexer.settings import Settings

RSS_GROWTH_LIMIT_MB = 20.0
WARMUP_SHARE = 0.2

STATUS_LUA = """
paths = {
%s
}
local threads = {}
local counter = 0
function setup(thread)
  thread:set("offset", counter * %d)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  i = offset or 0
  s2, s4, s5 = 0, 0, 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1 elseif status >= 400 then s4 = s4 + 1 else s2 = s2 + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("s2"); b = b + thread:get("s4"); c = c + thread:get("s5")
  end
  io.write(string.format("statuses: 2xx %%d 4xx %%d 5xx %%d\\n", a, b, c))
end
"""


def soak_paths(dev: DevTexts) -> list[str]:
    searches = [f"/search?q={urllib.parse.quote(t, safe='')}" for t in dev.texts]
    prefixes = [f"/autocomplete?q={urllib.parse.quote(t, safe='')}" for t in keystrokes(dev.texts, len(searches))]
    return [path for pair in zip(searches, prefixes, strict=False) for path in pair]


def sample_rss(pid: int, stop: threading.Event, samples: list[tuple[float, float]], every_s: float = 1.0) -> None:
    started = time.perf_counter()
    while not stop.wait(every_s):
        samples.append((time.perf_counter() - started, proc_memory_mb(pid).get("VmRSS", 0.0)))


def run(duration_s: int = 60, concurrency: int = 32, settings: Settings | None = None) -> Section:
    settings = settings or Settings()
    dev = DevTexts.load(settings)
    section = Section("soak", f"Soak: {concurrency} connections for {duration_s} s (zero 5xx, flat memory)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codefinder-soak-") as tmp:
        workdir = Path(tmp)
        paths = soak_paths(dev)
        script = workdir / "soak.lua"
        lines = ",\n".join(f'  "{p}"' for p in paths)
        script.write_text(STATUS_LUA % (lines, max(len(paths) // 2, 1)), encoding="utf-8")
        with running_server(workdir) as server:
            stop = threading.Event()
            samples: list[tuple[float, float]] = []
            sampler = threading.Thread(target=sample_rss, args=(server.process.pid, stop, samples), daemon=True)
            sampler.start()
            command = wrk_command(server.base + "/", script, concurrency, duration_s, threads=2)
            output = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
            stop.set()
            sampler.join()
            if output.returncode != 0:
                raise RuntimeError(f"wrk failed: {output.stderr.strip()[-500:]}")
            peak = proc_memory_mb(server.process.pid).get("VmHWM", 0.0)
    result: dict[str, Any] = parse_wrk(output.stdout)
    counts = re.search(r"statuses: 2xx (\d+) 4xx (\d+) 5xx (\d+)", output.stdout)
    if not counts:
        raise RuntimeError(f"wrk printed no status counts: {output.stdout[-300:]}")
    result.update({"2xx": int(counts.group(1)), "4xx": int(counts.group(2)), "5xx": int(counts.group(3))})
    warm = [rss for t, rss in samples if t >= duration_s * WARMUP_SHARE]
    tail = warm[-max(len(warm) // 10, 3) :]
    head = warm[: max(len(warm) // 10, 3)]
    growth = statistics.median(tail) - statistics.median(head) if warm else float("nan")
    result.update({"rss_samples_mb": samples, "rss_growth_mb": growth, "peak_rss_mb": peak})
    section.rows = [
        Row(
            f"{result['requests']} requests ({result['requests_per_s']:.0f} req/s), /search + /autocomplete",
            f"5xx {result['5xx']}, 4xx {result['4xx']}, socket errors {result['socket_errors']}",
            "zero 5xx",
            result["5xx"] == 0 and result["socket_errors"] == 0,
            {k: result[k] for k in ("requests", "requests_per_s", "2xx", "4xx", "5xx", "socket_errors")},
        ),
        Row(
            "latency under load",
            f"p50 {fmt_ms(result.get('p50_ms', float('nan')))}, p99 {fmt_ms(result.get('p99_ms', float('nan')))}",
            values={k: result.get(k) for k in ("p50_ms", "p90_ms", "p99_ms")},
        ),
        Row(
            "serve RSS after warm-up: first → last tenth (median), peak",
            f"{statistics.median(head):.0f} → {statistics.median(tail):.0f} MB ({growth:+.1f} MB), peak {peak:.0f} MB",
            f"growth ≤ {RSS_GROWTH_LIMIT_MB:g} MB",
            abs(growth) <= RSS_GROWTH_LIMIT_MB,
            {"rss_growth_mb": growth, "peak_rss_mb": peak, "samples": samples},
        ),
    ]
    section.notes.append(
        f"wrk -t2 -c{concurrency} -d{duration_s}s on the same 2 cores as the server; {len(paths)} distinct paths "
        "(dev texts and keystroke prefixes), so after one pass texts repeat and hit the embedding cache; "
        f"RSS sampled every second by /proc, the first {WARMUP_SHARE:.0%} counted as warm-up."
    )
    section.seconds = time.perf_counter() - started
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print_section(run(args.duration, args.concurrency))


if __name__ == "__main__":
    main()
