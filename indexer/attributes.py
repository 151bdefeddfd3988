"""Quantities and qualifiers in a descriptor or a query, parsed into structured attributes.

Siblings often differ by one attribute: a dressing's pad size ("16 sq. in. or less" / "more than 16 sq. in. but
less than or equal to 48 sq. in."), a bed's weight capacity, a stocking's pressure ("18-30 mmhg"), a parenteral
solution's protein grams, a lens type, whether a visit is initial or subsequent. Each family is a small named
parser; the same parsers read descriptors once at build time and a query at search time, so "4x4 foam
dressing", "10 x 10 cm" or "bed for a 400 lb patient" can be checked against what each sibling states.

Numbers are converted to one unit per family (square inches, pounds, mmHg, grams, inches, minutes, ml,
milligrams…) and compared as intervals, never as strings. A descriptor states an interval ("more than 16 but
<= 48 sq in" is (16, 48]); a query states a value or an interval. A query value inside a sibling's interval
agrees with it; outside every interval the sibling states for that family, it conflicts. Qualifiers (lens
type, power, rental or purchase, patient age group, first or subsequent…) are modes: one value per family.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# --- the attribute types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """An interval on one family's scale; ``None`` is unbounded."""

    family: str
    low: float | None
    high: float | None
    low_open: bool = False
    high_open: bool = False
    # a billing unit ("per 15 minutes", "500 ml = 1 unit"): agrees when it holds the query's value, but a
    # query's other value is billed in several such units, so it never conflicts
    billing: bool = False

    @classmethod
    def point(cls, family: str, value: float, billing: bool = False) -> Quantity:
        return cls(family, value, value, billing=billing)

    def _above_low(self, value: float) -> bool:
        return self.low is None or value > self.low or (value == self.low and not self.low_open)

    def _below_high(self, value: float) -> bool:
        return self.high is None or value < self.high or (value == self.high and not self.high_open)

    def holds(self, inner: Quantity) -> bool:
        """``inner`` (a query's value or interval) lies within this interval."""
        if inner.family != self.family:
            return False
        if self.low is not None:
            if inner.low is None or inner.low < self.low:
                return False
            if inner.low == self.low and self.low_open and not inner.low_open:
                return False
        if self.high is not None:
            if inner.high is None or inner.high > self.high:
                return False
            if inner.high == self.high and self.high_open and not inner.high_open:
                return False
        return True

    def disjoint(self, other: Quantity) -> bool:
        """The two intervals share no value."""
        if other.family != self.family:
            return True
        return _below(self.high, self.high_open, other.low, other.low_open) or _below(
            other.high, other.high_open, self.low, self.low_open
        )

    def to_json(self) -> list[Any]:
        bounds = ("(" if self.low_open else "[") + (")" if self.high_open else "]") + ("per" if self.billing else "")
        return ["q", self.family, self.low, self.high, bounds]


@dataclass(frozen=True)
class Mode:
    """A qualifier with one value per family: ("lens", "bifocal"), ("sequence", "initial")."""

    family: str
    value: str

    def to_json(self) -> list[Any]:
        return ["m", self.family, self.value]


Attribute = Quantity | Mode


def _below(high: float | None, high_open: bool, low: float | None, low_open: bool) -> bool:
    """An interval ending at ``high`` lies wholly below one starting at ``low``."""
    if high is None or low is None:
        return False
    return low > high or (low == high and (high_open or low_open))


def attribute_from_json(data: list[Any]) -> Attribute:
    if data[0] == "q":
        _, family, low, high, bounds = data
        return Quantity(
            str(family),
            None if low is None else float(low),
            None if high is None else float(high),
            bounds[0] == "(",
            bounds[1] == ")",
            bounds.endswith("per"),
        )
    if data[0] == "m":
        return Mode(str(data[1]), str(data[2]))
    raise ValueError(f"not an attribute: {data!r}")


# --- the numeric grammar shared by every quantity family -------------------------------------------------

WORD_NUMBERS = {
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "eleven": 11.0,
    "twelve": 12.0,
}
NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+|" + "|".join(WORD_NUMBERS) + r")"
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
LOWER_OPS = {
    "more than": True,
    "greater than": True,
    "greater than or equal to": False,
    "more than or equal to": False,
    "equal to or greater than": False,  # "(equal to or greater than 1.5 kcal/ml)"
    "equal to or more than": False,
    "at least": False,
    "minimum of": False,
    "over": True,
    "exceeding": True,
    "exceeds": True,
    "larger than": True,
    "above": True,
    ">": True,
    ">=": False,
    "≥": False,
}
UPPER_OPS = {
    "less than or equal to": False,
    "equal to or less than": False,
    "up to and including": False,
    "up to": False,
    "not more than": False,
    "not greater than": False,
    "no more than": False,
    "maximum of": False,
    "not to exceed": False,
    "less than": True,
    "under": True,
    "below": True,
    "smaller than": True,
    "<": True,
    "<=": False,
    "≤": False,
}
SUFFIX_OPS = {
    "or less": ("high", False),
    "or smaller": ("high", False),
    "or fewer": ("high", False),
    "or under": ("high", False),
    "or below": ("high", False),
    "or lower": ("high", False),
    "or younger": ("high", False),
    "or more": ("low", False),
    "or greater": ("low", False),
    "or larger": ("low", False),
    "or higher": ("low", False),
    "or above": ("low", False),
    "or over": ("low", False),
    "or older": ("low", False),
    "and over": ("low", False),
    "and above": ("low", False),
    "and older": ("low", False),
    "and up": ("low", False),
    "and greater": ("low", False),
    "plus": ("low", False),
    "+": ("low", False),
}


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def to_number(text: str) -> float:
    return WORD_NUMBERS.get(text) or float(text)


