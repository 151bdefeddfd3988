"""How long ``codefinder build`` takes, and its peak memory.

    python -m bench.buildtime          # or python -m bench.run --only build

Three builds as subprocesses into a temp ``--index`` with a temp ``CODEFINDER_CACHE_DIR``: cold (empty
embedding cache), warm (same sources, same cache) and one descriptor changed (the default sources plus a
one-row CSV source whose description is new, so exactly one descriptor is embedded). Wall time by
``time.perf_counter``; peak RSS from ``/usr/bin/time -v`` (or, without it, by polling /proc).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import CODEFINDER, Row, Section, print_section, proc_memory_mb
from codefinder.indexer.settings import PROJECT_ROOT, Settings

BUILD_TIMEOUT_S = 300
COLD_TARGET_S = 60.0
WARM_TARGET_S = 5.0
GNU_TIME = Path("/usr/bin/time")


def timed_build(args: list[str], env: dict[str, str], workdir: Path, label: str) -> dict[str, Any]:
    command = [str(CODEFINDER), "build", *args]
    usage = workdir / f"{label}.time"
    use_gnu_time = GNU_TIME.exists()
    if use_gnu_time:
        command = [str(GNU_TIME), "-v", "-o", str(usage), *command]
    out_path = workdir / f"{label}.out"
    peak_mb = 0.0
    with out_path.open("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            while process.poll() is None:
                if not use_gnu_time:
                    peak_mb = max(peak_mb, proc_memory_mb(process.pid).get("VmHWM", 0.0))
                if time.perf_counter() - started > BUILD_TIMEOUT_S:
                    raise RuntimeError(f"codefinder build ({label}) took over {BUILD_TIMEOUT_S} s")
                time.sleep(0.05)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        elapsed = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"codefinder build ({label}) failed: {output.strip()[-500:]}")
    if use_gnu_time:
        match = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", usage.read_text())
        peak_mb = round(int(match.group(1)) / 1024, 1) if match else 0.0
    embedded = re.search(r"(\d+) newly embedded", output)
    records = re.search(r"(\d+) records", output)
    return {
        "seconds": elapsed,
        "peak_rss_mb": peak_mb,
        "peak_rss_from": "/usr/bin/time -v" if use_gnu_time else "/proc polling",
        "newly_embedded": int(embedded.group(1)) if embedded else None,
        "records": int(records.group(1)) if records else None,
    }


def run(settings: Settings | None = None) -> Section:
    started = time.perf_counter()
    settings = settings or Settings()
    section = Section("build", "Index build (`codefinder build`, subprocess)")
    sources = [settings.data_dir / relative for relative in settings.default_sources]
    with tempfile.TemporaryDirectory(prefix="codefinder-bench-build-") as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "CODEFINDER_CACHE_DIR": str(workdir / "cache")}
        index = ["--index", str(workdir / "index")]
        extra = workdir / "one_changed.csv"
        extra.write_text(
            f"code,description\n99999,Benchmark made-up descriptor {uuid.uuid4().hex[:8]} for an imaginary service\n",
            encoding="utf-8",
        )
        results = {
            "cold": timed_build(index, env, workdir, "cold"),
            "warm": timed_build(index, env, workdir, "warm"),
            "changed": timed_build(
                [*index, *(arg for source in [*sources, extra] for arg in ("--source", str(source)))],
                env,
                workdir,
                "changed",
            ),
        }
        shutil.rmtree(workdir / "index", ignore_errors=True)
    labels = {
        "cold": ("cold build (empty embedding cache)", COLD_TARGET_S),
        "warm": ("warm rebuild (same sources, cached embeddings)", WARM_TARGET_S),
        "changed": ("rebuild with one descriptor changed", WARM_TARGET_S),
    }
    for key, result in results.items():
        what, target = labels[key]
        section.rows.append(
            Row(
                what,
                f"{result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB, "
                f"{result['newly_embedded']} newly embedded",
                f"≤ {target:g} s",
                result["seconds"] <= target,
                result,
            )
        )
    records = results["cold"]["records"]
    section.notes.append(
        f"{records} records from the default sources; wall time includes process startup and model load; "
        f"peak RSS from {results['cold']['peak_rss_from']}."
    )
    section.seconds = time.perf_counter() - started
    return section


def main() -> None:
    print_section(run())


if __name__ == "__main__":
    main()
