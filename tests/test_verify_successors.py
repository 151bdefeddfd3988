"""An outdated code is not "suspect" for being outranked by the current code that took it over (made-up drugs)."""

from __future__ import annotations

import datetime as dt

from codefinder.indexer.records import CodeRecord
from codefinder.search.verify_policy import VerifyPolicy
from codefinder.search.verify_rules import Candidate, Evidence, clearly_outranked
from codefinder.search.verify_successors import named_drug, successors

DAY = dt.date(2099, 6, 1)
OLD = CodeRecord.new("J9901", long_description="Injection, zorbamycin hcl, 500 mg", missing_since="2099-04-01")
NEW = CodeRecord.new("J9902", long_description="Injection, zorbamycin hydrochloride, 10 mg")
OTHER = CodeRecord.new("J9903", long_description="Injection, quellatide, 1 mg")
REPLACED = CodeRecord.new(
    "J9904", long_description="Widget spray, 5 ml", missing_since="2099-04-01", replaced_by=["J9905"]
)
RECORDS = {r.code: r for r in (OLD, NEW, OTHER, REPLACED)}
POLICY = VerifyPolicy(0.0001, 0.7, 100.0, 0.05, 5, True)


def test_the_drug_a_descriptor_names():
    assert named_drug(OLD) == named_drug(NEW) == "zorbamycin"
    assert named_drug(REPLACED) is None  # not a drug descriptor


def test_successors_are_current_codes_for_the_same_drug_and_recorded_replacements():
    assert successors(OLD, ["J9902", "J9903"], RECORDS.get, DAY) == {"J9902"}
    assert successors(REPLACED, ["J9902"], RECORDS.get, DAY) == {"J9905"}
    assert successors(NEW, ["J9901"], RECORDS.get, DAY) == frozenset()  # a current code has none
    assert successors(OLD, ["J9902"], RECORDS.get, dt.date(2099, 1, 1)) == frozenset()  # still current then


def test_outranked_only_by_its_successor_is_not_clearly_outranked():
    top = (Candidate(1, "J9902", "J", 0.9), Candidate(2, "J9901", "J", 0.001))
    outdated = Evidence("J9901", "J", 2, 0.001, top, successors=frozenset({"J9902"}))
    assert not clearly_outranked(outdated, POLICY)
    assert clearly_outranked(Evidence("J9901", "J", 2, 0.001, top), POLICY)  # another drug's code would be
