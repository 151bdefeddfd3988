"""Taxonomy from code shapes, the merge rule, and fusion arithmetic against hand-computed values."""

from __future__ import annotations

import pytest

from codefinder.indexer.merge import merge_sources
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.taxonomy import canonical_level, place
from codefinder.search.fusion import ordered, reciprocal_rank_fusion, weighted_score_fusion


@pytest.mark.parametrize(
    ("code", "system", "level", "kind", "section"),
    [
        ("E0601", "HCPCS", "hcpcs-2", "code", "E"),
        ("J9271", "HCPCS", "hcpcs-2", "code", "J"),
        ("D0120", "HCPCS", "hcpcs-2", "code", "D"),
        ("LT", "HCPCS", "hcpcs-modifier", "modifier", None),
        ("A1", "HCPCS", "hcpcs-modifier", "modifier", None),
        ("25", "CPT", "cpt-modifier", "modifier", None),
        ("99213", "CPT", "cpt-1", "code", None),
        ("0001F", "CPT", "cpt-2", "code", None),
        ("0042T", "CPT", "cpt-3", "code", None),
        ("0001U", "CPT", "cpt-pla", "code", None),
    ],
)
def test_place(code, system, level, kind, section):
    placement = place(code)
    assert (placement.system, placement.level, placement.kind, placement.section) == (system, level, kind, section)


def test_section_names():
    assert place("E0601").section_name == "Durable medical equipment"
    assert place("J1885").section_name == "Drugs administered other than oral method"
    assert place("L3000").level_label == "HCPCS Level II"


@pytest.mark.parametrize("bad", ["", "E06", "E06011", "ABCDE", "1234X", "A"])
def test_place_rejects_other_shapes(bad):
    with pytest.raises(ValueError):
        place(bad)


def test_canonical_level_aliases():
    assert canonical_level("II") == "hcpcs-2"
    assert canonical_level("cpt3") == "cpt-3"
    assert canonical_level("HCPCS-Modifier") == "hcpcs-modifier"
    with pytest.raises(ValueError, match="unknown level"):
        canonical_level("level 9")


def test_merge_first_source_wins_later_fill_gaps_and_add_synonyms():
    release = [CodeRecord.new("J9271", long_description="Injection, pembrolizumab, 1 mg")]
    addendum = [
        CodeRecord.new("J9271", short_description="Inj pembrolizumab", opps_status_indicator="K"),
        CodeRecord.new("C1713", short_description="Anchor/screw bn/bn;tis/bn"),
    ]
    crosswalk = [
        CodeRecord.new(
            "J9271",
            long_description="Different text",
            short_description="Other short",
            synonyms=["keytruda", "KEYTRUDA "],
        ),
    ]
    report = merge_sources([("release", release), ("addendum", addendum), ("crosswalk", crosswalk)])
    records = {r.code: r for r in report.records}
    pembro = records["J9271"]
    assert pembro.long_description == "Injection, pembrolizumab, 1 mg"
    assert pembro.short_description == "Inj pembrolizumab"
    assert pembro.opps_status_indicator == "K"
    assert pembro.synonyms == ["keytruda"]
    assert pembro.sources == ["release", "addendum", "crosswalk"]
    assert records["C1713"].sources == ["addendum"]
    assert report.conflicts == {"long_description": 1, "short_description": 1}


def test_merge_does_not_mutate_inputs_and_sorts():
    first = CodeRecord.new("K0001", long_description="Standard wheelchair", synonyms=["chair"])
    report = merge_sources([("a", [first]), ("b", [CodeRecord.new("E0601", long_description="Cpap")])])
    assert [r.code for r in report.records] == ["E0601", "K0001"]
    assert first.sources == [] and first.synonyms == ["chair"]


def test_rrf_arithmetic():
    rankings = {"keyword": [(10, 5.0), (20, 4.0)], "semantic": [(20, 0.9), (30, 0.8)]}
    fused = reciprocal_rank_fusion(rankings, {"keyword": 1.0, "semantic": 2.0}, k=60)
    assert fused[10] == pytest.approx(1 / 61)
    assert fused[20] == pytest.approx(1 / 62 + 2 / 61)
    assert fused[30] == pytest.approx(2 / 62)
    assert [row for row, _ in ordered(fused)] == [20, 30, 10]


def test_weighted_score_fusion_normalizes():
    rankings = {"keyword": [(1, 10.0), (2, 5.0), (3, 0.0)], "semantic": [(3, 0.9), (1, 0.5)]}
    fused = weighted_score_fusion(rankings, {"keyword": 1.0, "semantic": 1.0})
    assert fused[1] == pytest.approx(1.0 + 0.0)
    assert fused[2] == pytest.approx(0.5)
    assert fused[3] == pytest.approx(0.0 + 1.0)


def test_ordered_breaks_ties_by_row():
    assert ordered({5: 1.0, 3: 1.0, 9: 2.0}) == [(9, 2.0), (3, 1.0), (5, 1.0)]
