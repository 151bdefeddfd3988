"""Throughput and HTTP load against the real service and CLI.

    python -m bench.load [--only batch,http] [--duration 10]   # or python -m bench.run --only batch,http

- server: ``codefinder serve`` (one worker process) on a free 127.0.0.1 port; time from process start to
  ``/readyz`` = 200; RSS (VmRSS) and peak (VmHWM) from /proc, at ready, before and after the load.
- batch: ``POST /verify/batch`` with batches of 1,000 dev chargemaster pairs (pairs/s): distinct descriptions,
  then QA-style (each description with 4 codes); and
  ``codefinder search --file`` on 500 dev queries as a subprocess (a 1-line file is timed too, to
  separate startup from the queries).
- http: ``wrk`` on ``/search?q=`` and ``/autocomplete?q=`` at concurrency 1, 4 and 16; a Lua script
  rotates through URL-encoded dev texts (each wrk thread starting at a different place).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import CODEFINDER, DevTexts, Row, Section, fmt_ms, print_section, proc_memory_mb
from bench.latency import CODES_PER_DESCRIPTION, keystrokes, repeated_pairs
from codefinder.indexer.settings import PROJECT_ROOT, Settings

STARTUP_TIMEOUT_S = 90
STARTUP_TARGET_S = 2.0
RSS_TARGET_MB = 400
BATCH_SIZE = 1000  # the API's limit per request
BATCHES = 1  # each kind; more would leave too few unseen dev texts for the /search load after it
PAIRS_TARGET = 500
CLI_QUERIES = 500
CLI_TIMEOUT_S = 300
CONCURRENCY = (1, 4, 16)
SEARCH_RPS_TARGET = 200
SEARCH_P99_TARGET_MS = 50

LUA = """
paths = {
%s
}
local counter = 0
function setup(thread)
  thread:set("offset", counter * %d)
  counter = counter + 1
end
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


@dataclass
class Server:
    process: subprocess.Popen  # type: ignore[type-arg]
    base: str
    startup_s: float
    log: Path
    memory: dict[str, dict[str, float]] = field(default_factory=dict)

    def sample(self, label: str) -> dict[str, float]:
        self.memory[label] = proc_memory_mb(self.process.pid)
        return self.memory[label]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


