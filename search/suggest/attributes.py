"""What an order or MAR line says about an item besides its name: dose, route, how often, how many, a rate,
which side. General facts about how orders are written (ISMP / Joint Commission usage), not rules for
particular notes: "q48h", "bid", "prn" say how often; "IVPB", "SC", "PO" how; "x1", "qty 30", "#30",
"disp 30" how many; "125 mL/h" a rate (never a dose); "left", "RT", "bilateral" a side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from codefinder.search.billing_units import Quantity, stated_dose
from codefinder.search.suggest.segments import Token

# Order shorthand for a route, as written -> the route in words.
ROUTES: dict[str, str] = {
    **dict.fromkeys(("iv", "ivp", "ivpb", "intravenous", "intravenously", "iv push", "iv piggyback"), "intravenous"),
    **dict.fromkeys(("im", "intramuscular", "intramuscularly"), "intramuscular"),
    **dict.fromkeys(("sc", "sq", "subq", "subcut", "sub-q", "subcutaneous", "subcutaneously"), "subcutaneous"),
    **dict.fromkeys(("po", "oral", "orally", "by mouth", "p.o."), "oral"),
    **dict.fromkeys(("sl", "sublingual"), "sublingual"),
    **dict.fromkeys(("neb", "nebulized", "inhaled", "inh", "inhalation", "via neb", "mdi"), "inhalation"),
    **dict.fromkeys(("it", "intrathecal"), "intrathecal"),
    **dict.fromkeys(("io", "intraosseous"), "intraosseous"),
    **dict.fromkeys(("top", "topical", "topically"), "topical"),
    **dict.fromkeys(("pr", "rectal", "rectally"), "rectal"),
    **dict.fromkeys(("intranasal", "nasal", "in"), "intranasal"),
    **dict.fromkeys(("id", "intradermal"), "intradermal"),
}
# Routes whose short form is also an ordinary word: read as a route only right after a dose ("2 mg IN").
AMBIGUOUS_ROUTES = frozenset({"in", "it", "id", "top", "pr"})
FREQUENCY = re.compile(
    r"q\d{1,2}(?:-\d{1,2})?h(?:r|rs)?|q\d{1,2}d|q(?:d|od|am|pm|hs|wk|week|day|shift)|qid|tid|bid|daily|nightly"
    r"|weekly|monthly|prn|stat|once|hs|qhs|ac|pc|x\d+|times\d+",
    re.IGNORECASE,
)
# Count words for "how many": "qty 30", "#30", "disp 30", "dispense 30", "30 each", "x2" (a supply).
QUANTITY_BEFORE = frozenset({"qty", "quantity", "disp", "dispense", "dispensed", "#", "x", "count", "no"})
QUANTITY_AFTER_TEXT = (
    "each ea pair pairs pr box boxes pack packs count ct unit units mile miles sq lens lenses"
)
QUANTITY_AFTER = frozenset(QUANTITY_AFTER_TEXT.split())
TIME_UNITS = frozenset({"h", "hr", "hrs", "hour", "min", "minute", "minutes", "day", "days"})
SIDES: dict[str, str] = {
    **dict.fromkeys(("left", "lt", "l"), "left"),
    **dict.fromkeys(("right", "rt", "r"), "right"),
    **dict.fromkeys(("bilateral", "bilat", "bil", "both", "b/l"), "bilateral"),
}
# One-letter sides are read only when written in capitals before a body part or an item ("L AFO").
ONE_LETTER_SIDES = frozenset({"l", "r"})


@dataclass(frozen=True)
class Attributes:
    """What a mention states besides the item's name (each None when not stated)."""

    dose: Quantity | None = None
    route: str | None = None
    frequency: str | None = None
    quantity: int | None = None
    rate: str | None = None
    side: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "dose": None if self.dose is None else str(self.dose),
            "route": self.route,
            "frequency": self.frequency,
            "quantity": self.quantity,
            "rate": self.rate,
            "side": self.side,
        }


