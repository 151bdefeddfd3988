"""FHIR R4 shapes for the terminology operations: the code systems by canonical URI, and the resources the
operations answer with (``Parameters``, ``ValueSet``, ``OperationOutcome``, ``CapabilityStatement``,
``TerminologyCapabilities``) built as plain dicts from codefinder's records and hits.

Nothing here touches HTTP; ``api/fhir.py`` serves these shapes and ``api/fhir_operations.py`` decides them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from codefinder.indexer.records import CodeRecord
from codefinder.indexer.taxonomy import LEVEL_LABELS

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
FHIR_PREFIX = "/fhir"
IMPLICIT_VALUE_SET = "fhir_vs"
# Long and short descriptors are told apart by a designation use of codefinder's own (FHIR's designation-use
# value set is extensible and has no concept for a CMS long or short descriptor).
DESIGNATION_USE = "urn:codefinder:fhir:designation-use"
OPERATION_DEFINITIONS = {
    "lookup": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
    "validate-code": "http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code",
    "expand": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
}
# The concept properties $lookup returns (codes, types, meanings), also listed in the capabilities.
PROPERTIES: dict[str, tuple[str, str]] = {
    "status": ("code", "status on the requested date (active, terminated, …)"),
    "inactive": ("boolean", "true when the code is not active on the requested date"),
    "kind": ("code", "code or modifier"),
    "level": ("code", "hcpcs-2, hcpcs-modifier, cpt-1, cpt-2, cpt-3, cpt-pla or cpt-modifier"),
    "section": ("code", "the section letter of a HCPCS Level II code"),
    "noc": ("boolean", "a 'not otherwise classified' code"),
    "add-date": ("dateTime", "date the code was added"),
    "effective-date": ("dateTime", "date the current descriptor took effect"),
    "termination-date": ("dateTime", "date the code was terminated"),
}


@dataclass(frozen=True)
class CodeSystemInfo:
    """One code system codefinder serves: its key in the records, canonical URI and names."""

    key: str
    uri: str
    name: str
    title: str
    publisher: str

    @property
    def value_set(self) -> str:
        """The implicit value set holding every code of the system."""
        return f"{self.uri}?{IMPLICIT_VALUE_SET}"


CODE_SYSTEMS = (
    CodeSystemInfo(
        "HCPCS",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
        "HCPCS Level II",
        "Healthcare Common Procedure Coding System, Level II (with its modifiers)",
        "Centers for Medicare & Medicaid Services",
    ),
    CodeSystemInfo(
        "CPT",
        "http://www.ama-assn.org/go/cpt",
        "CPT",
        "Current Procedural Terminology (HCPCS Level I), from the licensed file the index was built with",
        "American Medical Association",
    ),
)
_BY_KEY = {info.key: info for info in CODE_SYSTEMS}
_BY_URI = {info.uri: info for info in CODE_SYSTEMS}


def canonical_uri(uri: str) -> str:
    """The http form of a code system URI (clients write either scheme; answers always say http)."""
    text = uri.strip().rstrip("/")
    if text.lower().startswith("https://"):
        return "http://" + text[len("https://") :]
    return text


def system_for_uri(uri: str) -> CodeSystemInfo | None:
    return _BY_URI.get(canonical_uri(uri))


def system_for_key(key: str) -> CodeSystemInfo:
    return _BY_KEY[key]


def display_of(record: CodeRecord) -> str:
    return record.description or record.code


# --- OperationOutcome ---------------------------------------------------------------------------------

# HTTP status -> FHIR issue type (http://hl7.org/fhir/issue-type) for errors answered as an OperationOutcome.
ISSUE_TYPE_OF_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    422: "invalid",
    429: "throttled",
    503: "transient",
    504: "timeout",
}


def operation_outcome(message: str, issue_type: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": issue_type, "diagnostics": message}],
    }


def outcome_for_status(status: int, message: str) -> dict[str, Any]:
    return operation_outcome(message, ISSUE_TYPE_OF_STATUS.get(status, "exception"))


# --- Parameters ---------------------------------------------------------------------------------------


def parameter(name: str, value_type: str, value: Any) -> dict[str, Any]:
    """One ``Parameters.parameter`` with a value of the given FHIR type (``String``, ``Code``, ``Boolean``…)."""
    return {"name": name, f"value{value_type}": value}


def designations(record: CodeRecord) -> list[tuple[str, str, str]]:
    """(use code, use display, text) for each descriptor the record has."""
    found = []
    if record.long_description:
        found.append(("long-descriptor", "Long descriptor", record.long_description))
    if record.short_description:
        found.append(("short-descriptor", "Short descriptor", record.short_description))
    return found


def designation_parameter(use: str, use_display: str, text: str) -> dict[str, Any]:
    return {
        "name": "designation",
        "part": [
            parameter("language", "Code", "en"),
            parameter("use", "Coding", {"system": DESIGNATION_USE, "code": use, "display": use_display}),
            parameter("value", "String", text),
        ],
    }


def property_values(record: CodeRecord, day: dt.date) -> list[tuple[str, str, Any, str | None]]:
    """(code, FHIR type, value, description) of each property the record has a value for."""
    status = record.status_on(day)
    values: list[tuple[str, str, Any, str | None]] = [
        ("status", "Code", status, None),
        ("inactive", "Boolean", status != "active", None),
        ("kind", "Code", record.kind, None),
        ("level", "Code", record.level, LEVEL_LABELS.get(record.level)),
    ]
    if record.section:
        values.append(("section", "Code", record.section, record.section_name))
    values.append(("noc", "Boolean", record.is_noc(), None))
    for code, date in (
        ("add-date", record.add_date),
        ("effective-date", record.effective_date),
        ("termination-date", record.termination_date),
    ):
        if date:
            values.append((code, "DateTime", date, None))
    return values


def property_parameter(code: str, value_type: str, value: Any, description: str | None) -> dict[str, Any]:
    parts = [parameter("code", "Code", code), parameter("value", value_type, value)]
    if description:
        parts.append(parameter("description", "String", description))
    return {"name": "property", "part": parts}


def lookup_parameters(record: CodeRecord, version: str, day: dt.date, wanted: set[str] | None = None) -> dict[str, Any]:
    """$lookup's answer: name, version, display, the descriptors as designations, and the properties (all of
    them, or only the ``wanted`` property codes; ``designation`` among them asks for the designations)."""
    info = system_for_key(record.system)
    answer = [
        parameter("name", "String", info.name),
        parameter("version", "String", version),
        parameter("display", "String", display_of(record)),
    ]
    if wanted is None or "designation" in wanted:
        answer += [designation_parameter(*found) for found in designations(record)]
    answer += [
        property_parameter(*value) for value in property_values(record, day) if wanted is None or value[0] in wanted
    ]
    return {"resourceType": "Parameters", "parameter": answer}


def validation_parameters(result: bool, message: str | None, display: str | None) -> dict[str, Any]:
    """$validate-code's answer (R4: result, message, display)."""
    answer = [parameter("result", "Boolean", result)]
    if message:
        answer.append(parameter("message", "String", message))
    if display:
        answer.append(parameter("display", "String", display))
    return {"resourceType": "Parameters", "parameter": answer}