@contextmanager
def running_server(
    workdir: Path, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``codefinder serve`` on a free loopback port (``env``: extra settings, ``extra_args``: options such as
    ``--workers 2``); always stopped on the way out."""
    port = free_port()
    log = workdir / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_handle:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(CODEFINDER), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             *extra_args],
            cwd=PROJECT_ROOT,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        try:
            while http_status(f"{base}/readyz", timeout=1.0) != 200:
                if process.poll() is not None:
                    raise RuntimeError(f"codefinder serve exited with {process.returncode}: {_tail(log)}")
                if time.perf_counter() - started > STARTUP_TIMEOUT_S:
                    raise RuntimeError(f"codefinder serve not ready after {STARTUP_TIMEOUT_S} s: {_tail(log)}")
                time.sleep(0.02)
            server = Server(process, base, time.perf_counter() - started, log)
            server.sample("ready")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


# --- batch ---------------------------------------------------------------------------------------


def verify_batch(server: Server, dev: DevTexts) -> tuple[list[Row], set[str]]:
    """``POST /verify/batch`` with full-size batches: ``BATCHES`` of distinct dev pairs, then QA-style batches
    (each description with several codes). Returns the rows and every description sent (the server has
    embedded them)."""
    distinct = dev.pairs[: BATCH_SIZE * BATCHES]
    rest = dev.pairs[len(distinct) :]
    repeated = repeated_pairs(rest, dev.codes, BATCH_SIZE * BATCHES)
    rows = [
        _verify_batches(server, distinct, "distinct pairs"),
        _verify_batches(server, repeated, f"pairs, {CODES_PER_DESCRIPTION} codes per description"),
    ]
    return rows, {description for description, _ in distinct + repeated}


def _verify_batches(server: Server, pairs: list[tuple[str, str]], label: str) -> Row:
    batches = [pairs[i : i + BATCH_SIZE] for i in range(0, len(pairs), BATCH_SIZE)]
    seconds: list[float] = []
    server_ms: list[float] = []
    for batch in batches:
        body = json.dumps({"items": [{"description": d, "code": c} for d, c in batch]}).encode()
        request = urllib.request.Request(
            f"{server.base}/verify/batch", data=body, headers={"content-type": "application/json"}, method="POST"
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as error:  # e.g. 504 past the request deadline: a result, not a crash
            detail = error.read().decode("utf-8", "replace")[:200]
            what = f"`POST /verify/batch`, {len(batch)} {label}"
            return Row(what, f"HTTP {error.code} after {time.perf_counter() - started:.2f} s: {detail}", met=False)
        seconds.append(time.perf_counter() - started)
        server_ms.append(float(payload["took_ms"]))
        if len(payload["results"]) != len(batch):
            raise RuntimeError(f"/verify/batch answered {len(payload['results'])} results for {len(batch)} pairs")
    total = sum(len(b) for b in batches)
    rate = total / sum(seconds)
    values = {
        "pairs": total,
        "batch_size": BATCH_SIZE,
        "batches": len(batches),
        "pairs_per_s": rate,
        "batch_seconds": seconds,
        "server_took_ms": server_ms,
    }
    return Row(
        f"`POST /verify/batch` throughput, {BATCH_SIZE} {label}",
        f"{rate:.0f} pairs/s ({len(batches)} batches of {BATCH_SIZE}; "
        f"batches took {', '.join(f'{s:.2f}' for s in seconds)} s)",
        f"≥ {PAIRS_TARGET} pairs/s",
        rate >= PAIRS_TARGET,
        values,
    )


def cli_search_file(workdir: Path, queries: list[str]) -> tuple[list[Row], dict[str, Any]]:
    many = workdir / "queries.txt"
    many.write_text("\n".join(queries[:CLI_QUERIES]) + "\n", encoding="utf-8")
    one = workdir / "one.txt"
    one.write_text(queries[0] + "\n", encoding="utf-8")
    one_s, one_lines = _time_cli(one)
    many_s, many_lines = _time_cli(many)
    n = min(len(queries), CLI_QUERIES)
    if many_lines != n or one_lines != 1:
        raise RuntimeError(f"codefinder search --file printed {many_lines} lines for {n} queries")
    query_s = max(many_s - one_s, 1e-9)
    rate = (n - 1) / query_s
    values = {"queries": n, "wall_s": many_s, "one_query_wall_s": one_s, "queries_per_s_excl_startup": rate}
    rows = [
        Row(
            f"`codefinder search --file` ({n} dev queries), wall incl. startup",
            f"{many_s:.1f} s = {n / many_s:.0f} queries/s (1-query file: {one_s:.1f} s)",
            values=values,
        ),
        Row(
            "`codefinder search --file`, excluding startup",
            f"{rate:.0f} queries/s ({fmt_ms(1000 / rate)}/query)",
            values=values,
        ),
    ]
    return rows, values


def _time_cli(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(
        [str(CODEFINDER), "search", "--file", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"codefinder search --file failed: {result.stderr.strip()[-500:]}")
    return elapsed, sum(1 for line in result.stdout.splitlines() if line.strip())


# --- http ----------------------------------------------------------------------------------------


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    raise RuntimeError("wrk is not installed: apt-get install -y wrk")


def write_lua(workdir: Path, name: str, paths: list[str], thread_offset: int) -> Path:
    lines = ",\n".join(f'  "{p}"' for p in paths)
    script = workdir / f"{name}.lua"
    script.write_text(LUA % (lines, thread_offset), encoding="utf-8")
    return script


UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    def duration(text: str) -> float:
        match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
        if not match:
            raise ValueError(f"wrk duration {text!r}")
        return float(match.group(1)) * UNITS_MS[match.group(2)]

    result: dict[str, Any] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    if not rps or not total:
        raise RuntimeError(f"could not parse wrk output: {output[-500:]}")
    result["requests_per_s"] = float(rps.group(1))
    result["requests"] = int(total.group(1))
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+\w+)\s*$", output, re.MULTILINE)
        if match:
            result[f"p{pct}_ms"] = duration(match.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result["socket_errors"] = sum(int(g) for g in errors.groups()) if errors else 0
    return result


def wrk_command(base: str, script: Path, concurrency: int, duration_s: int, threads: int) -> list[str]:
    return [
        wrk_binary(),
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        base,
    ]


def run_wrk(server: Server, script: Path, path: str, concurrency: int, duration_s: int) -> dict[str, Any]:
    threads = min(concurrency, 2)
    command = wrk_command(f"{server.base}{path}", script, concurrency, duration_s, threads)
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr.strip()[-500:]}")
    return {"concurrency": concurrency, "threads": threads, "duration_s": duration_s, **parse_wrk(result.stdout)}


def http_load(
    server: Server, workdir: Path, dev: DevTexts, duration_s: int, seen: set[str]
) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    values: dict[str, Any] = {}
    # /search: each concurrency level gets its own slice of the distinct texts the server has not seen yet, so
    # embeddings are not reused across runs; within a run the list wraps around only if the server outruns it.
    texts = [t for t in dev.texts if t not in seen]
    share = len(texts) // len(CONCURRENCY)
    prefixes = keystrokes(dev.texts, 5000)
    for endpoint in ("search", "autocomplete"):
        results = []
        for i, concurrency in enumerate(CONCURRENCY):
            chosen = texts[i * share : (i + 1) * share] if endpoint == "search" else prefixes
            paths = [f"/{endpoint}?q={urllib.parse.quote(t, safe='')}" for t in chosen]
            script = write_lua(workdir, f"{endpoint}_{concurrency}", paths, max(len(paths) // 2, 1))
            result = run_wrk(server, script, "/", concurrency, duration_s)
            result["distinct_paths"] = len(paths)
            results.append(result)
            rows.append(_wrk_row(endpoint, result))
        values[endpoint] = results
    return rows, values


def _wrk_row(endpoint: str, result: dict[str, Any]) -> Row:
    c = result["concurrency"]
    problems = []
    if result["non_2xx"]:
        problems.append(f"{result['non_2xx']} non-2xx")
    if result["socket_errors"]:
        problems.append(f"{result['socket_errors']} socket errors")
    repeats = ""
    if endpoint == "search" and result["requests"] > result["distinct_paths"]:
        repeats = f", {1 - result['distinct_paths'] / result['requests']:.0%} repeated texts (embedded again)"
    measured = (
        f"{result['requests_per_s']:.0f} req/s, p50 {fmt_ms(result.get('p50_ms', float('nan')))}, "
        f"p99 {fmt_ms(result.get('p99_ms', float('nan')))}{repeats}" + (f" ({', '.join(problems)})" if problems else "")
    )
    what = f"`GET /{endpoint}` at concurrency {c}"
    if endpoint == "search" and c == 4:
        met = (
            result["requests_per_s"] >= SEARCH_RPS_TARGET
            and result.get("p99_ms", float("inf")) <= SEARCH_P99_TARGET_MS
            and not problems
        )
        return Row(what, measured, f"≥ {SEARCH_RPS_TARGET} req/s, p99 ≤ {SEARCH_P99_TARGET_MS} ms", met, result)
    return Row(what, measured, values=result)


# --- both ----------------------------------------------------------------------------------------


def run(sections: set[str], duration_s: int = 10, settings: Settings | None = None) -> list[Section]:
    """The "batch" and/or "http" sections, sharing one server."""
    settings = settings or Settings()
    dev = DevTexts.load(settings)
    out: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="codefinder-bench-") as tmp:
        workdir = Path(tmp)
        batch = Section("batch", "Batch throughput")
        http = Section("http", "HTTP service (`codefinder serve`, one worker process)")
        if "http" in sections:
            wrk_binary()
        if "batch" in sections:
            started = time.perf_counter()
            # The CLI first, with no server competing for the 2 cores.
            rows, _ = cli_search_file(workdir, dev.texts[len(dev.texts) // 2 :])
            batch.rows += rows
            batch.seconds += time.perf_counter() - started
        seen: set[str] = set()
        # no query-embedding cache: a text wrk repeats costs what a new one does
        with running_server(workdir, env={"CODEFINDER_QUERY_EMBEDDING_CACHE": "0"}) as server:
            if "batch" in sections:
                started = time.perf_counter()
                rows, seen = verify_batch(server, dev)
                batch.rows = [*rows, *batch.rows]
                batch.notes.append(
                    f"`/verify/batch` against a fresh `codefinder serve` (one worker, ready in "
                    f"{server.startup_s:.1f} s); the CLI ran before it, with no server running."
                )
                server.sample("after verify batch")
                batch.seconds += time.perf_counter() - started
                out.append(batch)
            if "http" in sections:
                started = time.perf_counter()
                server.sample("before load")
                rows, _ = http_load(server, workdir, dev, duration_s, seen)
                server.sample("after load")
                http.rows += [*_server_rows(server), *rows]
                http.notes.append(
                    f"wrk {duration_s} s per run, threads = min(concurrency, 2), on the same 2 cores as the server; "
                    "/search: distinct dev texts the server has not embedded yet (a separate slice per concurrency "
                    "level), served with the query-embedding cache off (CODEFINDER_QUERY_EMBEDDING_CACHE=0), so a "
                    "text wrk repeats is embedded again; /autocomplete: keystroke prefixes of dev texts. "
                    "Memory samples (MB): "
                    + "; ".join(f"{k}: RSS {v.get('VmRSS')}, peak {v.get('VmHWM')}" for k, v in server.memory.items())
                    + "."
                )
                http.seconds = time.perf_counter() - started
                out.append(http)
    return out


def _server_rows(server: Server) -> list[Row]:
    peak = max((m.get("VmHWM", 0.0) for m in server.memory.values()), default=0.0)
    after = server.memory.get("after load", {})
    return [
        Row(
            "startup: process start → `/readyz` 200",
            f"{server.startup_s:.2f} s",
            f"≤ {STARTUP_TARGET_S:g} s",
            server.startup_s <= STARTUP_TARGET_S,
            {"startup_s": server.startup_s},
        ),
        Row(
            "serve memory: RSS at ready / after load / peak (VmHWM)",
            f"{server.memory.get('ready', {}).get('VmRSS')} / {after.get('VmRSS')} / {peak} MB",
            f"peak ≤ {RSS_TARGET_MB} MB",
            0 < peak <= RSS_TARGET_MB,
            dict(server.memory),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="batch,http", help="batch, http or both (comma-separated)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    for section in run(set(args.only.split(",")), args.duration):
        print_section(section)


if __name__ == "__main__":
    main()
