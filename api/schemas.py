"""Request and response shapes, so the generated OpenAPI documents every endpoint."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from codefinder.api import limits
from codefinder.search.hits import Hit
from codefinder.search.query import normalize_query
from codefinder.search.suggest.codes import SuggestedCode


def model_of(source: type, name: str) -> type[BaseModel]:
    """A response model with exactly a dataclass's fields, types, defaults and descriptions (from each
    field's ``metadata["description"]``), so the HTTP schema cannot drift from what the engine returns."""
    hints = get_type_hints(source)
    definitions: dict[str, Any] = {}
    for item in dataclasses.fields(source):
        description = item.metadata.get("description")
        if item.default is not dataclasses.MISSING:
            spec = Field(default=item.default, description=description)
        elif item.default_factory is not dataclasses.MISSING:
            spec = Field(default_factory=item.default_factory, description=description)
        else:
            spec = Field(description=description)
        definitions[item.name] = (hints[item.name], spec)
    return create_model(name, __doc__=source.__doc__, **definitions)


HitOut = model_of(Hit, "HitOut")


class SearchOut(BaseModel):
    query: str
    mode: str
    total: int
    offset: int
    hits: list[HitOut]
    index_version: str
    took_ms: float
    degraded: list[str]
    expansions: list[dict[str, str]] = Field(default_factory=list, description="how the query was read")
    did_you_mean: str | None = Field(default=None, description="the query with typos corrected, if any were")
    ignored: list[str] = Field(default_factory=list, description="words dropped as meaningless (HCHG, charge numbers)")
    no_good_match: bool = Field(
        default=False, description="nothing clears the confidence threshold: do not auto-suggest"
    )
    needs_cpt: dict[str, Any] | None = Field(
        default=None,
        description="the query is a CPT code or names a CPT service and no CPT file is loaded: reason (code or "
        "service), message, level, services",
    )


class RecordOut(BaseModel):
    code: str
    system: str
    level: str
    level_label: str
    kind: str
    section: str | None
    section_name: str | None
    long_description: str | None
    short_description: str | None
    synonyms: list[str]
    knowledge_terms: list[str]
    betos: str | None
    coverage: str | None
    type_of_service: str | None
    cross_reference: str | None
    add_date: str | None
    effective_date: str | None
    termination_date: str | None
    action_code: str | None
    opps_status_indicator: str | None
    drug_dosage: str | None
    noc: bool
    sources: list[str]
    missing_from: list[str] = Field(default_factory=list, description="newer lists that should carry it and do not")
    missing_since: str | None = Field(default=None, description="from when those lists are known to omit it")
    replaced_by: list[str] = Field(default_factory=list, description="current codes that likely replace it")
    added_after: str | None = Field(default=None, description="no add date: a full list of this date lacked it")
    status: str = Field(description="active, terminated, not_yet_effective or not_in_current_lists on the as-of date")


class SuggestionOut(BaseModel):
    code: str
    label: str
    short_description: str | None
    kind: str
    section: str | None
    level_label: str
    status: str
    match: str


class AutocompleteOut(BaseModel):
    query: str
    suggestions: list[SuggestionOut]
    took_ms: float
    index_version: str


SETTING_DESCRIPTION = (
    "who bills: any, or hospital (prefers the OPPS device category C codes for implants and keeps S codes, "
    "which hospitals bill to private payers, in place; with any they follow the national code of like score); "
    "with any, a line written in capitals as chargemasters write them is read as a hospital's"
)


