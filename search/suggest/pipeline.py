"""Documentation text in, billable items out: every HCPCS Level II mention of a note, order or MAR entry
with where it is, its ranked codes, billing units, modifiers and whether it was negated.

The text is split into segments (``segments``); in each, the words that name something billable
(``lexicon``: learned from the descriptors, the crosswalk and the knowledge tables) anchor a mention
(``mentions``), which takes the dose, route, size and modifier words around it up to the next item. All
mentions are searched in one batch (``SearchEngine.run_many``); a short accessory named after an item of
equipment is searched again behind it ("… CPAP machine … tubing" -> "cpap tubing"). A mention is
reported only when a code that can bill it is confident enough — the engine's calibrated confidence,
with a lower bar for a code that matches the mention outright and a higher one for a whole segment no
lexicon name found (``codes``) — so text naming nothing billable gives no items, not a forced guess. A
CPT service (an office visit, an MRI) that no HCPCS code answers is reported as such (``needs_cpt``),
with CPT codes when a CPT file is loaded. Negation (``negation``) is read last, over the reported items.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from codefinder.indexer.errors import QueryError
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.run import QueryRun
from codefinder.search.suggest.attributes import Attributes, is_frequency, rate_positions, read_attributes
from codefinder.search.suggest.codes import Choice, SuggestedCode, choose_codes
from codefinder.search.suggest.mentions import Mention, describing_words, find_mentions, is_number, vital_positions
from codefinder.search.suggest.negation import negated
from codefinder.search.suggest.segments import Segment, Token, segments

DEFAULT_LIMIT_PER_ITEM = 5
MIN_DEPTH = 10  # codes searched per mention: enough to reorder the first ones
SHORT_MENTION = 2  # words; an accessory this short after an item of equipment is also read behind it
ACCESSORY_REACH = 1  # segments after the equipment's in which such an accessory is read behind it
EQUIPMENT_SECTIONS = frozenset("EK")
SUGGEST_MODES = ("hybrid", "keyword")  # a mention is a few words: semantic alone would lose their exact names
TIME_WORDS = frozenset({"day", "days", "week", "weeks", "month", "months", "hour", "hours", "hrs", "year", "years"})

__all__ = ["SuggestResponse", "SuggestedCode", "SuggestedItem", "suggest"]


@dataclass
class SuggestedItem:
    """A billable mention: where it is in the text, what it says, and its codes, best first."""

    start: int
    end: int
    text: str
    query: str
    negated: bool
    needs_cpt: bool
    cpt_service: str | None
    attributes: Attributes
    codes: list[SuggestedCode]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "query": self.query,
            "negated": self.negated,
            "needs_cpt": self.needs_cpt,
            "cpt_service": self.cpt_service,
            "attributes": self.attributes.to_dict(),
            "codes": [code.to_dict() for code in self.codes],
        }


@dataclass
class SuggestResponse:
    items: list[SuggestedItem]
    index_version: str
    took_ms: float
    segments: int
    cpt_loaded: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "index_version": self.index_version,
            "took_ms": self.took_ms,
            "segments": self.segments,
            "cpt_loaded": self.cpt_loaded,
        }


@dataclass(frozen=True)
class Thresholds:
    """What a mention's codes must reach to be reported."""

    any_code: float  # the best billable code's confidence
    matched_code: float  # the best confidence of a billable code that matches the mention outright
    phrase: float  # the best billable code's confidence, for a whole segment no lexicon name found


def suggest(
    engine: SearchEngine,
    text: str,
    setting: str = "any",
    limit_per_item: int = DEFAULT_LIMIT_PER_ITEM,
    min_confidence: float | None = None,
    as_of: dt.date | None = None,
    check: Callable[[], None] | None = None,
    mode: str = "hybrid",
) -> SuggestResponse:
    """Every billable mention of ``text`` with its codes. ``min_confidence`` (default: the engine's
    setting) is what a mention's best code must reach to be reported (0 reports every candidate);
    ``mode`` is the retrieval each mention is searched with ("keyword": no model call, faster, less
    accurate — docs/suggest.md);
    ``check`` is called between steps (a deadline may raise there)."""
    started = time.perf_counter()
    if mode not in SUGGEST_MODES:
        raise QueryError(f"mode must be one of {', '.join(SUGGEST_MODES)}, got {mode!r}")
    settings = engine.settings
    any_code = settings.suggest_min_confidence if min_confidence is None else min_confidence
    thresholds = Thresholds(
        any_code,
        min(any_code, settings.suggest_min_matched_confidence),
        any_code if min_confidence is not None else settings.suggest_min_phrase_confidence,
    )
    found = segments(text)
    lexicon, knowledge = engine.mention_lexicon, engine.index.knowledge
    mentions = [m for segment in found for m in find_mentions(text, segment, lexicon, knowledge)]
    if check is not None:
        check()
    depth = max(limit_per_item, MIN_DEPTH)
    # HCPCS Level II answers first; a CPT service that none answers well enough goes to CPT after
    options = SearchOptions(limit=depth, mode=mode, setting=setting, filters=Filters(system="HCPCS", as_of=as_of))
    queries = [mention_query(text, m) for m in mentions]
    attributes = [_attributes(m) for m in mentions]
    choices = _choices(engine, queries, options, mentions, attributes, limit_per_item)
    _read_accessories(engine, found, mentions, queries, attributes, choices, thresholds, options, limit_per_item)
    items: list[SuggestedItem] = []
    unanswered: list[tuple[Mention, str]] = []  # CPT services no HCPCS code answers well enough
    for mention, query, stated, choice in zip(mentions, queries, attributes, choices, strict=True):
        if _reported(choice, mention, thresholds):
            items.append(_item(text, mention, query, stated, choice.codes, needs_cpt=False))
        elif mention.cpt_service is not None:
            unanswered.append((mention, query))
    items += _cpt_items(engine, text, unanswered, depth, limit_per_item, as_of, mode)
    if check is not None:
        check()
    items.sort(key=lambda item: item.start)
    _mark_negations(items, found)
    return SuggestResponse(
        items=items,
        index_version=engine.index.build_id,
        took_ms=round((time.perf_counter() - started) * 1000, 3),
        segments=len(found),
        cpt_loaded=engine.has_cpt,
    )