@dataclass(frozen=True)
class QuantityFamily:
    """A named quantity family: the unit words it is written in and how each converts to the family's unit."""

    name: str
    units: str  # a regex matching the unit words
    to_base: Callable[[float, str], float]
    before: str = ""  # words that may stand between the number and the unit ("grams of protein")

    def compiled(self) -> re.Pattern[str]:
        """One pattern whose alternatives are the shapes, most specific first ("more than 16 but less than or
        equal to 48 sq in", "18-30 mmhg", "16 sq in or less", "up to 4 mg", "4 mg"); at a given position the
        first that matches wins, and a shape starting earlier (with its comparison word) wins over a later one.
        Each alternative's groups are prefixed with its shape."""
        units = self.units
        lower = _alternatives(LOWER_OPS)
        upper = _alternatives(UPPER_OPS)
        suffix = _alternatives(SUFFIX_OPS)
        end = r"(?![a-z0-9])"

        def unit(name: str) -> str:
            return rf"(?:{self.before})?(?P<{name}>{units})"

        shapes = {
            "between": rf"(?<![a-z])(?P<between_lo_op>{lower})\s*(?P<between_n1>{NUMBER})(?:\s*{unit('between_u1')})?"
            rf"\s*,?\s*(?:but|and)\s+(?P<between_hi_op>{upper})\s*(?P<between_n2>{NUMBER})\s*{unit('between_u')}{end}",
            "span": rf"(?<![a-z\d.])(?P<span_n1>{NUMBER})(?:\s*{unit('span_u1')})?\s*(?:-|–|to|through|thru)\s*"
            rf"(?P<span_n2>{NUMBER})\s*{unit('span_u')}{end}",
            "suffix": rf"(?<![a-z\d.])(?P<suffix_n1>{NUMBER})\s*{unit('suffix_u')}{end}\s*(?P<suffix_op>{suffix})",
            # "four or more leads", "3 or more ports": the comparison between the number and its unit
            "inner": rf"(?<![a-z\d.])(?P<inner_n1>{NUMBER})\s+(?P<inner_op>{suffix})\s+{unit('inner_u')}{end}",
            "prefix": rf"(?<![a-z])(?P<prefix_op>{lower}|{upper})\s*(?P<prefix_n1>{NUMBER})\s*{unit('prefix_u')}{end}",
            "point": rf"(?<![a-z\d.])(?P<point_n1>{NUMBER})\s*{unit('point_u')}{end}",
        }
        return re.compile("|".join(f"(?P<{shape}>{body})" for shape, body in shapes.items()))


def _convert(family: QuantityFamily, number: str, unit: str | None, fallback: str) -> float:
    return family.to_base(to_number(number), (unit or fallback).strip())


def parse_quantities(family: QuantityFamily, text: str) -> tuple[list[Quantity], str]:
    """Every interval of the family in ``text``, and the text with the parsed spans blanked out (so a later
    family does not read them again)."""
    found: list[Quantity] = []
    spans: list[tuple[int, int]] = []
    if not _unit_pattern(family).search(text):
        return found, text
    for match in _pattern(family).finditer(text):
        shape = match.lastgroup
        groups = {k.partition("_")[2]: v for k, v in match.groupdict().items() if k.startswith(f"{shape}_")}
        unit = groups["u"]
        if shape == "between":
            quantity = Quantity(
                family.name,
                _convert(family, groups["n1"], groups.get("u1"), unit),
                _convert(family, groups["n2"], unit, unit),
                LOWER_OPS[groups["lo_op"]],
                UPPER_OPS[groups["hi_op"]],
            )
        elif shape == "span":
            low = _convert(family, groups["n1"], groups.get("u1"), unit)
            high = _convert(family, groups["n2"], unit, unit)
            if low > high:
                continue
            quantity = Quantity(family.name, low, high)
        elif shape in ("suffix", "inner"):
            value = _convert(family, groups["n1"], unit, unit)
            side, is_open = SUFFIX_OPS[groups["op"]]
            quantity = (
                Quantity(family.name, None, value, False, is_open)
                if side == "high"
                else Quantity(family.name, value, None, is_open, False)
            )
        elif shape == "prefix":
            value = _convert(family, groups["n1"], unit, unit)
            op = groups["op"]
            quantity = (
                Quantity(family.name, value, None, LOWER_OPS[op], False)
                if op in LOWER_OPS
                else Quantity(family.name, None, value, False, UPPER_OPS[op])
            )
        else:
            before, after = BILLING_BEFORE.search(text, 0, match.start()), BILLING_AFTER.match(text, match.end())
            billing = before is not None or after is not None
            quantity = Quantity.point(family.name, _convert(family, groups["n1"], unit, unit), billing)
        found.append(quantity)
        spans.append(match.span())
    return found, _blank(text, spans)


# "per 15 minutes", "each 15 minutes", "(500 ml = 1 unit)": the unit a service or supply is billed in.
BILLING_BEFORE = re.compile(r"\b(?:per|each|every)\s*$")
BILLING_AFTER = re.compile(r"\s*=\s*1 unit")

_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}
_UNIT_CACHE: dict[str, re.Pattern[str]] = {}


def _pattern(family: QuantityFamily) -> re.Pattern[str]:
    if family.name not in _PATTERN_CACHE:
        _PATTERN_CACHE[family.name] = family.compiled()
    return _PATTERN_CACHE[family.name]


def _unit_pattern(family: QuantityFamily) -> re.Pattern[str]:
    """A quick test: does the text name the family's unit at all?"""
    if family.name not in _UNIT_CACHE:
        _UNIT_CACHE[family.name] = re.compile(rf"(?<![a-z])(?:{family.before})?(?:{family.units})(?![a-z0-9])")
    return _UNIT_CACHE[family.name]


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


