"""Generate docs/suggest.md's measured section: how well ``/suggest`` finds the billable items of
documentation text, on the project's own note set (data/eval/notes.csv).

    python -m bench.suggest_eval              # needs a built index (codefinder build)
    python -m bench.suggest_eval --print      # the tables only, docs/suggest.md untouched
    python -m bench.suggest_eval --misses     # also list what went wrong, row by row
    python -m bench.suggest_eval --mode keyword   # the same without the model (prints only)

Single-item sentences: R@1 / R@10 of the gold code among the reported items' codes, and the same for
``/search`` given the whole sentence (what a documentation tool had before). Multi-item notes: item recall
(a gold item is found when a reported item's first code is it) and precision (reported HCPCS items whose
first code is a gold item), a CPT service counted apart. Units: among gold items stating a dose or a count
whose code is among a reported item's codes, how often that code's computed units are the gold units.
Negation: how many reported gold items carry the right ``negated`` flag. Text naming nothing billable:
items reported (should be none).
"""

from __future__ import annotations

import argparse
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.devdata import Workbench
from codefinder.indexer.settings import PROJECT_ROOT
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.suggest.pipeline import SuggestedItem, SuggestResponse, suggest

NOTES = PROJECT_ROOT / "data" / "eval" / "notes.csv"
OUTPUT = PROJECT_ROOT / "docs" / "suggest.md"
EXAMPLE_BEGIN = "<!-- example:begin -->"
EXAMPLE_END = "<!-- example:end -->"
BEGIN = "<!-- suggest_eval:begin -->"
END = "<!-- suggest_eval:end -->"
TARGETS = {"r1": 0.85, "r10": 0.98, "recall": 0.90, "precision": 0.85, "units": 0.95}
DEPTH = 10


@dataclass(frozen=True)
class Gold:
    codes: frozenset[str]
    units: int | None
    negated: bool


@dataclass(frozen=True)
class Row:
    id: str
    kind: str
    setting: str
    text: str
    gold: tuple[Gold, ...]


@dataclass
class Tally:
    sentences: int = 0
    r1: int = 0
    r10: int = 0
    search_r1: int = 0
    search_r10: int = 0
    sentence_items: int = 0
    gold_items: int = 0
    found_items: int = 0
    reported: int = 0
    reported_right: int = 0
    cpt_flags: int = 0
    units_stated: int = 0
    units_right: int = 0
    negation_checked: int = 0
    negation_right: int = 0
    none_texts: int = 0
    none_items: int = 0
    misses: list[str] = field(default_factory=list)


def read_notes(path: Path = NOTES) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    rows = []
    for record in csv.DictReader(lines):
        gold = []
        for part in filter(None, (p.strip() for p in record["gold"].split(";"))):
            match = re.fullmatch(r"([A-Z0-9|]+)(?:\*(\d+))?(!?)", part)
            if match is None:
                raise ValueError(f"{path}: row {record['id']}: bad gold item {part!r}")
            codes, units, negated = match.groups()
            gold.append(Gold(frozenset(codes.split("|")), int(units) if units else None, bool(negated)))
        rows.append(Row(record["id"], record["kind"], record["setting"], record["text"], tuple(gold)))
    return rows


def evaluate(engine: SearchEngine, rows: list[Row], mode: str = "hybrid") -> Tally:
    tally = Tally()
    sentences = [row for row in rows if row.kind == "sentence"]
    searched = engine.search_many([row.text[:2000] for row in sentences], SearchOptions(limit=DEPTH))
    for row, response in zip(sentences, searched, strict=True):
        codes = [hit.code for hit in response.hits]
        tally.search_r1 += bool(codes[:1]) and codes[0] in row.gold[0].codes
        tally.search_r10 += any(code in row.gold[0].codes for code in codes)
    for row in rows:
        result = suggest(engine, row.text, setting=row.setting, limit_per_item=DEPTH, mode=mode)
        if row.kind == "sentence":
            _sentence(tally, row, result)
        elif row.kind == "note":
            _note(tally, row, result)
        else:
            tally.none_texts += 1
            reported = [item for item in result.items if not item.needs_cpt]
            tally.none_items += len(reported)
            if reported:
                tally.misses.append(f"{row.id} none: reported {_show(reported)}")
        _units(tally, row, result)
    return tally


def _sentence(tally: Tally, row: Row, result: SuggestResponse) -> None:
    gold = row.gold[0]
    items = [item for item in result.items if not item.needs_cpt]
    tally.sentences += 1
    tally.sentence_items += len(items)
    first = any(item.codes and item.codes[0].code in gold.codes for item in items)
    anywhere = any(code.code in gold.codes for item in items for code in item.codes)
    tally.r1 += first
    tally.r10 += anywhere
    if not first:
        tally.misses.append(f"{row.id} R@1 miss (gold {'|'.join(sorted(gold.codes))}): {row.text!r} -> {_show(items)}")


def _note(tally: Tally, row: Row, result: SuggestResponse) -> None:
    items = [item for item in result.items if not item.needs_cpt]
    tally.cpt_flags += len(result.items) - len(items)
    tally.gold_items += len(row.gold)
    tally.reported += len(items)
    matched: set[int] = set()
    for gold in row.gold:
        hit = next(
            (i for i, item in enumerate(items) if i not in matched and item.codes and item.codes[0].code in gold.codes),
            None,
        )
        if hit is None:
            tally.misses.append(f"{row.id} note miss {'|'.join(sorted(gold.codes))}")
            continue
        matched.add(hit)
        tally.found_items += 1
        tally.negation_checked += 1
        tally.negation_right += items[hit].negated == gold.negated
        if items[hit].negated != gold.negated:
            tally.misses.append(f"{row.id} negation wrong on {items[hit].text!r}")
    tally.reported_right += len(matched)
    for i, item in enumerate(items):
        if i not in matched:
            tally.misses.append(f"{row.id} extra item {_show([item])}")