def _runs(engine: SearchEngine, queries: list[str], options: SearchOptions) -> list[QueryRun]:
    """One run per query, in order, through the engine's one batch path."""
    done: list[QueryRun | None] = [None] * len(queries)
    if queries:
        for position, run in engine.run_many(queries, options):
            done[position] = run
    return [run for run in done if run is not None]


def _choices(
    engine: SearchEngine,
    queries: list[str],
    options: SearchOptions,
    mentions: list[Mention],
    attributes: list[Attributes],
    limit: int,
) -> list[Choice]:
    """Each mention's codes, chosen as its run comes out of the batch: the choosing of the first mentions
    happens while the model still embeds the later ones."""
    done: list[Choice | None] = [None] * len(queries)
    if queries:
        for position, run in engine.run_many(queries, options):
            done[position] = _choice(engine, run, mentions[position], attributes[position], limit)
    return [choice for choice in done if choice is not None]


def _attributes(mention: Mention) -> Attributes:
    before = mention.segment.tokens[max(0, mention.first - 3) : mention.first]
    return read_attributes(_stated(mention), before, mention.kind == "drug")


def _stated(mention: Mention) -> tuple[Token, ...]:
    """The tokens whose dose and counts count for a mention: a whole-segment candidate's segment."""
    return mention.segment.tokens if mention.kind == "phrase" else mention.tokens


def _choice(
    engine: SearchEngine, run: QueryRun, mention: Mention, attributes: Attributes, limit: int, billable: bool = True
) -> Choice:
    text = " ".join(t.text for t in _stated(mention))
    content = frozenset(engine.facts.stems_of_text(" ".join(describing_words(mention))))
    return choose_codes(engine, run, attributes, text, mention.anchors, content, limit, billable)


def _read_accessories(
    engine: SearchEngine,
    found: list[Segment],
    mentions: list[Mention],
    queries: list[str],
    attributes: list[Attributes],
    choices: list[Choice],
    thresholds: Thresholds,
    options: SearchOptions,
    limit: int,
) -> None:
    """An accessory named alone after an item of equipment ("CPAP machine set up. Full face mask, tubing
    and disposable filters provided.") is searched again behind the equipment's first word ("cpap
    tubing"), all such in one more batch; that reading is kept when its code is confident enough to report
    or more confident than the bare word's, the equipment's own code left out of it (the tubing is not the
    machine). Only in the equipment's own segment or the next: further on, a short item ("Extremities",
    "Wound edges") is about something else. ``queries`` and ``choices`` are updated."""
    segment_number = {id(segment): n for n, segment in enumerate(found)}
    pending: list[tuple[int, str, str]] = []  # (mention, context query, the equipment's code)
    equipment: tuple[str, str, int] | None = None  # (first word of its name, its first code, its segment)
    for n, (mention, choice) in enumerate(zip(mentions, choices, strict=True)):
        if mention.kind != "item" or not mention.anchors:
            continue
        segment = segment_number[id(mention.segment)]
        if equipment is not None and segment > equipment[2] + ACCESSORY_REACH:
            equipment = None
        short = len([t for t in mention.tokens if t.text[0].isalpha()]) <= SHORT_MENTION
        if short and equipment is not None:
            pending.append((n, f"{equipment[0]} {queries[n]}", equipment[1]))
        elif choice.codes and choice.codes[0].section in EQUIPMENT_SECTIONS and _reported(choice, mention, thresholds):
            equipment = (mention.anchors[0].split()[0], choice.codes[0].code, segment)
    if not pending:
        return
    runs = _runs(engine, [query for _, query, _ in pending], options)
    for (n, query, code), run in zip(pending, runs, strict=True):
        other = _choice(engine, run, mentions[n], attributes[n], limit + 1)
        codes = [c for c in other.codes if c.code != code][:limit]
        best = max((c.confidence for c in codes if c.confidence is not None), default=None)
        # next to its equipment, a bare accessory word means the equipment's: that reading wins whenever it is
        # confident enough to report ("tubing" after a CPAP machine is CPAP tubing, not feeding tubing)
        if best is not None and (best >= thresholds.any_code or best > (choices[n].best or 0.0)):
            choices[n] = Choice(codes, best, other.best_matched)
            queries[n] = query


