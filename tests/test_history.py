"""Code history: older releases give the current list's codes their dates, never their text."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from codefinder.api.cli import main
from codefinder.indexer.build import build_index
from codefinder.indexer.errors import SourceError
from codefinder.indexer.history import InUseList, apply_history
from codefinder.indexer.records import CodeRecord
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.loader import load_index
from tests.conftest import FIXTURE_DATA

HISTORY_FILE = FIXTURE_DATA / "hcpcs" / "HCPC2098_HISTORY_ANWEB.txt"
# The current list as CMS ships it for the web: codes and long descriptors, no dates.
CURRENT_LIST = (
    'HCPCS,LONG_DESCRIPTION\nJ9271,"Injection, pembrolizumab, 1 mg"\nC9027,"Injection, pembrolizumab, 1 mg"\n'
)


def record(code: str, **values: object) -> CodeRecord:
    return CodeRecord.new(code, **{"long_description": "made-up descriptor", **values})


def test_history_takes_the_dates_of_the_newest_release_listing_the_code():
    current = [record("C9027"), record("J9271", add_date="2016-01-01"), record("E0601")]
    newer = [record("C9027", termination_date="2015-12-31", long_description="old text"), record("E0601")]
    older = [
        record("C9027", termination_date="2014-06-30", add_date="2014-01-01"),
        record("J9271", add_date="1999-01-01"),
        record("E0601", termination_date="2010-12-31"),
    ]
    report = apply_history(current, [newer, older])
    c9027, j9271, e0601 = current
    assert c9027.termination_date == "2015-12-31"  # the newer release wins
    assert c9027.add_date is None  # the newer release speaks for the code: older ones are not asked
    assert e0601.termination_date is None  # a newer listing without a termination date is not ended by an older one
    assert c9027.long_description == "made-up descriptor"  # history never replaces text
    assert j9271.add_date == "2016-01-01"  # the current sources' own dates are kept
    assert report.filled["termination_date"] == 1 and report.filled["add_date"] == 0


def test_history_leaves_codes_a_current_full_release_dates():
    current = [record("E0601", add_date="1988-01-01")]
    dated_by_current_release = frozenset({current[0].key})
    apply_history(current, [[record("E0601", termination_date="2010-12-31")]], authoritative=dated_by_current_release)
    assert current[0].termination_date is None


def test_history_never_ends_a_code_a_later_list_still_carries_and_adds_no_codes():
    current = [record("C1713", opps_status_indicator="N"), record("C1714")]
    in_use = [InUseList("addendum_b_2026_04.csv", dt.date(2026, 4, 1), frozenset({current[0].key}))]
    releases = [[record("C1713", termination_date="2004-12-31"), record("C1714", termination_date="2004-12-31")]]
    report = apply_history(current, [[*releases[0], record("C9999")]], in_use)
    assert current[0].termination_date is None and current[1].termination_date == "2004-12-31"
    assert report.unknown_codes == 1 and len(current) == 2 and report.kept_in_use == 1


def test_default_build_reads_history_and_reports_it(engine):
    c1713 = engine.lookup("C1713")
    assert c1713 is not None and c1713.add_date == "2001-01-01" and c1713.termination_date is None
    assert engine.lookup("C9027") is None  # only the history file knows it
    history = engine.index.manifest["history"]
    assert [source["name"] for source in history["sources"]] == ["HCPC2098_HISTORY_ANWEB.txt"]
    assert history["codes_not_in_sources"] == 1 and history["filled"]["termination_date"] == 0


@pytest.fixture
def dated_engine(settings, fake_encoder, tmp_path) -> SearchEngine:
    current = tmp_path / "current.csv"
    current.write_text(CURRENT_LIST)
    build_index(settings, fake_encoder, [current], history=[HISTORY_FILE])
    return SearchEngine(load_index(settings.index), fake_encoder, settings)


def test_a_code_history_ended_is_terminated_hidden_and_ranked_after_current_codes(dated_engine):
    c9027 = dated_engine.lookup("C9027")
    assert c9027 is not None and c9027.termination_date == "2015-12-31"
    default = dated_engine.search("pembrolizumab")
    assert [hit.code for hit in default.hits] == ["J9271"]
    everything = dated_engine.search("pembrolizumab", SearchOptions(filters=Filters(include_terminated=True)))
    assert [hit.code for hit in everything.hits] == ["J9271", "C9027"]
    assert everything.hits[1].status == "terminated"


def test_terminated_codes_score_the_terminated_weight_of_their_score(dated_engine):
    options = SearchOptions(filters=Filters(include_terminated=True))

    def scores(weight: float) -> dict[str, float]:
        settings = dated_engine.settings.model_copy(update={"terminated_weight": weight})
        engine = SearchEngine(dated_engine.index, dated_engine.encoder, settings)
        return {hit.code: hit.score for hit in engine.search("pembrolizumab", options).hits}

    plain, demoted = scores(1.0), scores(0.5)
    assert demoted["J9271"] == pytest.approx(plain["J9271"])
    assert demoted["C9027"] == pytest.approx(plain["C9027"] * 0.5, abs=1e-5)


def test_explicit_sources_read_no_default_history(settings, fake_encoder, tmp_path):
    current = tmp_path / "current.csv"
    current.write_text(CURRENT_LIST)
    result = build_index(settings, fake_encoder, [current])
    assert result.manifest["history"]["sources"] == []
    assert load_index(settings.index).records[0].termination_date is None


def test_missing_history_file_fails_before_touching_the_index(built_settings, fake_encoder, tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        build_index(built_settings, fake_encoder, history=[tmp_path / "HCPC2020_OCT_ANWEB.xlsx"])
    assert load_index(built_settings.index).manifest["history"]["sources"][0]["name"] == "HCPC2098_HISTORY_ANWEB.txt"


def test_cli_build_with_history(app_context, tmp_path):
    current = tmp_path / "current.csv"
    current.write_text(CURRENT_LIST)
    runner = CliRunner()
    args = ["build", "--index", str(tmp_path / "index"), "--source", str(current), "--history", str(HISTORY_FILE)]
    result = runner.invoke(main, args, obj=app_context, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "HCPC2098_HISTORY_ANWEB.txt: hcpcs-fixed-width, history (dates only)" in result.output
    assert "termination dates from history: 1" in result.output
    looked_up = runner.invoke(main, ["lookup", "C9027", "--index", str(tmp_path / "index"), "--json"], obj=app_context)
    assert json.loads(looked_up.output)["status"] == "terminated"
    missing = runner.invoke(main, [*args[:-1], str(tmp_path / "nope.xlsx")], obj=app_context)
    assert missing.exit_code != 0 and "Traceback" not in missing.output
    errors = [line for line in missing.output.splitlines() if line.startswith("codefinder: error:")]
    assert len(errors) == 1 and "nope.xlsx: no such file" in errors[0] and "--history" in errors[0]
