"""Codes that are current: newer lists retire what the web list still carries, a newer full release dropped
into the data dir leads with its dates, add dates make as_of work both ways, and ``changes`` compares
releases. Level II descriptors are CMS's (public domain); the lists are small made-up files in CMS's shapes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from codefinder.api.app import create_app
from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.indexer.build import build_index
from codefinder.indexer.changes import Release, ReleaseRow, UnknownRelease, compare, find_release
from codefinder.indexer.currency import DatedList, check_coverage, link_replacements, mark_missing
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.releases import date_in_name, plan_sources
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.loader import load_index

LATER = dt.date(2022, 6, 1)  # after every list below
DESCRIPTORS = {
    "J1030": "Injection, methylprednisolone acetate, 40 mg",
    "J1010": "Injection, methylprednisolone acetate, 1 mg",
    "J0171": "Injection, adrenalin, epinephrine, 0.1 mg",
    "J0165": "Injection, epinephrine, not otherwise specified, 0.1 mg",
    "J9271": "Injection, pembrolizumab, 1 mg",
    "J1885": "Injection, ketorolac tromethamine, per 15 mg",
    "K0553": "Supply allowance for therapeutic continuous glucose monitor (cgm), includes all supplies and accessories",
    "K0001": "Standard wheelchair",
    "A4238": "Supply allowance for adjunctive, non-implanted continuous glucose monitor (cgm)",
    "H0001": "Alcohol and/or drug assessment",
    "Q9999": "Made-up retired supply, each",
}
IN_ADDENDUM_B = ["J1010", "J0165", "J9271", "J1885", "K0001", "A4238"]


def fixed_record(code: str, long: str, add: str = "", term: str = "", action: str = "N") -> str:
    """One 320-column record of CMS's fixed-width release (code 1-5, sequence, RIC 3, descriptors, dates)."""
    line = f"{code:<5}001003{long[:80]:<80}{long[:28]:<28}".ljust(268)
    return f"{line}{add:<8}{add:<8}{term:<8}{action}".ljust(320)


