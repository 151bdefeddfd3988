"""Verify's operating point, chosen from measured rates; the rates written where people and the engine read them.

    python -m bench.verify_rates              # measure, choose, write data/verify_policy.json,
                                              # bench/results/verify_rates.{json,md} and the rates in docs/verify.md
    python -m bench.verify_rates --dry-run    # measure and print only

Run it after anything that moves confidences (``make tune`` refits data/calibration.json; ranking changes):
the threshold is re-derived from whatever calibration is current, and the policy records that calibration's
sha256 (the engine logs a warning while they disagree).

The check set is built from the dev data, three kinds of pair per labelled description:
- right: the code the line was labelled with;
- random: an active code from another section;
- sibling: an active code sharing the right code's first three characters (chosen at random);
plus ``next``, the sibling just after the right code (the one before when it is the last), the nearest kind.
Sources: the tune part of the dev chargemaster (hospital lines, searched with setting=hospital, <= 3 lines a
code) and the project's query file (lay, brand, coder, clinical and order text). Each source weighs the same:
one would otherwise decide for the other. The check part of the chargemaster (30 %) is only measured, in
aggregate, with the chosen point. Targets: right codes flagged ``suspect`` <= 5 %, random codes caught
>= 99 %, siblings caught >= 70 % ("caught" = any verdict but ``consistent``).

Choice: over a coarse grid of the rules' thresholds (1-2-5 steps, not fitted to a line), the point farthest
inside the targets wins: the largest smallest margin (points between a rate and its target), since the same
rates will be measured on data nobody here has. Right and random codes are held to their targets on each
source (the worst one counts: hospital lines flag more right codes than written queries, and a mean would
hide that); siblings on the mean. When no point meets every target, the nearest one wins. Margins within one
standard error of the best (the sampling error of the worst source's right-code rate) are told apart by
nothing but noise, so among those the point catching the most siblings (both kinds) wins. Every rule is also
measured alone and left out, on the same evidence, so each one's worth is on record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from itertools import product
from typing import Any

from bench.devdata import CAP_PER_CODE, CHARGEMASTER_SETTING, QUERY_FILE, Workbench
from codefinder.indexer.settings import PROJECT_ROOT
from codefinder.search.engine import SearchEngine
from codefinder.search.evaluate import LabeledQuery, read_labeled
from codefinder.search.verify import VerifyItem, evidence_for, top_candidates, verify_many, verify_options
from codefinder.search.verify_policy import VerifyPolicy, file_sha256
from codefinder.search.verify_rules import RULES, Evidence, fired_rules

KINDS = ("right", "random", "sibling", "next")
CAUGHT_KINDS = ("random", "sibling", "next")
TARGETS = {"right": 0.05, "random": 0.99, "sibling": 0.70}
GRID: dict[str, list[Any]] = {
    "low_confidence_below": [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2],
    "outranked_at_least": [None, 0.5, 0.7, 0.9],
    "outranked_ratio_at_least": [10.0, 20.0, 50.0, 100.0, 200.0, 500.0],
    "not_retrieved_top_at_least": [None, 0.5, 0.7, 0.9],
}
# Guards held fixed (they cost right codes almost nothing on the dev data and protect data unlike it: long
# notes that share a word with any descriptor); measured like every rule.
FIXED = {"off_topic_below": 0.05, "off_topic_top": 5, "dose_sibling": True, "attribute_conflict": True}
TUNING_SOURCES = ("chargemaster (tune)", "queries")
CHECK_SOURCE = "chargemaster (check)"
SEED = 14
RESULTS = PROJECT_ROOT / "bench" / "results"
DOC = PROJECT_ROOT / "docs" / "verify.md"
DOC_START, DOC_END = "<!-- verify-rates:start -->", "<!-- verify-rates:end -->"


@dataclass(frozen=True)
class Pair:
    kind: str
    description: str
    code: str


@dataclass(frozen=True)
class Judged:
    """A pair's evidence and whether its code is terminated (its own verdict, never ``consistent``)."""

    kind: str
    evidence: Evidence
    terminated: bool


