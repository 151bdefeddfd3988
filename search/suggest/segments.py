"""Clinical text as tokens with character offsets, split into segments: sentences, list items, lines.

Notes, orders and MAR entries break where prose would not: a line or list item ("- enoxaparin 40 mg SC",
"2) walker") is a unit of its own, a semicolon separates entries, and a period ends a sentence only when a
new one follows — not after a title ("Dr."), an abbreviation written with periods ("q.d.", "p.o."), an
initial, or inside a number ("1.25 g"). A hard-wrapped line that continues in lower case is joined to the
next. Library sentence splitters were measured and not kept (docs/suggest.md): spaCy (through thinc)
imports torch, 5.6 s at startup; pySBD took 13–20 ms on a 1,600-character note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A number ("5,000", "1.25", ".5"), a word (a letter first; then letters, digits, inner hyphens and
# apostrophes: "q48h", "x-ray", "pt's"), or any other single visible character.
TOKEN = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+|[^\W\d_](?:[^\W_]|['’-](?=[^\W_]))*|[^\s\w]|_")
MAX_SEGMENT_TOKENS = 64
LIST_MARKER = re.compile(r"[ \t]*(?:[-*•·‣◦▪–—+>]|\(?\d{1,2}[.)]|\(?[a-hA-H][.)])[ \t]+")
# Words written with a period that does not end a sentence.
ABBREVIATIONS_TEXT = (
    "dr mr mrs ms st pt pts vs etc approx appt no nos inc dept fig ref wt ht temp resp min max avg "
    "e.g i.e q.d b.i.d t.i.d q.i.d p.o p.r.n q.h.s a.m p.m h.s n.p.o"
)
ABBREVIATIONS = frozenset(ABBREVIATIONS_TEXT.split())


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


@dataclass(frozen=True)
class Segment:
    """A sentence, list item or line: where it is and its tokens."""

    start: int
    end: int
    tokens: tuple[Token, ...]


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    stop = len(text) if end is None else end
    return [Token(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text, start, stop)]


def segments(text: str) -> list[Segment]:
    """The text's segments in order; blank ones are left out."""
    found: list[Segment] = []
    for line_start, line_end in _lines(text):
        marker = LIST_MARKER.match(text, line_start, line_end)
        begin = marker.end() if marker else line_start
        for part_start, part_end in _split_semicolons(text, begin, line_end):
            for sentence_start, sentence_end in _sentences(text, part_start, part_end):
                tokens = tokenize(text, sentence_start, sentence_end)
                for piece in _bounded(tokens):
                    found.append(Segment(piece[0].start, piece[-1].end, tuple(piece)))
    return found


def _bounded(tokens: list[Token]) -> list[list[Token]]:
    """A run-on sentence (a pasted table, text without periods) in pieces of at most MAX_SEGMENT_TOKENS,
    each cut after the last comma or "and" that fits, else where it must."""
    pieces = []
    while len(tokens) > MAX_SEGMENT_TOKENS:
        window = tokens[:MAX_SEGMENT_TOKENS]
        cut = max((i + 1 for i, t in enumerate(window) if t.lower in (",", "and") and i > 0), default=len(window))
        pieces.append(tokens[:cut])
        tokens = tokens[cut:]
    if tokens:
        pieces.append(tokens)
    return pieces


def _lines(text: str) -> list[tuple[int, int]]:
    """Logical lines: a line that ends without punctuation and is followed by one starting in lower case
    (a hard wrap) is joined to it; a blank line or a list marker always starts a new one."""
    spans: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n\r]+|(?:\r\n|\n|\r){2,}", text):
        body = match.group()
        start, end = match.start(), match.end()
        if not body.strip():
            spans.append((start, start))
            continue
        if spans and _continues(text, spans[-1], start, end):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [(s, e) for s, e in spans if e > s]


def _continues(text: str, previous: tuple[int, int], start: int, end: int) -> bool:
    before = text[previous[0] : previous[1]].rstrip()
    after = text[start:end].lstrip()
    if not before or not after or LIST_MARKER.match(text, start, end):
        return False
    return before[-1] not in ".!?:;" and after[0].islower()


def _split_semicolons(text: str, start: int, end: int) -> list[tuple[int, int]]:
    parts = []
    for match in re.finditer(r"[^;]+", text[start:end]):
        parts.append((start + match.start(), start + match.end()))
    return parts


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split at ., ! or ? followed by space and a capital, a digit or the end — unless the word before
    the period is an abbreviation, a single letter or a title."""
    spans = []
    begin = start
    for match in re.finditer(r"[.!?]+(?=\s+(?:[A-Z0-9(\"']|$))|[.!?]+$", text[start:end]):
        stop = start + match.start()
        word = re.search(r"([\w.]+)$", text[begin:stop])
        if match.group().startswith(".") and word and _abbreviated(word.group(1)):
            continue
        spans.append((begin, stop + len(match.group())))
        begin = stop + len(match.group())
    if begin < end:
        spans.append((begin, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _abbreviated(word: str) -> bool:
    lowered = word.lower().rstrip(".")
    return lowered in ABBREVIATIONS or (len(lowered) == 1 and lowered.isalpha())
