"""Query understanding with the project's word knowledge: how coders, hospitals and patients write.

A query is cleaned (charge numbers and meaningless prefixes such as HCHG dropped, ``1,000ML`` read as
``1000 ml``), words the index has never seen are expanded (a vowel-dropped ``MHRKR``, a cut-short
``TIXAGEV``) or corrected to their nearest vocabulary word, and then
each part may be expanded: brand drug and device names to their generic wording, abbreviations and lay
terms (also when their words are scattered) to descriptor wording, chargemaster shorthand (CATH, BAL,
ESOPH) to words (an ambiguous one, LR, to the meaning its neighbours go with), units to the spellings
descriptors use (ml = cc). In a drug order, packaging words
(VIAL, SOLR, 1 EACH) and the vehicle of a premix ("… IN D5W 250 ML") weigh little, and a drug name nothing
knows gets its NOC code (J3490, J3590…).
Every expansion and correction is recorded so a hit can say what it matched through.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from codefinder.indexer.knowledge import Knowledge
from codefinder.indexer.taxonomy import is_code
from codefinder.indexer.text import analyze
from codefinder.search.asked_kind import NOTHING_ASKED, AskedKind, asked_kind
from codefinder.search.rerank import QUERY_ROUTE_WORDS, query_routes
from codefinder.search.spelling import Correction, SpellCorrector

THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
GLUED_UNIT = re.compile(r"(?<=\d)(?=[a-z%])|(?<=[a-z])(?=\d)")
TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:[-/][a-z]+)*|%")
CHARGE_NUMBER = re.compile(r"\d{5,}")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Kinds whose phrase stays in the text the model embeds next to its expansion (a brand or lay phrase
# carries meaning of its own; an abbreviation is replaced by what it stands for).
KEEP_PHRASE_KINDS = frozenset({"brand", "lay", "device"})
# Units a drug's strength is written in ("NOREPINEPHRINE 1MG/ML", "XYZ 100 UNITS").
DRUG_UNITS = frozenset({"mg", "mcg", "g", "gm", "unit", "units", "meq", "mmol", "iu", "mg/ml"})
VOLUME_UNITS = frozenset({"ml", "cc", "l", "%"})
MIN_DRUG_NAME = 5
MIN_SCATTERED_STEMS = 2
MIN_TRUNCATED = 5  # shorter cut-off words are too ambiguous to complete
MAX_COMPLETIONS = 3
# Expansions that replace the user's word by the one meant (shown as "did you mean").
CORRECTION_KINDS = frozenset({"typo", "truncation", "contraction"})
VOWELS = frozenset("aeiou")
# Expansion kinds that say what a short form stands for; a word may have several (chosen by context).
AMBIGUOUS_KINDS = frozenset({"abbreviation", "shorthand"})
# expansions that stand for the word written (shorthand, learned shorthand, a respelling), not add to it
REPLACING_KINDS = frozenset({"shorthand", "learned", "spelling"})
MIN_PLURAL = 4  # "sores", "pads"; "ms", "os" are abbreviations
MIN_CONTRACTED = 3  # consonants: "jnt", "prb" are contractions, "st" is too short to tell
# In a drug order ("ABATACEPT 250 MG SOLR 1 EACH VIAL") these words say how the drug is packed, not which
# drug it is: they weigh like numbers and stay out of the embedded text, where "vial", "powder for
# solution" would otherwise outweigh a drug name the model does not know. The route they imply (SOLR,
# SOSY, TABS) is still read by route agreement from the query text.
PACKAGING_WORDS = (
    "vial vials each ea bottle bottles btl ampule ampules ampul amp bag bags flex cont container premix box bx "
    "pack pkg carton soln solr sosy soaj sopn soct susp susr syrp tabs tab tbec tbcr tb12 tb24 caps cap cpdr cpcr "
    "cp12 cp24 nebu aers inhl liqd elix syrg syringe syringes pen pens kit carpuject tubex duplex galaxy minibag "
    "cartridge crtg ud"
)
DRUG_PACKAGING = frozenset(PACKAGING_WORDS.split())
# A premixed drug order names the drug, then what it is mixed in ("HEPARIN 25,000 UNITS IN D5W 250 ML",
# "vancomycin 1 g in ns 250 ml"): the code bills the drug, so the vehicle's words weigh like packaging and
# stay out of the embedded text; otherwise "5% dextrose/water (500 ml = 1 unit)" outranks heparin.
VEHICLE_TEXT = (
    "d5w d10w d5ns d5lr d5nss d5 d10 ns nss ns1 hns nacl sodium chloride saline normal half dextrose glucose "
    "water sterile swfi sw lr lactated lactate ringers ringer plasmalyte plasma lyte"
)
VEHICLE_WORDS = frozenset(VEHICLE_TEXT.split())
VEHICLE_INTRODUCERS = frozenset({"in", "into"})
NOT_A_VEHICLE_NAME = DRUG_PACKAGING | DRUG_UNITS | VOLUME_UNITS  # "in D5W 250 ML BAG": the volume and packing
# A drug no HCPCS code names is billed with the "not otherwise classified" code for its kind; a name ending
# in -mab/-cept (antibodies, fusion proteins: the USAN stems) is a biologic.
UNCLASSIFIED = {
    "injection": ("J3490", "unclassified drugs"),
    "biologic": ("J3590", "unclassified biologics"),
    "oral": ("J8499", "prescription drug oral non chemotherapeutic nos"),
    "inhalation": ("J7699", "noc drugs inhalation solution administered through dme"),
}
BIOLOGIC_STEMS = ("mab", "cept")


@dataclass(frozen=True)
class Expansion:
    source: str
    target: str
    # brand, device, abbreviation, lay, spelling, shorthand, learned, unit, typo, truncation, compound, unclassified
    kind: str

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
    unclassified_code: str | None = None  # the NOC code of a drug no descriptor names (see ``unclassified``)
    asked: AskedKind = NOTHING_ASKED  # the kind of code the query asks for ("j code", "modifier")

    @property
    def corrections(self) -> list[Expansion]:
        return [e for e in self.expansions if e.kind in CORRECTION_KINDS]

    @property
    def did_you_mean(self) -> str | None:
        if not self.corrections:
            return None
        fixed = {e.source: e.target for e in self.corrections}
        return " ".join(fixed.get(word, word) for word in self.words)


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


# The benefit category an order or a chargemaster names before its item ("DME order: rolling walker",
# "DME - HOSPITAL BED"): it says which kind of code, never which item, so beside another word it weighs like
# packaging; otherwise "Customized durable medical equipment, other than wheelchair" outranks the walker.
CATEGORY_WORDS = frozenset({"dme", "dmepos"})
# words that say what kind of entry, not what item: "DME miscellaneous" is E1399, "DME rental" any DME
NOT_ITEM_TEXT = (
    "miscellaneous misc noc nos not otherwise elsewhere classified specified unspecified unlisted other item "
    "items order orders supply supplies equipment rental purchase repair accessory accessories service services"
)
NOT_ITEM_WORDS = frozenset(NOT_ITEM_TEXT.split())
MIN_ITEM_WORD = 3


def category_words(words: list[str], noise: frozenset[str] | set[str]) -> set[str]:
    """The category words of ``words`` when another word could name the item; none when they stand alone."""
    named = {w for w in words if w in CATEGORY_WORDS}
    item_words = (w for w in words if w.isalpha() and len(w) >= MIN_ITEM_WORD and w not in noise)
    if named and any(w not in CATEGORY_WORDS and w not in NOT_ITEM_WORDS for w in item_words):
        return named
    return set()


def is_drug_order(tokens: list[str]) -> bool:
    """The words state a drug strength: a number followed by a drug unit ("250 mg", "100 units")."""
    return any(token in DRUG_UNITS and i > 0 and NUMBER.fullmatch(tokens[i - 1]) for i, token in enumerate(tokens))


def vehicle_positions(words: list[str]) -> frozenset[int]:
    """The positions of the vehicle in a premixed drug order: the words from "in" on, when a drug name and its
    strength come before it and the words after it name a diluent and nothing else ("… in D5W 250 ML",
    "… in 0.9% sodium chloride"). "5% dextrose in lactated ringers" names no drug before "in": it is the
    fluid ordered, and keeps its words."""
    for i, word in enumerate(words):
        if word not in VEHICLE_INTRODUCERS or i == 0:
            continue
        before, after = words[:i], words[i + 1 :]
        named = [w for w in before if not NUMBER.fullmatch(w) and w not in DRUG_UNITS and w not in VEHICLE_WORDS]
        if not named or not is_drug_order(before):
            return frozenset()
        rest = [w for w in after if w not in NOT_A_VEHICLE_NAME and not NUMBER.fullmatch(w)]
        if rest and all(w in VEHICLE_WORDS or w == "%" for w in rest) and any(w in VEHICLE_WORDS for w in rest):
            return frozenset(range(i, len(words)))
        return frozenset()
    return frozenset()


WITH_WORDS = frozenset({"with", "w", "w/"})


def with_linked(words: list[str], expansions: list[Expansion]) -> Callable[[str], bool]:
    """Whether a table phrase names what follows a "with" in the query, though the query names what comes
    before it: "echo with contrast" is the echocardiogram that has contrast, not the phrase "echo contrast"
    (the contrast agent); "commode chair with drop arms" still is the phrase "drop arm commode" (its head,
    commode, comes before "with"); a phrase scattered across "for" ("machine for sleep apnea") still counts."""
    replaced = {e.source: e.target for e in expansions if e.kind in REPLACING_KINDS}
    if not any(token in WITH_WORDS for word in words for token in [word, *replaced.get(word, "").split()]):
        return lambda term: False  # most queries: no "with", no phrase to rule out
    first: dict[str, float] = {}
    links: list[float] = []
    for i, word in enumerate(words):
        # the word at its place, and what its shorthand stands for just after it ("w/con": with, contrast)
        read = [(float(i), word)] + [(i + (j + 1) / 100, t) for j, t in enumerate(replaced.get(word, "").split())]
        for position, token in read:
            if token in WITH_WORDS:
                links.append(position)
            for stem in analyze(token):
                first.setdefault(stem, position)

    def linked(term: str) -> bool:
        """The phrase's head (its last word) after a "with" and another of its words before it."""
        stems = analyze(term)
        places = [first[stem] for stem in stems if stem in first]
        if not stems or stems[-1] not in first or len(places) < 2:
            return False
        head = first[stems[-1]]
        return any(min(places) < link < head for link in links)

    return linked


