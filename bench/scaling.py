"""Past one process: batch verification on Dask (``--cluster``) and HTTP with several serving processes.

    python -m bench.scaling [--only cluster,workers] [--rows 20000] [--duration 15]
    python -m bench.run --only cluster,workers          # the same, into bench/results/bench.md

- cluster: ``codefinder verify FILE`` as a subprocess with ``--cluster none``, ``local:1`` and ``local:2`` on
  the same generated rows (CMS descriptors written as chargemasters write them, with a fixed seed): wall
  time, the run without the cluster's start, rows/s, the ratio local:2 / local:1, the peak RSS of each
  worker process and of the client; then a projection for 10 million rows on N workers, with its arithmetic.
- workers: ``codefinder serve --workers 1`` and then ``--workers 2`` on the same machine, ``wrk`` at
  concurrency 8 on ``/search`` with distinct dev texts (the query-vector cache off), in one run; req/s ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import psutil

from bench.common import CODEFINDER, SEED, DevTexts, Row, Section, print_section
from bench.load import run_wrk, running_server, write_lua, wrk_binary
from codefinder.indexer.settings import PROJECT_ROOT, Settings
from codefinder.search.loader import load_index

ROWS = 20_000
CLUSTERS = ("none", "local:1", "local:2")
PARTITION_ROWS = 2000  # 10 tasks for 20,000 rows: even shares for 1 or 2 workers
BATCH_RATIO_TARGET = 1.7
HTTP_CONCURRENCY = 8
HTTP_RATIO_TARGET = 1.5
PROJECTED_ROWS = 10_000_000
PROJECTED_WORKERS = (1, 2, 8, 32, 128)
RUN_TIMEOUT_S = 1800


# --- the rows ------------------------------------------------------------------------------------


def generate_rows(settings: Settings, rows: int, seed: int = SEED) -> list[tuple[str, str]]:
    """(description, code) pairs as a hospital's QA file has them: HCPCS short descriptors in capitals (the
    chargemaster's own shorthand: "WALKER FOLDING WHEELED"), long descriptors cut to a chargemaster field's
    width, and dev-chargemaster-like lines; mostly with their own code, some with a sibling's or another
    section's code, so every verdict occurs. Fixed seed: every run verifies the same rows."""
    index = load_index(settings.index)
    records = [r for r in index.records if r.kind == "code" and r.system == "HCPCS" and r.short_description]
    by_prefix: dict[str, list[str]] = {}
    for record in records:
        by_prefix.setdefault(record.code[:3], []).append(record.code)
    dev = DevTexts.load(settings).pairs
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for _ in range(rows):
        kind = rng.random()
        if kind < 0.2:
            description, code = rng.choice(dev)
        else:
            record = rng.choice(records)
            code = record.code
            long = record.long_description or record.short_description or ""
            description = (record.short_description or "").upper() if kind < 0.65 else long[:40].rstrip().upper()
        luck = rng.random()
        if luck < 0.15:
            code = rng.choice(by_prefix.get(code[:3], [code]))  # a sibling
        elif luck < 0.2:
            code = rng.choice(records).code  # anything
        out.append((description, code))
    return out


def write_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description", "code"])
        writer.writerows(rows)


# --- batch on the cluster ------------------------------------------------------------------------


