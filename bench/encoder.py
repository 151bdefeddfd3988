"""Base against fine-tuned encoder (docs/encoder.md): relevance, query-encoding latency, cold build time.

    python -m bench.encoder                    # both models: evaluations + latency (~10 min with warm caches)
    python -m bench.encoder --cold             # also a cold build per model (empty cache; ~3-5 min each)

Each model gets its own index (built with ``CODEFINDER_ENCODER_MODEL=<model>`` into a temp folder, the shared
embedding cache reused). Relevance: the dev chargemaster's tune part and its check part (scored in aggregate
only: no line is printed) as a hospital searches, and data/eval/queries.csv, each in semantic-only and hybrid
mode. Latency: the int8 query model shipped inside the index, one text a call, p50 over distinct dev texts.
Writes bench/results/encoder.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.buildtime import timed_build
from bench.common import DevTexts, summarize_ns
from bench.devdata import CHARGEMASTER_SETTING, DevData, run_eval
from codefinder.api.context import AppContext
from codefinder.indexer.build import build_index
from codefinder.indexer.settings import PROJECT_ROOT, Settings
from codefinder.search.engine import SearchEngine

RESULTS = PROJECT_ROOT / "bench" / "results" / "encoder.json"
MODELS = ("base", "finetuned")
WARMUP = 20
MODES = ("semantic", "hybrid")


def relevance(engine: SearchEngine, data: DevData) -> dict[str, dict[str, dict[str, float]]]:
    """Overall R@1/R@5/R@10/MRR per set and mode (no per-line output: the check part is aggregate-only)."""
    sets = {
        "chargemaster tune": (data.chargemaster, CHARGEMASTER_SETTING),
        "chargemaster check": (data.chargemaster_check, CHARGEMASTER_SETTING),
        "queries.csv": (data.queries, "any"),
    }
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for name, (items, setting) in sets.items():
        scores[name] = {mode: run_eval(engine, items, mode, setting).overall.to_dict() for mode in MODES}
    return scores


def encoding_latency(engine: SearchEngine, texts: list[str], n: int) -> dict[str, float]:
    """The query model alone (int8 ONNX from the index), one text a call, as a search embeds a query."""
    encoder = engine.encoder
    for text in texts[:WARMUP]:
        encoder.encode([text])
    samples = []
    for text in texts[WARMUP : WARMUP + n]:
        started = time.perf_counter_ns()
        encoder.encode([text])
        samples.append(time.perf_counter_ns() - started)
    return summarize_ns(samples)


def cold_build(model: str, workdir: Path) -> dict[str, Any]:
    """``codefinder build`` in a subprocess with an empty cache: ONNX export, int8 quantization, embedding."""
    env = {**os.environ, "CODEFINDER_CACHE_DIR": str(workdir / "cache"), "CODEFINDER_ENCODER_MODEL": model}
    return timed_build(["--index", str(workdir / "index")], env, workdir, f"cold-{model}")


def measure(model: str, settings: Settings, data: DevData, texts: list[str], n: int, cold: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"codefinder-bench-encoder-{model}-") as tmp:
        workdir = Path(tmp)
        if cold:
            result["cold_build"] = cold_build(model, workdir / "cold")
        model_settings = settings.model_copy(update={"encoder_model": model, "index": workdir / "index"})
        context = AppContext(settings=model_settings)
        built = build_index(model_settings, context.build_encoder())
        result["model"] = built.manifest["model"]
        result["build_seconds_shared_cache"] = round(built.seconds, 1)
        engine = context.engine()
        result["relevance"] = relevance(engine, data)
        result["query_encoding_int8"] = encoding_latency(engine, texts, n)
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    models = list(results)
    lines = [
        "| set | mode | " + " | ".join(f"{m} R@1 / R@10 / MRR" for m in models) + " |",
        "|---|---|" + "---|" * len(models),
    ]
    first = results[models[0]]["relevance"]
    for name, modes in first.items():
        for mode in modes:
            cells = []
            for m in models:
                s = results[m]["relevance"][name][mode]
                cells.append(f"{s['recall@1']:.3f} / {s['recall@10']:.3f} / {s['mrr']:.3f}")
            count = int(first[name][mode]["count"])
            lines.append(f"| {name} (n={count}) | {mode} | " + " | ".join(cells) + " |")
    lines.append("")
    for m in models:
        latency = results[m]["query_encoding_int8"]
        line = f"- {m} ({results[m]['model']['name']}): int8 query encoding p50 {latency['p50_ms']:.2f} ms"
        line += f", p99 {latency['p99_ms']:.2f} ms (n={latency['n']})"
        if "cold_build" in results[m]:
            cold = results[m]["cold_build"]
            line += f"; cold build {cold['seconds']:.1f} s, peak RSS {cold['peak_rss_mb']:.0f} MB"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: base, finetuned or folders")
    parser.add_argument("--n", type=int, default=500, help="texts timed for query encoding latency")
    parser.add_argument("--cold", action="store_true", help="also time a cold build per model")
    args = parser.parse_args()
    settings = Settings()
    data = DevData.load(settings)
    texts = DevTexts.load(settings).texts
    results = {
        model: measure(model, settings, data, texts, args.n, args.cold) for model in args.models.split(",") if model
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
