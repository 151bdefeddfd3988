"""Query understanding with the project's word knowledge: how coders, hospitals and patients write.

A query is cleaned (charge numbers and meaningless prefixes such as HCHG dropped, ``1,000ML`` read as
``1000 ml``), then each part may be expanded: brand drug names to their generic, abbreviations and lay
terms to descriptor wording, chargemaster shorthand (CATH, BAL, ESOPH) to words, units to the spellings
descriptors use (ml = cc), and words the index has never seen corrected to their nearest vocabulary
word. Every expansion and correction is recorded so a hit can say what it matched through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from indexer.knowledge import Knowledge
from indexer.taxonomy import is_code
from indexer.text import analyze
from search.spelling import Correction, SpellCorrector

THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
GLUED_UNIT = re.compile(r"(?<=\d)(?=[a-z%])|(?<=[a-z])(?=\d)")
TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:[-/][a-z]+)*|%")
CHARGE_NUMBER = re.compile(r"\d{5,}")


@dataclass(frozen=True)
class Expansion:
    source: str
    target: str
    kind: str  # brand, abbreviation, lay, spelling, shorthand, unit, typo

    def to_dict(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target, "kind": self.kind}


@dataclass
class RewrittenQuery:
    text: str
    words: list[str]
    keyword_terms: list[tuple[str, float]]
    semantic_text: str
    expansions: list[Expansion] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def corrections(self) -> list[Expansion]:
        return [e for e in self.expansions if e.kind == "typo"]

    @property
    def did_you_mean(self) -> str | None:
        if not self.corrections:
            return None
        fixed = {e.source: e.target for e in self.corrections}
        return " ".join(fixed.get(word, word) for word in self.words)

    def stems_of(self, expansion: Expansion) -> set[str]:
        return set(analyze(expansion.target))


def tokenize(text: str) -> list[str]:
    """Lower-case tokens; numbers keep decimals, ``1,000`` is ``1000``, ``125mg`` is ``125 mg``.
    Codes (``E0601``) stay whole."""
    tokens: list[str] = []
    for raw in text.lower().split():
        if is_code(raw.upper().strip(".,;:()")) and len(raw.strip(".,;:()")) == 5:
            tokens.append(raw.strip(".,;:()"))
            continue
        tokens.extend(TOKEN.findall(GLUED_UNIT.sub(" ", THOUSANDS.sub("", raw))))
    return tokens


class QueryRewriter:
    def __init__(
        self,
        knowledge: Knowledge,
        vocabulary: Mapping[str, int],
        expansion_weight: float = 0.6,
        correct_typos: bool = True,
        cooccurrence: Callable[[str, list[str]], int] | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._vocabulary = vocabulary
        self._expansion_weight = expansion_weight
        self._longest = max(
            knowledge.longest_phrase, max((len(b.split()) for b in knowledge.brand_to_generics), default=1)
        )
        known = dict(vocabulary)
        for words in (knowledge.brand_to_generics, knowledge.phrases, knowledge.shorthand, knowledge.unit_canonical):
            for key in words:
                for word in key.split():
                    known.setdefault(word, 1)
        self._known = known
        self._speller = SpellCorrector(vocabulary) if correct_typos else None
        self._cooccurrence = cooccurrence

    def rewrite(self, text: str) -> RewrittenQuery:
        tokens = self._split_compounds(tokenize(text))
        dropped = [t for t in tokens if t in self._knowledge.noise]
        tokens = [t for t in tokens if t not in self._knowledge.noise]
        if tokens and CHARGE_NUMBER.fullmatch(tokens[0]) and len(tokens) > 1:
            dropped.append(tokens.pop(0))
        expansions: list[Expansion] = []
        semantic: list[str] = []
        position = 0
        while position < len(tokens):
            used, found = self._phrase_at(tokens, position)
            if found:
                expansions.extend(found)
                phrase = " ".join(tokens[position : position + used])
                kinds = {e.kind for e in found}
                targets = " ".join(dict.fromkeys(e.target for e in found))
                semantic.append(f"{phrase} {targets}" if kinds & {"brand", "lay"} else targets)
                position += used
                continue
            token = tokens[position]
            position += 1
            single = self._single(token, tokens)
            expansions.extend(single)
            replaced = [e.target for e in single if e.kind in ("shorthand", "typo", "spelling")]
            semantic.append(" ".join(dict.fromkeys(replaced)) if replaced else token)
        terms: dict[str, float] = {}
        for stem in analyze(" ".join(tokens)):
            terms[stem] = 1.0
        for expansion in expansions:
            weight = 1.0 if expansion.kind == "typo" else self._expansion_weight
            for stem in analyze(expansion.target):
                terms[stem] = max(terms.get(stem, 0.0), weight)
        for typo in (e for e in expansions if e.kind == "typo"):
            for stem in analyze(typo.source):
                if stem not in self._vocabulary and terms.get(stem) == 1.0:
                    del terms[stem]
        return RewrittenQuery(
            text=text,
            words=tokens,
            keyword_terms=list(terms.items()),
            semantic_text=" ".join(semantic) or text,
            expansions=expansions,
            dropped=dropped,
        )

    def _split_compounds(self, tokens: list[str]) -> list[str]:
        """``mg/ml`` or ``sodium-free`` become their parts unless the table knows the whole (``w/o``)."""
        out: list[str] = []
        for token in tokens:
            if ("/" in token or "-" in token) and token not in self._known:
                out.extend(part for part in re.split(r"[-/]", token) if part)
            else:
                out.append(token)
        return out

    def _phrase_at(self, tokens: list[str], start: int) -> tuple[int, list[Expansion]]:
        """The longest knowledge phrase starting at ``start`` (brand names and abbreviations/lay terms)."""
        for length in range(min(self._longest, len(tokens) - start), 0, -1):
            phrase = " ".join(tokens[start : start + length])
            found = [
                Expansion(phrase, generic, "brand") for generic in self._knowledge.brand_to_generics.get(phrase, ())
            ]
            found += [Expansion(phrase, target, kind) for target, kind in self._knowledge.phrases.get(phrase, ())]
            if found:
                return length, found
        return 0, []

    def _single(self, token: str, context: list[str]) -> list[Expansion]:
        knowledge = self._knowledge
        if token in knowledge.shorthand:
            return [Expansion(token, target, "shorthand") for target in knowledge.shorthand[token] if target != token]
        if token in knowledge.unit_canonical:
            return [Expansion(token, v, "unit") for v in knowledge.unit_variants(token) if v in self._vocabulary][:3]
        if self._speller is not None and token not in self._known and token.isalpha():
            candidates = self._speller.candidates(token)
            if candidates:
                return [Expansion(token, self._choose(candidates, token, context).corrected, "typo")]
        return []

    def _choose(self, candidates: list[Correction], token: str, context: list[str]) -> Correction:
        """Among equally near corrections, the one that shares most records with the other query words
        ("oxigen concentrater" -> concentrator, not concentrated); then the most frequent."""
        others = []
        for word in context:
            if word == token or not word.isalpha():
                continue
            if word in self._vocabulary:
                others.append(word)
            elif self._speller is not None and (nearest := self._speller.candidates(word)):
                others.append(nearest[0].corrected)
        if len(candidates) == 1 or not others or self._cooccurrence is None:
            return candidates[0]
        scored = [(self._cooccurrence(c.corrected, others), -i, c) for i, c in enumerate(candidates)]
        return max(scored, key=lambda item: (item[0], item[1]))[2]
