"""One query's retrieval results, kept together for paging, confidence, verification and explanations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from codefinder.search.cpt_answer import CptNote
from codefinder.search.explain import Explainer
from codefinder.search.rewrite import RewrittenQuery

# (row, fused score) pairs, best first
Ranking = list[tuple[int, float]]


@dataclass
class QueryRun:
    """Everything a page of hits, a confidence or a verdict needs from one search, so none of them
    searches again. ``ordered`` holds (row, score, match) with match "code" (the query named the code)
    or "text"; ``text_rows`` and ``text_position`` index the text matches alone."""

    query: str
    today: dt.date
    rewritten: RewrittenQuery
    explain: Explainer
    rankings: dict[str, Ranking]
    rank_of: dict[str, dict[int, int]]
    score_of: dict[str, dict[int, float]]
    ordered: list[tuple[int, float, str]]
    query_vector: np.ndarray | None
    degraded: list[str]
    exact_codes: set[str]
    all_keyword_scores: np.ndarray | None = None
    cpt_note: CptNote | None = None  # the query asks for CPT the index cannot answer (search/cpt_answer.py)

    def __post_init__(self) -> None:
        self.text_rows = [(row, score) for row, score, match in self.ordered if match == "text"]
        self.text_position = {row: i for i, (row, _) in enumerate(self.text_rows)}

    @classmethod
    def assemble(
        cls,
        query: str,
        today: dt.date,
        rewritten: RewrittenQuery,
        explain: Explainer,
        rankings: dict[str, Ranking],
        ordered: list[tuple[int, float, str]],
        query_vector: np.ndarray | None,
        degraded: list[str],
        exact_codes: set[str],
        cpt_note: CptNote | None = None,
    ) -> QueryRun:
        return cls(
            query=query,
            today=today,
            rewritten=rewritten,
            explain=explain,
            rankings=rankings,
            rank_of={name: {row: rank for rank, (row, _) in enumerate(r, start=1)} for name, r in rankings.items()},
            score_of={name: dict(r) for name, r in rankings.items()},
            ordered=ordered,
            query_vector=query_vector,
            degraded=degraded,
            exact_codes=exact_codes,
            cpt_note=cpt_note,
        )
