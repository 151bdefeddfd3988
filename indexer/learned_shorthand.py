"""Chargemaster shorthand learned from CMS's own text: each code's short descriptor abbreviates its long one the
way hospitals abbreviate ("Wheelchr cushion skin prot", "Foam drsg <=16 sq in w/o bdr", "Lso flex w/rigid stays
cust"), so the pairs teach which word an abbreviation stands for, for every hospital, not only the one whose
lines the curated table (``data/knowledge/chargemaster.csv``) was written from.

A short-descriptor word is an abbreviation of a long-descriptor word of the same code when it is not itself a
word of the long descriptor, starts with the same letter and its letters come in order in the longer word
("drsg" in "dressing", "nrostm" in "neurostimulator"). Across all codes, the word it stands for most often is
kept when it does so in at least ``MIN_CODES`` codes and in at least ``MIN_SHARE`` of those where the
abbreviation appears. An abbreviation that is an English word ("rig", "coat", "hear": the query model's
vocabulary), a word of any long descriptor, or a key of a curated table is left alone: the curated row, or the
word itself, decides. Learned at build time; stored in the index's knowledge snapshot.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from pathlib import Path

from codefinder.indexer.records import CodeRecord

WORD = re.compile(r"[a-z][a-z0-9]*")
MIN_LENGTH = 3  # two letters ("ca", "ty") stand for too many words
MIN_CODES = 2
MIN_SHARE = 0.5


def abbreviates(short: str, word: str) -> bool:
    """``short`` keeps ``word``'s first letter and some of its other letters, in order."""
    if len(short) >= len(word) or short[0] != word[0]:
        return False
    letters = iter(word)
    return all(letter in letters for letter in short)


def learn_shorthand(
    records: Iterable[CodeRecord], english: Collection[str], curated: Collection[str]
) -> dict[str, str]:
    """Abbreviation -> the word it stands for, read off the codes' short and long descriptors."""
    pairs: list[tuple[set[str], set[str]]] = []
    long_words: set[str] = set()
    for record in records:
        if record.kind != "code" or not record.short_description or not record.long_description:
            continue
        short = set(WORD.findall(record.short_description.lower()))
        long = set(WORD.findall(record.long_description.lower()))
        long_words |= long
        pairs.append((short, long))
    stands_for: dict[str, Counter[str]] = defaultdict(Counter)
    appears: Counter[str] = Counter()
    for short, long in pairs:
        for token in short - long:
            if len(token) < MIN_LENGTH or not token.isalpha():
                continue
            appears[token] += 1
            candidates = [word for word in long - short if abbreviates(token, word)]
            for word in candidates:  # a share of one code for each word it could stand for there
                stands_for[token][word] += 1 / len(candidates)
    learned: dict[str, str] = {}
    for token, counts in sorted(stands_for.items()):
        (word, count), *_ = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if token in long_words or token in english or token in curated:
            continue
        if count >= MIN_CODES and count / appears[token] >= MIN_SHARE:
            learned[token] = word
    return learned


def tokenizer_words(path: Path) -> frozenset[str]:
    """The whole words (lower case, letters only, 3+ long) of a WordPiece tokenizer's vocabulary
    (``tokenizer.json``); empty when there is no such file."""
    if not path.is_file():
        return frozenset()
    vocabulary = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    return frozenset(word for word in vocabulary if len(word) >= MIN_LENGTH and word.isalpha() and word.islower())
