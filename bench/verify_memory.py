"""Memory of ``codefinder verify FILE`` over a generated file of a million lines: it must stay flat.

    python -m bench.verify_memory                          # 1,000,000 rows (writes bench/results/verify_memory.*)
    python -m bench.verify_memory --rows 200000 --per-description 1

The file is generated from the dev chargemaster's lines (description, code), cycled, with modifiers, billed
units and a malformed row now and then. ``--per-description`` lines in a row share a description, as in a
claims extract (many claim lines per chargemaster item): the default 20 makes 50,000 searches for a million
rows; 1 searches every line (the slowest case, about 500 lines a second on an idle 2-core machine). The
descriptions cycle through more distinct texts than the engine's caches hold, so the caches churn as they
would on a real file.

``codefinder verify`` runs as its own process; its resident memory (VmRSS) is sampled twice a second along
with the lines done (from the run's progress file). Flat means: the resident memory at the end of the run
is within ``FLAT_MB`` of what it was once a tenth of the rows were done (by then the model, the index and
the caches are warm), and the peak (VmHWM) is within the same margin of it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import CODEFINDER, git_commit, machine, proc_memory_mb
from codefinder.api.verify_report import progress_path
from codefinder.indexer.settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
FLAT_MB = 50.0
MODIFIERS = ("", "", "", "", "RR", "LT", "JW", "NU")


def generate(path: Path, rows: int, per_description: int, settings: Settings) -> int:
    """Write ``rows`` lines (plus a header) cycled from the dev chargemaster; returns the distinct descriptions."""
    with (settings.data_dir / "eval" / "dev_chargemaster.csv").open(encoding="utf-8-sig", newline="") as handle:
        lines = [(row["description"], row["code"]) for row in csv.DictReader(handle) if row["description"]]
    codes = [code for _, code in lines]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["charge description", "hcpcs", "modifiers", "units", "account"])
        for i in range(rows):
            description, code = lines[(i // per_description) % len(lines)]
            if i % per_description:  # the other lines of a block: the same item with other codes
                code = codes[(i * 7919) % len(codes)]
            if i % 50_000 == 49_999:
                writer.writerow([description, code, "", "lots", i])  # a malformed row: units not a number
                continue
            writer.writerow([description, code, MODIFIERS[i % len(MODIFIERS)], (i % 4) or "", i])
    return len({description for description, _ in lines})


def done_through(report: Path) -> int:
    try:
        return int(json.loads(progress_path(report).read_text(encoding="utf-8"))["done_through"])
    except (OSError, ValueError, KeyError):
        return 0


def run(source: Path, report: Path, rows: int) -> dict[str, Any]:
    """``codefinder verify`` on ``source``, its memory sampled until it ends."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(CODEFINDER), "verify", str(source), "--report", str(report), "--setting", "hospital"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples: list[dict[str, float]] = []
    peak = 0.0
    while process.poll() is None:
        memory = proc_memory_mb(process.pid)
        if memory:
            peak = max(peak, memory.get("VmHWM", 0.0))
            samples.append({"seconds": round(time.monotonic() - started, 1), "rows": done_through(report), **memory})
        time.sleep(0.5)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"codefinder verify failed ({process.returncode}): {err.strip()[-500:]}")
    return {"samples": samples, "peak_mb": peak, "seconds": time.monotonic() - started, "summary": out.strip()}


def at_share(samples: list[dict[str, float]], rows: int, share: float) -> dict[str, float] | None:
    """The first sample once ``share`` of the rows were done."""
    return next((s for s in samples if s["rows"] >= share * rows), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-description", type=int, default=20, help="lines in a row sharing a description")
    parser.add_argument("--workdir", type=Path, default=None, help="where the file and report go (default: a temp dir)")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="codefinder-verify-memory-", dir=args.workdir) as workdir:
        source = Path(workdir) / "generated.csv"
        distinct = generate(source, args.rows, args.per_description, settings)
        input_mb = source.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({input_mb:.0f} MB, {distinct:,} distinct descriptions)", flush=True)
        report = Path(workdir) / "generated.report.csv"
        result = run(source, report, args.rows)
        report_mb = report.stat().st_size / 1e6
    samples = result["samples"]
    points = {f"{int(share * 100)} %": at_share(samples, args.rows, share) for share in (0.1, 0.25, 0.5, 0.75)}
    verifying = [s for s in samples if s["rows"] > 0]  # the progress file goes when the run completes
    points["end"] = verifying[-1] if verifying else None
    warm = points["10 %"] or (samples[0] if samples else {"VmRSS": 0.0})
    end = points["end"] or warm
    growth = end["VmRSS"] - warm["VmRSS"]
    flat = growth <= FLAT_MB and result["peak_mb"] - warm["VmRSS"] <= FLAT_MB
    summary = {
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "rows": args.rows,
        "lines_per_description": args.per_description,
        "input_mb": round(input_mb, 1),
        "report_mb": round(report_mb, 1),
        "seconds": round(result["seconds"], 1),
        "rows_per_second": round(args.rows / result["seconds"], 1),
        "rss_mb": {name: (point or {}).get("VmRSS") for name, point in points.items()},
        "peak_mb": result["peak_mb"],
        "growth_after_10_percent_mb": round(growth, 1),
        "flat": flat,
        "target": f"RSS at the end and peak within {FLAT_MB:g} MB of RSS at 10 % of the rows",
        "summary": result["summary"],
        "samples": samples[:: max(1, len(samples) // 200)],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "verify_memory.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    rss = ", ".join(f"{name} {value} MB" for name, value in summary["rss_mb"].items())
    lines = [
        "# codefinder verify: memory on a generated file",
        "",
        f"Measured {summary['measured_at']} (commit {summary['commit']}) by `python -m bench.verify_memory "
        f"--rows {args.rows} --per-description {args.per_description}`.",
        "",
        "| what | measured |",
        "|---|---|",
        f"| input | {args.rows:,} rows, {input_mb:.0f} MB CSV; {args.per_description} lines per description |",
        f"| report | {report_mb:.0f} MB CSV |",
        f"| time | {result['seconds']:.0f} s, {summary['rows_per_second']:,} rows/s (start-up included) |",
        f"| resident memory by rows done | {rss} |",
        f"| peak resident memory | {result['peak_mb']} MB |",
        f"| growth after 10 % of the rows | {growth:+.1f} MB |",
        f"| flat ({summary['target']}) | {'yes' if flat else 'no'} |",
    ]
    (RESULTS / "verify_memory.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