class TreeMemory:
    """Peak RSS of a process and of each of its descendants, sampled every 0.2 s on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, float] = {}
        self.commands: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                for process in [root, *root.children(recursive=True)]:
                    try:
                        rss = process.memory_info().rss / 2**20
                        self.peaks[process.pid] = max(self.peaks.get(process.pid, 0.0), rss)
                        self.commands.setdefault(process.pid, " ".join(process.cmdline()))
                    except psutil.Error:
                        continue
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def workers_mb(self) -> list[float]:
        return sorted(
            round(peak, 1)
            for pid, peak in self.peaks.items()
            if "multiprocessing" in self.commands.get(pid, "") and "resource_tracker" not in self.commands[pid]
        )


def verify_run(source: Path, cluster: str, workdir: Path) -> dict[str, Any]:
    name = cluster.replace(":", "")
    out = workdir / f"report-{name}"
    command = [str(CODEFINDER), "verify", str(source), "--cluster", cluster]
    command += ["--report", str(out if cluster != "none" else workdir / f"report-{name}.csv")]
    if cluster != "none":
        command += ["--partition-rows", str(PARTITION_ROWS)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        memory.stop()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"verify --cluster {cluster} failed: {stderr.strip()[-400:]}")
    result: dict[str, Any] = {
        "cluster": cluster,
        "wall_s": wall,
        "client_peak_mb": round(memory.peaks.get(process.pid, 0.0), 1),
        "worker_peaks_mb": memory.workers_mb(),
        "summary_line": stdout.splitlines()[0] if stdout else "",
    }
    if cluster != "none":
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        result["startup_s"] = summary["startup_seconds"]
        result["run_s"] = summary["seconds"] - summary["startup_seconds"]
        result["rows"] = summary["rows"]
    return result


def cluster_section(settings: Settings, rows: int) -> Section:
    section = Section("cluster", f"Batch verification on Dask (`codefinder verify FILE --cluster …`, {rows:,} rows)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codefinder-scaling-") as tmp:
        workdir = Path(tmp)
        source = workdir / "rows.csv"
        write_rows(source, generate_rows(settings, rows))
        results = {cluster: verify_run(source, cluster, workdir) for cluster in CLUSTERS}
    for cluster, result in results.items():
        rate = rows / result.get("run_s", result["wall_s"])
        result["rows_per_s"] = rate
        if cluster == "none":
            wall = result["wall_s"]
            measured = f"{wall:.1f} s wall (incl. model + index load) = {rows / wall:.0f} rows/s"
        else:
            measured = (
                f"{result['wall_s']:.1f} s wall; cluster + engines ready in {result['startup_s']:.1f} s, then "
                f"{result['run_s']:.1f} s = {rate:.0f} rows/s"
            )
        memory = f"client peak {result['client_peak_mb']:.0f} MB"
        if result["worker_peaks_mb"]:
            memory += ", workers peak " + " / ".join(f"{mb:.0f}" for mb in result["worker_peaks_mb"]) + " MB"
        section.rows.append(Row(f"`--cluster {cluster}`", f"{measured}; {memory}", values=result))
    one, two = results["local:1"], results["local:2"]
    ratio = two["rows_per_s"] / one["rows_per_s"]
    wall_ratio = one["wall_s"] / two["wall_s"]
    section.rows.append(
        Row(
            "throughput `local:2` / `local:1`",
            f"{ratio:.2f}× (after start-up); {wall_ratio:.2f}× wall",
            f"≥ {BATCH_RATIO_TARGET}×",
            ratio >= BATCH_RATIO_TARGET,
            {"ratio": ratio, "wall_ratio": wall_ratio},
        )
    )
    section.rows.append(projection_row(two))
    section.notes.append(
        f"Rows: {rows:,} generated (seed {SEED}): HCPCS short descriptors in capitals, long descriptors cut to 40 "
        "characters, dev chargemaster lines; 80% with their own code, 15% a sibling's, 5% any code. Partitions of "
        f"{PARTITION_ROWS:,} rows (chunks of 1,000, as in process). Workers: one thread each; ONNX Runtime and BLAS "
        "threads = cores / workers. Peak RSS sampled every 0.2 s from /proc (psutil)."
    )
    section.seconds = time.perf_counter() - started
    return section


def projection_row(two: dict[str, Any]) -> Row:
    """10 million rows on N workers: each worker (one core) verifies at the measured local:2 rate per worker."""
    per_worker = two["rows_per_s"] / 2
    startup = two["startup_s"]
    hours = {n: (startup + PROJECTED_ROWS / (per_worker * n)) / 3600 for n in PROJECTED_WORKERS}
    text = (
        f"{per_worker:.0f} rows/s per worker (local:2 ÷ 2); time = {startup:.0f} s start + 10,000,000 ÷ "
        f"({per_worker:.0f} × N) s: "
        + ", ".join(f"N={n}: {h * 60:.0f} min" if h < 2 else f"N={n}: {h:.1f} h" for n, h in hours.items())
    )
    return Row("projection: 10 million rows on N one-core workers", text, values={"per_worker": per_worker,
                                                                                 "hours": hours})


# --- HTTP with several serving processes -----------------------------------------------------------


def workers_section(settings: Settings, duration_s: int) -> Section:
    section = Section("workers", f"HTTP with several serving processes (`codefinder serve --workers N`, "
                                 f"`/search` at concurrency {HTTP_CONCURRENCY})")
    started = time.perf_counter()
    wrk_binary()
    dev = DevTexts.load(settings)
    texts = dev.texts
    half = len(texts) // 2
    results = {}
    with tempfile.TemporaryDirectory(prefix="codefinder-workers-") as tmp:
        workdir = Path(tmp)
        for n, chosen in ((1, texts[:half]), (2, texts[half:])):
            env = {"CODEFINDER_QUERY_EMBEDDING_CACHE": "0"}
            with running_server(workdir, env=env, extra_args=("--workers", str(n), "--no-access-log")) as server:
                paths = [f"/search?q={urllib.parse.quote(t, safe='')}" for t in chosen]
                script = write_lua(workdir, f"workers_{n}", paths, max(len(paths) // 2, 1))
                run_wrk(server, script, "/", HTTP_CONCURRENCY, 2)  # warm-up: every worker has answered
                result = run_wrk(server, script, "/", HTTP_CONCURRENCY, duration_s)
                result["startup_s"] = server.startup_s
                results[n] = result
            problems = (result.get("non_2xx") or 0) + (result.get("socket_errors") or 0)
            section.rows.append(
                Row(
                    f"`--workers {n}`",
                    f"{result['requests_per_s']:.0f} req/s, p50 {result.get('p50_ms', 0):.1f} ms, "
                    f"p99 {result.get('p99_ms', 0):.1f} ms" + (f" ({problems} errors)" if problems else ""),
                    values=result,
                )
            )
    ratio = results[2]["requests_per_s"] / results[1]["requests_per_s"]
    section.rows.append(
        Row("req/s `--workers 2` / `--workers 1`", f"{ratio:.2f}×", f"≥ {HTTP_RATIO_TARGET}×",
            ratio >= HTTP_RATIO_TARGET, {"ratio": ratio})
    )
    section.notes.append(
        f"wrk -t2 -c{HTTP_CONCURRENCY} -d{duration_s}s after a 2 s warm-up, on the same 2 cores as the server; each "
        "server gets its own half of the distinct dev texts, with the query-vector cache off "
        "(CODEFINDER_QUERY_EMBEDDING_CACHE=0), so every request embeds its text."
    )
    section.seconds = time.perf_counter() - started
    return section


def run(sections: set[str], settings: Settings | None = None, rows: int = ROWS, duration_s: int = 15) -> list[Section]:
    settings = settings or Settings()
    out = []
    if "cluster" in sections:
        out.append(cluster_section(settings, rows))
    if "workers" in sections:
        out.append(workers_section(settings, duration_s))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cluster,workers", help="cluster, workers or both (comma-separated)")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    args = parser.parse_args()
    for section in run(set(args.only.split(",")), rows=args.rows, duration_s=args.duration):
        print_section(section)


if __name__ == "__main__":
    main()
