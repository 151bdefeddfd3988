"""Licensed CPT files, read as shipped: every AMA and CMS layout from made-up fixtures (tests/fixtures/cpt/,
written by tests/fixtures/make_cpt_fixtures.py: the layouts only, no CPT text), found in <data dir>/cpt/."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from codefinder.api.app import create_app
from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.indexer.build import build_index
from codefinder.indexer.errors import SourceError
from codefinder.indexer.settings import Settings
from codefinder.indexer.sources import read_source
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.loader import load_index
from tests.conftest import FIXTURE_DATA, FIXTURE_HISTORY, FIXTURE_SOURCES, FIXTURES

CPT = FIXTURES / "cpt"


def records_of(name: str) -> dict:
    return {record.code: record for record in read_source(CPT / name).records}


# --- every layout --------------------------------------------------------------------------------------------


def test_long_tab_files_skip_the_notice_and_read_cp1252():
    result = read_source(CPT / "LONGULT.txt")
    assert result.shape == "ama-cpt-long-tab" and result.role == "codes"
    assert len(result.records) == 240 and result.skipped == 4  # the notice's two paragraphs
    records = {r.code: r for r in result.records}
    assert records["70010"].long_description == "Radiant picture of the elbow, one view"
    assert "contrast – made up" in records["70013"].long_description  # cp1252 0x96, read as an en dash
    assert records["70010"].system == "CPT" and records["70010"].section is None
    upper = records_of("LONGUT.txt")
    assert upper["70010"].long_description == "RADIANT PICTURE OF THE ELBOW, ONE VIEW"


def test_fixed_width_short_and_medium_files_find_their_descriptor_column():
    short, medium = read_source(CPT / "SHORTU.txt"), read_source(CPT / "MEDU.txt")
    assert (short.shape, medium.shape) == ("ama-cpt-short", "ama-cpt-medium")
    # SHORTU's descriptor starts in column 9, MEDU's in column 7 (as they have in different years)
    assert {r.code: r for r in short.records}["70010"].short_description == "RADIANT PIC ELBOW 1V"
    assert {r.code: r for r in medium.records}["70010"].short_description == "RADIANT PIC ELBOW ONE VIEW"
    assert len(short.records) == len(medium.records) == 240


@pytest.mark.parametrize(("fixed", "tab"), [("LONGULF.txt", "LONGULT.txt"), ("LONGUF.txt", "LONGUT.txt")])
def test_fixed_width_long_files_join_their_sequenced_records(fixed: str, tab: str):
    """80- and 64-column records, descriptors cut mid-word and at blanks: the same text as the tab file."""
    assert read_source(CPT / fixed).shape == "ama-cpt-long-fixed"
    joined, reference = records_of(fixed), records_of(tab)
    assert {code: r.long_description for code, r in joined.items()} == {
        code: r.long_description for code, r in reference.items()
    }


def test_consumer_and_clinician_descriptors_are_synonyms():
    consumer, clinician = read_source(CPT / "ConsumerDescriptor.txt"), read_source(CPT / "ClinicianDescriptor.txt")
    assert (consumer.role, clinician.role) == ("synonyms", "synonyms")
    assert {r.code: r for r in consumer.records}["70023"].synonyms == ["x-ray of the knee, two views"]
    assert {r.code: r for r in clinician.records}["70010"].synonyms == [
        "x-ray elbow one view",
        "radiant picture study of elbow",
    ]


def test_pla_xml_codes_names_status_and_dates():
    result = read_source(CPT / "CPTPLA.xml")
    records = {r.code: r for r in result.records}
    assert result.shape == "ama-cpt-pla-xml" and len(records) == 8
    first = records["0001U"]
    assert first.level == "cpt-pla" and first.short_description == "PRETEND ZETA ASSAY"
    assert first.synonyms == ["Zeta Pretend Panel™", "Fictional Genomics"]  # test name, lab (= manufacturer)
    assert first.add_date == first.effective_date == "2021-02-01"
    deleted = records["0008U"]
    assert deleted.termination_date == "2023-08-31" and deleted.add_date is None


def test_history_and_deleted_files_date_and_end_codes():
    history = read_source(CPT / "History_DTK_tab.txt")
    assert history.shape == "ama-cpt-history" and history.role == "history"
    records = {r.code: r for r in history.records}
    assert records["70010"].add_date == "2099-01-01"  # added in the future: not yet effective today
    assert records["70011"].add_date == "2015-01-01" and records["70011"].effective_date == "2020-01-01"
    retired = records["79990"]
    assert retired.termination_date == "2018-12-31" and retired.long_description.startswith("Radiant picture")
    assert records["79992"].termination_date == "1989-12-31" and records["79992"].long_description is None
    assert "" not in records  # the heading row without a code
    deleted = records_of("Deleted_DTK_tab.txt")
    assert deleted["79991"].termination_date == "2022-12-31"


@pytest.mark.parametrize(
    ("name", "shape"), [("PPRRVU2099_Jan.txt", "pfs-rvu-fixed-width"), ("PPRRVU2099_Jan.csv", "pfs-rvu-csv")]
)
def test_rvu_file_short_descriptors_without_modifier_rows(name: str, shape: str):
    result = read_source(CPT / name)
    assert result.shape == shape
    records = {r.code: r for r in result.records}
    assert records["70010"].short_description == "RADIANT PIC ELBOW 1V"
    assert records["70015"].termination_date == "2098-12-31"  # status D in the 2099 file
    assert len([code for code in records if code.isdigit()]) == 60  # one row per code, not per modifier


def test_full_addendum_b_reads_cpt_rows():
    result = read_source(CPT / "2099_April_Addendum_B.csv")
    records = {r.code: r for r in result.records}
    assert result.shape == "opps-addendum-b" and result.skipped == 0
    assert (
        records["70070"].short_description.startswith("RADIANT PIC") and records["70070"].opps_status_indicator == "S"
    )
    assert records["C1789"].system == "HCPCS"


GOOD = "Notice\r\n\r\n" + "".join(f"9999{i}\tFine {i}\r\n" for i in range(5))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("LONGULT.txt", f"{GOOD}9999\tShort code\r\n", ":8: not a CPT data line"),
        ("LONGULT.txt", f"{GOOD}99990\tTwice\r\n", ":8: code 99990 appears twice"),
        ("LONGULF.txt", "Notice\r\n\r\n9999001 Start\r\n9999003 Skips two\r\n", ":4: code 99990: sequence 03 after 01"),
        ("History.txt", "Date\tChange Type\tConcept Id\tCPT Code\r\nsoon\tADDED\t1\t99990\r\n", ":2: bad date 'soon'"),
        ("CPTPLA.xml", "<plaCodes><plaCode cdCode='0001U'></plaCode></plaCodes>", "plaCode 0001U has no descriptor"),
        ("CPTPLA.xml", "<plaCodes><plaCode cdCode='0001U'><cdDesc>x</cdDesc>", "not readable XML"),
    ],
)
def test_bad_cpt_files_name_file_and_line(tmp_path: Path, name: str, content: str, message: str):
    path = tmp_path / name
    path.write_bytes(content.encode("cp1252"))
    with pytest.raises(SourceError, match=message):
        read_source(path)


def test_pla_xml_entities_are_refused(tmp_path: Path):
    bomb = tmp_path / "CPTPLA.xml"
    bomb.write_text(
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><plaCodes><plaCode cdCode="0001U"><cdDesc>&a;</cdDesc></plaCode></plaCodes>'
    )
    with pytest.raises(SourceError, match="not readable XML"):
        read_source(bomb)


# --- a data dir with <data dir>/cpt/ --------------------------------------------------------------------------


def data_dir_with_cpt(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    data = tmp_path / "data"
    for folder in ("hcpcs", "drugs"):
        shutil.copytree(FIXTURE_DATA / folder, data / folder)
    shutil.copytree(CPT, data / "cpt")
    for name, text in (extra or {}).items():
        (data / "cpt" / name).write_text(text)
    return data


@pytest.fixture
def cpt_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=data_dir_with_cpt(tmp_path, {"README.txt": "How to use these files.\nNothing to index here.\n"}),
        index=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        default_sources=FIXTURE_SOURCES,
        history_sources=FIXTURE_HISTORY,
    )


@pytest.fixture
def cpt_engine(cpt_settings: Settings, fake_encoder) -> SearchEngine:
    build_index(cpt_settings, fake_encoder)
    return SearchEngine(load_index(cpt_settings.index), fake_encoder, cpt_settings)


def test_cpt_directory_is_detected_and_duplicates_left_out(cpt_engine):
    manifest = cpt_engine.index.manifest
    used = manifest["plan"]["cpt_directory"]["used"]
    assert used == [
        "LONGULT.txt",
        "CPTPLA.xml",
        "SHORTU.txt",
        "ConsumerDescriptor.txt",
        "ClinicianDescriptor.txt",
        "History_DTK_tab.txt",
        "Deleted_DTK_tab.txt",
        "PPRRVU2099_Jan.txt",
        "PPRRVU2099_Jan.csv",
        "2099_April_Addendum_B.csv",
    ]
    left_out = {item["name"]: item["reason"] for item in manifest["plan"]["cpt_directory"]["left_out"]}
    assert set(left_out) == {"README.txt", "LONGULF.txt", "LONGUT.txt", "LONGUF.txt", "MEDU.txt"}
    assert left_out["MEDU.txt"] == "same short descriptors as SHORTU.txt"
    assert left_out["README.txt"].startswith("not a code file")
    assert manifest["merge_conflicts"].get("long_description", 0) == 0


def test_categories_come_from_the_code_form(cpt_engine):
    by_level = cpt_engine.index.manifest["counts"]["by_level"]
    # 226 current Category I codes and two the history file deleted (with their descriptors)
    assert by_level["cpt-1"] == 228 and by_level["cpt-2"] == 6 and by_level["cpt-3"] == 8 and by_level["cpt-pla"] == 8
    assert cpt_engine.lookup("0003T").level_label == "CPT Category III"
    category_two = cpt_engine.search("pretend step count", SearchOptions(filters=Filters.checked(level="cpt2")))
    assert [hit.code for hit in category_two.hits][:1] == ["0001F"]


@pytest.mark.parametrize(
    ("query", "code", "synonym"),
    [
        ("x-ray of the knee, two views", "70023", "x-ray of the knee, two views"),
        ("office visit for a new patient, lengthy", "99912", "office visit for a new patient, lengthy"),
        ("new treatment with a hum ring", "0002T", "new treatment with a hum ring"),
    ],
)
def test_consumer_descriptors_find_codes_in_lay_words(cpt_engine, query: str, code: str, synonym: str):
    response = cpt_engine.search(query, SearchOptions(limit=5))
    assert response.hits[0].code == code, [hit.code for hit in response.hits]
    assert synonym in response.hits[0].matched_synonyms
    assert response.needs_cpt is None  # CPT is loaded: nothing to ask for


def test_ranking_among_hundreds_of_siblings(cpt_engine):
    """Twelve sites x three modalities x four views: the words pick the one code."""
    for query, code in [
        ("magnetic picture of the wrist, three or more views", "70052"),
        ("sound-wave picture of the chest with glowing dye", "70093"),
        ("cut-out removal of the tonsil through an open cut", "40059"),
    ]:
        assert cpt_engine.search(query, SearchOptions(limit=3)).hits[0].code == code, query


def test_history_deletions_and_additions_give_status_both_ways(cpt_engine):
    retired = cpt_engine.lookup("79990")
    assert retired.termination_date == "2018-12-31" and retired.status_on(dt.date(2026, 1, 1)) == "terminated"
    assert cpt_engine.lookup("79992") is None  # deleted long ago, no descriptor: not a record
    future = cpt_engine.lookup("70010")
    assert future.add_date == "2099-01-01" and future.status_on(dt.date(2026, 1, 1)) == "not_yet_effective"
    query = "radiant picture of the elbow, one view"
    assert "70010" not in [hit.code for hit in cpt_engine.search(query).hits]
    later = SearchOptions(filters=Filters(as_of=dt.date(2099, 6, 1)))
    assert cpt_engine.search(query, later).hits[0].code == "70010"
    asked = cpt_engine.search(query, SearchOptions(limit=50, filters=Filters(include_terminated=True))).hits
    assert next(hit for hit in asked if hit.code == "70010").status == "not_yet_effective"
    assert cpt_engine.lookup("70015").termination_date == "2098-12-31"  # the RVU file's status D


def test_explicit_source_still_reads_a_cpt_file(settings, fake_encoder, tmp_path):
    result = build_index(settings, fake_encoder, [CPT / "LONGULT.txt", CPT / "ConsumerDescriptor.txt"])
    assert result.manifest["counts"]["by_system"] == {"CPT": 240}
    assert (
        result.manifest["unmatched_by_source"] == {"ConsumerDescriptor.txt": 0}
        or not result.manifest["unmatched_by_source"]
    )


def test_a_bad_line_in_a_cpt_directory_file_stops_the_build(tmp_path, fake_encoder):
    broken = (CPT / "LONGULT.txt").read_text(encoding="cp1252") + "9999\tBroken\r\n"
    data = data_dir_with_cpt(tmp_path, {"LONGULT.txt": broken})
    settings = Settings(
        data_dir=data,
        index=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        default_sources=FIXTURE_SOURCES,
        history_sources=FIXTURE_HISTORY,
    )
    with pytest.raises(SourceError, match=r"LONGULT.txt:247: not a CPT data line"):
        build_index(settings, fake_encoder)
    assert not (tmp_path / "index" / "current").exists()


# --- without CPT ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "level"), [("99213", "cpt-1"), ("0001F", "cpt-2"), ("0042t", "cpt-3"), ("0001U", "cpt-pla")]
)
def test_a_cpt_code_without_cpt_files_says_so(engine, query: str, level: str):
    response = engine.search(query)
    assert response.hits == [] and response.no_good_match
    assert response.needs_cpt == {
        "reason": "code",
        "message": "CPT code, not loaded; add your licensed CPT files",
        "level": level,
        "services": [],
    }


def test_a_cpt_service_without_cpt_files_is_noted(engine):
    response = engine.search("mri of the brain without contrast")
    assert response.needs_cpt["reason"] == "service"
    assert response.needs_cpt["services"] == [{"term": "mri", "service": "imaging study (MRI)".lower()}]
    assert response.needs_cpt["message"].endswith("add your licensed CPT files")
    assert engine.search("standard wheelchair").needs_cpt is None


def test_codes_endpoint_and_cli_say_cpt_is_not_loaded(app_context, built_settings):
    with TestClient(create_app(app_context)) as client:
        answer = client.get("/codes/99213")
        assert answer.status_code == 404
        assert answer.json() == {"detail": "99213: CPT code, not loaded; add your licensed CPT files"}
        assert client.get("/codes/Z9999").json()["detail"] == "unknown code 'Z9999'"
        body = client.get("/search", params={"q": "99213"}).json()
        assert body["needs_cpt"]["reason"] == "code" and body["hits"] == []
    runner = CliRunner()
    looked_up = runner.invoke(main, ["lookup", "0001F"], obj=app_context)
    assert looked_up.exit_code == 1 and "0001F: CPT code, not loaded; add your licensed CPT files" in looked_up.output
    searched = runner.invoke(main, ["search", "99213"], obj=app_context)
    assert "note: CPT code, not loaded; add your licensed CPT files" in searched.output


def test_with_cpt_loaded_the_code_answers(cpt_settings, fake_encoder):
    build_index(cpt_settings, fake_encoder)
    context = AppContext(settings=cpt_settings, encoder_factory=lambda _settings: fake_encoder)
    with TestClient(create_app(context)) as client:
        record = client.get("/codes/99910").json()
        assert record["level"] == "cpt-1" and record["status"] == "active"
        assert "office visit for a new patient, brief" in record["synonyms"]
        body = client.get("/search", params={"q": "99910"}).json()
        assert body["hits"][0]["code"] == "99910" and body["needs_cpt"] is None
    looked_up = CliRunner().invoke(main, ["lookup", "0001U", "--json"], obj=context)
    assert json.loads(looked_up.output)["level"] == "cpt-pla"
