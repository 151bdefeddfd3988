"""CPT Proprietary Laboratory Analyses (PLA) codes as the AMA ships them: XML, one ``plaCode`` element per
code with its long, medium and short descriptors, status, effective date, and the lab, manufacturer and
test names. The code is the element's ``cdCode`` attribute (or a ``code`` child); the descriptors are
``cdDesc`` / ``cdMDesc`` / ``cdSDesc``. Lab, manufacturer and test names become synonyms: a PLA code is one
lab's test, and people name it by the test or the lab. A ``DELETED`` status ends the code the day before
its effective date.

Parsed with defusedxml: the file comes from the user, and entity expansion must not blow up a build.
"""

from __future__ import annotations

import datetime as dt
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.sources.base import SourceResult, checked_code, clean_text

LONG = ("cdDesc", "longDescriptor", "longDescription", "descriptor")
MEDIUM = ("cdMDesc", "mediumDescriptor", "mediumDescription")
SHORT = ("cdSDesc", "shortDescriptor", "shortDescription")
STATUS = ("cdStatus", "status")
EFFECTIVE = ("effectiveDate", "cdEffectiveDate")
NAMES = ("testName", "labName", "manufacturerName")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: Element, names: tuple[str, ...]) -> str | None:
    wanted = {name.lower() for name in names}
    for child in element:
        if _local(child.tag).lower() in wanted:
            text = clean_text(child.text)
            if text:
                return text
    return None


def looks_like_pla(head: str) -> bool:
    return "<placode" in head.lower()


def read_pla_xml(data: bytes, path: str) -> SourceResult:
    try:
        root = safe_xml.fromstring(data)
    except (safe_xml.ParseError, DefusedXmlException) as error:
        raise SourceError(path, f"not readable XML ({error})") from error
    result = SourceResult(path=path, shape="ama-cpt-pla-xml")
    seen: set[str] = set()
    for number, element in enumerate((e for e in root.iter() if _local(e.tag) == "plaCode"), start=1):
        raw = element.get("cdCode") or element.get("code") or _child_text(element, ("code", "cdCode")) or ""
        code = checked_code(raw, path, number)
        if code in seen:
            raise SourceError(path, f"plaCode {code} appears twice")
        seen.add(code)
        status = (_child_text(element, STATUS) or "").upper()
        effective = _date(_child_text(element, EFFECTIVE), path, code)
        names = [name for name in (_child_text(element, (tag,)) for tag in NAMES) if name]
        record = CodeRecord.new(
            code,
            long_description=_child_text(element, LONG),
            short_description=_child_text(element, SHORT) or _child_text(element, MEDIUM),
            synonyms=list(dict.fromkeys(names)),
            effective_date=effective,
        )
        if status.startswith("DELETE") and effective:
            record.termination_date = (dt.date.fromisoformat(effective) - dt.timedelta(days=1)).isoformat()
        elif effective and status in ("NEW", "EXISTING", "ADDED"):
            record.add_date = effective
        if not record.long_description and not record.short_description:
            raise SourceError(path, f"plaCode {code} has no descriptor")
        result.records.append(record)
    if not result.records:
        raise SourceError(path, "no plaCode elements")
    return result


def _date(text: str | None, path: str, code: str) -> str | None:
    """``2017-02-01T00:00:00-06:00`` (or a plain date) -> ``2017-02-01``."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError as error:
        raise SourceError(path, f"plaCode {code}: bad effective date {text!r}") from error