# --- the quantity families ---------------------------------------------------------------------------------

SQ_CM_PER_SQ_IN = 6.4516
LB_PER_KG = 2.20462262
CM_PER_INCH = 2.54


def _area(value: float, unit: str) -> float:
    return value / SQ_CM_PER_SQ_IN if "cm" in unit or "centimet" in unit else value


def _weight(value: float, unit: str) -> float:
    return value * LB_PER_KG if unit.startswith("k") else value


def _length(value: float, unit: str) -> float:
    if unit.startswith(("mm", "millimet")):
        return value / (CM_PER_INCH * 10)
    if unit.startswith(("cm", "centimet")):
        return value / CM_PER_INCH
    if unit.startswith(("f", "ft")):
        return value * 12
    return value


def _minutes(value: float, unit: str) -> float:
    return value * 60 if unit.startswith("h") else value


def _millilitres(value: float, unit: str) -> float:
    return value * 1000 if unit.startswith("l") else value


def _same(value: float, unit: str) -> float:
    return value


AREA = QuantityFamily(
    "area",
    r"sq\.?\s*in(?:ch(?:es)?)?\.?|square inch(?:es)?|in2|sq\.?\s*cm\.?|square centimet(?:er|re)s?|cm2|cm²",
    _area,
)
WEIGHT = QuantityFamily("weight", r"pounds?|lbs?\.?|kg|kilograms?", _weight)
PRESSURE = QuantityFamily("pressure", r"mm\s?hg", _same)
PROTEIN = QuantityFamily("protein", r"(?:grams?|gm?)\s+(?:of\s+)?protein", _same)
CALORIES = QuantityFamily("calories", r"k?cal(?:orie)?s?", _same)
PERCENT = QuantityFamily("percent", r"%|percent", _same)
WIDTH = QuantityFamily(
    "length",
    r"inch(?:es)?|in\.|\"|in(?=\s*(?:$|[x×,;)]|wide|width|long|length|roll))|cm|centimet(?:er|re)s?|mm|"
    r"millimet(?:er|re)s?|feet|foot|ft",
    _length,
)
DURATION = QuantityFamily("duration", r"minutes?|mins?|hours?|hrs?", _minutes)
VOLUME = QuantityFamily("volume", r"ml|cc|milliliters?|millilitres?|liters?|litres?|l(?![a-z])", _millilitres)
# Counts that tell sibling devices apart: a TENS "two lead" or "four or more leads", an ECG's 12 leads; an
# interferential stimulator's 2 or 4 channels, a home sleep test's "minimum of 7 channels".
LEADS = QuantityFamily("leads", r"leads?", _same)
CHANNELS = QuantityFamily("channels", r"channels?", _same)


def _milligrams(value: float, unit: str) -> float:
    if unit.startswith(("mcg", "microgram")):
        return value / 1000
    if unit.startswith(("g", "gm", "gram")):
        return value * 1000
    return value


# A drug's strength in a range ("greater than 6 mg, but less than or equal to 10 mg buprenorphine"); single
# amounts are read by ``parse_doses`` too.
DOSE_MASS = QuantityFamily("dose:mg", r"mg|milligrams?|mcg|micrograms?|gm|grams?|g", _milligrams)

# Dimensions: "4 x 4", "10 x 10 cm", "4 in x 4 in": an area; three dimensions are a volume and are skipped.
DIMENSION_UNIT = r"(?:in(?:ch(?:es)?)?\.?|\"|cm|mm)"
DIMENSIONS = re.compile(
    rf"(?<![\dx×.])(?P<bound>larger than |smaller than |greater than |more than |up to )?(?P<a>\d+(?:\.\d+)?)\s*"
    rf"(?P<ua>{DIMENSION_UNIT})?\s*[x×]\s*(?P<b>\d+(?:\.\d+)?)\s*(?P<ub>{DIMENSION_UNIT})?"
    rf"(?![\d.]|\s*[x×]\s*\d)(?P<suffix>\s*or (?:smaller|less|larger|greater|equivalent))?"
)


def parse_dimensions(text: str) -> tuple[list[Quantity], str]:
    """ "4 x 4", "10x10cm", "larger than 4 x 4 inches", "4 x 4 inches or smaller": areas in square inches."""
    found: list[Quantity] = []
    spans = []
    for match in DIMENSIONS.finditer(text):
        unit = (match["ub"] or match["ua"] or "in").strip()
        scale = _length(1.0, unit)
        area = float(match["a"]) * scale * float(match["b"]) * scale
        bound = (match["bound"] or "").strip()
        suffix = (match["suffix"] or "").strip()
        if bound in ("larger than", "greater than", "more than"):
            found.append(Quantity("area", area, None, True, False))
        elif bound in ("smaller than", "up to") or suffix in ("or smaller", "or less"):
            found.append(Quantity("area", None, area, False, bound == "smaller than"))
        elif suffix in ("or larger", "or greater"):
            found.append(Quantity("area", area, None))
        else:
            found.append(Quantity.point("area", area))
        spans.append(match.span())
    return found, _blank(text, spans)


AGE = re.compile(
    rf"(?:(?P<lo_word>age[sd]?|aged)\s+)?(?P<n1>{NUMBER})\s*(?:(?:-|to|through)\s*(?P<n2>{NUMBER})\s*)?"
    r"(?P<unit>years?|yrs?|months?|mos?)[\s-]*(?:of age|old|of life)?"
    r"\s*(?P<op>and older|or older|and over|and above|or younger|and younger|or less)?"
)
AGE_PREFIX = re.compile(
    rf"\b(?:under|younger than|less than)\s+(?:age\s+(?P<a>{NUMBER})|(?P<n>{NUMBER})\s*years?(?:\s+of age)?)"
)
AGE_CONTEXT = re.compile(r"of age|old|of life|\baged?\b|older|younger")


