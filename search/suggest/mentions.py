"""Candidate items in one segment: where each begins and ends, and what kind of thing it names.

Lexicon anchors (``lexicon``) and CPT service phrases (``search.cpt_intent``) start a mention; one item's
anchors are joined ("hospital bed with side rails and mattress"), two items' kept apart (a separator, two
drugs, or a dose between them); each mention then grows over the words that describe it — a side, a size,
a dose, a route, a count, descriptor words — and stops at words that say what was done with it ("given",
"dispensed"), at a negation cue, at a vital sign or at the next item. A comma does not end a mention when
what follows it only describes the item, as descriptors themselves write ("Walker, folding, wheeled";
"forearm crutches, 1 pair"). A segment with no anchor but a technical word billable descriptors use
(a G-code service: "Trimmed dystrophic toenails") is one candidate as a whole.
A word after "via" names how something was given ("via nebulizer"), not an item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codefinder.indexer.knowledge import Knowledge
from codefinder.search.billing_units import UNITS
from codefinder.search.cpt_intent import cpt_services_in
from codefinder.search.suggest.attributes import is_frequency, rate_positions
from codefinder.search.suggest.lexicon import Anchor, MentionLexicon, normal
from codefinder.search.suggest.negation import BACKWARD, FORWARD
from codefinder.search.suggest.segments import Segment, Token

# Words that join or separate items in a list ("ceftriaxone 1 g IV and ondansetron 4 mg IV").
SEPARATORS = frozenset({",", ";", ":", "and", "&", "+", "plus", "then", "also", "/", "|"})
# Words that open a list of things given with an item: what follows may be an item of its own.
LIST_OPENERS = frozenset({"with", "w"})
# Words a mention may carry between its words without ending ("walker with wheels", "bag of saline").
JOINERS = frozenset(
    {"with", "without", "w", "wo", "of", "for", "per", "in", "to", "on", "-", "/", "%", "(", ")", ".", "="}
)
# Attribute words a mention carries past its name: routes, units, shorthand, sizes.
CARRIED_TEXT = (
    "mg mcg g gm gram grams ml cc l unit units iu meq mmol mci % kg cm mm inch inches fr french gauge ga oz "
    "iv ivp ivpb im sc sq subq po sl neb push piggyback bolus drip infusion injection inj tab tabs cap caps "
    "vial vials syringe bag left right lt rt bilateral bil qty quantity disp dispense each ea pair size "
    "small medium large xl xxl adult pediatric sq"
)
CARRIED = frozenset(CARRIED_TEXT.split())
# Words that say what was done with an item or to whom, never what it is; and negation cues.
NOT_DESCRIBING_TEXT = (
    "a an the this that these those his her their its pt pts patient patients was were is are be been has have "
    "had will given gave give administered applied fitted ordered order placed started received issued "
    "provided supplied delivered used changed removed inserted seen noted transfused infused injected "
    "completed done obtained drawn performed recommended instructed dispensed dispense requested needs need "
    "using via at by from after before during due set up"
)
NOT_DESCRIBING = frozenset(NOT_DESCRIBING_TEXT.split()) | frozenset(p for p in FORWARD + BACKWARD if " " not in p)
# Vital signs: the name and the reading after it are never an item ("BP 120/80", "O2 sat 94%").
VITALS_TEXT = "bp hr rr pulse temp t spo2 sao2 sat sats o2sat pain weight wt height ht bmi gcs fsbs glucose map hgb"
VITALS = frozenset(VITALS_TEXT.split())
# Laboratory results written as name and value ("potassium 4.2", "Hgb 6.8", "lactate 3.1").
LABS_TEXT = (
    "potassium sodium chloride calcium magnesium phosphorus phosphate creatinine bun glucose wbc hgb hct plt "
    "platelets platelet inr ptt lactate troponin bnp a1c albumin bilirubin ast alt tsh ferritin k na mg cr"
)
LABS = frozenset(LABS_TEXT.split())
# Lines that are no part of the care documented: signatures and attestations.
SIGNATURE_OPENERS = ("signed", "electronically signed", "e-signed", "cosigned", "co-signed", "dictated", "attested")
# Words that introduce why an item was given, after the item ("… for nausea", "… due to low platelets").
INDICATION_CUES = frozenset({"for", "due", "after", "secondary", "because", "s/p", "sp"})
MAX_INDICATION_GAP = 3
# Words that say where: a body part after them is a site, not an item.
LOCATION_CUES = frozenset({"of", "to", "into", "in", "on", "at", "over", "under"})
# "box of", "pair of": the item follows.
CONTAINERS = frozenset(
    {"box", "boxes", "pair", "pairs", "pack", "packs", "bag", "bags", "bottle", "vial", "roll", "set", "kit", "case"}
)
ARTICLES = frozenset({"the", "a", "an"})
QUALIFYING_NEGATIONS = frozenset({"no", "non", "without"})
MEANS = frozenset({"via"})  # "via nebulizer": how, not what
MIN_PHRASE_WORDS = 2
MAX_LABEL_WORDS = 3
# Labels of what a note says about the patient, not what was given: diagnoses, history, allergies, reasons.
CONTEXT_LABELS = frozenset(
    {
        "dx", "diagnosis", "diagnoses", "assessment", "impression", "hx", "history", "pmh", "psh", "pmhx",
        "past medical history", "allergies", "allergy", "indication", "indications", "reason", "cc",
        "chief complaint", "hpi", "ros", "problem list", "problems", "labs", "lab", "labs reviewed",
        "lab results", "results", "vitals", "vital signs", "exam", "physical exam",
    }
)  # fmt: skip  # descriptor words a segment without an anchor needs to be a candidate itself


@dataclass
class Mention:
    """A candidate item: its tokens (positions in the segment), anchor kind, and a CPT service it names."""

    segment: Segment
    first: int
    last: int  # inclusive token positions
    kind: str  # drug, item, phrase (a whole segment), service (a CPT service phrase)
    cpt_service: str | None = None
    anchors: tuple[str, ...] = ()  # the lexicon phrases it was found by

    @property
    def tokens(self) -> tuple[Token, ...]:
        return self.segment.tokens[self.first : self.last + 1]

    @property
    def start(self) -> int:
        return self.segment.tokens[self.first].start

    @property
    def end(self) -> int:
        return self.segment.tokens[self.last].end


def find_mentions(text: str, segment: Segment, lexicon: MentionLexicon, knowledge: Knowledge | None) -> list[Mention]:
    """The candidate items of one segment, in order."""
    tokens = segment.tokens
    lowers = [t.lower for t in tokens]
    if _is_signature(lowers):
        return []
    blocked = vital_positions(tokens) | rate_positions(tokens) | _label_positions(lowers)
    words, raw, owner = _words(tokens)
    anchors = lexicon.anchors(words, raw, [w for w, t in enumerate(owner) if t in blocked])
    # an item's name that is only part of a hyphenated word whose other part billable descriptors never use
    # ("bed" of "bed-confined") names nothing there; "pump" of "pump-fed" and a drug's may ("piperacillin-…")
    spans = [
        (owner[a.start], owner[a.end - 1], a)
        for a in anchors
        if a.kind == "drug" or _whole_tokens(a, owner, words, lexicon.vocabulary)
    ]
    spans = [s for s in spans if s[0] == 0 or lowers[s[0] - 1] not in MEANS]
    spans = [s for n, s in enumerate(spans) if n == 0 or not _indication(lowers, s[0], lexicon.vocabulary)]
    spans = [s for s in spans if not _location(lowers, s, lexicon.vocabulary)]
    services = []
    found_services = (
        cpt_services_in(text[segment.start : segment.end], knowledge) if lexicon.may_name_service(raw) else []
    )
    for service in found_services:
        first = next(i for i, t in enumerate(tokens) if t.end > segment.start + service.start)
        last = max(i for i, t in enumerate(tokens) if t.start < segment.start + service.end)
        services.append((first, last, service.service))
    spans = [s for s in spans if s[2].kind == "drug" or not any(_overlap(s, c) for c in services)]
    merged = _merged(spans, lowers, lexicon)
    mentions = [
        Mention(segment, first, last, anchors[0].kind, None, tuple(a.phrase for a in anchors))
        for first, last, anchors in merged
    ]
    mentions += [Mention(segment, first, last, "service", service) for first, last, service in services]
    if not mentions:
        return _whole(segment, lowers, lexicon, blocked)
    mentions.sort(key=lambda m: m.first)
    return _grown(mentions, lowers, lexicon.vocabulary, blocked)


def describing_words(mention: Mention) -> list[str]:
    """The words of a mention that say what the item is: not numbers, units, routes, sides or counts,
    nor words saying what was done with it."""
    return [
        t.lower
        for t in mention.tokens
        if t.text[0].isalpha()
        and t.lower not in CARRIED
        and t.lower not in NOT_DESCRIBING
        and t.lower not in JOINERS
        and not _is_frequency_word(t.lower)
    ]


def vital_positions(tokens: Sequence[Token]) -> set[int]:
    """A vital sign's name and the reading written after it ("BP 120/80", "SpO2 94 %", "T 98.6"); a lab
    result the same way ("potassium 4.2", "K 3.1"), when the number is not a dose ("potassium 20 mEq")."""
    blocked: set[int] = set()
    for i, token in enumerate(tokens):
        if token.lower not in VITALS and token.lower not in LABS:
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].lower in (":", "=", "of", "is", "was", "sat"):
            j += 1
        dose = j + 1 < len(tokens) and (tokens[j + 1].lower in CARRIED or tokens[j + 1].lower in UNITS)
        if j < len(tokens) and is_number(tokens[j].lower) and not (token.lower in LABS and dose):
            blocked.add(i)
            while j < len(tokens) and (is_number(tokens[j].lower) or tokens[j].text in "/%°"):
                blocked.add(j)
                j += 1
    return blocked


def _indication(lowers: list[str], first: int, vocabulary: frozenset[str]) -> bool:
    """Is the anchor at ``first`` the reason for an item named before it ("heparin held for low
    platelets", "pump for home infusion"), not an item? It follows "for", "due to", "after", "s/p" with at
    most describing words between."""
    i = first - 1
    while i >= 0 and first - i <= MAX_INDICATION_GAP and lowers[i] not in INDICATION_CUES:
        if not _describes(lowers[i], vocabulary):
            return False
        i -= 1
    return i >= 0 and lowers[i] in INDICATION_CUES


def _location(lowers: list[str], span: tuple[int, int, Anchor], vocabulary: frozenset[str]) -> bool:
    """Is a one-word item anchor where something is or was done ("cellulitis of left lower leg", "MRI of
    the left ankle", "injected into left knee"), not an item? It follows "of", "to", "into", "in", "on" or
    "at" with at most describing words between — but "box of lancets", "pair of crutches" name the item."""
    first, _, anchor = span
    if anchor.kind != "item" or " " in anchor.phrase:
        return False
    i = first - 1
    while i >= 0 and first - i <= MAX_INDICATION_GAP and lowers[i] not in LOCATION_CUES:
        if not (_describes(lowers[i], vocabulary) or lowers[i] in ("the", "a", "an", "his", "her")):
            return False
        i -= 1
    if i < 0 or lowers[i] not in LOCATION_CUES:
        return False
    return not (lowers[i] == "of" and i > 0 and lowers[i - 1] in CONTAINERS)


def _label_positions(lowers: list[str]) -> set[int]:
    """A short label opening a segment ("Wound clinic:", "MAR 03/14:", "DME order:") names a section of
    the note, not an item; after a label of diagnoses, history or allergies ("Dx:", "PMH:") nothing is."""
    for i, word in enumerate(lowers[: MAX_LABEL_WORDS + 1]):  # tokens: "MAR 03/14:" is no label
        if word == ":":
            label = " ".join(lowers[:i])
            return set(range(len(lowers))) if label in CONTEXT_LABELS else set(range(i + 1))
    return set()


def is_number(word: str) -> bool:
    return word.replace(",", "").replace(".", "", 1).isdigit()


def _whole_tokens(anchor: Anchor, owner: list[int], words: list[str], vocabulary: frozenset[str]) -> bool:
    """Does the anchor cover whole tokens, or are the rest of its hyphenated tokens' parts descriptor words?"""
    tokens = {owner[anchor.start], owner[anchor.end - 1]}
    rest = [w for i, w in enumerate(words) if owner[i] in tokens and not anchor.start <= i < anchor.end]
    return all(w in vocabulary for w in rest)


def _words(tokens: Sequence[Token]) -> tuple[list[str], list[str], list[int]]:
    """The tokens' words as the lexicon reads them (hyphenated words split, singular, lower case), the
    same words as written, and the token each word came from."""
    words: list[str] = []
    raw: list[str] = []
    owner: list[int] = []
    for i, token in enumerate(tokens):
        for part in token.lower.split("-"):
            if part:
                words.append(normal(part))
                raw.append(part)
                owner.append(i)
    return words, raw, owner


def _overlap(span: tuple[int, int, Anchor], service: tuple[int, int, str]) -> bool:
    return span[0] <= service[1] and service[0] <= span[1]


def _merged(
    spans: list[tuple[int, int, Anchor]], lowers: list[str], lexicon: MentionLexicon
) -> list[tuple[int, int, list[Anchor]]]:
    """Anchors of one item joined. Names written side by side are one name ("general use seat cushion"),
    unless both are drugs or a dose lies between. A name after a separator ("and", a comma, "with") is an
    item of its own — unless it is what descriptors of the item before say about it (a hospital bed's
    "side rails" and "mattress", a hearing aid's "binaural", gauze's "adhesive border") and not another
    of the same kind ("drainage bag and urinary leg bag")."""
    groups: list[tuple[int, int, list[Anchor]]] = []
    for first, last, anchor in spans:
        if groups:
            prev_first, prev_last, joined = groups[-1]
            between = lowers[prev_last + 1 : first]
            apart = (
                any(w in SEPARATORS or w in LIST_OPENERS for w in between)
                or (anchor.kind == "drug" and joined[-1].kind == "drug")
                or any(is_number(w) for w in between)
            )
            if not apart:
                groups[-1] = (prev_first, last, [*joined, anchor])
                continue
        groups.append((first, last, [anchor]))
    merged: list[tuple[int, int, list[Anchor]]] = []
    for first, last, anchors in groups:
        if merged and _attribute_of(merged[-1], (first, last, anchors), lowers, lexicon):
            merged[-1] = (merged[-1][0], last, [*merged[-1][2], *anchors])
        else:
            merged.append((first, last, anchors))
    return merged


def _attribute_of(
    item: tuple[int, int, list[Anchor]],
    group: tuple[int, int, list[Anchor]],
    lowers: list[str],
    lexicon: MentionLexicon,
) -> bool:
    head, named = item[2][0], " ".join(anchor.phrase for anchor in group[2])
    between = lowers[item[1] + 1 : group[0]]
    if head.kind == "drug" or any(a.kind == "drug" for a in group[2]) or any(is_number(w) for w in between):
        return False
    if any(w in (";", ":") for w in between):
        return False
    return named.split()[-1] != head.phrase.split()[-1] and lexicon.describes(head.phrase, named)


def _grown(mentions: list[Mention], lowers: list[str], vocabulary: frozenset[str], blocked: set[int]) -> list[Mention]:
    """Each mention grown left over the words describing it ("left", "standard folding") and right over
    its dose, route, size and describing words, never into a neighbour, a vital sign or a word saying what
    was done; past a comma only when all up to the next separator describes it."""
    cuts = [_cut(lowers, mentions[n].last, mentions[n + 1].first) for n in range(len(mentions) - 1)]
    for n, mention in enumerate(mentions):
        floor = cuts[n - 1] + 1 if n > 0 else 0
        ceiling = cuts[n] - 1 if n + 1 < len(mentions) else len(lowers) - 1
        first = mention.first
        while first - 1 >= floor and first - 1 not in blocked and _leads(lowers[first - 1], vocabulary):
            first -= 1
        while first < mention.first and lowers[first] in JOINERS:
            first += 1
        mention.first, mention.last = first, _right_edge(mention.last, ceiling, lowers, vocabulary, blocked)
    return mentions


def _cut(lowers: list[str], last: int, first: int) -> int:
    """Where one mention's words end and the next one's may begin: at the last run of separators or "with"
    between them ("lightweight wheelchair | with general use seat cushion", "commode with fixed arms |,
    and raised toilet seat"), else right before the next."""
    breaks = [i for i in range(last + 1, first) if lowers[i] in SEPARATORS or lowers[i] in LIST_OPENERS]
    if not breaks:
        return first
    cut = breaks[-1]
    while cut - 1 in breaks:
        cut -= 1
    return cut


def _right_edge(last: int, ceiling: int, lowers: list[str], vocabulary: frozenset[str], blocked: set[int]) -> int:
    """The last word of a mention ending at ``last`` so far, grown right up to ``ceiling``: over what it
    carries (describing words, numbers, units, shorthand), joiners between them, and a clause after a
    comma that only describes the item; never ending on a joiner."""
    probe = last
    while probe + 1 <= ceiling and probe + 1 not in blocked:
        word = lowers[probe + 1]
        if word == ",":
            end = _clause_end(probe + 2, ceiling, lowers)
            clause = range(probe + 2, end + 1)
            if end > probe + 1 and all(i not in blocked and _carried_at(lowers, i, vocabulary) for i in clause):
                probe = end
                last = max((i for i in clause if lowers[i] not in JOINERS), default=last)
                continue
            break
        if word == "/" and probe + 2 <= ceiling and _is_unit_like(lowers[probe + 2]):  # "mL/h", "mg/m2"
            probe += 2
            last = probe
            continue
        if word in SEPARATORS:
            break
        if word in NOT_DESCRIBING:
            break
        if _carried(word, vocabulary) and word not in JOINERS:
            probe += 1
            last = probe
        elif word in JOINERS:
            probe += 1
        else:
            break
    return last


def _carried_at(lowers: list[str], i: int, vocabulary: frozenset[str]) -> bool:
    """``_carried``, and "no"/"non" before a describing word ("no adhesive border"): a qualifier."""
    if (lowers[i] in QUALIFYING_NEGATIONS or lowers[i] in ARTICLES) and i + 1 < len(lowers):
        return _describes(lowers[i + 1], vocabulary)  # "no adhesive border", "off the shelf"
    return _carried(lowers[i], vocabulary)


def _clause_end(start: int, ceiling: int, lowers: list[str]) -> int:
    """The last position before the next separator (or the ceiling), from ``start``."""
    end = start - 1
    while end + 1 <= ceiling and lowers[end + 1] not in SEPARATORS:
        end += 1
    return end


def _leads(word: str, vocabulary: frozenset[str]) -> bool:
    """A word that may stand before an item's name: a describing word, a number or a unit ("0.9 %
    sodium chloride", "2 units PRBC")."""
    return _describes(word, vocabulary) or is_number(word) or word == "%"


def _carried(word: str, vocabulary: frozenset[str]) -> bool:
    if word in NOT_DESCRIBING:
        return False
    return word in JOINERS or _describes(word, vocabulary) or is_number(word) or _is_frequency_word(word)


def _whole(segment: Segment, lowers: list[str], lexicon: MentionLexicon, blocked: set[int]) -> list[Mention]:
    """A segment without anchors is a candidate when it has a technical word billable descriptors use
    ("dystrophic", "pneumococcal"); its leading and trailing words that describe nothing are left off."""
    vocabulary = lexicon.vocabulary
    describing = [i for i, w in enumerate(lowers) if i not in blocked and _describes(w, vocabulary) and w[0].isalpha()]
    if not any(lowers[i] in lexicon.technical or normal(lowers[i]) in lexicon.technical for i in describing):
        return []
    last = _right_edge(describing[-1], len(lowers) - 1, lowers, vocabulary, blocked)
    return [Mention(segment, describing[0], last, "phrase")]


def _is_frequency_word(word: str) -> bool:
    return is_frequency(Token(word, 0, len(word)))


def _describes(word: str, vocabulary: frozenset[str]) -> bool:
    if word in JOINERS or word in SEPARATORS or word in NOT_DESCRIBING:
        return False
    parts = [part for part in word.split("-") if part]  # "semi-electric", "long-term"
    return word in CARRIED or (bool(parts) and all(normal(part) in vocabulary for part in parts))


def _is_unit_like(word: str) -> bool:
    return word in CARRIED or (word.isalnum() and word[0].isalpha() and len(word) <= 3)


def _is_signature(lowers: list[str]) -> bool:
    opening = " ".join(lowers[:3])
    return any(opening.startswith(phrase) for phrase in SIGNATURE_OPENERS)
