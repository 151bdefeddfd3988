"""Typo correction for query words against the index vocabulary, cheap enough to run on every query.

Symmetric-delete lookup (the SymSpell idea): every vocabulary word is indexed under itself and each
string made by deleting one of its letters. A query word is looked up under itself and its one-letter
deletes, and, only when nothing within distance 1 turned up and the word is long enough for distance 2,
under its two-letter deletes. Every candidate is then checked with a real optimal-string-alignment
(OSA) distance, so the lookup may over-collect but never accepts a word that is too far.

What the lookup finds (q = query word, v = vocabulary word):
- every v within distance 1 (one insertion, deletion, substitution or adjacent transposition);
- v within distance 2 when at most one letter must be deleted from v to meet q: one letter
  dropped from q plus one extra letter in it, or an extra letter in q combined with any one other edit.
Not found: distance-2 pairs needing two deletions from v — two substitutions, two transpositions,
two letters dropped from q, or a dropped letter plus a substitution or transposition. Covering those
needs two-letter deletes of every vocabulary word, which makes building about five times slower
(over 1 s for 20,000 words), so they are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

MIN_INDEXED_LENGTH = 3  # shorter vocabulary words are too close to everything to be useful corrections
CACHE_SIZE = 16384


@dataclass(frozen=True)
class Correction:
    original: str  # the word as the user typed it (lower-cased)
    corrected: str  # the vocabulary word chosen
    distance: int  # optimal string alignment distance


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance of ``a`` and ``b``, or ``limit + 1`` once it is sure to exceed ``limit``.

    Common prefix and suffix are stripped first (typos leave most of a word intact, so the table left is
    tiny), only the diagonal band ``|i - j| <= limit`` is filled, and the loop stops as soon as a whole
    row is over the limit (a later row can only be lower through a transposition from two rows back,
    which would have made the row in between low too).
    """
    if a == b:
        return 0
    too_far = limit + 1
    if abs(len(a) - len(b)) > limit:
        return too_far
    start = 0
    shorter = min(len(a), len(b))
    while start < shorter and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    len_a, len_b = len(a), len(b)
    if not len_a or not len_b:
        return min(len_a + len_b, too_far)

    before: list[int] = []  # row i - 2, for transpositions
    previous = [j if j <= limit else too_far for j in range(len_b + 1)]
    for i in range(1, len_a + 1):
        char_a = a[i - 1]
        current = [too_far] * (len_b + 1)
        if i <= limit:
            current[0] = i
        low, high = max(1, i - limit), min(len_b, i + limit)
        row_min = current[low - 1]
        for j in range(low, high + 1):
            char_b = b[j - 1]
            if char_a == char_b:
                value = previous[j - 1]
            else:
                value = min(previous[j - 1], previous[j], current[j - 1]) + 1
                if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b and before[j - 2] + 1 < value:
                    value = before[j - 2] + 1
            current[j] = value
            if value < row_min:
                row_min = value
        if row_min > limit:
            return too_far
        before, previous = previous, current
    return min(previous[len_b], too_far)


def sound_key(word: str) -> str:
    """A word as it sounds where spellings differ by letter only: "ph" is said "f" (rocephin, cefalexin)."""
    return word.replace("ph", "f")


def _single_deletes(word: str) -> list[str]:
    """Distinct strings made by deleting one letter; deleting any letter of a run gives the same string."""
    deletes = []
    last = ""
    for i, char in enumerate(word):
        if char != last:
            deletes.append(word[:i] + word[i + 1 :])
            last = char
    return deletes