def _reported(choice: Choice, mention: Mention, thresholds: Thresholds) -> bool:
    """A mention found by a lexicon name is reported at the plain bar (or the lower one for a code that
    matches it outright); a whole segment that names nothing the lexicon knows, at the higher phrase bar;
    a CPT service ("chest x-ray", "colonoscopy") as a HCPCS item only when a code matches it outright
    (G0121 "… screening; colonoscopy …"), not when one merely shares a word ("chest wrap")."""
    if mention.kind == "phrase":
        return choice.best is not None and choice.best >= thresholds.phrase
    if mention.kind == "service":
        return choice.best_matched is not None and choice.best_matched >= thresholds.matched_code
    if choice.best is not None and choice.best >= thresholds.any_code:
        return True
    return choice.best_matched is not None and choice.best_matched >= thresholds.matched_code


def _cpt_items(
    engine: SearchEngine,
    text: str,
    unanswered: list[tuple[Mention, str]],
    depth: int,
    limit: int,
    as_of: dt.date | None,
    mode: str,
) -> list[SuggestedItem]:
    """CPT services: with CPT codes when a CPT file is loaded, else flagged with none."""
    if not unanswered:
        return []
    options = SearchOptions(limit=depth, mode=mode, filters=Filters(system="CPT", as_of=as_of))
    runs: list[QueryRun | None] = [None] * len(unanswered)
    if engine.has_cpt:
        runs = list(_runs(engine, [query for _, query in unanswered], options))
    items = []
    for (mention, query), run in zip(unanswered, runs, strict=True):
        attributes = _attributes(mention)
        codes = [] if run is None else _choice(engine, run, mention, attributes, limit, billable=False).codes
        items.append(_item(text, mention, query, attributes, codes, needs_cpt=True))
    return items


def mention_query(text: str, mention: Mention) -> str:
    """What is searched for a mention: its words less how often and how fast (q8h, x1, every 3 weeks,
    125 mL/h). A whole-segment candidate (a service) is searched with its verbs ("administered",
    "trimmed"), which say which service it is."""
    tokens = _stated(mention)
    skipped = rate_positions(tokens) | vital_positions(tokens) | _schedule_positions(tokens)
    kept = [t for i, t in enumerate(tokens) if i not in skipped and not is_frequency(t) and t.text not in "()[]|"]
    parts = []
    for i, token in enumerate(kept):
        glued = i > 0 and kept[i - 1].end == token.start
        parts.append(("" if glued else " ") + text[token.start : token.end])
    return "".join(parts).strip() or text[mention.start : mention.end]


def _schedule_positions(tokens: Sequence[Token]) -> set[int]:
    """ "every 3 weeks", "every other week", "x5 days", "for 10 days": when, not what."""
    found: set[int] = set()
    lowers = [t.lower for t in tokens]
    for i, word in enumerate(lowers):
        following = lowers[i + 1] if i + 1 < len(lowers) else ""
        if word in ("every", "for", "x", "times") and i + 2 < len(lowers) and lowers[i + 2] in TIME_WORDS:
            if is_number(following) or following == "other":
                found.update((i, i + 1, i + 2))
        elif following in TIME_WORDS and (word == "every" or is_frequency(tokens[i])):
            found.update((i, i + 1))
    return found


def _item(
    text: str, mention: Mention, query: str, attributes: Attributes, codes: list[SuggestedCode], needs_cpt: bool
) -> SuggestedItem:
    return SuggestedItem(
        start=mention.start,
        end=mention.end,
        text=text[mention.start : mention.end],
        query=query,
        negated=False,
        needs_cpt=needs_cpt,
        cpt_service=mention.cpt_service,
        attributes=attributes,
        codes=codes,
    )


def _mark_negations(items: list[SuggestedItem], found: list[Segment]) -> None:
    """Negation is read per segment over the reported items only (a candidate that was dropped is no
    target for a cue)."""
    for segment in found:
        inside = [item for item in items if segment.start <= item.start < segment.end + 1]
        if not inside:
            continue
        words = [t.lower for t in segment.tokens]
        position = {t.start: i for i, t in enumerate(segment.tokens)}
        ends = {t.end: i for i, t in enumerate(segment.tokens)}
        spans = [(position[item.start], ends[item.end] + 1) for item in inside]
        for item, is_negated in zip(inside, negated(words, spans), strict=True):
            item.negated = is_negated
