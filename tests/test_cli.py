"""The command line: every command, and errors as one line without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codefinder.api.cli import main
from tests.conftest import FIXTURE_DATA


@pytest.fixture
def run(app_context):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), obj=app_context, catch_exceptions=False)

    return invoke


@pytest.fixture
def built(run):
    result = run("build")
    assert result.exit_code == 0, result.output
    return result


def test_build_reports_counts_and_sources(built):
    assert "14 records (12 codes, 2 modifiers)" in built.output
    assert "HCPC2099_TEST_ANWEB.txt: hcpcs-fixed-width, 13 records, 2 lines skipped" in built.output
    assert "embedding: 14/14 (100%)" in built.output  # progress on stderr (mixed in by CliRunner)


def test_build_with_explicit_sources(run, tmp_path):
    result = run(
        "build", "--index", str(tmp_path / "cpt-index"), "--source", str(FIXTURE_DATA / "plain" / "made_up_cpt.csv")
    )
    assert result.exit_code == 0, result.output
    looked_up = run("lookup", "0002T", "--index", str(tmp_path / "cpt-index"), "--json")
    data = json.loads(looked_up.output)
    assert data["system"] == "CPT" and data["level"] == "cpt-3"


def test_search_table(built, run):
    result = run("search", "standard wheelchair")
    assert result.exit_code == 0
    first = result.output.splitlines()[0]
    assert "K0001" in first and "[K]" in first and "Standard wheelchair" in first


def test_search_json(built, run):
    result = run("search", "--json", "oxygen concentrator", "--limit", "2")
    data = json.loads(result.output)
    assert data["hits"][0]["code"] == "E1390"
    assert len(data["hits"]) == 2
    assert {"code", "system", "level", "section", "status", "score", "ranks", "matched_terms"} <= set(data["hits"][0])


def test_search_file_prints_one_json_line_per_query(built, run, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("cpap\n\nkeytruda\n   \n")
    result = run("search", "--file", str(queries), "--limit", "1")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["hits"][0]["code"] for line in lines] == ["E0601", "J9271"]


def test_a_command_leaves_the_callers_context_as_it_was(built, run, app_context, tmp_path):
    """A file command runs without the query-vector cache and --index points elsewhere, for that command only:
    whoever passed the context in (the tests' shared real index, an embedding program) keeps its settings."""
    before = app_context.settings
    queries = tmp_path / "queries.txt"
    queries.write_text("cpap\n")
    assert run("search", "--file", str(queries), "--limit", "1").exit_code == 0
    assert run("search", "cpap", "--index", str(before.index)).exit_code == 0
    assert app_context.settings is before
    assert app_context.settings.query_embedding_cache == before.query_embedding_cache > 0


def test_search_filters(built, run):
    result = run("search", "--json", "left", "--kind", "modifier")
    assert json.loads(result.output)["hits"][0]["code"] == "LT"
    terminated = run("search", "--json", "screening mammography", "--include-terminated")
    assert json.loads(terminated.output)["hits"][0]["code"] == "G0202"


def test_lookup(built, run):
    result = run("lookup", "e0601")
    assert "Continuous positive airway pressure (cpap) device" in result.output
    assert "status: active" in result.output


def test_eval_reports_metrics(built, run, tmp_path):
    labeled = tmp_path / "labeled.csv"
    labeled.write_text(
        "query,gold,kind\ncpap,E0601,abbreviation\nkeytruda,J9271,brand\nwalker,E0130|E0141,lay\n"
        "nothing relevant zzz,K0001,lay\n"
    )
    result = run("eval", str(labeled), "--json")
    data = json.loads(result.output)
    assert data["overall"]["count"] == 4
    assert data["overall"]["recall@1"] == 0.75
    assert set(data["by_letter"]) == {"E", "J", "K"}
    assert data["worst"][0]["query"] == "nothing relevant zzz"
    table = run("eval", str(labeled))
    assert "overall" in table.output and "worst misses" in table.output


def test_eval_accepts_description_code_columns(built, run, tmp_path):
    labeled = tmp_path / "cdm.csv"
    labeled.write_text("description,code,source\nCPAP DEVICE,E0601,x\nCPAP MASK,E0601,x\nSTD WHEELCHAIR,K0001,x\n")
    data = json.loads(run("eval", str(labeled), "--json", "--cap-per-code", "1").output)
    assert data["overall"]["count"] == 2


def one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_index_is_one_line_saying_how_to_build(run, tmp_path):
    line = one_line_error(run("search", "cpap", "--index", str(tmp_path / "none")))
    assert line.startswith("codefinder: error: no index at") and "codefinder build" in line


def test_unknown_code_is_one_line(built, run):
    assert "unknown code 'Z9999'" in one_line_error(run("lookup", "Z9999"))


def test_bad_source_is_one_line_naming_file_and_line(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,description\n99990,ok\nNOPE,bad\n")
    line = one_line_error(run("build", "--source", str(bad)))
    assert f"{bad}:3:" in line


def test_bad_filter_and_empty_query_are_one_line(built, run):
    assert "one letter" in one_line_error(run("search", "cpap", "--section", "EE"))
    assert "query is empty" in one_line_error(run("search", "   "))


def test_unexpected_errors_are_one_line_too(run, tmp_path):
    broken = tmp_path / "index"
    (broken / "builds" / "x").mkdir(parents=True)
    (broken / "current").symlink_to(Path("builds") / "x")
    (broken / "builds" / "x" / "manifest.json").write_text("{not json")
    assert "manifest.json unreadable" in one_line_error(run("search", "cpap", "--index", str(broken)))


def test_search_in_the_hospital_setting(built, run):
    result = run("search", "anchor screw", "--setting", "hospital", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["hits"][0]["code"] == "C1713"
    refused = run("search", "anchor screw", "--setting", "dme")
    assert refused.exit_code != 0 and "Traceback" not in refused.output and "--setting" in refused.output


def test_search_with_nothing_to_search_says_what_is_missing(run):
    result = run("search")
    assert result.exit_code == 2 and "what to search for is missing: give a QUERY" in result.output
    both = run("search", "walker", "--file", str(FIXTURE_DATA / "plain" / "made_up_cpt.csv"))
    assert both.exit_code == 2 and "not both" in both.output


def test_suggest_with_no_text_says_what_is_missing(run, tmp_path):
    result = run("suggest")
    assert result.exit_code == 2 and "the text is missing: give a TEXT" in result.output
    note = tmp_path / "note.txt"
    note.write_text("walker\n")
    both = run("suggest", "walker", "--file", str(note))
    assert both.exit_code == 2 and "not both" in both.output


def test_a_file_that_is_not_utf8_is_one_line(built, run, tmp_path):
    binary = tmp_path / "notes.bin"
    binary.write_bytes(b"walker\n\xff\xfe\x00junk\n")
    for command in ("search", "suggest"):
        result = run(command, "--file", str(binary))
        assert result.exit_code == 1 and "not UTF-8 text (byte 0xff" in one_line_error(result)


def test_search_table_shows_confidence_warnings_and_corrections(built, run):
    good = run("search", "standard wheelchair", "--limit", "1")
    assert good.exit_code == 0 and ("high (" in good.output or "possible (" in good.output), good.output
    code = run("search", "E0601", "--limit", "1")
    assert "code match" in code.output
    junk = run("search", "pizza delivery tonight zebra", "--limit", "2")
    assert junk.exit_code == 0
    assert "no good match" in junk.output or "no codes match" in junk.output, junk.output
    typo = run("search", "wheelchiar", "--limit", "1")
    assert "did you mean: wheelchair" in typo.output, typo.output


def test_search_file_applies_the_api_limits_per_line(built, run, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("walker\n\n" + "x" * 2001 + "\ncpap\n", encoding="utf-8")
    lines = [json.loads(line) for line in run("search", "--file", str(queries)).output.splitlines()]
    assert [line["line"] for line in lines] == [1, 3, 4]
    assert "error" not in lines[0] and "line 3 is longer than" in lines[1]["error"] and "hits" in lines[2]


def test_build_is_skipped_when_nothing_changed_and_forced_on_request(built, run, app_context, tmp_path):
    again = run("build")
    assert again.exit_code == 0 and "is up to date" in again.output and "not rebuilt (--force rebuilds)" in again.output
    forced = run("build", "--force")
    assert forced.exit_code == 0 and forced.output.count("built ") == 1
    # a changed input (here a knowledge table) rebuilds without --force
    import shutil

    tables = tmp_path / "knowledge"
    shutil.copytree(app_context.settings.knowledge_dir, tables)
    with (tables / "units.csv").open("a", encoding="utf-8") as handle:
        handle.write("madeupunit,mg,unit\n")
    app_context.settings = app_context.settings.model_copy(update={"knowledge_dir": tables})
    changed = run("build")
    assert changed.exit_code == 0 and "built " in changed.output and "up to date" not in changed.output


def test_suggest_table_and_json(built, run):
    table = run("suggest", "Keytruda 200 mg IV given. Standard wheelchair dispensed. Pt tolerated well.")
    assert table.exit_code == 0, table.output
    assert "J9271" in table.output and "× 200" in table.output and "items," in table.output
    data = json.loads(run("suggest", "Keytruda 200 mg IV given.", "--json").output)
    assert data["items"][0]["codes"][0]["code"] == "J9271" and data["items"][0]["start"] == 0


def test_suggest_file_gives_json_lines(built, run, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Keytruda 200 mg IV given.\n\nPt tolerated well.\n" + "x" * 20_001 + "\n", encoding="utf-8")
    result = run("suggest", "--file", str(notes))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["line"] for line in lines] == [1, 3, 4]
    assert lines[0]["items"][0]["codes"][0]["code"] == "J9271" and lines[1]["items"] == []
    assert "longer than 20,000 characters" in lines[2]["error"]
    whole = run("suggest", "--file", str(notes), "--whole")
    assert whole.exit_code == 0 and len(whole.output.splitlines()) == 1


def test_suggest_usage_errors_are_one_line(built, run):
    both = run("suggest", "walker", "--file", "-")
    assert both.exit_code != 0 and "not both" in both.output
    empty = run("suggest", "   ")
    assert empty.exit_code == 1 and "text is empty" in empty.output and "Traceback" not in empty.output
