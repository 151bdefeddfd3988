"""Helpers the benchmark scripts share: the dev texts, timing statistics, result rows, the machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.devdata import QUERY_FILE
from codefinder.indexer.settings import PROJECT_ROOT, Settings
from codefinder.search.evaluate import read_labeled

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
CODEFINDER = VENV_BIN / "codefinder"
SEED = 20240601


@dataclass
class Row:
    """One line of the results table: what was measured, the number, the target and whether it was met."""

    what: str
    measured: str
    target: str = "—"
    met: bool | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Section:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured_at: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "measured_at": self.measured_at,
            "seconds": round(self.seconds, 1),
            "rows": [row.to_dict() for row in self.rows],
            "notes": self.notes,
        }


def print_section(section: Section) -> None:
    """A section as the scripts print it when run on their own: title, one line a row, then the notes."""
    print(section.title)
    for row in section.rows:
        print(f"  {row.what}: {row.measured}  [{row.target}: {row.met}]")
    for note in section.notes:
        print(f"  note: {note}")


@dataclass
class DevTexts:
    """Distinct dev texts in a fixed shuffled order, and (description, code) pairs for verify."""

    texts: list[str]
    queries: list[str]
    pairs: list[tuple[str, str]]
    codes: list[str]

    @classmethod
    def load(cls, settings: Settings) -> DevTexts:
        chargemaster = read_labeled(settings.data_dir / "eval" / "dev_chargemaster.csv")
        queries = read_labeled(QUERY_FILE)
        rng = random.Random(SEED)
        pairs = list({item.query: (item.query, item.gold[0]) for item in chargemaster}.values())
        rng.shuffle(pairs)
        query_texts = list(dict.fromkeys(item.query for item in queries))
        rng.shuffle(query_texts)
        texts = list(dict.fromkeys([*query_texts, *(p[0] for p in pairs)]))
        rng.shuffle(texts)
        codes = list(dict.fromkeys(code for item in chargemaster + queries for code in item.gold))
        rng.shuffle(codes)
        return cls(texts=texts, queries=query_texts, pairs=pairs, codes=codes)


def summarize_ns(samples_ns: list[int]) -> dict[str, float]:
    """Milliseconds: n, p50, p90, p99, mean, max."""
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {
        "n": len(samples_ns),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
    }


def fmt_ms(value: float) -> str:
    if value < 0.1:
        return f"{value * 1000:.0f} µs"
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:.1f} ms"


def percentiles_text(stats: dict[str, float]) -> str:
    return f"p50 {fmt_ms(stats['p50_ms'])}, p99 {fmt_ms(stats['p99_ms'])} (n={stats['n']})"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "commit": git_commit(),
    }


def git_commit() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def proc_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB; empty when it is gone."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return values