def check_pairs(engine: SearchEngine, items: list[LabeledQuery], seed: int = SEED) -> list[Pair]:
    """Right, random, sibling and next pairs for every labelled description whose code the index holds."""
    rng = random.Random(seed)
    today = dt.date.today()
    active = [r for r in engine.index.records if r.kind == "code" and r.status_on(today) == "active"]
    family: dict[str, list[str]] = {}
    for record in active:
        family.setdefault(record.code[:3], []).append(record.code)
    pairs: list[Pair] = []
    for item in items:
        right = engine.lookup(item.gold[0])
        if right is None or right.kind != "code":
            continue
        pairs.append(Pair("right", item.query, right.code))
        pairs.append(Pair("random", item.query, rng.choice([r.code for r in active if r.section != right.section])))
        siblings = sorted(code for code in family.get(right.code[:3], []) if code not in item.gold)
        if siblings:
            pairs.append(Pair("sibling", item.query, rng.choice(siblings)))
            after = [code for code in siblings if code > right.code]
            pairs.append(Pair("next", item.query, after[0] if after else siblings[-1]))
    return pairs


def judge_pairs(engine: SearchEngine, pairs: list[Pair], setting: str) -> list[Judged]:
    """The evidence of every pair, as verify computes it, each description searched once (run_many)."""
    descriptions = list(dict.fromkeys(pair.description for pair in pairs))
    runs = dict(engine.run_many(descriptions, verify_options(engine, None, setting)))
    position = {text: i for i, text in enumerate(descriptions)}
    tops: dict[int, Any] = {}
    judged = []
    for pair in pairs:
        i = position[pair.description]
        run = runs[i]
        top = tops.setdefault(i, top_candidates(engine, run))
        record = engine.lookup(pair.code)
        assert record is not None
        evidence = evidence_for(engine, run, pair.description, record, top)
        judged.append(Judged(pair.kind, evidence, record.status_on(run.today) == "terminated"))
    return judged


def flagged(judged: Judged, policy: VerifyPolicy, rules: Iterable[str] | None = None) -> bool:
    """Not ``consistent``: terminated, or a rule fires (only ``rules`` when given)."""
    if judged.terminated:
        return True
    names = fired_rules(judged.evidence, policy)
    return bool(names if rules is None else set(names) & set(rules))


def rates(judged: list[Judged], policy: VerifyPolicy, rules: Iterable[str] | None = None) -> dict[str, float]:
    """Per kind, the share not called consistent (for right codes: called suspect, terminated excepted)."""
    chosen = list(rules) if rules is not None else None
    out: dict[str, float] = {}
    for kind in KINDS:
        group = [j for j in judged if j.kind == kind]
        if kind == "right":
            hits = [not j.terminated and flagged(j, policy, chosen) for j in group]
        else:
            hits = [flagged(j, policy, chosen) for j in group]
        out[kind] = sum(hits) / len(hits) if hits else float("nan")
    out["pairs"] = len(judged)
    out["right_pairs"] = sum(j.kind == "right" for j in judged)
    return out


def mean_rates(per_source: dict[str, dict[str, float]]) -> dict[str, float]:
    return {kind: sum(r[kind] for r in per_source.values()) / len(per_source) for kind in KINDS}


def margin(per_source: dict[str, dict[str, float]]) -> float:
    """How far inside every target a point is (negative: outside one): the smallest of the right codes' margin
    below 5 % and the random codes' above 99 %, each on its worst source (a hospital's lines are measured
    apart from written queries, so a mean would hide the source that fails), and the siblings' above 70 %."""
    mean = mean_rates(per_source)
    return min(
        TARGETS["right"] - max(r["right"] for r in per_source.values()),
        min(r["random"] for r in per_source.values()) - TARGETS["random"],
        mean["sibling"] - TARGETS["sibling"],
    )


def candidate_policies() -> list[VerifyPolicy]:
    policies = []
    for low, best, ratio, unretrieved in product(*GRID.values()):
        if best is None and ratio != GRID["outranked_ratio_at_least"][0]:
            continue  # the ratio means nothing with the rule off
        policies.append(
            VerifyPolicy(
                low_confidence_below=low,
                outranked_at_least=best,
                outranked_ratio_at_least=ratio,
                not_retrieved_top_at_least=unretrieved,
                **FIXED,
            )
        )
    return policies


def choose(tuning: dict[str, list[Judged]]) -> tuple[VerifyPolicy | None, list[dict[str, Any]]]:
    trials = []
    for policy in candidate_policies():
        per_source = {name: rates(judged, policy) for name, judged in tuning.items()}
        mean = mean_rates(per_source)
        inside = margin(per_source)
        trials.append(
            {"policy": policy, "per_source": per_source, "mean": mean, "margin": inside, "meets": inside >= 0}
        )
    # when no point meets every target, the one nearest to meeting them (the least negative margin)
    feasible = [t for t in trials if t["meets"]] or trials
    farthest = max(feasible, key=lambda t: t["margin"])
    noise = standard_error(farthest["per_source"])
    ties = [t for t in feasible if t["margin"] >= farthest["margin"] - noise]
    best = max(ties, key=lambda t: ((t["mean"]["sibling"] + t["mean"]["next"]) / 2, t["margin"]))
    return best["policy"], trials


