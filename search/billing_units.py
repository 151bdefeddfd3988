"""Billing units: how many units of a drug code a stated dose is, and how that was computed.

A drug code is billed per a unit its descriptor states ("Injection, ceftriaxone sodium, per 250 mg",
"…, up to 10 mg", "…, 1 mg"); the ASP crosswalk's "HCPCS dosage" says the same where the descriptor is
unclear. A dose ("ceftriaxone 1 g") converts to the code's unit (1 g = 1000 mg) and divides by it
(1000 / 250 = 4). A partial unit is billed as a whole one (CMS rounds up to the next billing unit), so
the count is the ceiling. Doses convert only within a dimension (mass, volume, activity units,
milliequivalents, radioactivity): mg never converts to ml.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from codefinder.indexer.records import CodeRecord

# unit spelling -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    **{name: ("mass", 0.001) for name in ("mcg", "mcgs", "ug", "µg", "microgram", "micrograms")},
    **{name: ("mass", 1.0) for name in ("mg", "mgs", "milligram", "milligrams")},
    **{name: ("mass", 1000.0) for name in ("g", "gm", "gms", "gram", "grams", "gr")},
    **{name: ("volume", 1.0) for name in ("ml", "mls", "cc", "ccs", "milliliter", "milliliters", "millilitre")},
    **{name: ("volume", 1000.0) for name in ("l", "liter", "liters", "litre", "litres")},
    **{name: ("activity", 1.0) for name in ("unit", "units", "u", "iu", "ius", "usp")},
    **{name: ("meq", 1.0) for name in ("meq", "milliequivalent", "milliequivalents")},
    **{name: ("radioactivity", 1.0) for name in ("mci", "millicurie", "millicuries")},
    **{name: ("radioactivity", 0.001) for name in ("uci", "µci", "microcurie", "microcuries")},
}
BASE_NAMES = {"mass": "mg", "volume": "ml", "activity": "units", "meq": "meq", "radioactivity": "mci"}

_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)"
_UNIT = "|".join(sorted((re.escape(name) for name in UNITS), key=len, reverse=True))
# "1 g", "1gm", "10,000 units", "0.5 mL"; not the "5" of "5%" or of "mg/5 ml" read as a dose on its own
QUANTITY = re.compile(rf"(?<![\w.]){_NUMBER}\s*({_UNIT})(?![a-z])", re.IGNORECASE)
# a concentration: "100 units/ml", "4 mg/2 ml", "5,000 UNIT/ML"
CONCENTRATION = re.compile(rf"(?<![\w.]){_NUMBER}\s*({_UNIT})\s*/\s*{_NUMBER}?\s*(ml|cc|l)(?![a-z])", re.IGNORECASE)
# how a descriptor states its unit: "per 250 mg", "up to 10 mg", or a trailing ", 1 mg"
# "5% dextrose/water (500 ml = 1 unit)": the descriptor says outright what one unit is
EQUALS_ONE_UNIT = re.compile(rf"{_NUMBER}\s*({_UNIT})\s*=\s*1\s+unit\b", re.IGNORECASE)
UP_TO = re.compile(rf"\bup to\s+{_NUMBER}\s*({_UNIT})(?![a-z])", re.IGNORECASE)
PER = re.compile(rf"\bper\s+{_NUMBER}?\s*({_UNIT})(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """An amount in a unit as written ("1 g"), with its dimension and its value in the base unit."""

    amount: float
    unit: str
    dimension: str
    base: float  # the amount in the dimension's base unit (mg, ml, units, meq, mci)

    @classmethod
    def of(cls, amount: float, unit: str) -> Quantity | None:
        known = UNITS.get(unit.lower())
        if known is None:
            return None
        dimension, factor = known
        return cls(amount, unit.lower(), dimension, amount * factor)

    def __str__(self) -> str:
        return f"{_number(self.amount)} {self.unit}"


@dataclass(frozen=True)
class BillingUnit:
    """What one unit of a code is: "250 mg", "up to 10 mg" (``up_to``), from the descriptor or the crosswalk."""

    quantity: Quantity
    up_to: bool
    source: str  # "descriptor" or "crosswalk"

    def __str__(self) -> str:
        return f"{'up to ' if self.up_to else ''}{self.quantity}"


@dataclass(frozen=True)
class UnitsComputation:
    """Expected billing units for a dose, and the arithmetic that gave them, in words."""

    units: int
    dose: Quantity
    per: BillingUnit
    explanation: str

    def to_dict(self) -> dict[str, object]:
        return {
            "units": self.units,
            "dose": str(self.dose),
            "per": str(self.per),
            "per_source": self.per.source,
            "how": self.explanation,
        }


def _amount(text: str) -> float:
    return float(text.replace(",", ""))


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:,.0f}"


def parse_quantities(text: str) -> list[Quantity]:
    """Every amount with a known unit in ``text``, in order: "ceftriaxone 1 g IV" -> [1 g]. A concentration's
    denominator ("4 mg/2 ml") is not an amount of its own and is skipped."""
    found: list[Quantity] = []
    for match in QUANTITY.finditer(text):
        before = text[: match.start()].rstrip()
        if before.endswith("/"):
            continue
        quantity = Quantity.of(_amount(match.group(1)), match.group(2))
        if quantity is not None:
            found.append(quantity)
    return found


def stated_dose(text: str) -> Quantity | None:
    """The dose a line states. A concentration times a volume given apart ("heparin 100 units/ml, 5 ml") is
    their product; a concentration over a stated volume ("ondansetron 4 mg/2 ml") is that amount; a
    concentration per ml with no volume ("HEPARIN 5000 UNIT/ML") states no dose. Otherwise the first mass,
    activity, meq or radioactivity amount, and a volume only when nothing else is stated (a bag size)."""
    concentration = CONCENTRATION.search(text)
    if concentration is not None:
        amount, unit, per_volume, volume_unit = concentration.groups()
        strength = Quantity.of(_amount(amount), unit)
        rest = text[: concentration.start()] + " " + text[concentration.end() :]
        volumes = [q for q in parse_quantities(rest) if q.dimension == "volume"]
        per_ml = (_amount(per_volume) if per_volume else 1.0) * UNITS[volume_unit.lower()][1]
        if strength is not None and volumes:
            total = strength.amount * volumes[0].base / per_ml
            return Quantity.of(round(total, 6), strength.unit)
        if strength is not None and per_volume:
            return strength
        others = [q for q in parse_quantities(rest) if q.dimension != "volume"]
        return others[0] if others else None
    quantities = parse_quantities(text)
    for quantity in quantities:
        if quantity.dimension != "volume":
            return quantity
    return quantities[0] if quantities else None


def billing_unit(record: CodeRecord) -> BillingUnit | None:
    """The unit one billed unit of ``record`` stands for: the descriptor's "up to X", "per X" or trailing
    ", X unit", else the crosswalk's HCPCS dosage."""
    description = record.long_description or record.short_description or ""
    if match := EQUALS_ONE_UNIT.search(description):
        quantity = Quantity.of(_amount(match.group(1)), match.group(2))
        if quantity is not None:
            return BillingUnit(quantity, False, "descriptor")
    if match := UP_TO.search(description):
        quantity = Quantity.of(_amount(match.group(1)), match.group(2))
        if quantity is not None:
            return BillingUnit(quantity, True, "descriptor")
    if match := PER.search(description):
        quantity = Quantity.of(_amount(match.group(1)) if match.group(1) else 1.0, match.group(2))
        if quantity is not None:
            return BillingUnit(quantity, False, "descriptor")
    last_clause = re.split(r",\s", description)[-1]  # "100,000 units" is one number, not two clauses
    clause = parse_quantities(last_clause)
    if len(clause) == 1 and last_clause.strip().lower().startswith(tuple("0123456789.")):
        return BillingUnit(clause[0], False, "descriptor")
    crosswalk = parse_quantities(record.drug_dosage or "")
    if len(crosswalk) == 1:
        return BillingUnit(crosswalk[0], False, "crosswalk")
    return None