def parse_age(text: str) -> tuple[list[Quantity], str]:
    """Ages in years: "3 years of age and older", "6-35 months of age", "a 4 year old", "ages 2 through 5"."""
    found: list[Quantity] = []
    spans = []
    for match in AGE.finditer(text):
        phrase = match.group(0)
        if not AGE_CONTEXT.search(phrase):
            continue  # "12 months" alone is a period, not an age
        scale = 1 / 12 if match["unit"].startswith("m") else 1.0
        low = to_number(match["n1"]) * scale
        high = to_number(match["n2"]) * scale if match["n2"] else low
        op = match["op"] or ""
        if op.endswith(("older", "over", "above")):
            found.append(Quantity("age", low, None))
        elif op.endswith(("younger", "less")):
            found.append(Quantity("age", None, high))
        else:
            found.append(Quantity("age", low, high))
        spans.append(match.span())
    text = _blank(text, spans)
    for match in AGE_PREFIX.finditer(text):
        found.append(Quantity("age", None, to_number(match["a"] or match["n"]), False, True))
    return found, text


# Families whose conflicts count against a sibling, in the order they read a text (dimensions first: "4 x 4
# inches" is an area, not a width). Doses and grades only ever agree (see ``DOSE_FAMILIES``).
QUANTITY_FAMILIES: tuple[QuantityFamily, ...] = (
    AREA,
    WEIGHT,
    PRESSURE,
    PROTEIN,
    CALORIES,
    PERCENT,
    DURATION,
    VOLUME,
    LEADS,
    CHANNELS,
)
# Read from descriptors only, after the others: a query's single strength is ``parse_doses``'s.
DESCRIPTOR_FAMILIES: tuple[QuantityFamily, ...] = (DOSE_MASS,)