def standard_error(per_source: dict[str, dict[str, float]]) -> float:
    """The sampling error (binomial) of the rate of right codes flagged on the source where it is highest."""
    worst = max(per_source.values(), key=lambda r: r["right"])
    return math.sqrt(worst["right"] * (1 - worst["right"]) / max(worst["right_pairs"], 1))


def rule_effects(judged: dict[str, list[Judged]], policy: VerifyPolicy) -> dict[str, dict[str, dict[str, float]]]:
    """Each rule alone, and all but it, per source: what each contributes."""
    effects: dict[str, dict[str, dict[str, float]]] = {}
    for name in RULES:
        others = [rule for rule in RULES if rule != name]
        effects[name] = {
            source: {
                **{f"alone_{k}": v for k, v in rates(items, policy, [name]).items() if k in KINDS},
                **{f"without_{k}": v for k, v in rates(items, policy, others).items() if k in KINDS},
            }
            for source, items in judged.items()
        }
    return effects


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def rates_table(per_source: dict[str, dict[str, float]], mean: dict[str, float] | None) -> list[str]:
    lines = [
        "| source | pairs | right codes flagged suspect | random codes caught | siblings caught | next code caught |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in per_source.items():
        lines.append(
            f"| {name} | {r['pairs']} | {pct(r['right'])} | {pct(r['random'])} | {pct(r['sibling'])} | "
            f"{pct(r['next'])} |"
        )
    if mean is not None:
        lines.append(
            f"| **mean of the tuning sources** | | **{pct(mean['right'])}** | **{pct(mean['random'])}** | "
            f"**{pct(mean['sibling'])}** | **{pct(mean['next'])}** |"
        )
    lines.append(
        f"| target | | ≤ {pct(TARGETS['right'])} | ≥ {pct(TARGETS['random'])} | ≥ {pct(TARGETS['sibling'])} | — |"
    )
    return lines


def report(
    policy: VerifyPolicy,
    per_source: dict[str, dict[str, float]],
    check: dict[str, float],
    effects: dict[str, dict[str, dict[str, float]]],
    seconds: float,
) -> list[str]:
    mean = mean_rates(per_source)
    outranked = (
        f"the codes likelier than it at ≥ {policy.outranked_at_least:g} confidence together, and ≥ "
        f"{policy.outranked_ratio_at_least:g}× the code's"
        if policy.outranked_at_least is not None
        else "off"
    )
    unretrieved = (
        f"not among the description's candidates, and its best hit at ≥ {policy.not_retrieved_top_at_least:g} "
        "confidence"
        if policy.not_retrieved_top_at_least is not None
        else "off"
    )
    lines = [
        f"Measured {policy.chosen_on} by `python -m bench.verify_rates` ({seconds:.0f} s) for the calibration with "
        f"sha256 `{policy.calibration_sha256[:12]}…`.",
        "",
        "Operating point (`data/verify_policy.json`):",
        "",
        f"- `low_confidence`: confidence below **{policy.low_confidence_below:g}**",
        f"- `clearly_outranked`: {outranked}",
        f"- `not_retrieved`: {unretrieved}",
        f"- `off_topic`: confidence below {policy.off_topic_below:g} and the code's section none of the best "
        f"{policy.off_topic_top} hits' sections",
        f"- `dose_sibling`: {'on' if policy.dose_sibling else 'off'}",
        f"- `attribute_conflict`: {'on' if policy.attribute_conflict else 'off'}",
        "",
        "Rates at that point (tuning sources: the tune part of the dev chargemaster, ≤ 3 lines a code, and "
        "`data/eval/queries.csv`; the check part is measured only in aggregate, with the point already chosen):",
        "",
        *rates_table({**per_source, CHECK_SOURCE: check}, mean),
        "",
        "Each rule alone, and every rule but it (tuning sources, mean; right = flagged suspect, others = caught):",
        "",
        "| rule | alone: right | alone: random | alone: sibling | alone: next | without: right | without: sibling | "
        "without: next |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, by_source in effects.items():
        avg = {key: sum(s[key] for s in by_source.values()) / len(by_source) for key in next(iter(by_source.values()))}
        lines.append(
            f"| `{name}` | {pct(avg['alone_right'])} | {pct(avg['alone_random'])} | {pct(avg['alone_sibling'])} | "
            f"{pct(avg['alone_next'])} | {pct(avg['without_right'])} | {pct(avg['without_sibling'])} | "
            f"{pct(avg['without_next'])} |"
        )
    return lines


def write_doc(lines: list[str]) -> None:
    """Replace the measured section of docs/verify.md (between its markers), or append it."""
    block = "\n".join([DOC_START, *lines, DOC_END])
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    pattern = re.compile(re.escape(DOC_START) + ".*?" + re.escape(DOC_END), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def cross_check(
    engine: SearchEngine, pairs: list[Pair], judged: list[Judged], policy: VerifyPolicy, setting: str
) -> None:
    """The measured verdicts are verify's own: a sample re-run through ``verify_many`` must agree."""
    engine.verify_policy = policy
    sample = list(zip(pairs, judged, strict=True))[:400]
    verdicts = verify_many(engine, [VerifyItem(p.description, p.code) for p, _ in sample], setting=setting)
    for (pair, one), result in zip(sample, verdicts, strict=True):
        expected = "terminated" if one.terminated else ("suspect" if flagged(one, policy) else "consistent")
        if result.verdict != expected:
            raise RuntimeError(f"verify_many says {result.verdict} where the measurement says {expected}: {pair}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="measure and print; write nothing")
    args = parser.parse_args()
    started = time.time()
    bench = Workbench.open()
    engine = bench.engine()
    chargemaster_file = bench.settings.data_dir / "eval" / "dev_chargemaster.csv"
    sources = {
        "chargemaster (tune)": (read_labeled(chargemaster_file, CAP_PER_CODE, part="tune"), CHARGEMASTER_SETTING),
        "queries": (read_labeled(QUERY_FILE), "any"),
        CHECK_SOURCE: (read_labeled(chargemaster_file, CAP_PER_CODE, part="check"), CHARGEMASTER_SETTING),
    }
    pairs = {name: check_pairs(engine, items) for name, (items, _) in sources.items()}
    judged = {name: judge_pairs(engine, pairs[name], setting) for name, (_, setting) in sources.items()}
    tuning = {name: judged[name] for name in TUNING_SOURCES}
    policy, trials = choose(tuning)
    assert policy is not None  # a grid always has a nearest point
    per_source = {name: rates(items, policy) for name, items in tuning.items()}
    check = rates(judged[CHECK_SOURCE], policy)  # aggregate only: the check part is never read line by line
    for name in TUNING_SOURCES:
        cross_check(engine, pairs[name], judged[name], policy, sources[name][1])
    calibration = bench.settings.calibration_file
    assert calibration is not None
    policy = replace(
        policy,
        calibration_sha256=file_sha256(calibration),
        chosen_on=dt.date.today().isoformat(),
        how=(
            "python -m bench.verify_rates: of the grid points, the one farthest inside the targets (right codes "
            "flagged <= 5 % and random >= 99 % on each of the dev chargemaster's tune part and "
            "data/eval/queries.csv, siblings >= 70 % on their mean), or nearest to them when none meets all; "
            "within one standard error, the one catching the most siblings"
        ),
        measured={
            "targets": TARGETS,
            "per_source": per_source,
            "mean_of_tuning_sources": mean_rates(per_source),
            "check_part": check,
        },
    )
    effects = rule_effects(tuning, policy)
    lines = report(policy, per_source, check, effects, time.time() - started)
    print("\n".join(lines))
    if args.dry_run:
        return
    assert bench.settings.verify_policy_file is not None
    policy.save(bench.settings.verify_policy_file)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "policy": asdict(policy),
        "rule_effects": effects,
        "grid": [
            {
                "policy": {k: v for k, v in asdict(t["policy"]).items() if k in GRID},
                "mean": t["mean"],
                "margin": t["margin"],
            }
            for t in trials
        ],
    }
    (RESULTS / "verify_rates.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "verify_rates.md").write_text("\n".join(["# Verify rates", "", *lines]) + "\n", encoding="utf-8")
    write_doc(lines)
    print(f"wrote {bench.settings.verify_policy_file}, {RESULTS / 'verify_rates.md'} and {DOC}")


if __name__ == "__main__":
    main()
