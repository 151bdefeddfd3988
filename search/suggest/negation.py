"""Was the item given, or declined, held, not given? ConText's algorithm (Harkema, Chapman et al. 2009;
NegEx, Chapman 2001): a cue phrase negates the mentions in its scope — forward cues ("no", "declined")
the mentions after them, backward cues ("… held", "… not given") those before them — and a scope ends at
the segment's end or at a terminating word ("but", "however"). Pseudo-cues ("no change", "not only") look
like cues and negate nothing. medspaCy's ConText was not used: it needs spaCy, which imports torch
(docs/suggest.md). The cues are general documentation language, as in the published ConText lexicons
plus medication-administration wording ("held", "not given", "refused", "no IV access").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FORWARD = (
    "no", "not", "never", "without any", "declined", "declines", "refused", "refuses", "denies", "held",
    "hold", "holding", "withheld", "deferred", "defer", "cancelled", "canceled", "discontinued", "d/c",
    "dc'd", "did not receive", "did not get", "not given", "not administered", "unable to give",
    "unable to obtain", "no iv access", "patient declined", "pt declined", "pt refused", "patient refused",
    "omitted", "omit", "contraindicated",
)  # fmt: skip
BACKWARD = (
    "declined", "refused", "held", "withheld", "not given", "not administered", "not done", "deferred",
    "discontinued", "cancelled", "canceled", "omitted", "was held", "was not given", "not dispensed",
    "not applied", "not placed", "not started", "on hold", "not tolerated", "contraindicated",
)  # fmt: skip
PSEUDO = ("no change", "not only", "no longer needed", "not necessarily", "no further", "without difficulty")
# Words that close a cue's scope: a contrast, a consequence, or an administration stated after it
# ("no IV access, so ceftriaxone given IM").
TERMINATE = (
    "but", "however", "although", "though", "then", "instead", "except", "after which", "and then", "so",
    "therefore", "given", "gave", "administered", "dispensed", "applied", "started",
)  # fmt: skip
LONGEST = 4


@dataclass(frozen=True)
class Cue:
    start: int  # word positions
    end: int
    direction: str  # forward, backward, pseudo, terminate


def cues(words: Sequence[str]) -> list[Cue]:
    """The cue phrases among ``words`` (lower case), longest first at each position."""
    tables = (("pseudo", PSEUDO), ("terminate", TERMINATE), ("forward", FORWARD), ("backward", BACKWARD))
    found: list[Cue] = []
    i = 0
    while i < len(words):
        for size in range(min(LONGEST, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + size])
            directions = [direction for direction, table in tables if phrase in table]
            if directions:
                for direction in directions[:1] if directions[0] in ("pseudo", "terminate") else directions:
                    found.append(Cue(i, i + size, direction))
                i += size
                break
        else:
            i += 1
    return found


def negated(words: Sequence[str], spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each (start, end) word span of a mention (in order), whether a cue of the same segment negates
    it. A forward cue negates the next mention and a backward cue the previous one, unless a terminator
    lies between; a cue that reads both ways ("held", "declined") goes to the nearer mention (the previous
    one on a tie: "heparin held, enoxaparin given")."""
    result = [False] * len(spans)
    found = cues(words)
    terminators = [cue.start for cue in found if cue.direction == "terminate"]
    by_position: dict[tuple[int, int], set[str]] = {}
    for cue in found:
        by_position.setdefault((cue.start, cue.end), set()).add(cue.direction)
    for (start, end), directions in by_position.items():
        if directions & {"pseudo", "terminate"}:
            continue
        before = max((i for i, span in enumerate(spans) if span[1] <= start), default=None)
        after = min((i for i, span in enumerate(spans) if span[0] >= end), default=None)
        if before is not None and any(spans[before][1] <= t < start for t in terminators):
            before = None
        if after is not None and any(end <= t < spans[after][0] for t in terminators):
            after = None
        if "backward" not in directions:
            before = None
        if "forward" not in directions:
            after = None
        if before is not None and after is not None:
            if end > spans[-1][1] or (spans[after][0] - end) < (start - spans[before][1]):
                before = None
            else:
                after = None
        target = before if before is not None else after
        if target is not None:
            result[target] = True
    return result