# --- doses ----------------------------------------------------------------------------------------------
# A drug's billing unit ("per 15 mg", "up to 4 mg", "300-399 mg/ml", "400 or greater mg/ml") and a query's
# strength. Converted within a dimension: g and mcg to mg, microcuries to millicuries.
DOSE_SCALE: dict[str, tuple[str, float]] = {
    "mg": ("dose:mg", 1.0),
    "g": ("dose:mg", 1000.0),
    "mcg": ("dose:mg", 0.001),
    "unit": ("dose:unit", 1.0),
    "meq": ("dose:meq", 1.0),
    "mmol": ("dose:mmol", 1.0),
    "mci": ("dose:mci", 1.0),
    "uci": ("dose:mci", 0.001),
}
DOSE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
UP_TO = re.compile(r"up to (\d+(?:\.\d+)?)\s*([a-z]+)")
OR_GREATER = re.compile(r"(\d+(?:\.\d+)?)\s*(?:or greater|or more|and above)\s*([a-z]+)")
BAND = re.compile(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*([a-z]+)")
# "level 2", "group III", "type 1": a numbered grade of a service or item, agreeing like a dose.
GRADE = re.compile(r"\b(level|group|type|stage|class|grade|tier)\s*(\d+|iii|ii|iv|i|v)\b")
ROMAN = {"i": 1.0, "ii": 2.0, "iii": 3.0, "iv": 4.0, "v": 5.0}


def _dose(amount: str, unit: str, units: Mapping[str, str]) -> tuple[str, float] | None:
    scale = DOSE_SCALE.get(units.get(unit, unit))
    if scale is None:
        return None
    family, factor = scale
    return family, float(amount) * factor


def parse_doses(text: str, units: Mapping[str, str]) -> list[Quantity]:
    """Strengths and billing units: "15MG" -> dose:mg 15, "1 g" -> dose:mg 1000, "level 2" -> grade:level 2."""
    lowered = text.lower().replace(",", "")
    found = [Quantity.point(f"grade:{word}", ROMAN.get(n) or float(n)) for word, n in GRADE.findall(lowered)]
    for amount, unit in DOSE.findall(lowered):
        dose = _dose(amount, unit, units)
        if dose is not None:
            found.append(Quantity.point(*dose))
    return found


def descriptor_doses(text: str, units: Mapping[str, str]) -> list[Quantity]:
    """A descriptor's doses: "per 15 mg" and "up to 4 mg" (a ceiling) are billing units, which a query's other
    strength is billed in several of; "400 or greater mg/ml" (a floor) and "300-399 mg/ml" (a band) are
    concentrations the product has, which a query's other concentration contradicts."""
    lowered = text.lower().replace(",", "")
    found = [Quantity(q.family, q.low, q.high, billing=True) for q in parse_doses(lowered, units)]
    for amount, unit in UP_TO.findall(lowered):
        dose = _dose(amount, unit, units)
        if dose is not None:
            found.append(Quantity(dose[0], None, dose[1], billing=True))
    for amount, unit in OR_GREATER.findall(lowered):
        dose = _dose(amount, unit, units)
        if dose is not None:
            found.append(Quantity(dose[0], dose[1], None))
    for low, high, unit in BAND.findall(lowered):
        low_dose, high_dose = _dose(low, unit, units), _dose(high, unit, units)
        if low_dose is not None and high_dose is not None and low_dose[1] < high_dose[1]:
            found.append(Quantity(low_dose[0], low_dose[1], high_dose[1]))
    return found


# The unit each quantity family is kept in (``QuantityFamily.to_base``), for saying a value to a person.
BASE_UNITS = {
    "area": "sq in",
    "weight": "lb",
    "pressure": "mmHg",
    "protein": "g protein",
    "calories": "kcal",
    "percent": "%",
    "width": "in",
    "duration": "min",
    "volume": "ml",
    "leads": "leads",
    "channels": "channels",
}


def attribute_text(attribute: Attribute) -> str:
    """An attribute as a person says it: "bi-level", "more than 16 sq in", "16-48 sq in", "300 lb or less"."""
    if isinstance(attribute, Mode):
        return attribute.value
    unit = BASE_UNITS.get(attribute.family, attribute.family.split(":")[-1])

    def number(value: float) -> str:
        return f"{value:g} {unit}".replace(" %", "%")

    low, high = attribute.low, attribute.high
    if low is not None and high is not None:
        return number(low) if low == high else f"{low:g}-{number(high)}"
    if low is not None:
        return f"{'more than' if attribute.low_open else 'at least'} {number(low)}"
    if high is not None:
        return f"{number(high)} {'or less' if not attribute.high_open else '(under)'}"
    return attribute.family


def is_dose_family(family: str) -> bool:
    """Doses and grades: agreement on them has its own weight (``dose_bonus``)."""
    return family.startswith(("dose:", "grade:"))


# --- modes: qualifiers with one value per family -----------------------------------------------------------
# Each family lists its values and the words that state each, longest first where one contains another
# ("non-disposable" before "disposable"). Facts of descriptor language, not of any code.
MODE_FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "lens": {
        "single vision": ("single vision", "single-vision"),
        "bifocal": ("bifocal", "bifocals"),
        "trifocal": ("trifocal", "trifocals"),
        "progressive": ("progressive lens", "progressive lenses", "progressives"),
    },
    "backup rate": {
        "without": ("without backup rate", "without back-up rate", "spontaneous mode", "spontaneous only"),
        "with": (
            "with backup rate",
            "with back-up rate",
            "backup rate",
            "back-up rate",
            "spontaneous/timed",
            "spontaneous timed",
            "s/t",
            "bipap st",
            "bi-pap st",
            "bilevel st",
            "bi-level st",
        ),
    },
    "power": {
        "semi-electric": ("semi-electric", "semi electric", "semielectric"),
        "manual": ("non-electric", "nonelectric", "non electric", "manual", "hydraulic"),
        "electric": (
            "total electric",
            "full electric",
            "fully electric",
            "full-electric",
            "electric",
            "power operated",
            "power wheelchair",
            "powered",
            "motorized",
        ),
    },
    "acquisition": {"rental": ("rental", "rented", "rent"), "purchase": ("purchase", "purchased", "buy")},
    "mobility": {"portable": ("portable",), "stationary": ("stationary",)},
    "oxygen form": {"gaseous": ("gaseous", "compressed gas"), "liquid": ("liquid oxygen", "liquid")},
    "ears": {
        "monaural": ("monaural", "one ear", "right ear", "left ear", "unilateral"),
        "binaural": ("binaural", "both ears", "bilateral", "each ear"),
    },
    "sides": {"unilateral": ("unilateral",), "bilateral": ("bilateral",)},
    "chambers": {
        "single chamber": ("single chamber", "single-chamber"),
        "dual chamber": ("dual chamber", "dual-chamber"),
    },
    "rate response": {
        "non rate-responsive": ("non rate-responsive", "non-rate-responsive", "non rate responsive"),
        "rate-responsive": ("rate-responsive", "rate responsive"),
    },
    # positive airway pressure: continuous (CPAP, E0601) or bi-level (the respiratory assist devices E0470-E0472);
    # what is "used with positive airway pressure device" (masks, tubing, filters) goes with either
    "airway pressure": {
        "continuous": (
            "continuous positive airway pressure",
            "cpap",
            "c-pap",
            "apap",
            "auto-cpap",
            "positive airway pressure",
        ),
        "bi-level": (
            "positive airway pressure",
            "bi-level",
            "bilevel",
            "bi level",
            "bipap",
            "bi-pap",
            "bipap st",
            "bi-pap st",
            "bilevel st",
            "bi-level st",
        ),
    },
    "interface": {
        "non-invasive": (
            "non-invasive interface",
            "noninvasive interface",
            "non-invasive",
            "noninvasive",
            "non invasive",
        ),
        "invasive": ("invasive interface", "invasive"),
    },
    "fabrication": {
        "off-the-shelf": ("off-the-shelf", "off-the shelf", "off the-shelf", "off the shelf", "ots"),
        "customized": ("otherwise customized", "customized to fit", "custom fitted", "custom-fitted", "customized"),
        "custom": ("custom fabricated", "custom-fabricated", "custom molded", "molded to patient model", "custom made"),
    },
    "disposability": {
        "reusable": ("non-disposable", "nondisposable", "non disposable", "reusable"),
        "disposable": ("disposable", "single use", "single-use"),
    },
    # the joints an orthosis spans, named by its acronym or its hyphenated regions: a lumbar-sacral orthosis (LSO)
    # is not the thoracic-lumbar-sacral one (TLSO), an ankle-foot orthosis (AFO) not the knee-ankle-foot one
    # (KAFO); the longer span is listed first so that it is read whole
    "orthosis span": {
        "cervical-thoracic-lumbar-sacral": (
            "cervical-thoracic-lumbar-sacral-orthoses",
            "cervical-thoracic-lumbar-sacral-orthosis",
            "cervical-thoracic-lumbar-sacral orthoses",
            "cervical-thoracic-lumbar-sacral orthosis",
            "cervical thoracic lumbar sacral orthosis",
            "ctlso",
        ),
        "thoracic-lumbar-sacral": (
            "thoracic-lumbar-sacral-orthosis",
            "thoracic-lumbar-sacral orthosis",
            "thoracic lumbar sacral orthosis",
            "tlso",
        ),
        "lumbar-sacral": (
            "lumbar-sacral orthosis",
            "lumbar sacral orthosis",
            "lumbosacral orthosis",
            "lso",
        ),
        "sacroiliac": ("sacroiliac orthosis", "sio"),
        "hip-knee-ankle-foot": ("hip-knee-ankle-foot orthosis", "hip knee ankle foot orthosis", "hkafo"),
        "knee-ankle-foot": ("knee-ankle-foot orthosis", "knee ankle foot orthosis", "kafo"),
        "ankle-foot": ("ankle-foot orthosis", "ankle foot orthosis", "afo"),
        "knee": ("knee orthosis", "ko"),
    },
    # a pickup walker is lifted, it has no wheels; a wheeled (rolling) one is pushed
    "wheels": {
        "without wheels": ("without wheels", "pickup", "pick-up", "pick up"),
        "wheeled": ("wheeled", "with wheels", "wheels", "rollator", "rolling walker"),
    },
    "pouch": {"drainable": ("drainable",), "closed": ("closed",)},
    "pieces": {
        "one piece": ("1 piece", "one piece", "one-piece", "1-piece"),
        "two piece": ("2 piece", "two piece", "two-piece", "2-piece"),
    },
    "wear": {"extended wear": ("extended wear",), "standard wear": ("standard wear",)},
    "limb level": {
        "below knee": ("below knee", "below-knee", "transtibial"),
        "above knee": ("above knee", "above-knee", "transfemoral"),
        "thigh length": ("thigh length", "thigh-length", "thigh high"),
        "full length": ("full length/chap", "chap style", "full length"),
        "waist length": ("waist length", "waist high", "pantyhose"),
    },
    # inside the body or worn on it: "Joint device (implantable)" is not what "hinged knee brace" asks for
    "placement": {
        "implantable": ("surgically implanted", "implantable", "implanted", "implant"),
        "external": ("non-implanted", "nonimplanted", "external", "brace", "orthosis", "orthoses", "orthotic"),
    },
    "sex": {
        "female": ("female", "females", "women", "woman", "womens", "woman's", "women's", "ladies", "lady"),
        "male": ("male", "males", "men", "man", "mens", "man's", "men's"),
    },
    "ways": {
        "two-way": ("two-way", "two way", "2-way", "2 way"),
        "three-way": ("three-way", "three way", "3-way", "3 way"),
    },
    "cuff": {"non-cuffed": ("non-cuffed", "uncuffed", "cuffless", "without cuff"), "cuffed": ("cuffed",)},
    "sterility": {"non-sterile": ("non-sterile", "nonsterile", "non sterile"), "sterile": ("sterile",)},
    # casts and splints: their material and how much of the limb they hold (Q4001-Q4051)
    "cast material": {"fiberglass": ("fiberglass", "fibreglass", "fiber glass"), "plaster": ("plaster",)},
    "cast span": {
        "long arm": ("long arm",),
        "short arm": ("short arm",),
        "long leg": ("long leg",),
        "short leg": ("short leg",),
    },
    # how long a catheter stays in: "Catheter, hemodialysis/peritoneal, long-term" beside "short-term"
    "dwell": {
        "long-term": ("long-term", "long term", "tunneled", "tunnelled"),
        "short-term": ("short-term", "short term", "non-tunneled", "nontunneled"),
    },
    # a walker's or commode's frame
    "frame": {"folding": ("folding", "foldable", "collapsible"), "rigid": ("rigid",)},
    # a knee-ankle-foot orthosis's uprights
    "uprights": {"single upright": ("single upright",), "double upright": ("double upright",)},
    # how much of a limb a compression appliance covers
    "garment span": {
        "half arm": ("half arm",),
        "full arm": ("full arm",),
        "half leg": ("half leg",),
        "full leg": ("full leg",),
    },
    # what a crutch (or walker, cane) is made of: descriptors say "wood" or "other than wood"; aluminum is the
    # usual other material
    "frame material": {
        "other than wood": ("other than wood", "aluminum", "aluminium", "metal"),
        "wood": ("wood", "wooden"),
    },
    # a hearing aid's circuit and where it sits: facts of audiology ("bte" is behind the ear)
    "hearing aid circuit": {
        "digitally programmable analog": (
            "digitally programmable analog",
            "digitally programmable, analog",
            "programmable analog",
        ),
        "analog": ("analog",),
        "digital": ("digital",),
    },
    "hearing aid style": {
        "behind the ear": ("behind the ear", "bte"),
        "in the ear": ("in the ear", "ite"),
        "in the canal": ("in the canal", "itc"),
        "completely in the canal": ("completely in the ear canal", "completely in the canal", "cic"),
    },
    # a radiopharmaceutical (or study) to find a disease, or a dose to treat it ("i-131 … tx": therapeutic)
    "purpose": {"diagnostic": ("diagnostic",), "therapeutic": ("therapeutic", "treatment")},
    # order in time: a first (initial, new) service or item, or a later one (subsequent, each additional…)
    "sequence": {
        "subsequent": (
            "each additional",
            "subsequent",
            "additional",
            "follow-up",
            "follow up",
            "repeat",
        ),
        "initial": ("initial", "first"),
    },
    # who the item or service is for (infants, children and juniors are pediatric patients)...
    "patient": {
        "pediatric": (
            "pediatric",
            "pediatrics",
            "paediatric",
            "peds",
            "infant",
            "infants",
            "newborn",
            "neonatal",
            "neonate",
            "baby",
            "child",
            "children",
            "childs",
            "kid",
            "kids",
            "junior",
            "youth",
        ),
        "adult": ("adult", "adults"),
    },
    # ... and, when it says so, which of the pediatric sizes
    "age group": {
        "infant": ("infant", "infants", "newborn", "neonatal", "neonate", "baby"),
        "child": ("child", "children", "childs", "kid", "kids"),
        "junior": ("junior", "youth"),
    },
}
IMPLIED_MODES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
# Phrases in which a mode word means something else ("first-aid type", "new technology intraocular lens").
MODE_EXCEPTIONS = re.compile(
    r"first[- ]aid|new technology|power source|new (?:leather|rubber)|closed system|electric(?:al)? stim"
    r"|visual analog"
)


