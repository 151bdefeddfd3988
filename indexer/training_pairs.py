"""Training pairs for the encoder, from CMS's own parallel text and nothing else.

CMS writes every HCPCS code twice: a long descriptor and a 28-character short one that abbreviates it the
way chargemasters do ("Foam drsg <=16 sq in w/o bdr"). Addendum B carries current short descriptors, the
ASP crosswalk the drug names products are sold under. Each becomes an (anchor, positive) pair whose
positive is a long descriptor, so the encoder learns CMS's abbreviations and drug names. Evaluation files
are never read: the sources are named one by one by the caller (``train-encoder`` names CMS files only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from codefinder.indexer.records import CodeRecord
from codefinder.indexer.sources import SourceResult, read_source

# The files a default ``train-encoder`` reads, relative to the data dir: the current long descriptors first,
# then every other file that pairs a code with other text.
CURRENT_DESCRIPTORS = "hcpcs/HCPC2025_JUL_ANWEB_v3.xlsx"
PAIR_SOURCES: tuple[str, ...] = (
    "hcpcs/HCPC2020_OCT_ANWEB.xlsx",
    "hcpcs/2019-Alpha-Numeric-HCPCS-File.zip",
    "hcpcs/opps_addendum_b_2026_04_level2.csv",
    "drugs/asp_ndc_hcpcs_crosswalk_2026_01.csv",
)
HOLDOUT_SALT = "codefinder-encoder-holdout-v1"
HOLDOUT_PERCENT = 10


@dataclass(frozen=True)
class TrainingPair:
    """One contrastive example: ``anchor`` should embed next to ``positive`` (a long descriptor of ``code``)."""

    anchor: str
    positive: str
    code: str
    origin: str  # "short" (a release's own short), "short-current" (short -> current long), "name" (drug name)


def usable(record: CodeRecord) -> bool:
    """HCPCS Level II codes only: modifiers are scored apart, and D codes' text is the ADA's."""
    return record.level == "hcpcs-2" and not record.code.startswith("D")


def same_text(first: str, second: str) -> bool:
    """Equal up to case and spacing (the model is uncased): such a pair teaches nothing."""
    return " ".join(first.lower().split()) == " ".join(second.lower().split())


def pairs_from(current: SourceResult, others: list[SourceResult]) -> list[TrainingPair]:
    """Every (anchor, long descriptor) pair the files hold, deduplicated, in a stable order.

    A record with both descriptors (a full release) pairs its short with its own long: that release's
    abbreviation of that release's wording. A short without a long (Addendum B) and every drug name (the
    crosswalk's synonyms) pair with the current long descriptor of their code; codes without one are skipped."""
    current_long = {
        record.code: record.long_description
        for record in current.records
        if usable(record) and record.long_description
    }
    pairs: dict[tuple[str, str], TrainingPair] = {}

    def add(anchor: str | None, positive: str | None, code: str, origin: str) -> None:
        if not anchor or not positive or same_text(anchor, positive):
            return
        key = (anchor.lower(), positive.lower())
        pairs.setdefault(key, TrainingPair(anchor, positive, code, origin))

    for result in [current, *others]:
        for record in result.records:
            if not usable(record):
                continue
            if record.long_description:
                add(record.short_description, record.long_description, record.code, "short")
            else:
                add(record.short_description, current_long.get(record.code), record.code, "short-current")
            for name in record.synonyms:
                add(name, current_long.get(record.code), record.code, "name")
    return sorted(pairs.values(), key=lambda pair: (pair.code, pair.origin, pair.anchor, pair.positive))


def build_pairs(current: Path, others: list[Path]) -> list[TrainingPair]:
    """Read the named files (and only those) and pair them; see ``pairs_from``."""
    return pairs_from(read_source(current), [read_source(path) for path in others])


def held_out(code: str, percent: int = HOLDOUT_PERCENT) -> bool:
    """Whether a code's pairs are kept out of training (a fixed hash of the code, so never re-drawn)."""
    digest = hashlib.sha256(f"{HOLDOUT_SALT}\x00{code}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def split_pairs(
    pairs: list[TrainingPair], percent: int = HOLDOUT_PERCENT
) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """(training pairs, held-out pairs), split by code: a held-out code's every pair is held out."""
    train = [pair for pair in pairs if not held_out(pair.code, percent)]
    kept_out = [pair for pair in pairs if held_out(pair.code, percent)]
    return train, kept_out