class StrictBody(BaseModel):
    """A request body: a misspelled field ("limt") is a 422 naming it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class BatchSearchIn(StrictBody):
    queries: list[str] = Field(min_length=1, max_length=limits.MAX_BATCH_QUERIES)
    limit: int = Field(default=10, ge=1, le=limits.MAX_LIMIT)
    mode: str = "hybrid"
    setting: str = Field(default="any", max_length=16, description=SETTING_DESCRIPTION)


class BatchSearchOut(BaseModel):
    results: list[SearchOut]
    index_version: str
    took_ms: float


def clean_code(code: str) -> str:
    """A code as typed, minus what no code contains: full-width letters (NFKC), control and format
    characters, surrogates. Done here so a stray byte is neither echoed back nor makes a known code unknown."""
    cleaned = normalize_query(code)
    if not cleaned:
        raise ValueError("code is empty")
    return cleaned


class VerifyItemIn(StrictBody):
    description: str = Field(max_length=4 * limits.MAX_VERIFY_DESCRIPTION_CHARS)
    code: Annotated[str, AfterValidator(clean_code)] = Field(
        min_length=1,
        max_length=limits.MAX_WRITTEN_CODE_CHARS,
        description="the code as written, modifiers may follow: E0130-RR, J9271 JW, L3916-LT-RT",
    )
    modifiers: str | list[Annotated[str, Field(max_length=8)]] | None = Field(
        default=None,
        max_length=limits.MAX_WRITTEN_CODE_CHARS,
        description='modifiers given apart from the code: "RR NU" or ["RR", "NU"]; each must be one the index holds',
    )
    units: float | None = Field(
        default=None, ge=0, le=limits.MAX_BILLED_UNITS, description="the units billed, checked against the stated dose"
    )


class VerifyIn(VerifyItemIn):
    setting: str = Field(default="any", max_length=16, description=SETTING_DESCRIPTION)


class FindingOut(BaseModel):
    rule: str = Field(description="the verdict rule or line check that found it (clearly_outranked, units_mismatch…)")
    message: str = Field(description="one line a reviewer can check against the descriptors")


class UnitsOut(BaseModel):
    billed: float | None = Field(description="the units billed, as given")
    expected: int | None = Field(description="the units the stated dose makes in the code's unit, rounded up")
    dose: str | None = Field(description="the dose the description states")
    per: str | None = Field(description="what one unit of the code is")
    per_source: str | None = Field(description="descriptor or crosswalk (the ASP crosswalk's HCPCS dosage)")
    how: str | None = Field(description="the arithmetic, in words")


class VerifyOut(BaseModel):
    description: str
    code: str = Field(description="the code without its modifiers")
    modifiers: list[str] = Field(description="the modifiers read from the code and the modifiers field")
    verdict: str = Field(description="consistent | suspect | unknown_code | terminated | needs_cpt")
    rank: int | None
    score: float | None
    confidence: float | None = Field(description="calibrated probability that the code is right for the description")
    record: RecordOut | None
    better_candidates: list[HitOut]
    reasons: list[FindingOut] = Field(description="why the verdict: one line per rule that fired")
    flags: list[FindingOut] = Field(
        description="what else the line says against itself: units_mismatch, modifier_conflict, pricing_modifier…"
    )
    units: UnitsOut | None = Field(description="billed units against the stated dose, when either is known")
    index_version: str


class VerifyBatchIn(StrictBody):
    items: list[VerifyItemIn] = Field(min_length=1, max_length=limits.MAX_VERIFY_ITEMS)
    setting: str = Field(default="any", max_length=16, description=SETTING_DESCRIPTION)


class VerifyBatchOut(BaseModel):
    results: list[VerifyOut]
    index_version: str
    took_ms: float


class ReleaseOut(BaseModel):
    name: str = Field(description="the release file's name (a zip member as zip:member)")
    date: str | None = Field(description="release date, from the name or the contents")
    dated: bool = Field(description="carries added/termination dates (a full release, not the web list)")
    codes: int


class ReleasesOut(BaseModel):
    releases: list[ReleaseOut]
    index_version: str


class ChangeOut(BaseModel):
    change: str = Field(description="added, terminated or descriptor_changed")
    code: str
    date: str | None = Field(description="add date, termination date, or effective date of the change")
    action_code: str | None = Field(description="the newer release's ACTION_CD (A add, D discontinue, C change…)")
    old_description: str | None
    new_description: str | None


class ChangesOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: ReleaseOut = Field(alias="from")
    to: ReleaseOut
    counts: dict[str, int]
    changes: list[ChangeOut]
    index_version: str


class CheckCsvIn(StrictBody):
    csv: str = Field(
        max_length=limits.MAX_CSV_CHUNK_CHARS,
        description="a chunk of a CSV file: its header line, then at most 1,000 rows",
    )
    first_line: int = Field(default=2, ge=2, description="the line number of the chunk's first row in the file")
    delimiter: str | None = Field(default=None, min_length=1, max_length=1, description="default: sniffed")
    description_column: str | None = Field(default=None, max_length=200, description="default: found by name")
    code_column: str | None = Field(default=None, max_length=200, description="default: found by name")
    modifiers_column: str | None = Field(default=None, max_length=200, description="default: found by name")
    units_column: str | None = Field(default=None, max_length=200, description="default: found by name")
    setting: str = Field(default="any", max_length=16, description=SETTING_DESCRIPTION)


class CheckCsvOut(BaseModel):
    columns: list[str] = Field(description="the report's columns: the input's, then the verdict's")
    detected: dict[str, str | None] = Field(description="the input columns read as description, code, modifiers, units")
    rows: list[dict[str, str]] = Field(description="one report row per input row, in order")
    index_version: str
    took_ms: float


class ErrorOut(BaseModel):
    """Every 4xx/5xx body: one line saying what was wrong."""

    detail: str


ERROR_MEANINGS: dict[int, str] = {
    400: "the body could not be read as JSON (not UTF-8, nested too deep)",
    404: "no such code in the loaded index",
    413: "the request body is larger than the limit",
    422: "a parameter or field is missing, malformed or out of bounds; the detail names it and the limit",
    401: "API keys are configured and the request carries no valid one",
    403: "admin endpoints are closed: no API keys are configured",
    409: "the new index failed its checks; the one loaded keeps serving",
    429: "over the rate limit; retry after the seconds in Retry-After",
    503: "no verified index is loaded",
    504: "no answer within the request deadline",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the error statuses an operation can answer. Our handlers send ``{"detail": str}``
    for every error, 422 included, so FastAPI's default list-shaped 422 schema would document a lie."""
    return {status: {"model": ErrorOut, "description": ERROR_MEANINGS[status]} for status in statuses}