def write_release(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """rows: (code, add date YYYYMMDD, termination date)."""
    path.write_text("\n".join(fixed_record(code, DESCRIPTORS[code], add, term) for code, add, term in rows) + "\n")


def write_web_list(path: Path, codes: list[str]) -> None:
    """The web list as CMS ships it: codes right-aligned in 5, long descriptors, no dates."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["HCPCS", "LONG_DESCRIPTION"])
    for code in codes:
        sheet.append([f"{code:>5}", DESCRIPTORS[code]])
    book.save(path)


def write_addendum_b(path: Path, codes: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["HCPCSCode", "ShortDescriptor", "StatusIndicator"])
    writer.writerows([code, DESCRIPTORS[code][:28], "N"] for code in codes)
    path.write_text(buffer.getvalue())


def write_crosswalk(path: Path) -> None:
    path.write_text(
        "January 2022 ASP NDC - HCPCS Crosswalk (made up)\n\n"
        "_2022_CODE,Short Description,Drug Name,HCPCS dosage\n"
        "J1010,Methylprednisolone acet inj,DEPO-MEDROL,1 MG\n"
        "J9271,Inj pembrolizumab,KEYTRUDA,1 MG\n"
    )


OLD_RELEASE = [
    ("J1030", "19820101", ""),
    ("J0171", "20110101", ""),
    ("J9271", "20160101", ""),
    ("J1885", "19940101", ""),
    ("K0553", "20170701", ""),
    ("K0001", "19930101", ""),
    ("H0001", "19960101", ""),
    ("Q9999", "20000101", "20191231"),
]
WEB_LIST = ["J1030", "J1010", "J0171", "J0165", "J9271", "J1885", "K0553", "K0001", "A4238", "H0001", "Q9999"]


def currency_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "hcpcs").mkdir(parents=True)
    (data / "drugs").mkdir()
    write_release(data / "hcpcs" / "HCPC2020_OCT_ANWEB.txt", OLD_RELEASE)
    write_web_list(data / "hcpcs" / "HCPC2021_JUL_ANWEB.xlsx", WEB_LIST)
    write_addendum_b(data / "hcpcs" / "opps_addendum_b_2022_04.csv", IN_ADDENDUM_B)
    write_crosswalk(data / "drugs" / "asp_crosswalk_2022_01.csv")
    return data


def currency_settings(data: Path, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=data,
        index=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        default_sources=(
            "hcpcs/HCPC2021_JUL_ANWEB.xlsx",
            "hcpcs/opps_addendum_b_2022_04.csv",
            "drugs/asp_crosswalk_2022_01.csv",
        ),
        history_sources=("hcpcs/HCPC2020_OCT_ANWEB.txt",),
    )


@pytest.fixture
def current_settings(tmp_path: Path, fake_encoder) -> Settings:
    settings = currency_settings(currency_data(tmp_path), tmp_path)
    build_index(settings, fake_encoder)
    return settings


@pytest.fixture
def current_engine(current_settings, fake_encoder) -> SearchEngine:
    return SearchEngine(load_index(current_settings.index), fake_encoder, current_settings)


# --- newer lists ---------------------------------------------------------------------------------------------


def test_codes_newer_lists_dropped_are_not_in_current_lists(current_engine):
    j1030 = current_engine.lookup("J1030")
    assert j1030.missing_since == "2022-04-01"
    assert j1030.missing_from == ["asp_crosswalk_2022_01.csv", "opps_addendum_b_2022_04.csv"]
    assert j1030.status_on(LATER) == "not_in_current_lists"
    assert j1030.status_on(dt.date(2021, 12, 31)) == "active"  # before the lists that dropped it
    assert current_engine.lookup("K0553").status_on(LATER) == "not_in_current_lists"
    # H is a section Addendum B never lists: its codes are never judged by it
    assert current_engine.lookup("H0001").status_on(LATER) == "active"
    assert current_engine.lookup("J1010").status_on(LATER) == "active"
    assert current_engine.lookup("Q9999").status_on(LATER) == "terminated"  # its date says more


def test_likely_replacements_are_linked(current_engine):
    assert current_engine.lookup("J1030").replaced_by == ["J1010"]  # the same drug, per 1 mg
    assert current_engine.lookup("J0171").replaced_by == ["J0165"]  # adrenalin is a brand of epinephrine
    assert current_engine.lookup("K0553").replaced_by == []  # no current code names the same item


def test_coverage_is_measured_and_reported(current_engine):
    currency = current_engine.index.manifest["currency"]
    coverage = currency["coverage"]["opps_addendum_b_2022_04.csv"]
    assert coverage["J"] == {"codes": 6, "listed": 0.667, "judged": True}
    assert coverage["H"] == {"codes": 1, "listed": 0.0, "judged": False}
    assert currency["marked_not_in_current_lists"] == 3 and currency["by_section"] == {"J": 2, "K": 1}


def test_a_retired_code_ranks_below_its_current_sibling_and_says_why(current_engine):
    options = SearchOptions(filters=Filters(as_of=LATER))
    hits = current_engine.search("methylprednisolone acetate 40 mg", options).hits
    codes = [hit.code for hit in hits]
    assert codes.index("J1010") < codes.index("J1030")
    retired = hits[codes.index("J1030")]
    assert retired.status == "not_in_current_lists" and retired.replaced_by == ["J1010"]
    assert retired.missing_from == ["asp_crosswalk_2022_01.csv", "opps_addendum_b_2022_04.csv"]
    before = SearchOptions(filters=Filters(as_of=dt.date(2021, 8, 1)))
    assert current_engine.search("J1030", before).hits[0].status == "active"


def test_status_shows_on_codes_and_verify(current_settings, fake_encoder):
    context = AppContext(settings=current_settings, encoder_factory=lambda _settings: fake_encoder)
    with TestClient(create_app(context)) as client:
        record = client.get("/codes/J1030").json()
        assert record["status"] == "not_in_current_lists"
        assert record["replaced_by"] == ["J1010"] and record["missing_since"] == "2022-04-01"
        assert client.get("/codes/J1030", params={"as_of": "2021-08-01"}).json()["status"] == "active"
        verified = client.post("/verify", json={"description": "depo-medrol 40 mg", "code": "J1030"}).json()
        assert verified["record"]["status"] == "not_in_current_lists"
        assert verified["record"]["replaced_by"] == ["J1010"]


# --- as_of both ways -----------------------------------------------------------------------------------------


def test_as_of_honours_add_dates(current_engine):
    early = SearchOptions(filters=Filters(as_of=dt.date(2015, 6, 1)))
    assert "J9271" not in [hit.code for hit in current_engine.search("pembrolizumab", early).hits]
    asked = SearchOptions(filters=Filters(as_of=dt.date(2015, 6, 1), include_terminated=True))
    hit = next(hit for hit in current_engine.search("pembrolizumab", asked).hits if hit.code == "J9271")
    assert hit.status == "not_yet_effective"
    later = SearchOptions(filters=Filters(as_of=dt.date(2016, 6, 1)))
    assert current_engine.search("pembrolizumab", later).hits[0].code == "J9271"


def test_a_code_the_older_release_lacks_was_added_after_it(current_engine):
    j1010 = current_engine.lookup("J1010")
    assert j1010.add_date is None and j1010.added_after == "2020-10-01"
    assert j1010.status_on(dt.date(2020, 10, 1)) == "not_yet_effective"
    assert j1010.status_on(dt.date(2020, 10, 2)) == "active"
    assert current_engine.lookup("J1030").added_after is None


# --- a newer full release dropped into the data dir ----------------------------------------------------------


def test_a_newer_full_release_leads_and_its_dates_are_authoritative(tmp_path: Path, fake_encoder):
    data = currency_data(tmp_path)
    # Q9999: the older release ended it, this newer one says it is current
    newer = [*NEWER_RELEASE[:-1], ("Q9999", "20000101", "")]
    write_release(data / "hcpcs" / "HCPC2023_JAN_ANWEB.txt", newer)
    settings = currency_settings(data, tmp_path)
    plan = plan_sources(settings, None, None)
    assert plan.sources[0].name == "HCPC2023_JAN_ANWEB.txt" and plan.sources[1].name == "HCPC2021_JUL_ANWEB.xlsx"
    build_index(settings, fake_encoder)
    engine = SearchEngine(load_index(settings.index), fake_encoder, settings)
    assert "HCPC2023_JAN_ANWEB.txt (2023-01-01) is newer than" in engine.index.manifest["plan"]["notes"][0]
    j1030 = engine.lookup("J1030")
    assert j1030.termination_date == "2022-12-31" and j1030.status_on(dt.date(2023, 6, 1)) == "terminated"
    assert engine.lookup("Q9999").termination_date is None  # the newest release speaks for it
    assert engine.lookup("J1010").add_date == "2023-01-01"
    assert engine.lookup("J1010").status_on(dt.date(2022, 6, 1)) == "not_yet_effective"
    # K0553 is only in the older web list: Addendum B of April 2022 and the newer full release lack it
    k0553 = engine.lookup("K0553")
    assert k0553.missing_since == "2022-04-01" and "HCPC2023_JAN_ANWEB.txt" in k0553.missing_from


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("HCPC2020_OCT_ANWEB.xlsx", dt.date(2020, 10, 1)),
        ("2019-Alpha-Numeric-HCPCS-File.zip", dt.date(2019, 1, 1)),
        ("opps_addendum_b_2026_04_level2.csv", dt.date(2026, 4, 1)),
        ("NOC codes_JUL2025.xlsx", dt.date(2025, 7, 1)),
        ("April 2026 Web Addendum B.csv", dt.date(2026, 4, 1)),
        ("PPRRVU2026_Jan_nonQPP.csv", dt.date(2026, 1, 1)),
        ("LONGULT.txt", None),
    ],
)
def test_release_dates_from_names(name: str, day: dt.date | None):
    assert date_in_name(name) == day


# --- the pieces, alone ---------------------------------------------------------------------------------------


def record(code: str, text: str, **values: object) -> CodeRecord:
    return CodeRecord.new(code, long_description=text, **values)


def test_mark_missing_needs_a_newer_covering_list_that_omits_the_code():
    records = [record("J1030", "Injection, a, 40 mg"), record("J1010", "Injection, a, 1 mg"), record("G0001", "g")]
    keys = {r.code: r.key for r in records}
    web = DatedList("web.xlsx", dt.date(2021, 7, 1), frozenset(keys.values()), complete=True)
    addendum = DatedList("b.csv", dt.date(2022, 4, 1), frozenset({keys["J1010"]}), covers=frozenset("J"))
    marked, by_section = mark_missing(records, [web, addendum])
    assert marked == 1 and by_section == {"J": 1}
    assert records[0].missing_from == ["b.csv"] and records[2].missing_from == []  # G is not covered
    rescue = DatedList("x.csv", dt.date(2022, 5, 1), frozenset({keys["J1030"]}))
    fresh = [record("J1030", "Injection, a, 40 mg")]
    assert mark_missing(fresh, [web, addendum, rescue])[0] == 0  # a list as new names it: still current


def test_coverage_below_the_minimum_judges_nothing():
    records = [record(f"H{n:04d}", "h") for n in range(4)]
    web = DatedList("web.xlsx", dt.date(2021, 7, 1), frozenset(r.key for r in records), complete=True)
    partial = DatedList("b.csv", dt.date(2022, 4, 1), frozenset({records[0].key}), covers=frozenset("H"))
    checked, report = check_coverage(records, [web, partial], "H", 0.5)
    assert report["b.csv"]["H"] == {"codes": 4, "listed": 0.25, "judged": False}
    assert checked[1].covers == frozenset()


def test_replacement_needs_the_same_route_and_only_brand_or_maker_words():
    records = [
        record("J0001", "Injection, dexamethasone acetate, 1 mg", missing_from=["b.csv"]),
        record("J8540", "Dexamethasone, oral, 0.25 mg"),
        record("J0610", "Injection, calcium gluconate (fresenius kabi), per 10 ml", missing_from=["b.csv"]),
        record("J0612", "Injection, calcium gluconate, not otherwise specified, 10 mg"),
        record("J9001", "Injection, cytarabine liposome, 10 mg", missing_from=["b.csv"]),
        record("J9100", "Injection, cytarabine, 100 mg"),
    ]
    assert link_replacements(records) == 1
    assert [r.replaced_by for r in records[::2]] == [[], ["J0612"], []]


# --- changes between releases --------------------------------------------------------------------------------


def release(name: str, day: str, rows: dict[str, ReleaseRow]) -> Release:
    return Release(name, dt.date.fromisoformat(day), True, len(rows), built=rows)


def row(long: str, add: str | None = None, term: str | None = None, action: str = "N") -> ReleaseRow:
    return ReleaseRow(long, None, add, add, term, action)


def test_compare_lists_added_terminated_and_changed_codes():
    old = release("a", "2019-01-01", {"A1": row("one"), "B1": row("two"), "C1": row("three"), "D1": row("four")})
    new = release(
        "b",
        "2020-01-01",
        {
            "A1": row("one"),
            "B1": row("two", term="2019-12-31", action="D"),
            "C1": row("THREE, reworded", action="C"),
            "E1": row("five", add="2020-01-01", action="A"),
        },
    )
    changes = [(c.change, c.code, c.date, c.action_code) for c in compare(old, new)]
    assert changes == [
        ("added", "E1", "2020-01-01", "A"),
        ("terminated", "B1", "2019-12-31", "D"),
        ("terminated", "D1", None, None),  # a full release no longer lists it
        ("descriptor_changed", "C1", None, "C"),
    ]


def test_find_release_by_name_part_or_date():
    releases = [release("HCPC2019_CONTR_ANWEB.txt", "2019-01-01", {}), release("HCPC2020_OCT.xlsx", "2020-10-01", {})]
    assert find_release(releases, "2019").name == "HCPC2019_CONTR_ANWEB.txt"
    assert find_release(releases, "2020-10").name == "HCPC2020_OCT.xlsx"
    with pytest.raises(UnknownRelease, match=r"no release '2030'.*holds: HCPC2019"):
        find_release(releases, "2030")
    with pytest.raises(UnknownRelease, match="matches several"):
        find_release(releases, "HCPC")


NEWER_RELEASE = [
    ("J1030", "19820101", "20221231"),
    ("J1010", "20230101", ""),
    ("J0171", "20110101", ""),
    ("J0165", "20230101", ""),
    ("J9271", "20160101", ""),
    ("J1885", "19940101", ""),
    ("K0001", "19930101", ""),
    ("A4238", "20230101", ""),
    ("H0001", "19960101", ""),
    ("Q9999", "20000101", "20191231"),
]


def test_cli_changes_between_two_release_files(app_context, tmp_path: Path):
    old, new = tmp_path / "HCPC2020_OCT_ANWEB.txt", tmp_path / "HCPC2023_JAN_ANWEB.txt"
    write_release(old, OLD_RELEASE)
    write_release(new, NEWER_RELEASE)
    runner = CliRunner()
    table = runner.invoke(main, ["changes", str(old), str(new)], obj=app_context)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0] == (
        "HCPC2020_OCT_ANWEB.txt (2020-10-01) -> HCPC2023_JAN_ANWEB.txt (2023-01-01): 3 added, 2 terminated, 0 changed"
    )
    assert [line.split()[:2] for line in lines[1:]] == [
        ["added", "A4238"],
        ["added", "J0165"],
        ["added", "J1010"],
        ["terminated", "J1030"],
        ["terminated", "K0553"],  # the newer full release no longer lists it
    ]
    args = ["changes", str(old), str(new), "--format", "csv", "--change", "terminated"]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, args, obj=app_context).output)))
    assert [(r["change"], r["code"], r["date"]) for r in rows] == [
        ("terminated", "J1030", "2022-12-31"),
        ("terminated", "K0553", ""),
    ]


def test_changes_over_the_releases_of_a_build(built_settings, app_context):
    runner = CliRunner()
    as_json = json.loads(runner.invoke(main, ["changes", "2098", "2099", "--format", "json"], obj=app_context).output)
    assert as_json["from"]["name"] == "HCPC2098_HISTORY_ANWEB.txt" and as_json["to"]["date"] == "2099-01-01"
    assert as_json["counts"] == {"added": 11, "terminated": 0, "descriptor_changed": 0}  # G0202 ended in 2014
    unknown = runner.invoke(main, ["changes", "1999", "2099"], obj=app_context)
    assert unknown.exit_code == 1 and "no release '1999' in this index" in unknown.output
    with TestClient(create_app(app_context)) as client:
        listed = client.get("/changes/releases").json()["releases"]
        assert [r["name"] for r in listed] == ["HCPC2098_HISTORY_ANWEB.txt", "HCPC2099_TEST_ANWEB.txt"]
        body = client.get("/changes", params={"from": "2098", "to": "2099", "change": "added"}).json()
        assert body["counts"] == {"added": 11} and body["changes"][0]["code"] == "A0080"
        sheet = client.get("/changes", params={"from": "2098", "to": "2099", "format": "csv"})
        assert sheet.headers["content-type"].startswith("text/csv") and sheet.text.startswith("change,code,date")
        assert client.get("/changes", params={"from": "1999", "to": "2099"}).status_code == 404
        assert client.get("/changes", params={"from": "2098"}).status_code == 422
        assert client.get("/changes", params={"from": "x" * 300, "to": "2099"}).status_code == 422
