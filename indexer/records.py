"""The code record: one per (code system, code), whatever files it was assembled from."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from codefinder.indexer.taxonomy import LEVEL_LABELS, place

STATUSES = ("active", "terminated", "not_yet_effective", "not_in_current_lists")
NOC_WORDS = re.compile(r"\b(not otherwise (specified|classified)|unlisted|unclassified)\b", re.IGNORECASE)


@dataclass
class CodeRecord:
    """Everything known about one code. Dates are ISO strings (``YYYY-MM-DD``) or None."""

    code: str
    system: str
    level: str
    kind: str
    section: str | None = None
    section_name: str | None = None
    long_description: str | None = None
    short_description: str | None = None
    synonyms: list[str] = field(default_factory=list)
    knowledge_terms: list[str] = field(default_factory=list)
    betos: str | None = None
    coverage: str | None = None
    type_of_service: str | None = None
    cross_reference: str | None = None
    add_date: str | None = None
    effective_date: str | None = None
    termination_date: str | None = None
    action_code: str | None = None
    opps_status_indicator: str | None = None
    drug_dosage: str | None = None
    noc: bool = False
    sources: list[str] = field(default_factory=list)
    # Newer lists that should list the code and do not (indexer/currency.py), from which date that is known,
    # and the current codes that likely replace it (the same drug or item in another unit).
    missing_from: list[str] = field(default_factory=list)
    missing_since: str | None = None
    replaced_by: list[str] = field(default_factory=list)
    # Without an add date: the date of the newest full list older than its first listing that lacks it (it
    # was added after that day).
    added_after: str | None = None

    @classmethod
    def new(cls, code: str, **values: Any) -> CodeRecord:
        """A record placed in the taxonomy from its code's shape."""
        placement = place(code)
        return cls(
            code=code,
            system=placement.system,
            level=placement.level,
            kind=placement.kind,
            section=placement.section,
            section_name=placement.section_name,
            **values,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.code)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def description(self) -> str:
        """The best available description: long, else short, else empty."""
        return self.long_description or self.short_description or ""

    def status_on(self, day: dt.date) -> str:
        """On ``day``: ``terminated`` past the termination date; ``not_yet_effective`` before the add date
        (or on or before ``added_after``);
        ``not_in_current_lists`` once newer lists that should list it do not (``missing_since``); else
        ``active``."""
        iso = day.isoformat()
        if self.termination_date and iso > self.termination_date:
            return "terminated"
        if (self.add_date and iso < self.add_date) or (self.added_after and iso <= self.added_after):
            return "not_yet_effective"
        if self.missing_since and iso >= self.missing_since:
            return "not_in_current_lists"
        return "active"

    def is_noc(self) -> bool:
        return self.noc or bool(NOC_WORDS.search(self.description))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodeRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def parse_cms_date(raw: object) -> str | None:
    """CMS writes dates as ``YYYYMMDD`` (text or number); blank means none. ValueError if garbled."""
    if raw is None:
        return None
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.strftime("%Y-%m-%d")
    text = str(raw).strip()
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    if not text:
        return None
    if re.fullmatch(r"\d{8}", text):
        return dt.datetime.strptime(text, "%Y%m%d").date().isoformat()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return dt.date.fromisoformat(text).isoformat()
    raise ValueError(f"bad date {text!r} (expected YYYYMMDD)")
