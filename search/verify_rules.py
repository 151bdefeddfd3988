"""The named rules that call an assigned code ``suspect``, each a pure function of the pair's evidence and
the operating point (``search.verify_policy``), so ``bench/verify_rates.py`` can measure each one alone and
together on the same evidence.

- ``low_confidence``: the code's calibrated confidence for the description is below the policy's threshold;
- ``clearly_outranked``: the codes likelier than the assigned one are together likely right, and many times
  likelier ("bipap machine": the three bi-level codes, 0.95 together, against E0601, CPAP, at 0.003);
- ``not_retrieved``: neither retriever finds the code among its candidates for the description, while the
  best hit is confident ("phenergan" on J2508, pegunigalsidase: same first three characters, another drug);
- ``off_topic``: a low-confidence code from a section none of the best hits belong to (a drug code on a
  walker) — a guard that holds where descriptions are long and share a word with anything;
- ``dose_sibling``: the description states a dose that a sibling of the code is billed per exactly, while
  the code's unit would bill it only by rounding ("albumin 5 % 50 ml" on the 250 ml code, where P9043 is 50 ml);
- ``attribute_conflict``: the description states an attribute (a mode such as bi-level pressure, semi-electric,
  bifocal; a size, a capacity) that the code's descriptor states otherwise and near-top codes state as the
  description does ("bipap machine" on E0601, continuous pressure, where E0470-E0472 are bi-level).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codefinder.search.billing_units import SiblingPerDose
from codefinder.search.verify_policy import VerifyPolicy


@dataclass(frozen=True)
class Candidate:
    """One of the description's best text hits."""

    row: int
    code: str
    section: str | None
    confidence: float


@dataclass(frozen=True)
class Conflict:
    """An attribute the description states that the code's descriptor states otherwise, while near-top codes
    state it as the description does: ("airway pressure", "continuous", "bi-level", ("E0470", "E0471"))."""

    family: str
    code_says: str
    text_says: str
    agreeing: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    """What the rules look at for one (description, code) pair, computed once from the description's run."""

    code: str
    section: str | None
    rank: int | None
    confidence: float
    top: tuple[Candidate, ...]  # the run's best text hits, best first; the code itself may be among them
    dose_sibling: SiblingPerDose | None = None
    # current codes that took over the code, when newer lists no longer carry it (``search.verify_successors``)
    successors: frozenset[str] = frozenset()
    # attributes the description states and the code contradicts, which near-top codes agree with
    conflicts: tuple[Conflict, ...] = ()

    @property
    def likelier(self) -> list[Candidate]:
        """The best hits likelier than the code, best first; not its own successors (J2003 is the code
        that replaced J2001 for the same drug: outranked by it, J2001 is outdated, not wrong)."""
        return [
            c
            for c in self.top
            if c.code != self.code and c.confidence > self.confidence and c.code not in self.successors
        ]


def low_confidence(evidence: Evidence, policy: VerifyPolicy) -> bool:
    return evidence.confidence < policy.low_confidence_below


def clearly_outranked(evidence: Evidence, policy: VerifyPolicy) -> bool:
    if policy.outranked_at_least is None:
        return False
    together = sum(c.confidence for c in evidence.likelier)
    return together >= policy.outranked_at_least and together >= policy.outranked_ratio_at_least * evidence.confidence


def not_retrieved(evidence: Evidence, policy: VerifyPolicy) -> bool:
    """Not among the candidates the description retrieves (``rank`` is None) while a likelier code is
    confident: the words and the meaning both lead elsewhere. A code the description names is retrieved."""
    threshold = policy.not_retrieved_top_at_least
    if threshold is None or evidence.rank is not None:
        return False
    likelier = evidence.likelier
    return bool(likelier) and likelier[0].confidence >= threshold


def off_topic(evidence: Evidence, policy: VerifyPolicy) -> bool:
    if policy.off_topic_below is None or evidence.confidence >= policy.off_topic_below:
        return False
    return evidence.section not in {c.section for c in evidence.top[: policy.off_topic_top]}


def dose_sibling(evidence: Evidence, policy: VerifyPolicy) -> bool:
    return policy.dose_sibling and evidence.dose_sibling is not None


def attribute_conflict(evidence: Evidence, policy: VerifyPolicy) -> bool:
    return policy.attribute_conflict and bool(evidence.conflicts)


# In the order their reasons are shown: the most specific first.
RULES: dict[str, Callable[[Evidence, VerifyPolicy], bool]] = {
    "dose_sibling": dose_sibling,
    "attribute_conflict": attribute_conflict,
    "clearly_outranked": clearly_outranked,
    "not_retrieved": not_retrieved,
    "off_topic": off_topic,
    "low_confidence": low_confidence,
}


def fired_rules(evidence: Evidence, policy: VerifyPolicy) -> list[str]:
    """The names of the rules that call the code suspect; none means consistent."""
    return [name for name, rule in RULES.items() if rule(evidence, policy)]