def _units(tally: Tally, row: Row, result: SuggestResponse) -> None:
    for gold in row.gold:
        if gold.units is None:
            continue
        codes = [code for item in result.items for code in item.codes if code.code in gold.codes]
        if not codes:
            continue
        tally.units_stated += 1
        units = codes[0].units["units"] if codes[0].units else None
        tally.units_right += units == gold.units
        if units != gold.units:
            tally.misses.append(f"{row.id} units {codes[0].code}: {units} (gold {gold.units}): {row.text[:90]!r}")


def _show(items: list[SuggestedItem]) -> str:
    return "; ".join(f"{item.text!r} {item.codes[0].code if item.codes else '-'}" for item in items) or "nothing"


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def tables(tally: Tally) -> str:
    r1, r10 = _ratio(tally.r1, tally.sentences), _ratio(tally.r10, tally.sentences)
    recall, precision = _ratio(tally.found_items, tally.gold_items), _ratio(tally.reported_right, tally.reported)
    units = _ratio(tally.units_right, tally.units_stated)

    def met(value: float, target: str) -> str:
        return "yes" if value >= TARGETS[target] else "no"

    return "\n".join(
        [
            "| what | measured | target | met |",
            "|---|---:|---:|:-:|",
            f"| single-item sentences ({tally.sentences}): R@1 | {r1:.3f} | ≥ {TARGETS['r1']} | {met(r1, 'r1')} |",
            f"| single-item sentences: R@10 | {r10:.3f} | ≥ {TARGETS['r10']} | {met(r10, 'r10')} |",
            f"| the same sentences through `/search` (before): R@1 / R@10 | "
            f"{_ratio(tally.search_r1, tally.sentences):.3f} / "
            f"{_ratio(tally.search_r10, tally.sentences):.3f} | — | — |",
            f"| items reported per single-item sentence | "
            f"{_ratio(tally.sentence_items, tally.sentences):.2f} | — | — |",
            f"| multi-item notes: item recall ({tally.found_items}/{tally.gold_items}) | {recall:.3f} "
            f"| ≥ {TARGETS['recall']} | {met(recall, 'recall')} |",
            f"| multi-item notes: precision ({tally.reported_right}/{tally.reported}) | {precision:.3f} "
            f"| ≥ {TARGETS['precision']} | {met(precision, 'precision')} |",
            f"| multi-item notes: CPT services flagged (`needs_cpt`) | {tally.cpt_flags} | — | — |",
            f"| units right where a dose or count is stated ({tally.units_right}/{tally.units_stated}) | {units:.3f} "
            f"| ≥ {TARGETS['units']} | {met(units, 'units')} |",
            f"| negation flag right on found note items ({tally.negation_right}/{tally.negation_checked}) "
            f"| {_ratio(tally.negation_right, tally.negation_checked):.3f} | — | — |",
            f"| texts naming nothing billable ({tally.none_texts}): items reported | {tally.none_items} | 0 | "
            f"{'yes' if tally.none_items == 0 else 'no'} |",
        ]
    )


def write_block(text: str, begin: str = BEGIN, end: str = END, path: Path = OUTPUT) -> None:
    """Replace a measured block of docs/suggest.md (between its markers), keeping the prose around it."""
    document = path.read_text(encoding="utf-8")
    start, stop = document.index(begin) + len(begin), document.index(end)
    path.write_text(document[:start] + "\n" + text + "\n" + document[stop:], encoding="utf-8")


EXAMPLE = (
    "ED course: cellulitis of the left lower leg. BP 138/84, HR 96.\n"
    "- Ceftriaxone 1 g IVPB given.\n"
    "- Heparin 5,000 units SC held for low platelets.\n"
    "Left ankle foot orthosis, off the shelf, fitted. Blood glucose test strips qty 100.\n"
    "MRI of the left ankle ordered. Pt tolerated well. Reassess in 30 min."
)


def example(engine: SearchEngine) -> str:
    """The example at the top of docs/suggest.md: a note and what ``suggest`` answers, as the CLI shows it."""
    result = suggest(engine, EXAMPLE, limit_per_item=2)
    lines = ["```", EXAMPLE, "```", "", "```"]
    for number, item in enumerate(result.items, start=1):
        flags = " ".join(f for f, on in (("NOT GIVEN", item.negated), ("CPT", item.needs_cpt)) if on)
        lines.append(f"{number}. {item.text!r} [{item.start}:{item.end}] {flags}".rstrip())
        if item.needs_cpt and not item.codes:
            lines.append(f"     {item.cpt_service}: CPT code, not loaded")
        for code in item.codes:
            extra = f"  × {code.units['units']} ({code.units['how']})" if code.units else ""
            extra += f"  modifiers {', '.join(code.modifiers)}" if code.modifiers else ""
            lines.append(f"     {code.code}  {code.description[:60]}  {code.confidence:.2f}{extra}")
    lines.append("```")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the tables only")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    parser.add_argument(
        "--mode", default="hybrid", choices=("hybrid", "keyword"), help="keyword: no model call (implies --print)"
    )
    args = parser.parse_args()
    bench = Workbench.open()
    engine = bench.engine()
    tally = evaluate(engine, read_notes(), args.mode)
    text = tables(tally)
    print(text)
    if args.misses:
        print("\n".join(tally.misses))
    if not args.print_only and args.mode == "hybrid":
        write_block(text)
        write_block(example(engine), EXAMPLE_BEGIN, EXAMPLE_END)


if __name__ == "__main__":
    main()