def _mode_pattern(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9-])(?:" + _alternatives(words) + r")(?![a-z0-9])")


# Families read in a pass of their own: their words contain other families' ("knee orthosis" is also an
# orthosis, an external item), and one pattern would consume them for one family only.
SEPARATE_FAMILIES = ("orthosis span",)


def _mode_words(families: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Each mode word of the families, with its (family, value) pairs."""
    words: dict[str, list[tuple[str, str]]] = {}
    for family in families:
        for value, stated_by in MODE_FAMILIES[family].items():
            for word in stated_by:
                words.setdefault(word, []).append((family, value))
    return words


# Every mode word of a pass, longest first, in one pattern.
MODE_PASSES = [
    (pattern_words, _mode_pattern(pattern_words))
    for pattern_words in (
        _mode_words(family for family in MODE_FAMILIES if family not in SEPARATE_FAMILIES),
        _mode_words(SEPARATE_FAMILIES),
    )
]


def parse_modes(text: str) -> list[Mode]:
    """Every mode value the text states. Longer words are read first and consumed ("non-disposable" is not
    also "disposable", "semi electric" not also "electric")."""
    found: list[Mode] = []
    text = MODE_EXCEPTIONS.sub(" ", text)
    for words, pattern in MODE_PASSES:
        for match in pattern.finditer(text):
            for family, value in words[match.group(0)]:
                found.append(Mode(family, value))
                found += [Mode(*implied) for implied in IMPLIED_MODES.get((family, value), ())]
    return list(dict.fromkeys(found))


# --- radionuclides: element and mass number ------------------------------------------------------------------
# The radionuclides of nuclear medicine and brachytherapy, by element symbol and name, with their mass numbers:
# "gallium ga-67 citrate" and "gallium ga-68, dotatate" are different isotopes, whatever else they share.
# Facts of physics, not of any code; only these pairs are read, so "c-1 esterase" or "b-12" name no isotope.
RADIONUCLIDES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tc": ("technetium", ("99m", "99")),
    "f": ("fluorine", ("18",)),
    "in": ("indium", ("111",)),
    "i": ("iodine", ("123", "124", "125", "131")),
    "ga": ("gallium", ("67", "68")),
    "lu": ("lutetium", ("177",)),
    "rb": ("rubidium", ("82",)),
    "n": ("nitrogen", ("13",)),
    "c": ("carbon", ("11", "14")),
    "o": ("oxygen", ("15",)),
    "co": ("cobalt", ("57", "58")),
    "p": ("phosphorus", ("32",)),
    "cu": ("copper", ("64", "67")),
    "xe": ("xenon", ("127", "129", "133")),
    "kr": ("krypton", ("81m",)),
    "tl": ("thallium", ("201",)),
    "y": ("yttrium", ("90",)),
    "cr": ("chromium", ("51",)),
    "sr": ("strontium", ("89", "90")),
    "sm": ("samarium", ("153",)),
    "ra": ("radium", ("223",)),
    "zr": ("zirconium", ("89",)),
    "ac": ("actinium", ("225",)),
    "pb": ("lead", ("212",)),
    "ho": ("holmium", ("166",)),
    "re": ("rhenium", ("186", "188")),
    "cs": ("cesium", ("131", "137")),
    "ir": ("iridium", ("192",)),
    "pd": ("palladium", ("103",)),
    "au": ("gold", ("198",)),
}
# "ga-67", "ga 67", "ga67", "gallium 67", "i-131", "i131", "tc-99m", "tc99m"; a one-letter symbol only joined
# to its number ("i 131" could be anything), and co-57/58 names both.


def _radionuclide_pattern(symbol: str, name: str) -> str:
    joiner = "-?" if len(symbol) == 1 else "[- ]?"
    mass = r"\d{1,3}m?"
    return rf"(?P<s_{symbol}>{symbol}{joiner}|{name}[- ])(?P<m_{symbol}>{mass})(?:/(?P<n_{symbol}>{mass}))?"


RADIONUCLIDE = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(_radionuclide_pattern(symbol, name) for symbol, (name, _) in RADIONUCLIDES.items())
    + r")(?![a-z0-9])"
)


def parse_radionuclides(text: str) -> list[Mode]:
    """The isotopes a text names, as "ga-67", "tc-99m" (only the mass numbers each element is used with)."""
    found: list[Mode] = []
    for match in RADIONUCLIDE.finditer(text):
        symbol = next(name[2:] for name, value in match.groupdict().items() if value and name.startswith("s_"))
        masses = RADIONUCLIDES[symbol][1]
        for mass in (match.group(f"m_{symbol}"), match.group(f"n_{symbol}")):
            if mass in masses:
                found.append(Mode("radionuclide", f"{symbol}-{mass}"))
    return found


# --- whole texts ---------------------------------------------------------------------------------------------

ANY_NUMBER = re.compile(rf"\d|\b(?:{'|'.join(WORD_NUMBERS)})\b")
# "(500 ml = 1 unit)": the billing unit's count, not a dose in units.
ONE_UNIT = re.compile(r"=\s*1 units?\b")
# "with or without X", "any size": the text names no single value.
EITHER = re.compile(r"\bwith or without\b[^,;]*|\bany (?:type|size|material)\b|\b(?:\w+ )?or (?:equal|equivalent)\b")


def parse_attributes(text: str, units: Mapping[str, str], doses: bool = True) -> tuple[Attribute, ...]:
    """The attributes a query (or a descriptor) states, in a fixed order, without duplicates; a descriptor's
    doses are read by ``descriptor_doses`` instead (``doses=False``)."""
    lowered = THOUSANDS.sub("", text.lower())
    found: list[Attribute] = []
    if not ANY_NUMBER.search(lowered):
        return tuple(dict.fromkeys(parse_modes(EITHER.sub(" ", lowered))))
    areas, remaining = parse_dimensions(lowered)
    found += areas
    ages, remaining = parse_age(remaining)
    found += ages
    for family in QUANTITY_FAMILIES:
        quantities, remaining = parse_quantities(family, remaining)
        found += quantities
    widths, remaining = parse_quantities(WIDTH, remaining)
    found += widths
    if doses:
        found += parse_doses(ONE_UNIT.sub(" ", remaining), units)
    else:
        for family in DESCRIPTOR_FAMILIES:
            quantities, remaining = parse_quantities(family, remaining)
            found += quantities
    found += parse_radionuclides(lowered)
    found += parse_modes(EITHER.sub(" ", lowered))
    return tuple(dict.fromkeys(found))


def query_attributes(words: str, expanded: str, units: Mapping[str, str]) -> tuple[Attribute, ...]:
    """What a query states: the quantities and doses of its words and of what its words were expanded to
    ("isovue 300" is 300-399 mg/ml), and the modes of its words; an expansion adds a mode only for a family the
    words leave open and only when it names one value of it ("hinged knee brace" expanded to both an orthosis
    and an implantable joint device states neither)."""
    said = parse_attributes(words, units)
    stated = {a.family for a in said if isinstance(a, Mode)}
    expanded_modes: dict[str, list[Mode]] = {}
    found = list(said)
    for attribute in parse_attributes(expanded, units):
        if isinstance(attribute, Mode):
            if attribute.family not in stated:
                expanded_modes.setdefault(attribute.family, []).append(attribute)
        else:
            found.append(attribute)
    found += [modes[0] for modes in expanded_modes.values() if len(modes) == 1]
    return tuple(dict.fromkeys(found))


def descriptor_attributes(text: str, units: Mapping[str, str], dosage: str | None = None) -> tuple[Attribute, ...]:
    """A descriptor's attributes: ``parse_attributes`` plus its dose bounds (and the crosswalk dosage)."""
    # single amounts and "up to" ceilings of a dose are billing units; floors and ranges are properties; an
    # injection's volume is its dose ("Injection, gadobutrol, 0.1 ml" is billed per 0.1 ml: 1 ml is 10 units)
    injection = text.lower().startswith("injection")
    found = [
        Quantity(a.family, a.low, a.high, a.low_open, a.high_open, billing=True)
        if isinstance(a, Quantity)
        and (is_dose_family(a.family) or (injection and a.family == "volume"))
        and (a.low == a.high or a.low is None)
        else a
        for a in parse_attributes(text, units, doses=False)
    ]
    found += descriptor_doses(ONE_UNIT.sub(" ", THOUSANDS.sub("", text.lower())), units)
    if dosage:
        found += [Quantity(q.family, q.low, q.high, billing=True) for q in parse_doses(dosage, units)]
    return tuple(dict.fromkeys(found))


# --- agreement -------------------------------------------------------------------------------------------------


def agreement(record: Iterable[Attribute], query: Iterable[Attribute]) -> tuple[frozenset[str], frozenset[str]]:
    """(families where the record agrees with the query, families where it conflicts). A family the record
    does not state is neither; a billing unit never conflicts (a query's amount is billed in several)."""
    by_family: dict[str, list[Attribute]] = {}
    for attribute in record:
        by_family.setdefault(attribute.family, []).append(attribute)
    agrees: set[str] = set()
    conflicts: set[str] = set()
    for wanted in query:
        stated = by_family.get(wanted.family)
        if not stated:
            continue
        if isinstance(wanted, Mode):
            if any(isinstance(a, Mode) and a.value == wanted.value for a in stated):
                agrees.add(wanted.family)
            else:
                conflicts.add(wanted.family)
            continue
        quantities = [a for a in stated if isinstance(a, Quantity)]
        constraints = [q for q in quantities if not q.billing]
        if any(q.holds(wanted) for q in quantities):
            agrees.add(wanted.family)
        elif constraints and all(q.disjoint(wanted) for q in constraints):
            conflicts.add(wanted.family)
    return frozenset(agrees), frozenset(conflicts - agrees)


def dose_multiple(record: Iterable[Attribute], query: Iterable[Attribute]) -> float:
    """How many of the record's billing units make the query's strength (5000 units = 5 x "per 1000 units");
    ``inf`` when no billing unit of the record divides a query dose into a whole number."""
    best = math.inf
    for wanted in query:
        if not isinstance(wanted, Quantity) or not wanted.family.startswith("dose:") or not wanted.low:
            continue
        for stated in record:
            if (
                isinstance(stated, Quantity)
                and stated.family == wanted.family
                and stated.low is not None
                and stated.low == stated.high
                and stated.low > 0
            ):
                count = wanted.low / stated.low
                if count >= 1 and abs(count - round(count)) < 1e-6:
                    best = min(best, count)
    return best