def expected_units(dose: Quantity, per: BillingUnit) -> UnitsComputation | None:
    """Units of ``per`` that bill ``dose``, rounded up to whole units; None across dimensions (mg vs ml)."""
    if dose.dimension != per.quantity.dimension or per.quantity.base <= 0:
        return None
    exact = round(dose.base / per.quantity.base, 6)
    units = max(1, math.ceil(exact))
    code_unit = per.quantity.unit
    steps = []
    if UNITS[dose.unit][1] != UNITS[code_unit][1]:
        steps.append(f"{dose} = {_number(dose.base / UNITS[code_unit][1])} {code_unit}")
    if per.up_to:
        steps.append(f"each unit covers up to {per.quantity}: {_number(exact)} of them")
    else:
        steps.append(f"{_number(dose.base / UNITS[code_unit][1])} {code_unit} ÷ {per.quantity} = {_number(exact)}")
    if units != exact:
        steps.append(f"rounded up to {units}")
    return UnitsComputation(units, dose, per, "; ".join(steps) + f" → {units} unit{'s' if units != 1 else ''}")


def units_for(text: str, record: CodeRecord) -> UnitsComputation | None:
    """Expected billing units of ``record`` for the dose ``text`` states, or None when either side is unknown."""
    dose = stated_dose(text)
    per = billing_unit(record)
    if dose is None or per is None:
        return None
    return expected_units(dose, per)


