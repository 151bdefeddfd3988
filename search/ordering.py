"""How fused scores become the final order: the reranking policy (which agreements apply, with which
settings), terminated codes below current ones, and the NOC code of an unknown drug first."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

from codefinder.indexer.attributes import MODE_FAMILIES, query_attributes
from codefinder.indexer.settings import Settings
from codefinder.search.asked_kind import NOTHING_ASKED
from codefinder.search.code_sets import is_private_payer_code, is_quality_reporting, rows_where
from codefinder.search.drug_names import DrugNames, apply_other_drug, other_drug_rows
from codefinder.search.filters import RecordColumns
from codefinder.search.loader import LoadedIndex
from codefinder.search.record_facts import RecordFacts
from codefinder.search.rerank import (
    apply_attribute_agreement,
    apply_base_item_first,
    apply_dose_agreement,
    apply_hospital_devices,
    apply_negation_agreement,
    apply_plain_sibling_first,
    apply_qualifier_agreement,
    apply_route_agreement,
    apply_route_conflict,
    attribute_agreements,
    concentration_route,
    penalize_near_top,
    query_negation_facts,
    query_routes,
    stated_qualifiers,
    weigh_rows,
)
from codefinder.search.rewrite import RewrittenQuery


class Reranker:
    """The near-top adjustments of ``search.rerank``, each with its own setting, in a fixed order."""

    def __init__(self, index: LoadedIndex, facts: RecordFacts, settings: Settings) -> None:
        self.index = index
        self.facts = facts
        self.settings = settings
        self.knowledge_on = settings.use_knowledge and index.knowledge is not None
        units = index.knowledge.unit_canonical if index.knowledge is not None else {}
        # what a query states (``indexer.attributes``), kept like its rewrite: a repeated query is parsed once
        self.wanted = lru_cache(maxsize=4096)(lambda words, expanded: query_attributes(words, expanded, units))
        # the kinds of code that give way to the others of like score (``search.code_sets``), found once
        self.modifier_rows = rows_where(index.records, lambda record: record.kind == "modifier")
        self.code_rows = rows_where(index.records, lambda record: record.kind != "modifier")
        self.reporting_rows = rows_where(index.records, is_quality_reporting)
        self.private_payer_rows = rows_where(index.records, is_private_payer_code)
        self.drug_names = DrugNames.from_index(index, facts.attributes) if self.knowledge_on else None

    def __call__(self, fused: dict[int, float], rewritten: RewrittenQuery, setting: str = "any") -> dict[int, float]:
        settings = self.settings
        facts = self.facts
        if self.knowledge_on:
            # what the words state, and what an expansion states ("isovue 300" is 300-399 mg/ml)
            wanted = self.wanted(rewritten.text, rewritten.semantic_text)
            other_drugs: frozenset[int] = frozenset()
            if self.drug_names is not None:
                # packaging and a premix's vehicle weigh like numbers: they name no drug of the order
                named = self.drug_names.named_in(
                    stem for stem, weight in rewritten.keyword_terms if weight > settings.number_weight
                )
                other_drugs = other_drug_rows(fused, named, self.drug_names, self.drug_names.stems_of)
            fused = apply_dose_agreement(fused, wanted, facts.attributes, settings.dose_bonus, other_drugs)
            agreements = attribute_agreements(fused, wanted, facts.attributes)
            fused = apply_attribute_agreement(fused, agreements, settings.attribute_bonus, settings.attribute_penalty)
            # a variant the query asks for by a quantity ("bed for a 500 lb patient": the heavy-duty bed)
            specified = frozenset(row for row, (agrees, _) in agreements.items() if agrees - MODE_FAMILIES.keys())
            routes = query_routes(rewritten.text, rewritten.semantic_text) or concentration_route(rewritten.text)
            fused = apply_route_agreement(fused, routes, facts.routes, settings.route_bonus)
            fused = apply_route_conflict(fused, routes, facts.routes, settings.route_penalty)
            if self.drug_names is not None:
                fused = apply_other_drug(
                    fused, named, self.drug_names, self.drug_names.stems_of, settings.other_drug_penalty
                )
            if settings.qualifier_penalty > 0:
                stated = stated_qualifiers(frozenset(stem for stem, _ in rewritten.keyword_terms))
                fused = apply_qualifier_agreement(fused, stated, facts.qualifiers, settings.qualifier_penalty)
            if settings.negation_penalty > 0:
                said = query_negation_facts(rewritten.text, rewritten.semantic_text, facts.stems_of_text)
                fused = apply_negation_agreement(fused, said, facts.negations, settings.negation_penalty)
            query_stems = frozenset(stem for stem, _ in rewritten.keyword_terms)
            fused = apply_base_item_first(
                fused,
                query_stems,
                facts.role,
                settings.part_penalty,
                settings.variant_penalty,
                settings.named_part_penalty,
                specified,
                lambda row: facts.terms(row)[0],
            )
            fused = apply_plain_sibling_first(
                fused, query_stems, facts.descriptor_words, facts.stems, settings.plain_sibling_penalty
            )
            fused = weigh_rows(fused, self.reporting_rows, settings.reporting_code_weight)
            if setting != "hospital":  # hospitals bill S codes to the payers that take them
                fused = weigh_rows(fused, self.private_payer_rows, settings.private_payer_weight)
        if setting == "hospital":
            fused = apply_hospital_devices(fused, self.index.records, settings.hospital_device_bonus)
        asked = rewritten.asked if self.knowledge_on else NOTHING_ASKED
        if asked.section is not None:  # "J code for zofran": the injection J2405 before the oral Q0162
            records = self.index.records
            fused = penalize_near_top(
                fused, lambda row: records[row].section != asked.section, settings.section_hint_penalty
            )
        if asked.modifier:  # "rental modifier": the codes give way to the modifiers, not the reverse
            return weigh_rows(fused, self.code_rows, settings.modifier_weight)
        return weigh_rows(fused, self.modifier_rows, settings.modifier_weight)


class TerminatedLast:
    """Terminated codes, when asked for (an old chargemaster under review), rank below current ones of
    like score: C9027 (pembrolizumab, ended 2015) must not outrank J9271. So do codes not yet added on the
    day (J9271 on 2015-06-01)."""

    def __init__(self, columns: RecordColumns, weight: float) -> None:
        self.weight = weight
        self._ended_by = lru_cache(maxsize=64)(
            lambda day: frozenset(np.flatnonzero(columns.not_in_effect(day)).tolist())
        )

    def __call__(self, fused: dict[int, float], today: dt.date) -> dict[int, float]:
        ended = self._ended_by(today.isoformat())
        if self.weight >= 1.0 or not ended:
            return fused
        return {row: score * self.weight if row in ended else score for row, score in fused.items()}


class NotCurrentLast:
    """Codes that newer lists no longer carry (status ``not_in_current_lists``: J1030, per 40 mg, since
    billed per 1 mg as J1010) rank below current codes of like score, the likely replacement first."""

    def __init__(self, columns: RecordColumns, weight: float) -> None:
        self.weight = weight
        self._missing_by = lru_cache(maxsize=64)(
            lambda day: frozenset(np.flatnonzero(columns.missing_since <= day).tolist())
        )

    def __call__(self, fused: dict[int, float], today: dt.date) -> dict[int, float]:
        missing = self._missing_by(today.isoformat())
        if self.weight >= 1.0 or missing.isdisjoint(fused):
            return fused
        return {row: score * self.weight if row in missing else score for row, score in fused.items()}


def unclassified_first(
    fused: list[tuple[int, float]], row: int | None, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """A drug no descriptor names is billed with its NOC code (J3490, J3590, …): that code (``row``) leads,
    and the words' nearest matches follow for the reviewer to rule out."""
    if row is None or (allowed is not None and not allowed[row]):
        return fused
    top = fused[0][1] if fused else 1.0
    return [(row, top * 1.01)] + [(r, score) for r, score in fused if r != row]