class SpellCorrector:
    """Closest vocabulary word for a mistyped query word; known, short and non-alphabetic words are left alone."""

    def __init__(self, frequencies: Mapping[str, int], max_distance: int = 2, min_length: int = 4) -> None:
        if not 0 <= max_distance <= 2:
            raise ValueError(f"max_distance must be 0, 1 or 2, not {max_distance}")
        self.max_distance = max_distance
        self.min_length = min_length
        self._frequency: dict[str, int] = {}
        for word, count in frequencies.items():
            lower = word.lower()
            self._frequency[lower] = self._frequency.get(lower, 0) + count
        # Key -> vocabulary words equal to it or one delete away from it. Only alphabetic words are
        # candidates, so a typo is never "corrected" into a code or a dose.
        index: dict[str, list[str]] = {}
        for word in self._frequency:
            if len(word) < MIN_INDEXED_LENGTH or not word.isalpha():
                continue
            for key in (word, *_single_deletes(word)):
                words = index.get(key)
                if words is None:
                    index[key] = [word]
                else:
                    words.append(word)
        self._index = index
        # Words spelled with "ph", filed under how they sound ("rocephin" under "rocefin"): one sound, two
        # letters, so "rocefin" is two edits from it and the deletes above miss it.
        sounds: dict[str, list[str]] = {}
        for word in self._frequency:
            if "ph" in word and word.isalpha() and len(word) >= MIN_INDEXED_LENGTH:
                sounds.setdefault(sound_key(word), []).append(word)
        self._sounds = sounds
        self._lookup = lru_cache(maxsize=CACHE_SIZE)(self._closest)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._frequency

    def __len__(self) -> int:
        return len(self._frequency)

    def allowed_distance(self, length: int) -> int:
        """Edits tolerated for a word of this length: short words have too many neighbours for two."""
        if length < self.min_length:
            return 0
        return min(1 if length <= 5 else 2, self.max_distance)

    def correct_word(self, word: str) -> Correction | None:
        """The correction for one word, or None when it is known, exempt, or nothing is close enough."""
        lower = word.lower()
        if lower in self._frequency or not lower.isalpha() or self.allowed_distance(len(lower)) == 0:
            return None
        return self._lookup(lower)

    def candidates(self, word: str) -> list[Correction]:
        """Every vocabulary word at the smallest distance found, most frequent first (for context to choose)."""
        lower = word.lower()
        allowed = self.allowed_distance(len(lower))
        if lower in self._frequency or not lower.isalpha() or allowed == 0:
            return []
        deletes = _single_deletes(lower)
        keys: set[str] = {lower, *deletes}
        if allowed >= 2:
            keys |= {shorter for single in deletes for shorter in _single_deletes(single)}
        found: dict[str, int] = {}
        for key in keys:
            for candidate in self._index.get(key, ()):
                if candidate not in found:
                    found[candidate] = osa_distance(lower, candidate, allowed)
        within = [(d, -self._frequency[c], c) for c, d in found.items() if d <= allowed]
        if not within:
            return [Correction(lower, c, 2) for c in self._sound_alikes(lower)]
        nearest = min(d for d, _, _ in within)
        return [Correction(lower, c, d) for d, _, c in sorted(within) if d == nearest]

    def correct(self, words: Sequence[str]) -> tuple[list[str], list[Correction]]:
        """Words in order with typos replaced (others as given), and the corrections that were made."""
        out: list[str] = []
        corrections: list[Correction] = []
        for word in words:
            correction = self.correct_word(word)
            if correction is None:
                out.append(word)
            else:
                out.append(correction.corrected)
                corrections.append(correction)
        return out, corrections

    def _closest(self, word: str) -> Correction | None:
        allowed = self.allowed_distance(len(word))
        deletes = _single_deletes(word)
        seen: set[str] = set()
        best = self._best_of([word, *deletes], word, allowed, seen, None)
        if allowed >= 2 and (best is None or best[0] >= 2):
            # Two deletes on the query side only: found words are at least 2 away unless already seen.
            double = {shorter for single in deletes for shorter in _single_deletes(single)}
            best = self._best_of(double, word, allowed, seen, best)
        if best is None:
            alike = self._sound_alikes(word)
            return Correction(original=word, corrected=alike[0], distance=2) if alike else None
        return Correction(original=word, corrected=best[2], distance=best[0])

    def _sound_alikes(self, word: str) -> list[str]:
        """Vocabulary words spelled with "ph" where the word has "f", most frequent first (two edits apart)."""
        if "f" not in word or self.allowed_distance(len(word)) < 2:
            return []
        return sorted(self._sounds.get(sound_key(word), ()), key=lambda c: (-self._frequency[c], c))

    def _best_of(
        self,
        keys: Sequence[str] | set[str],
        word: str,
        allowed: int,
        seen: set[str],
        best: tuple[int, int, str] | None,
    ) -> tuple[int, int, str] | None:
        """Best (distance, -frequency, word) among the words filed under ``keys``, starting from ``best``."""
        index = self._index
        frequency = self._frequency
        for key in keys:
            for candidate in index.get(key, ()):
                if candidate in seen:
                    continue
                seen.add(candidate)
                distance = osa_distance(word, candidate, allowed)
                if distance > allowed:
                    continue
                ranked = (distance, -frequency[candidate], candidate)
                if best is None or ranked < best:
                    best = ranked
        return best