@dataclass(frozen=True)
class SiblingPerDose:
    """A sibling of a code billed per exactly the dose a line states, where the code's unit bills it only by
    rounding: "albumin 5 % 50 ml" on P9048 (250 ml) when P9043 is the 50 ml code."""

    code: str
    dose: Quantity
    code_unit: BillingUnit
    sibling_unit: BillingUnit

    def __str__(self) -> str:
        return f"dose {self.dose} vs code unit {self.code_unit}; {self.code} is {self.sibling_unit}"


def unit_template(record: CodeRecord) -> str:
    """The descriptor with its amounts taken out: "Injection, methylprednisolone acetate, 40 mg" and "…, 80 mg"
    are one drug's siblings by dose; "…, up to 40 mg" is not the same template."""
    return QUANTITY.sub("#", (record.long_description or record.short_description or "").lower())


def _same_amount(first: Quantity, second: Quantity) -> bool:
    return first.dimension == second.dimension and math.isclose(first.base, second.base, rel_tol=1e-9)


def whole_units(dose: Quantity, per: BillingUnit) -> bool:
    """The dose is billed without rounding: within an "up to" unit, or a whole number of the code's units."""
    if per.up_to:
        return dose.base <= per.quantity.base
    exact = dose.base / per.quantity.base
    return exact >= 1 and math.isclose(exact, round(exact), rel_tol=1e-9)


def sibling_per_dose(text: str, record: CodeRecord, siblings: Iterable[CodeRecord]) -> SiblingPerDose | None:
    """The sibling (same descriptor but for its amount) billed per exactly the dose ``text`` states, when
    ``record``'s unit would bill it only by rounding ("albumin 5 % 50 ml" on the 250 ml code when a 50 ml code
    exists). A dose that is a whole number of the code's units (80 mg on a 40 mg code, 40 mg on a 1 mg code) is
    billed right with that many units: the count is checked against the billed units instead."""
    dose = stated_dose(text)
    own = billing_unit(record)
    if dose is None or own is None or own.source != "descriptor" or own.quantity.dimension != dose.dimension:
        return None
    if own.quantity.base <= 0 or whole_units(dose, own):
        return None
    template = unit_template(record)
    for sibling in siblings:
        if sibling.code == record.code:
            continue
        unit = billing_unit(sibling)
        if (
            unit is not None
            and unit.source == "descriptor"
            and not unit.up_to
            and _same_amount(unit.quantity, dose)
            and unit_template(sibling) == template
        ):
            return SiblingPerDose(sibling.code, dose, own, unit)
    return None


# How a supply's descriptor counts: "…, per 50 strips", "…, per box of 100", "…, per lens", "…, each".
PER_COUNT = re.compile(
    r"\bper\s+(?:(?:box|pack|package|bottle|case)\s+of\s+)?(\d+)\s*([a-z]*)"
    r"|\bper\s+()((?:statute\s+|square\s+|linear\s+)?[a-z]+)",
    re.IGNORECASE,
)
EACH = re.compile(r"\beach\b", re.IGNORECASE)
# "per day", "per week", "per month": a unit of time, not of things, so a count of pieces says nothing.
TIME_NOUNS = frozenset({"day", "days", "week", "weeks", "month", "months", "hour", "hours", "minute", "minutes"})


def count_units(quantity: int, record: CodeRecord) -> UnitsComputation | None:
    """Units of a supply billed for ``quantity`` pieces ("test strips qty 100" on "…, per 50 strips" -> 2):
    the descriptor's "per N …" divides (rounded up); "each", or no unit stated at all, bills one unit a
    piece. None for a code billed by a dose (``billing_unit``) or per unit of time."""
    description = record.long_description or record.short_description or ""
    if quantity <= 0 or billing_unit(record) is not None:
        return None
    pieces = Quantity(float(quantity), "each", "count", float(quantity))
    plural = "s" if quantity != 1 else ""
    if match := PER_COUNT.search(description):
        number, noun = (match.group(1), match.group(2)) if match.group(1) else (None, match.group(4))
        noun = noun.lower() or "pieces"
        if noun in TIME_NOUNS:
            return None
        size = int(number or 1)
        if size <= 0:
            return None
        units = math.ceil(quantity / size)
        how = f"{quantity} ÷ {size} {noun} a unit = {_number(quantity / size)}"
        if units != quantity / size:
            how += f"; rounded up to {units}"
        per = BillingUnit(Quantity(float(size), noun, "count", float(size)), False, "descriptor")
        return UnitsComputation(units, pieces, per, f"{how} → {units} unit{'s' if units != 1 else ''}")
    basis = "billed each" if EACH.search(description) else "no unit stated in the descriptor: one a piece"
    per = BillingUnit(Quantity(1.0, "each", "count", 1.0), False, "descriptor")
    return UnitsComputation(quantity, pieces, per, f"{quantity} {basis} → {quantity} unit{plural}")
