"""What a coder's query says about the kind of code wanted, apart from the item: "J code for zofran" wants
a J code (the drug's injection, not its oral Q code), "rental modifier" wants a modifier.

The words that say so ("j code", "modifier") name no item, so they leave the words the retrievers see; the
reranker then prefers codes of the kind asked for (``search.ordering``). A modifier's own code beside
"modifier" ("KX modifier") is found by ``search.query``. A section letter counts only beside "code" or
"codes" ("j code", "J-codes", "jcode"): a lone letter is a size, a side or a vitamin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The Level II sections a coder names by letter (D is CDT, not loaded; I, N, O, W-Z are not sections).
SECTION_LETTERS = frozenset("abceghjklmpqrstuv")
CODE_WORDS = frozenset({"code", "codes"})
JOINED_CODE = re.compile(r"^([a-z])-?codes?$")  # "jcode", "j-code", "j-codes" as one token
MODIFIER_WORDS = frozenset({"modifier", "modifiers"})


@dataclass(frozen=True)
class AskedKind:
    """The section letter a query asks for (upper case) and whether it asks for a modifier; ``spent`` are
    the query positions of the words that said so."""

    section: str | None = None
    modifier: bool = False
    spent: frozenset[int] = frozenset()


NOTHING_ASKED = AskedKind()


def asked_kind(words: list[str]) -> AskedKind:
    """Read "j code", "jcode", "G-codes" and "modifier" off the query's (lower-case) words."""
    section: str | None = None
    spent: set[int] = set()
    for i, word in enumerate(words):
        joined = JOINED_CODE.match(word)
        if joined and joined.group(1) in SECTION_LETTERS and word not in CODE_WORDS:
            section = section or joined.group(1).upper()
            spent.add(i)
        elif word in SECTION_LETTERS and i + 1 < len(words) and words[i + 1] in CODE_WORDS:
            section = section or word.upper()
            spent.update({i, i + 1})
    modifier = any(word in MODIFIER_WORDS for word in words)
    if section is None and not modifier:
        return NOTHING_ASKED
    spent.update(i for i, word in enumerate(words) if word in MODIFIER_WORDS)
    if len(spent) == len(words):
        return AskedKind(section, modifier)  # "j code" alone: the words are all there is to search
    return AskedKind(section, modifier, frozenset(spent))
