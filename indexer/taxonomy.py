"""Where a code sits in the HCPCS/CPT taxonomy, decided from the code's shape alone."""

from __future__ import annotations

import re
from dataclasses import dataclass

HCPCS_SECTIONS: dict[str, str] = {
    "A": "Transportation services, medical and surgical supplies",
    "B": "Enteral and parenteral therapy",
    "C": "Outpatient prospective payment system (temporary hospital codes)",
    "D": "Dental procedures (CDT)",
    "E": "Durable medical equipment",
    "G": "Procedures and professional services (temporary)",
    "H": "Behavioral health and substance abuse treatment services",
    "J": "Drugs administered other than oral method",
    "K": "Durable medical equipment (temporary codes for DME MACs)",
    "L": "Orthotic and prosthetic procedures and devices",
    "M": "Medical services and quality measures",
    "P": "Pathology and laboratory services",
    "Q": "Temporary codes (miscellaneous services, drugs and supplies)",
    "R": "Diagnostic radiology services",
    "S": "Temporary national codes (non-Medicare)",
    "T": "National codes established for state Medicaid agencies",
    "U": "Laboratory tests (temporary, coronavirus)",
    "V": "Vision, hearing and speech-language pathology services",
}

# Headings of HCPCS Level II code ranges whose descriptors leave the heading unsaid: "Below knee, molded
# socket, shin, sach foot" (L5100) is a lower limb prosthesis only by its place under the heading. The
# keyword index adds the heading's words to each code in the range (knowledge field).
RANGE_HEADINGS: tuple[tuple[str, str, str], ...] = (
    ("L5000", "L5999", "lower limb prosthesis prosthetic"),
    ("L6000", "L7499", "upper limb prosthesis prosthetic"),
)


def range_heading(code: str) -> str:
    """The heading words of the code's range, or "" (codes compare as text: same letter, four digits)."""
    return next((words for first, last, words in RANGE_HEADINGS if first <= code <= last and len(code) == 5), "")


LEVEL_LABELS: dict[str, str] = {
    "hcpcs-2": "HCPCS Level II",
    "hcpcs-modifier": "HCPCS Level II modifier",
    "cpt-1": "CPT Category I (HCPCS Level I)",
    "cpt-2": "CPT Category II",
    "cpt-3": "CPT Category III",
    "cpt-pla": "CPT Proprietary Laboratory Analyses",
    "cpt-modifier": "CPT modifier (HCPCS Level I)",
}

LEVEL_ALIASES: dict[str, str] = {
    "2": "hcpcs-2",
    "ii": "hcpcs-2",
    "level2": "hcpcs-2",
    "hcpcs": "hcpcs-2",
    "hcpcs2": "hcpcs-2",
    "modifier": "hcpcs-modifier",
    "1": "cpt-1",
    "i": "cpt-1",
    "level1": "cpt-1",
    "cpt": "cpt-1",
    "cpt1": "cpt-1",
    "category1": "cpt-1",
    "cpt2": "cpt-2",
    "category2": "cpt-2",
    "cpt3": "cpt-3",
    "category3": "cpt-3",
    "pla": "cpt-pla",
}

HCPCS_CODE = re.compile(r"[A-Z]\d{4}")
CPT_CATEGORY_1 = re.compile(r"\d{5}")
CPT_LETTERED = re.compile(r"\d{4}[FTU]")
MODIFIER = re.compile(r"[A-Z0-9]{2}")
ANY_CODE = re.compile(r"[A-Z]\d{4}|\d{5}|\d{4}[FTU]|[A-Z0-9]{2}")


@dataclass(frozen=True)
class Placement:
    """A code's system, level key, kind and section."""

    system: str
    level: str
    kind: str
    section: str | None
    section_name: str | None

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]


def normalize_code(raw: str) -> str:
    """Strip the padding CMS puts around codes (``"   A1"``) and upper-case them."""
    return raw.strip().upper()


def is_code(text: str) -> bool:
    return ANY_CODE.fullmatch(text) is not None


def place(code: str) -> Placement:
    """Classify a normalized code; raises ValueError for a shape no code system uses."""
    if HCPCS_CODE.fullmatch(code):
        letter = code[0]
        return Placement("HCPCS", "hcpcs-2", "code", letter, HCPCS_SECTIONS.get(letter, "Other"))
    if CPT_CATEGORY_1.fullmatch(code):
        return Placement("CPT", "cpt-1", "code", None, None)
    if CPT_LETTERED.fullmatch(code):
        level = {"F": "cpt-2", "T": "cpt-3", "U": "cpt-pla"}[code[-1]]
        return Placement("CPT", level, "code", None, None)
    if MODIFIER.fullmatch(code):
        if code.isdigit():
            return Placement("CPT", "cpt-modifier", "modifier", None, "Modifier")
        return Placement("HCPCS", "hcpcs-modifier", "modifier", None, "Modifier")
    raise ValueError(f"{code!r} is not a HCPCS, CPT or modifier code")


def canonical_level(value: str) -> str:
    """Accept the level keys and their common spellings (``II``, ``cpt3``); ValueError otherwise."""
    key = value.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    for level in LEVEL_LABELS:
        if key == level.replace("-", ""):
            return level
    if key in LEVEL_ALIASES:
        return LEVEL_ALIASES[key]
    raise ValueError(f"unknown level {value!r}; use one of {', '.join(LEVEL_LABELS)}")