class ReloadOut(BaseModel):
    status: str = Field(
        description="reloaded; unchanged when `current` still names the loaded build; with several workers, "
        "'reloaded; restarting every worker' (each worker is replaced, one by one, on the new index)"
    )
    index_version: str
    previous_version: str | None
    seconds: float


SuggestedCodeOut = model_of(SuggestedCode, "SuggestedCodeOut")


class SuggestIn(StrictBody):
    text: str = Field(
        max_length=limits.MAX_SUGGEST_CHARS,
        description=f"a note, an order set or MAR entries; at most {limits.MAX_SUGGEST_CHARS:,} characters",
    )
    setting: str = Field(default="any", max_length=16, description=SETTING_DESCRIPTION)
    limit_per_item: int = Field(default=5, ge=1, le=limits.MAX_LIMIT_PER_ITEM, description="codes per item")
    mode: Literal["hybrid", "keyword"] = Field(
        default="hybrid",
        description="hybrid (default), or keyword: no model call, about half the time, fewer items found "
        "(docs/suggest.md)",
    )


class AttributesOut(BaseModel):
    dose: str | None = Field(description="the dose stated, as read ('1 g')")
    route: str | None = Field(description="intravenous, intramuscular, subcutaneous, oral, inhalation…")
    frequency: str | None = Field(description="how often, as written ('q24h', 'x1')")
    quantity: int | None = Field(description="how many, when stated ('qty 30', '#30', 'x2', '2 units')")
    rate: str | None = Field(description="an infusion rate, never read as a dose ('125 mL / h')")
    side: str | None = Field(description="left, right or bilateral")


class SuggestedItemOut(BaseModel):
    start: int = Field(description="where the mention starts in the text (a Unicode code point offset)")
    end: int = Field(description="where it ends (exclusive)")
    text: str = Field(description="the mention as written")
    query: str = Field(description="what was searched for it")
    negated: bool = Field(description="documented as not given: declined, held, not given, refused…")
    needs_cpt: bool = Field(description="a service coded in CPT; its codes are CPT codes when a CPT file is loaded")
    cpt_service: str | None = Field(description="the kind of CPT service named, if any")
    attributes: AttributesOut
    codes: list[SuggestedCodeOut]


class SuggestOut(BaseModel):
    items: list[SuggestedItemOut] = Field(description="billable mentions in text order; none when nothing is billable")
    index_version: str
    took_ms: float
    segments: int = Field(description="sentences, lines and list items the text was read as")
    cpt_loaded: bool = Field(description="whether the index holds CPT codes to answer CPT services with")