# --- ValueSet expansion -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpansionEntry:
    record: CodeRecord
    inactive: bool


def expansion_value_set(
    info: CodeSystemInfo,
    version: str,
    entries: Iterable[ExpansionEntry],
    total: int,
    offset: int,
    used: list[dict[str, Any]],
    with_designations: bool,
) -> dict[str, Any]:
    """A ValueSet whose expansion holds one page of codes; ``used`` are the expansion parameters that
    applied (filter, count, offset…), so a client can see what the page was cut by."""
    contains = []
    for entry in entries:
        item: dict[str, Any] = {
            "system": info.uri,
            "version": version,
            "code": entry.record.code,
            "display": display_of(entry.record),
        }
        if entry.inactive:
            item["inactive"] = True
        if with_designations:
            item["designation"] = [
                {"language": "en", "use": {"system": DESIGNATION_USE, "code": use, "display": shown}, "value": text}
                for use, shown, text in designations(entry.record)
            ]
            if not item["designation"]:
                del item["designation"]
        contains.append(item)
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "total": total,
        "offset": offset,
        "parameter": [*used, parameter("used-codesystem", "Uri", f"{info.uri}|{version}")],
    }
    if contains:
        expansion["contains"] = contains
    return {
        "resourceType": "ValueSet",
        "url": info.value_set,
        "version": version,
        "name": f"{info.key}_all_codes",
        "title": f"All {info.name} codes",
        "status": "active",
        "expansion": expansion,
    }


# --- capabilities -------------------------------------------------------------------------------------


def _software(software_version: str) -> dict[str, str]:
    return {"name": "codefinder", "version": software_version}


def capability_statement(software_version: str, built_at: str) -> dict[str, Any]:
    """What this server does, for ``GET /fhir/metadata``: the three terminology operations, JSON only."""

    def operation(name: str) -> dict[str, str]:
        return {"name": name, "definition": OPERATION_DEFINITIONS[name]}

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": built_at,
        "publisher": "codefinder",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "software": _software(software_version),
        "implementation": {"description": "codefinder terminology operations for HCPCS Level II and CPT"},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {"type": "CodeSystem", "operation": [operation("lookup"), operation("validate-code")]},
                    {"type": "ValueSet", "operation": [operation("expand")]},
                ],
            }
        ],
    }


def terminology_capabilities(
    software_version: str, built_at: str, version: str, systems: Iterable[CodeSystemInfo]
) -> dict[str, Any]:
    """``GET /fhir/metadata?mode=terminology``: the code systems loaded, in the index version served."""
    return {
        "resourceType": "TerminologyCapabilities",
        "status": "active",
        "date": built_at,
        "publisher": "codefinder",
        "kind": "instance",
        "software": _software(software_version),
        "codeSystem": [
            {
                "uri": info.uri,
                "version": [{"code": version, "isDefault": True, "language": ["en"], "property": list(PROPERTIES)}],
            }
            for info in systems
        ],
        "expansion": {
            "hierarchical": False,
            "paging": True,
            "textFilter": "filter is read like a /search query: words, abbreviations, brand names, codes or "
            "code prefixes, ranked by codefinder's hybrid search",
        },
        "validateCode": {"translations": False},
    }
