"""The ``q`` parameter of the Clinical Tables drop-in: ``field:value`` constraints combined with AND, OR, NOT
and parentheses, as Clinical Tables documents (its ``q`` is an Elasticsearch query string), plus plain words.

``code:E01* AND is_noc:false``, ``(is_noc:true OR code:J9*) NOT obsolete:true``. Juxtaposition means AND.
Plain words join ``terms`` (every word must match), so they may only be AND-ed. The text is tokenized and
parsed here, never handed to a query engine; the grammar is small and its nesting is bounded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codefinder.indexer.errors import QueryError
from codefinder.indexer.records import CodeRecord

Predicate = Callable[[CodeRecord, dt.date], bool]
Getter = Callable[[CodeRecord, dt.date], Any]

TOKEN = re.compile(r'\(|\)|[a-z_]+:"[^"]*"|[^\s()]+')
CONSTRAINT = re.compile(r"(?P<field>[a-z_]+):(?P<value>.+)")
OPERATORS = {"AND", "OR", "NOT", "&&", "||", "!"}
MAX_DEPTH = 8
TRUE_WORDS = ("true", "1", "yes")


@dataclass
class ParsedQ:
    """What ``q`` asks: a predicate over records (None: no constraint), words to add to ``terms``, and
    whether obsolete (terminated) codes were asked for."""

    predicate: Predicate | None = None
    words: list[str] = field(default_factory=list)
    wants_obsolete: bool = False


class _Parser:
    def __init__(self, tokens: list[str], fields: dict[str, Getter]) -> None:
        self.tokens = tokens
        self.position = 0
        self.fields = fields
        self.words: list[str] = []
        self.wants_obsolete = False

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self, depth: int, top: bool) -> Predicate | None:
        """or-expression := and-expression (OR and-expression)*"""
        parts = [self.conjunction(depth, top)]
        while self.peek() in ("OR", "||"):
            self.take()
            parts.append(self.conjunction(depth, False))
        if len(parts) == 1:
            return parts[0]
        if any(part is None for part in parts):
            raise QueryError("q: plain words cannot be OR-ed; put them in terms, or use field:value on both sides")
        return lambda r, d, ps=parts: any(p(r, d) for p in ps)  # type: ignore[misc]

    def conjunction(self, depth: int, top: bool) -> Predicate | None:
        """and-expression := unary ((AND)? unary)*"""
        parts: list[Predicate] = []
        while (token := self.peek()) is not None and token not in (")", "OR", "||"):
            if token in ("AND", "&&"):
                self.take()
                continue
            part = self.unary(depth, top)
            if part is not None:
                parts.append(part)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else (lambda r, d, ps=parts: all(p(r, d) for p in ps))

    def unary(self, depth: int, top: bool) -> Predicate | None:
        token = self.take()
        if token in ("NOT", "!"):
            if self.peek() is None:
                raise QueryError("q: NOT needs something after it")
            inner = self.unary(depth, False)
            if inner is None:
                raise QueryError("q: only field:value constraints can be negated")
            return lambda r, d, p=inner: not p(r, d)
        if token == "(":
            if depth >= MAX_DEPTH:
                raise QueryError(f"q: parentheses nest deeper than {MAX_DEPTH}")
            inner = self.expression(depth + 1, False)
            if self.peek() != ")":
                raise QueryError("q: a '(' is never closed")
            self.take()
            if inner is None:
                raise QueryError("q: empty parentheses, or plain words inside them")
            return inner
        if token == ")":
            raise QueryError("q: a ')' closes nothing")
        match = CONSTRAINT.fullmatch(token)
        if match and match["field"] in self.fields:
            return self.constraint(match["field"], match["value"].strip("\"'").lower(), top)
        if match:
            raise QueryError(f"q: unknown field {match['field']!r}; fields are {', '.join(self.fields)}")
        if not top:
            raise QueryError("q: plain words can only be AND-ed at the top level (they are added to terms)")
        self.words.append(token)
        return None

    def constraint(self, name: str, value: str, top: bool) -> Predicate:
        getter = self.fields[name]
        if name in ("obsolete", "is_noc"):
            wanted = value in TRUE_WORDS
            if name == "obsolete" and (wanted or not top):
                self.wants_obsolete = True  # obsolete codes must be in the pool for the predicate to see them
            return lambda r, d: bool(getter(r, d)) == wanted
        if value.endswith("*"):
            prefix = value[:-1]
            return lambda r, d: str(getter(r, d) or "").lower().startswith(prefix)
        return lambda r, d: value in str(getter(r, d) or "").lower().split()


def parse_q(q: str | None, fields: dict[str, Getter]) -> ParsedQ:
    """Parse ``q``; a QueryError (422) says what is wrong with it."""
    tokens = TOKEN.findall(q or "")
    if not tokens:
        return ParsedQ()
    parser = _Parser(tokens, fields)
    if tokens[-1] in OPERATORS - {"NOT", "!"} or tokens[0] in OPERATORS - {"NOT", "!"}:
        raise QueryError(f"q: {tokens[0] if tokens[0] in OPERATORS else tokens[-1]} needs something on both sides")
    predicate = parser.expression(0, True)
    if parser.peek() is not None:
        raise QueryError("q: a ')' closes nothing")
    return ParsedQ(predicate, parser.words, parser.wants_obsolete)
