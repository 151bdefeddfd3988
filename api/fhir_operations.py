"""The FHIR terminology operations, answered from the same engine as ``/search``, ``/codes`` and ``/verify``.

``OperationInput`` reads an operation's parameters the two ways FHIR sends them (a GET query string, or a
``Parameters`` resource posted as the body). ``lookup``, ``validate_code`` and ``expand`` check them and
answer with the shapes of ``api/fhir_resources.py``; a request they cannot answer raises a
``CodefinderError`` that the router turns into an ``OperationOutcome`` (``FHIR_STATUS_OF``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from codefinder.api import limits
from codefinder.api.errors import STATUS_OF, UnknownCode
from codefinder.api.fhir_resources import (
    CODE_SYSTEMS,
    IMPLICIT_VALUE_SET,
    CodeSystemInfo,
    ExpansionEntry,
    canonical_uri,
    display_of,
    expansion_value_set,
    lookup_parameters,
    parameter,
    system_for_uri,
    validation_parameters,
)
from codefinder.api.limits import checked_description, checked_query
from codefinder.indexer.errors import CodefinderError, QueryError
from codefinder.indexer.records import CodeRecord
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.verify import verify


class UnknownCodeSystem(CodefinderError):
    """A code system (or implicit value set) this server does not serve, or whose codes the index lacks."""


# FHIR answers a bad parameter with 400 (422 is for resources that break a profile); the rest as the API does.
FHIR_STATUS_OF: list[tuple[type[Exception], int]] = [(UnknownCodeSystem, 404), (QueryError, 400), *STATUS_OF]

Value = str | int | bool | dict[str, Any]
# FHIR dateTime: a year, a month, a day, or a day with a time; the day is what a status depends on.
FHIR_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?)?")
ASCII_INTEGER = re.compile(r"-?[0-9]{1,9}")
PRIMITIVE_VALUES = {
    "valueString",
    "valueCode",
    "valueUri",
    "valueUrl",
    "valueCanonical",
    "valueDate",
    "valueDateTime",
    "valueInteger",
    "valueUnsignedInt",
    "valuePositiveInt",
    "valueBoolean",
}
COMPLEX_VALUES = {"valueCoding", "valueCodeableConcept"}


@dataclass
class OperationInput:
    """An operation's parameters by name, each with every value given (a GET query string holds text; a
    posted ``Parameters`` holds typed values)."""

    values: dict[str, list[Value]] = field(default_factory=dict)

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> OperationInput:
        found = cls()
        for name, value in items:
            found.values.setdefault(name, []).append(value)
        return found

    @classmethod
    def from_parameters(cls, body: Any, query: Iterable[tuple[str, str]] = ()) -> OperationInput:
        """A posted ``Parameters`` resource (plus any parameters in the URL). Each parameter needs a name and
        one value; a ``resource`` or ``part`` parameter is none of these operations' inputs."""
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise QueryError("the request body must be a FHIR Parameters resource")
        items = body.get("parameter", [])
        if not isinstance(items, list):
            raise QueryError("Parameters.parameter must be a list")
        found = cls.from_query(query)
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                raise QueryError(f"Parameters.parameter[{i}] has no name")
            keys = [key for key in item if key.startswith("value")]
            if len(keys) != 1 or keys[0] not in PRIMITIVE_VALUES | COMPLEX_VALUES:
                raise QueryError(
                    f"parameter {name!r} needs one value of a supported type (string, code, uri, "
                    "integer, boolean, dateTime, Coding or CodeableConcept)"
                )
            value = item[keys[0]]
            if keys[0] in COMPLEX_VALUES and not isinstance(value, dict):
                raise QueryError(f"parameter {name!r}: {keys[0]} must be an object")
            if keys[0] in PRIMITIVE_VALUES and not isinstance(value, (str, int, bool)):
                raise QueryError(f"parameter {name!r}: {keys[0]} must be a single value")
            found.values.setdefault(name, []).append(value)
        return found

    def _one(self, name: str) -> Value | None:
        given = self.values.get(name, [])
        if len(given) > 1:
            raise QueryError(f"parameter {name!r} is given {len(given)} times; it takes one value")
        return given[0] if given else None

    def text(self, name: str) -> str | None:
        value = self._one(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise QueryError(f"parameter {name!r} must be text")
        return value

    def texts(self, name: str) -> list[str]:
        values = self.values.get(name, [])
        if not all(isinstance(value, str) for value in values):
            raise QueryError(f"parameter {name!r} must be text")
        return [value for value in values if isinstance(value, str)]

    def integer(self, name: str, default: int, maximum: int | None = None) -> int:
        """A whole number from 0; above ``maximum`` it is cut to it (FHIR lets a server return fewer)."""
        value = self._one(name)
        if value is None:
            return default
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and ASCII_INTEGER.fullmatch(value.strip()))
        ):
            raise QueryError(f"parameter {name!r} must be a whole number")
        number = int(value)
        if number < 0:
            raise QueryError(f"parameter {name!r} must be 0 or more")
        return number if maximum is None else min(number, maximum)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._one(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise QueryError(f"parameter {name!r} must be true or false")

    def date(self, name: str) -> dt.date | None:
        value = self.text(name)
        if value is None:
            return None
        match = FHIR_DATE.fullmatch(value.strip())
        try:
            if match is None:
                raise ValueError
            year, month, day = match.groups()
            return dt.date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            raise QueryError(f"parameter {name!r} must be a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD…)") from None

    def complex(self, name: str) -> dict[str, Any] | None:
        value = self._one(name)
        if value is not None and not isinstance(value, dict):
            raise QueryError(f"parameter {name!r} must be a Coding or CodeableConcept (POST a Parameters body)")
        return value


# --- shared checks ------------------------------------------------------------------------------------


def served_system(engine: SearchEngine, uri: str) -> CodeSystemInfo:
    """The code system a URI names, if the loaded index holds its codes."""
    info = system_for_uri(checked_uri(uri, "system"))
    if info is None:
        known = ", ".join(system.uri for system in CODE_SYSTEMS)
        raise UnknownCodeSystem(f"unknown code system {uri.strip()!r}; this server serves {known}")
    loaded = engine.index.manifest.get("counts", {}).get("by_system", {})
    if not loaded.get(info.key):
        raise UnknownCodeSystem(
            f"code system {info.uri} ({info.name}) has no codes in index {engine.index.build_id}"
            + (" (CPT comes from your licensed file: codefinder build --source FILE)" if info.key == "CPT" else "")
        )
    return info


def checked_uri(uri: str, name: str) -> str:
    """A URI short enough to name in a message (a posted body could carry one of any length)."""
    if len(uri) > limits.FHIR_MAX_URI_CHARS:
        raise QueryError(f"{name} is longer than {limits.FHIR_MAX_URI_CHARS} characters")
    return uri


def check_version(engine: SearchEngine, info: CodeSystemInfo, version: str | None) -> None:
    """The only version served is the index's own build id (what ``$lookup`` and the expansions report)."""
    if version and version.strip() != engine.index.build_id:
        raise UnknownCodeSystem(
            f"version {version.strip()!r} of {info.uri} is not available; this server has {engine.index.build_id}"
        )


def checked_code(code: str | None) -> str:
    if code is None or not code.strip():
        raise QueryError("code is required (with system), or a coding")
    if len(code.strip()) > limits.MAX_CODE_CHARS:
        raise QueryError(f"code is longer than {limits.MAX_CODE_CHARS} characters")
    return code.strip()


def record_in(engine: SearchEngine, info: CodeSystemInfo, code: str) -> CodeRecord | None:
    record = engine.lookup(code)
    return record if record is not None and record.system == info.key else None


def _coding_part(coding: dict[str, Any], key: str) -> str | None:
    value = coding.get(key)
    if value is not None and not isinstance(value, str):
        raise QueryError(f"Coding.{key} must be text")
    return value


# --- the operations -----------------------------------------------------------------------------------


def lookup(engine: SearchEngine, given: OperationInput) -> dict[str, Any]:
    """CodeSystem/$lookup: what the code system says about one code, as of ``date`` (default today)."""
    system, code, version = given.text("system"), given.text("code"), given.text("version")
    coding = given.complex("coding")
    if coding is not None:
        if system or code:
            raise QueryError("give either system and code, or coding, not both")
        system, code = _coding_part(coding, "system"), _coding_part(coding, "code")
        version = version or _coding_part(coding, "version")
    code = checked_code(code)
    if not system:
        raise QueryError("system is required with code")
    info = served_system(engine, system)
    check_version(engine, info, version)
    record = record_in(engine, info, code)
    if record is None:
        raise UnknownCode(f"code {code!r} is not in {info.uri} (index version {engine.index.build_id})")
    wanted = set(given.texts("property")) or None
    return lookup_parameters(record, engine.index.build_id, given.date("date") or dt.date.today(), wanted)


def validate_code(engine: SearchEngine, given: OperationInput) -> dict[str, Any]:
    """CodeSystem/$validate-code: is the code in the code system? With a ``display``, is the code right for
    what the display describes: the display is verified exactly as ``/verify`` verifies a description,
    and any verdict but ``consistent`` is ``result=false`` with the verdict and its reasons as the message.
    A display that is one of the code's own descriptors is FHIR's plain display check and needs no search."""
    url, system = given.text("url"), given.text("system")
    if url and system and canonical_uri(url) != canonical_uri(system):
        raise QueryError("url and system name different code systems")
    system = url or system
    code, display = given.text("code"), given.text("display")
    coding = _chosen_coding(given.complex("coding"), given.complex("codeableConcept"), code, system)
    if coding is not None:
        system = system or _coding_part(coding, "system")
        code = _coding_part(coding, "code")
        display = display or _coding_part(coding, "display")
        if _coding_part(coding, "system") and system and canonical_uri(coding["system"]) != canonical_uri(system):
            raise QueryError("the coding's system is not the url given")
    code = checked_code(code)
    if not system:
        raise QueryError("url (the code system) is required")
    info = served_system(engine, system)
    check_version(engine, info, given.text("version"))
    day = given.date("date")
    record = record_in(engine, info, code)
    if record is None:
        message = f"unknown code {code!r} in {info.uri} (index version {engine.index.build_id})"
        return validation_parameters(False, message, None)
    if display is None or _is_own_descriptor(record, display):
        status = record.status_on(day or dt.date.today())
        message = None if status == "active" else _status_message(record, status, day)
        return validation_parameters(True, message, display_of(record))
    description = checked_description(display, "display")
    verification = verify(engine, description, record.code, as_of=day).to_dict()
    if verification["verdict"] == "consistent":
        return validation_parameters(True, None, display_of(record))
    return validation_parameters(False, verification_message(verification), display_of(record))


def _chosen_coding(
    coding: dict[str, Any] | None, concept: dict[str, Any] | None, code: str | None, system: str | None
) -> dict[str, Any] | None:
    """The coding to validate when one was given: ``coding`` itself, or the codeableConcept's first coding in
    the system asked for (else in a system this server serves, else its first)."""
    if sum(given is not None for given in (code, coding, concept)) > 1:
        raise QueryError("give one of code, coding or codeableConcept")
    if concept is None:
        return coding
    codings = concept.get("coding")
    if not isinstance(codings, list) or not codings or not all(isinstance(c, dict) for c in codings):
        raise QueryError("codeableConcept has no coding")

    def in_system(candidate: dict[str, Any]) -> bool:
        named = candidate.get("system")
        if not isinstance(named, str):
            return False
        return canonical_uri(named) == canonical_uri(system) if system else system_for_uri(named) is not None

    return next((candidate for candidate in codings if in_system(candidate)), codings[0])


def _is_own_descriptor(record: CodeRecord, display: str) -> bool:
    def folded(text: str) -> str:
        return " ".join(text.split()).casefold()

    return folded(display) in {folded(text) for text in (record.long_description, record.short_description) if text}


def _status_message(record: CodeRecord, status: str, day: dt.date | None) -> str:
    when = f" on {day.isoformat()}" if day else ""
    ended = f" (termination date {record.termination_date})" if record.termination_date else ""
    return f"{record.code} is {status}{when}{ended}"


def verification_message(found: dict[str, Any]) -> str:
    """One line from a ``/verify`` answer: the verdict, why (its reasons when it gives them, else the code's
    rank and confidence or its termination), and the better candidates."""
    verdict, code = found["verdict"], found["code"]
    reasons = [_reason_text(reason) for reason in found.get("reasons") or []]
    if not reasons:
        record = found.get("record") or {}
        if record.get("termination_date") and verdict == "terminated":
            reasons.append(f"{code} was terminated on {record['termination_date']}")
        elif found.get("rank") is None:
            reasons.append(f"{code} is not among the matches for the description")
        else:
            reasons.append(f"{code} ranks {found['rank']} for the description (confidence {found.get('confidence')})")
    better = [hit["code"] for hit in found.get("better_candidates") or []]
    if better:
        reasons.append("better candidates: " + ", ".join(better))
    return f"{verdict}: " + "; ".join(reasons)


def _reason_text(reason: Any) -> str:
    if isinstance(reason, dict):
        return str(reason.get("text") or reason.get("message") or reason)
    return str(reason)


def expand(engine: SearchEngine, given: OperationInput) -> dict[str, Any]:
    """ValueSet/$expand of an implicit value set (``<system>?fhir_vs``). With ``filter``, the codes are what
    ``/search`` answers for it (same ranking, total and paging limits); without, every code in code order.
    Terminated codes are left out unless ``activeOnly=false`` (then they come flagged ``inactive``)."""
    if given.values.get("valueSet"):
        raise QueryError("a posted valueSet is not supported; expand an implicit value set by url")
    url = given.text("url")
    if not url or not url.strip():
        raise QueryError("url is required: " + " or ".join(info.value_set for info in CODE_SYSTEMS))
    base, _, suffix = checked_uri(url, "url").strip().partition("?")
    if suffix != IMPLICIT_VALUE_SET or system_for_uri(base) is None:
        known = ", ".join(info.value_set for info in CODE_SYSTEMS)
        raise UnknownCodeSystem(f"unknown value set {url.strip()!r}; this server expands {known}")
    info = served_system(engine, base)
    check_version(engine, info, given.text("valueSetVersion"))
    active_only = given.boolean("activeOnly", True)
    day = given.date("date")
    with_designations = given.boolean("includeDesignations", False)
    text = given.text("filter")
    used = [parameter("activeOnly", "Boolean", active_only)]
    if day:
        used.append(parameter("date", "DateTime", day.isoformat()))
    if text and text.strip():
        query = checked_query(text, "filter")
        count = given.integer("count", limits.FHIR_DEFAULT_FILTERED_COUNT, limits.MAX_LIMIT)
        offset = _offset(given, limits.MAX_OFFSET)
        filters = Filters(system=info.key, include_terminated=not active_only, as_of=day)
        response = engine.search(query, SearchOptions(limit=count, offset=offset, filters=filters))
        entries = [_entry(engine, hit.code, hit.status) for hit in response.hits]
        total = response.total
        used.insert(0, parameter("filter", "String", query))
    else:
        count = given.integer("count", limits.FHIR_MAX_EXPAND_COUNT, limits.FHIR_MAX_EXPAND_COUNT)
        offset = _offset(given, limits.FHIR_MAX_EXPAND_OFFSET)
        listed = _system_codes(engine, info, active_only, day or dt.date.today())
        entries = listed[offset : offset + count]
        total = len(listed)
    used += [parameter("count", "Integer", count), parameter("offset", "Integer", offset)]
    return expansion_value_set(info, engine.index.build_id, entries, total, offset, used, with_designations)


def _offset(given: OperationInput, maximum: int) -> int:
    offset = given.integer("offset", 0)
    if offset > maximum:
        raise QueryError(f"offset must be at most {maximum}")
    return offset


def _entry(engine: SearchEngine, code: str, status: str) -> ExpansionEntry:
    return ExpansionEntry(engine.index.records[engine.index.row_of_code[code]], status != "active")


def _system_codes(engine: SearchEngine, info: CodeSystemInfo, active_only: bool, day: dt.date) -> list[ExpansionEntry]:
    """Every code of the system in code order, with whether it is inactive on the day."""
    entries = []
    for code in engine.index.sorted_codes:
        record = engine.index.records[engine.index.row_of_code[code]]
        if record.system != info.key:
            continue
        inactive = record.status_on(day) != "active"
        if not (inactive and active_only):
            entries.append(ExpansionEntry(record, inactive))
    return entries