def skeleton(word: str) -> str:
    """A word's first letter and its later consonants, doubled letters once: "mahurkar" -> "mhrkr"."""
    letters = word[0] + "".join(c for c in word[1:] if c not in VOWELS)
    return "".join(c for i, c in enumerate(letters) if i == 0 or c != letters[i - 1])


def strength_unit_words(tokens: list[str]) -> set[str]:
    """The volume words of a drug order's strengths (the ML of "250 MG/5 ML"): part of the dose, which dose
    agreement reads, not of the drug, so they weigh like numbers and cannot pull in contrast codes "per ml".
    (Mass units stay whole words: "mg" versus "units" does tell drugs apart.)"""
    return {
        token for i, token in enumerate(tokens) if token in VOLUME_UNITS and i > 0 and NUMBER.fullmatch(tokens[i - 1])
    }


class QueryRewriter:
    def __init__(
        self,
        knowledge: Knowledge,
        vocabulary: Mapping[str, int],
        expansion_weight: float = 0.6,
        number_weight: float = 1.0,
        correct_typos: bool = True,
        lexicon: frozenset[str] = frozenset(),
        cooccurrence: Callable[[str, list[str]], int] | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._vocabulary = vocabulary
        self._expansion_weight = expansion_weight
        self._number_weight = number_weight
        self._lexicon = lexicon
        self._longest = max(
            knowledge.longest_phrase, max((len(b.split()) for b in knowledge.brand_to_generics), default=1)
        )
        known = dict(vocabulary)
        for words in (knowledge.brand_to_generics, knowledge.phrases, knowledge.shorthand, knowledge.unit_canonical):
            for key in words:
                for word in key.split():
                    known.setdefault(word, 1)
        self._known = known
        self._table_keys = frozenset(knowledge.shorthand) | frozenset(knowledge.phrases)
        self._table_words = frozenset(
            word
            for table in (knowledge.brand_to_generics, knowledge.phrases, knowledge.shorthand)
            for key in table
            for word in key.split()
            if any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        )
        # Multi-word table phrases by each of their stems, to find them when the user's words come in another
        # order or with words between ("machine for sleep apnea" is the phrase "sleep apnea machine").
        self._scattered: dict[str, list[tuple[frozenset[str], str]]] = {}
        for term in knowledge.phrases:
            stems = frozenset(analyze(term))
            if len(stems) >= MIN_SCATTERED_STEMS:
                for stem in stems:
                    self._scattered.setdefault(stem, []).append((stems, term))
        self._speller = SpellCorrector(vocabulary) if correct_typos else None
        self._sorted_vocabulary = sorted(w for w in vocabulary if w.isalpha())
        # Chargemasters drop a word's vowels (MHRKR, HMRL, GNRTR, RTRVL): every known word by its skeleton.
        self._skeletons: dict[str, list[str]] = {}
        for word in known:
            if word.isalpha() and len(word) > MIN_CONTRACTED and any(c in VOWELS for c in word[1:]):
                self._skeletons.setdefault(skeleton(word), []).append(word)
        self._cooccurrence = cooccurrence

    def rewrite(self, text: str) -> RewrittenQuery:
        tokens = self._split_compounds(self._tokenize(text))
        dropped = [t for t in tokens if t in self._knowledge.noise]
        tokens = [t for t in tokens if t not in self._knowledge.noise]
        if tokens and CHARGE_NUMBER.fullmatch(tokens[0]) and len(tokens) > 1:
            dropped.append(tokens.pop(0))
        # "J code for zofran", "rental modifier": the kind of code wanted, which names no item
        asked = asked_kind(tokens)
        if asked.spent:
            dropped.extend(t for i, t in enumerate(tokens) if i in asked.spent)
            tokens = [t for i, t in enumerate(tokens) if i not in asked.spent]
        # Typos are corrected first, so the knowledge tables see the words the user meant
        # ("sleep apnia machine" is the phrase "sleep apnea machine").
        expansions = [c for c in (self._correction(t, tokens) for t in tokens) if c is not None]
        fixed = {e.source: e.target for e in expansions}
        words = [fixed.get(token, token) for token in tokens]
        drug_order = is_drug_order(words)
        packaging = {w for w in words if w in DRUG_PACKAGING} if drug_order else set()
        strength_units = strength_unit_words(words) if drug_order else set()
        vehicle = vehicle_positions(words) if drug_order else frozenset()
        category = category_words(words, self._knowledge.noise)
        semantic: list[str] = []
        position = 0
        while position < len(words):
            if position in vehicle:
                position += 1
                continue
            used, found = self._phrase_at(words, position)
            if used == 1 and words[position] in category:
                position += 1
                continue
            if used == 1:  # one word the tables give several meanings: the one its neighbours go with
                merged = {(e.target, e.kind): e for e in found + self._single(words[position])}
                found = self._meaning_in_context(list(merged.values()), words)
            if found:
                expansions.extend(found)
                phrase = " ".join(words[position : position + used])
                kinds = {e.kind for e in found}
                targets = " ".join(dict.fromkeys(" ".join(e.target for e in found).split()))
                semantic.append(f"{phrase} {targets}" if kinds & KEEP_PHRASE_KINDS else targets)
                position += used
                continue
            word = words[position]
            position += 1
            if word in packaging or word in category:
                continue
            single = self._meaning_in_context(self._single(word), words)
            expansions.extend(single)
            replaced = [e.target for e in single if e.kind in REPLACING_KINDS]
            semantic.append(" ".join(dict.fromkeys(" ".join(replaced).split())) if replaced else word)
        said = set(" ".join(semantic).split())
        content = [w for i, w in enumerate(words) if i not in vehicle and w not in packaging and w not in category]
        for extra in self._scattered_phrases(content, expansions) + self._compounds(content, expansions):
            new = [w for w in extra.split() if w not in said]  # a scattered phrase's words are mostly said
            said.update(new)
            if new:
                semantic.append(" ".join(new))
        terms: dict[str, float] = {}
        for i, word in enumerate(words):
            light = (
                NUMBER.fullmatch(word)
                or word in packaging
                or word in strength_units
                or len(word) == 1
                or i in vehicle
                or word in category
            )
            weight = self._number_weight if light else 1.0
            for stem in analyze(word):
                terms[stem] = max(terms.get(stem, 0.0), weight)
        for expansion in expansions:
            if expansion.kind in CORRECTION_KINDS:
                continue  # the corrected word is already among the words
            weight = 1.0 if expansion.kind == "compound" else self._expansion_weight
            if expansion.source in strength_units or expansion.source in category:
                weight = min(weight, self._number_weight)
            for stem in analyze(expansion.target):
                terms[stem] = max(terms.get(stem, 0.0), weight)
        respell_phrases(terms, expansions)
        noc = self._unclassified(tokens, expansions)
        if noc is not None:
            expansions.append(noc[1])
        return RewrittenQuery(
            text=text,
            words=tokens,
            keyword_terms=list(terms.items()),
            semantic_text=" ".join(semantic) or text,
            expansions=expansions,
            dropped=dropped,
            asked=asked,
            unclassified_code=noc[0] if noc else None,
        )

    def _unclassified(self, tokens: list[str], expansions: list[Expansion]) -> tuple[str, Expansion] | None:
        """A drug order ("IDARUCIZUMAB 2.5G/50ML SOLN", "norepinephrine 4 mg iv") whose name no index word,
        table or typo correction knows has no code of its own: coders bill the NOC code for its kind."""
        routes = query_routes(" ".join(tokens))
        if not is_drug_order(tokens) and not routes:
            return None
        explained = {e.source for e in expansions}
        names = [
            token
            for token in tokens
            if token.isalpha() and len(token) >= MIN_DRUG_NAME and token not in QUERY_ROUTE_WORDS
        ]
        if not names or any(name in self._known or name in explained for name in names):
            return None
        if any(name.endswith(BIOLOGIC_STEMS) for name in names):
            kind = "biologic"
        elif routes == {"oral"} or routes == {"inhalation"}:
            kind = next(iter(routes))
        else:
            kind = "injection"
        code, wording = UNCLASSIFIED[kind]
        return code, Expansion(" ".join(names), wording, "unclassified")

    def _scattered_phrases(self, words: list[str], expansions: list[Expansion]) -> list[str]:
        """Expansions of the table phrases whose words are all in the query (or in what its shorthand stands
        for) but not side by side; returns the words they add to the embedded text."""
        # The words and what their shorthand stands for ("FEM HEAD" holds the phrase "femoral head"), in query
        # order: the same text must embed the same way.
        expanded = [e.target for e in expansions if e.kind in REPLACING_KINDS]
        ordered = dict.fromkeys(analyze(" ".join([*words, *expanded])))
        present = set(ordered)
        seen = {e.source for e in expansions}
        linked = with_linked(words, expansions)
        added: list[str] = []
        for stem in ordered:
            for stems, term in self._scattered.get(stem, ()):
                if term in seen or not stems <= present or linked(term):
                    continue
                seen.add(term)
                for target, kind in self._knowledge.phrases[term]:
                    expansions.append(Expansion(term, target, kind))
                    added.append(target)
        return added

    def _compounds(self, words: list[str], expansions: list[Expansion]) -> list[str]:
        """Words the user wrote apart that the descriptors write as one ("ultra light weight" is
        "ultralightweight", "hand held" is "handheld"); returns the joined words."""
        joined: list[str] = []
        explained = {e.source for e in expansions}
        position = 0
        while position < len(words):
            for length in (3, 2):
                parts = words[position : position + length]
                whole = "".join(parts)
                if (
                    len(parts) == length
                    and all(p.isalpha() for p in parts)
                    and whole in self._vocabulary
                    and " ".join(parts) not in explained
                    and not self._usually_apart(parts, whole)
                ):
                    expansions.append(Expansion(" ".join(parts), whole, "compound"))
                    joined.append(whole)
                    position += length - 1
                    break
            position += 1
        return joined

    def _usually_apart(self, parts: list[str], whole: str) -> bool:
        """Descriptors write the parts together in more records than the joined word ("immune globulin",
        not the one-off "immuneglobulin")."""
        if self._cooccurrence is None:
            return False
        together = min(self._cooccurrence(first, [second]) for first, second in itertools.pairwise(parts))
        return together > self._vocabulary.get(whole, 0)

    def _correction(self, token: str, context: list[str]) -> Expansion | None:
        """For a word neither the index, the tables nor the language know: the vocabulary word it begins
        (a truncation), else the nearest vocabulary word (a typo)."""
        if self._speller is None or token in self._known or token in self._lexicon or not token.isalpha():
            return None  # a word the index, the tables or the language know is meant as written
        if self._plural_of_known(token):
            return None  # "sores" is the plural of the tables' "sore", not a typo of "scores"
        expanded = self._expansion_of_contraction(token, context)
        if expanded:
            return Expansion(token, expanded, "contraction")
        completed = self._completion(token)  # a long cut-off word is surer evidence than a distance-2 typo
        if completed:
            return Expansion(token, completed, "truncation")
        candidates = self._speller.candidates(token)
        if not candidates:
            return None
        return Expansion(token, self._choose(candidates, token, context).corrected, "typo")

    def _plural_of_known(self, token: str) -> bool:
        """A plural ("sores", "boxes", "batteries") whose singular the index or the language knows as a word
        (a table's respelling, "filtre", is no singular: "filtres" still reads as filters)."""
        if len(token) < MIN_PLURAL or not token.endswith("s") or token.endswith("ss"):
            return False
        singulars = [token[:-1]]
        if token.endswith(("ses", "xes", "zes", "ches", "shes")):
            singulars.append(token[:-2])  # "boxes", "patches"
        if token.endswith("ies"):
            singulars.append(token[:-3] + "y")
        return any(word in self._vocabulary or word in self._lexicon for word in singulars)

    def _expansion_of_contraction(self, token: str, context: list[str]) -> str | None:
        """The word a chargemaster wrote without its vowels ("MHRKR" for mahurkar, "HMRL" for humeral): a
        known word with the same skeleton; among several, the one sharing most records with the other words."""
        if len(token) < MIN_CONTRACTED or any(c in VOWELS for c in token[1:]):
            return None
        words = self._skeletons.get(skeleton(token))
        if not words:
            return None
        ranked = sorted(words, key=lambda w: (-self._vocabulary.get(w, 0), w))
        candidates = [Correction(token, w, 0) for w in ranked]
        return self._choose(candidates, token, context).corrected

    def _completion(self, token: str) -> str | None:
        """The word a chargemaster cut short ("TIXAGEV" for tixagevimab, "CILGAV" for cilgavimab): the most
        frequent of the few vocabulary words that start with it."""
        if len(token) < MIN_TRUNCATED:
            return None
        start = bisect.bisect_left(self._sorted_vocabulary, token)
        words = [w for w in self._sorted_vocabulary[start : start + MAX_COMPLETIONS + 1] if w.startswith(token)]
        if not words or len(words) > MAX_COMPLETIONS:
            return None
        return max(words, key=lambda w: (self._vocabulary.get(w, 0), w))

    def _tokenize(self, text: str) -> list[str]:
        """``tokenize``, except that a word the tables know whole stays whole ("D5W", "TB24", "O2")."""
        tokens: list[str] = []
        for raw in text.lower().split():
            word = raw.strip(".,;:()")
            tokens.extend([word] if word in self._table_words else tokenize(raw))
        return tokens

    def _split_compounds(self, tokens: list[str]) -> list[str]:
        """``mg/ml`` or ``sodium-free`` become their parts unless the table knows the whole (``w/o``); letters
        written with a slash that the tables know written together stay one word (``L/R`` is ``lr``)."""
        out: list[str] = []
        for token in tokens:
            if ("/" in token or "-" in token) and token not in self._known:
                parts = [part for part in re.split(r"[-/]", token) if part]
                joined = "".join(parts)
                if all(len(part) <= 2 for part in parts) and joined in self._table_keys:
                    out.append(joined)
                else:
                    out.extend(parts)
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

    def _meaning_in_context(self, found: list[Expansion], words: list[str]) -> list[Expansion]:
        """Of an ambiguous abbreviation's meanings (LR: lactated ringers, leukocytes reduced), the route in a
        drug order (SC: subcutaneous, not single chamber), else those whose words share most records with the
        query's other words; all of them when the other words do not tell."""
        meanings = list(dict.fromkeys(e.target for e in found if e.kind in AMBIGUOUS_KINDS))
        if len(meanings) < 2:
            return found
        # in a drug order ("heparin 5000 units SC") a short form with a route among its meanings is the route
        routes = [m for m in meanings if all(w in QUERY_ROUTE_WORDS for w in m.split())]
        if len(routes) == 1 and is_drug_order(words):
            return [e for e in found if e.kind not in AMBIGUOUS_KINDS or e.target == routes[0]]
        if self._cooccurrence is None:
            return found
        source = found[0].source
        context = [w for w in words if w != source and w.isalpha() and len(w) > 2 and w in self._vocabulary]
        if not context:
            return found

        def support(meaning: str) -> int:
            meaning_words = [w for w in meaning.split() if len(w) > 2 and w in self._vocabulary]
            return min((self._cooccurrence(w, context) for w in meaning_words), default=0)

        scores = {meaning: support(meaning) for meaning in meanings}
        best = max(scores.values())
        if best == 0:
            return found
        return [e for e in found if e.kind not in AMBIGUOUS_KINDS or scores[e.target] == best]

    def _single(self, token: str) -> list[Expansion]:
        knowledge = self._knowledge
        if token in knowledge.shorthand:
            return [Expansion(token, target, "shorthand") for target in knowledge.shorthand[token] if target != token]
        if token in knowledge.learned_shorthand:  # what CMS's short descriptors abbreviate so
            return [Expansion(token, knowledge.learned_shorthand[token], "learned")]
        if token in knowledge.unit_canonical:
            return [Expansion(token, v, "unit") for v in knowledge.unit_variants(token) if v in self._vocabulary][:3]
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


def respell_phrases(terms: dict[str, float], expansions: list[Expansion]) -> None:
    """Words written apart that are one word respelled ("wheel chair" is "wheelchair") stand for that word
    alone: their parts would otherwise match every descriptor with a wheel or a chair in it."""
    for expansion in expansions:
        if expansion.kind != "spelling" or " " not in expansion.source.strip():
            continue
        target = set(analyze(expansion.target))
        for stem in analyze(expansion.source):
            if stem not in target:
                terms.pop(stem, None)
        for stem in target:
            terms[stem] = 1.0
