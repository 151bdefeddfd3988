"""Does a query ask for CPT? Either it is a code of CPT's form, or it names a service CPT codes.

CPT (HCPCS Level I) text is the AMA's and loads only from the user's licensed files. Without them, a CPT
code or a CPT service must be answered plainly ("CPT code, not loaded") rather than with a confident
HCPCS Level II code that merely shares a word (a breast MRI C code for "mri brain without contrast").
The services are a knowledge table of general facts (``data/knowledge/cpt_services.csv``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codefinder.indexer.knowledge import Knowledge
from codefinder.indexer.taxonomy import place

CPT_FORM = re.compile(r"\d{5}|\d{4}[FTUftu]")
WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
LONGEST_PHRASE = 4

NOT_LOADED = "CPT code, not loaded; add your licensed CPT files"


@dataclass(frozen=True)
class CptService:
    """A phrase of the text that names a CPT service, where it is, and what kind of service it is."""

    term: str
    service: str
    start: int
    end: int


def cpt_code_level(text: str) -> str | None:
    """``cpt-1``, ``cpt-2``, ``cpt-3`` or ``cpt-pla`` when the whole text is one code of CPT's form
    ("99213", "0001F"); None otherwise."""
    compact = text.strip()
    if not CPT_FORM.fullmatch(compact):
        return None
    return place(compact.upper()).level


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def cpt_services_in(text: str, knowledge: Knowledge | None) -> list[CptService]:
    """Every CPT service phrase in ``text``, longest first at each position, not overlapping."""
    if knowledge is None or not knowledge.cpt_services:
        return []
    return [
        CptService(term, service, start, end) for term, service, start, end in _phrases(text, knowledge.cpt_services)
    ]


def body_regions_in(text: str, knowledge: Knowledge | None) -> frozenset[str]:
    """The body regions ``text`` names ("mri brain" -> {"head"}), from the knowledge's body sites."""
    if knowledge is None or not knowledge.body_sites:
        return frozenset()
    return frozenset(region for _, region, _, _ in _phrases(text, knowledge.body_sites))


def _phrases(text: str, table: dict[str, str]) -> list[tuple[str, str, int, int]]:
    """(phrase, its value, start, end) for every table phrase in ``text``, longest first at each position,
    not overlapping; plural words match their singular entries."""
    matches = list(WORD.finditer(text.lower()))
    words = [m.group() for m in matches]
    singulars = [_singular(word) for word in words]
    found: list[tuple[str, str, int, int]] = []
    i = 0
    while i < len(words):
        for size in range(min(LONGEST_PHRASE, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + size])
            value = table.get(phrase)
            if value is None:
                phrase = " ".join(singulars[i : i + size])
                value = table.get(phrase)
            if value is not None:
                found.append((phrase, value, matches[i].start(), matches[i + size - 1].end()))
                i += size
                break
        else:
            i += 1
    return found