def is_frequency(token: Token) -> bool:
    return bool(FREQUENCY.fullmatch(token.lower))


def rate_positions(tokens: Sequence[Token]) -> set[int]:
    """Tokens of a rate ("125 mL/h", "10 mg/hr", "at 50 mL per hour"): an amount per unit of time."""
    found: set[int] = set()
    for i in range(len(tokens) - 3):
        amount, _, slash, per = tokens[i : i + 4]
        if _number(amount.text) is not None and slash.text in ("/", "per") and per.lower in TIME_UNITS:
            found.update(range(i, i + 4))
    return found


def read_attributes(tokens: Sequence[Token], before: Sequence[Token], is_drug: bool) -> Attributes:
    """The attributes a mention's tokens state; ``before`` are the segment's tokens just before the
    mention (a side is often written first: "left AFO")."""
    rates = rate_positions(tokens)
    rate = " ".join(tokens[i].text for i in sorted(rates)) or None
    kept = [t for i, t in enumerate(tokens) if i not in rates]
    text = " ".join(t.text for t in kept)
    dose = stated_dose(dose_text(text)) if is_drug else None
    lowers = [t.lower for t in kept]
    route = _route(lowers)
    frequencies = [t.text for t in kept if is_frequency(t) and not (is_drug is False and t.lower.startswith("x"))]
    return Attributes(
        dose=dose,
        route=route,
        frequency=" ".join(frequencies) or None,
        quantity=_quantity(kept, is_drug),
        rate=rate,
        side=_side([*before[-3:], *tokens]),
    )


def _route(lowers: list[str]) -> str | None:
    for i, word in enumerate(lowers):
        pair = f"{word} {lowers[i + 1]}" if i + 1 < len(lowers) else ""
        if pair in ROUTES:
            return ROUTES[pair]
        if word in ROUTES and (word not in AMBIGUOUS_ROUTES or (i > 0 and _is_unit(lowers[i - 1]))):
            return ROUTES[word]
    return None


def _is_unit(word: str) -> bool:
    return word in {"mg", "mcg", "g", "gm", "ml", "units", "unit", "meq", "l", "cc"}


def _quantity(tokens: list[Token], is_drug: bool) -> int | None:
    for i, token in enumerate(tokens):
        lower = token.lower
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if lower in QUANTITY_BEFORE and following is not None and (count := _count(following.text)) is not None:
            if lower == "x" and is_drug:
                continue
            return count
        glued = i > 0 and tokens[i - 1].end == token.start  # "4x4" is a size, "x4" a count
        if not is_drug and not glued and re.fullmatch(r"x\d{1,4}", lower):
            return int(lower[1:])
        if (count := _count(token.text)) is not None and following is not None and following.lower in QUANTITY_AFTER:
            return count
    return None


def _count(text: str) -> int | None:
    value = _number(text)
    return int(value) if value is not None and value.is_integer() and 0 < value < 100_000 else None


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _side(tokens: Sequence[Token]) -> str | None:
    sides = set()
    for token in tokens:
        side = SIDES.get(token.lower)
        if side is None or (token.lower in ONE_LETTER_SIDES and token.text != token.text.upper()):
            continue
        sides.add(side)
    if "bilateral" in sides or {"left", "right"} <= sides:
        return "bilateral"
    return next(iter(sides)) if sides else None


# A dose per body weight or surface ("5 mg/kg", "175 mg/m2") is how the dose was chosen, not the dose.
PER_BODY = re.compile(r"\d[\d,.]*\s*(?:mg|mcg|g|units?)\s*/\s*(?:kg|m2|m²|m\s*2)\b", re.IGNORECASE)


def dose_text(text: str) -> str:
    """Tokens rejoined as billing_units reads them ("5,000 units", "4 mg/2 ml"), less doses per kg or m²."""
    return PER_BODY.sub(" ", re.sub(r"\s*/\s*", "/", text))
