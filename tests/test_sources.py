"""Readers for each shape CMS ships, on tiny fixture files written for these tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from codefinder.indexer.errors import SourceError
from codefinder.indexer.sources import read_source
from tests.conftest import FIXTURE_DATA

FIXED = FIXTURE_DATA / "hcpcs" / "HCPC2099_TEST_ANWEB.txt"


def by_code(result):
    return {record.code: record for record in result.records}


def test_fixed_width_reads_records_and_skips_disclaimers():
    result = read_source(FIXED)
    assert result.shape == "hcpcs-fixed-width"
    assert result.skipped == 2  # the two disclaimer lines with text
    records = by_code(result)
    assert sorted(records) == sorted(
        ["A1", "LT", "A0080", "A4216", "E0601", "E0130", "E0141", "E1390", "G0202", "J1885", "J3490", "J9271", "K0001"]
    )
    cpap = records["E0601"]
    assert cpap.long_description == "Continuous positive airway pressure (cpap) device"
    assert cpap.short_description == "Cont airway pressure device"
    assert (cpap.betos, cpap.coverage, cpap.type_of_service, cpap.action_code) == ("D1E", "D", "R", "N")
    assert (cpap.add_date, cpap.effective_date, cpap.termination_date) == ("1988-01-01", "2014-01-01", None)


def test_fixed_width_joins_continuation_records():
    records = by_code(read_source(FIXED))
    assert records["A0080"].long_description == (
        "Non-emergency transportation, per mile - vehicle provided by volunteer "
        "(individual or organization), with no vested interest"
    )
    assert records["E1390"].long_description.endswith(
        "85 percent or greater oxygen concentration at the prescribed flow rate"
    )
    assert records["LT"].long_description.endswith("for example, the left knee)")


def test_fixed_width_modifiers_and_terminated_codes():
    records = by_code(read_source(FIXED))
    assert records["LT"].kind == "modifier" and records["LT"].level == "hcpcs-modifier"
    assert records["A1"].kind == "modifier"
    mammo = records["G0202"]
    assert mammo.termination_date == "2014-12-31" and mammo.action_code == "D"
    import datetime as dt

    assert mammo.status_on(dt.date(2020, 1, 1)) == "terminated"
    assert mammo.status_on(dt.date(2014, 12, 31)) == "active"


def test_fixed_width_malformed_record_names_file_and_line(tmp_path: Path):
    lines = FIXED.read_bytes().decode("cp1252").split("\r\n")
    lines.insert(8, "this line is not a record")
    bad = tmp_path / "HCPC_BAD_ANWEB.txt"
    bad.write_bytes("\r\n".join(lines).encode("cp1252"))
    with pytest.raises(SourceError) as caught:
        read_source(bad)
    assert f"{bad}:9:" in str(caught.value)


def test_fixed_width_orphan_continuation_is_an_error(tmp_path: Path):
    lines = FIXED.read_bytes().decode("cp1252").split("\r\n")
    orphan = next(line for line in lines if line.startswith("A0080") and line[10] == "4")
    bad = tmp_path / "HCPC_ORPHAN_ANWEB.txt"
    bad.write_bytes("\r\n".join([*lines[:5], orphan, *lines[5:]]).encode("cp1252"))
    with pytest.raises(SourceError, match="continuation record for A0080"):
        read_source(bad)


def test_fixed_width_bad_date_is_an_error(tmp_path: Path):
    lines = FIXED.read_bytes().decode("cp1252").split("\r\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("K0001"))
    lines[index] = lines[index][:268] + "2099XX01" + lines[index][276:]
    bad = tmp_path / "HCPC_DATE_ANWEB.txt"
    bad.write_bytes("\r\n".join(lines).encode("cp1252"))
    with pytest.raises(SourceError, match=r"bad date"):
        read_source(bad)


def test_zip_holding_the_fixed_width_file(tmp_path: Path):
    archive = tmp_path / "2099-Alpha-Numeric-HCPCS-File.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(FIXED, "HCPC2099_CONTR_ANWEB.txt")
        zf.writestr("HCPC2099_README.txt", "read me")
        zf.writestr("proc_notes_2099.txt", "notes")
    result = read_source(archive)
    assert result.shape == "hcpcs-fixed-width"
    assert len(result.records) == 13
    assert result.path.endswith(":HCPC2099_CONTR_ANWEB.txt")


def write_2020_style_workbook(path: Path) -> None:
    """Note rows, then a 48-column-like header, one record split over a RECID 4 continuation row."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Note regarding coverage and payment indicators"])
    sheet.append([])
    sheet.append(["If specific Medicare coverage or payment indicators have not been established..."])
    sheet.append([])
    sheet.append(
        [
            "HCPC",
            "SEQNUM",
            "RECID",
            "LONG DESCRIPTION",
            "SHORT DESCRIPTION",
            "COV",
            "BETOS",
            "ADD DT",
            "ACT EFF DT",
            "TERM DT",
            "ACTION CD",
        ]
    )
    sheet.append(["   RT", "0010", "7", "Right side", "Right side", "C", None, "19920101", "19920101", None, "N"])
    sheet.append(
        [
            "E0601",
            "0010",
            "3",
            "Continuous positive airway pressure (cpap)",
            "Cont airway pressure device",
            "D",
            "D1E",
            "19880101",
            "20140101",
            None,
            "N",
        ]
    )
    sheet.append(["E0601", "0020", "4", "device", None, None, None, None, None, None, None])
    sheet.append(
        [
            "G0202",
            "0010",
            "3",
            "Screening mammography, digital",
            "Scr mammo bi incl cad",
            "C",
            "I2B",
            20020101,
            20150101,
            20141231,
            "D",
        ]
    )
    book.save(path)


def test_workbook_2020_layout_with_note_rows(tmp_path: Path):
    path = tmp_path / "HCPC2099_OCT_ANWEB.xlsx"
    write_2020_style_workbook(path)
    result = read_source(path)
    records = by_code(result)
    assert set(records) == {"RT", "E0601", "G0202"}
    assert records["E0601"].long_description == "Continuous positive airway pressure (cpap) device"
    assert records["E0601"].betos == "D1E"
    assert records["G0202"].termination_date == "2014-12-31"
    assert records["RT"].kind == "modifier"


def test_workbook_2025_layout_right_aligned_codes(tmp_path: Path):
    path = tmp_path / "HCPC2099_JUL_ANWEB.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["HCPCS", "LONG_DESCRIPTION"])
    book.active.append(["   A1", "Dressing for one wound"])
    book.active.append(["K0001", "Standard wheelchair"])
    book.save(path)
    records = by_code(read_source(path))
    assert records["A1"].kind == "modifier" and records["K0001"].kind == "code"
    assert records["K0001"].section == "K"


def test_workbook_with_bad_code_names_row(tmp_path: Path):
    path = tmp_path / "bad.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["HCPCS", "LONG_DESCRIPTION"])
    book.active.append(["K0001", "Standard wheelchair"])
    book.active.append(["NOT A CODE", "Something"])
    book.save(path)
    with pytest.raises(SourceError, match=r"bad.xlsx:3: 'NOT A CODE' is not"):
        read_source(path)


def test_zip_holding_a_workbook(tmp_path: Path):
    workbook = tmp_path / "HCPC2099_OCT_ANWEB.xlsx"
    write_2020_style_workbook(workbook)
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(workbook, "HCPC2099_OCT_ANWEB.xlsx")
    assert len(read_source(archive).records) == 3


def test_noc_workbook_flags_codes(tmp_path: Path):
    path = tmp_path / "NOC codes.xlsx"
    book = openpyxl.Workbook()
    book.active.append([None, "NOC CODES - HCPCS 2099"])
    book.active.append([])
    book.active.append(["HCPCS", "LONG DESCRIPTION", "ADD DATE", "TERM DATE"])
    book.active.append(["A0999", "Unlisted ambulance service", 19870101, None])
    book.save(path)
    result = read_source(path)
    assert result.shape == "hcpcs-noc-workbook"
    assert result.records[0].noc is True


def test_addendum_b_short_descriptors_and_status():
    records = by_code(read_source(FIXTURE_DATA / "hcpcs" / "addendum_b_test.csv"))
    assert records["E0601"].short_description == "Cont airway pressure device"
    assert records["E0601"].opps_status_indicator == "Y"
    assert records["C1713"].short_description == "Anchor/screw bn/bn;tis/bn"
    assert records["C1713"].long_description is None


def test_crosswalk_preamble_and_synonyms():
    result = read_source(FIXTURE_DATA / "drugs" / "crosswalk_test.csv")
    assert result.shape == "asp-crosswalk"
    records = by_code(result)
    assert records["J9271"].synonyms == ["keytruda"]  # deduplicated, case-normalized
    assert records["J1885"].synonyms == ["ketorolac tromethamine", "toradol"]
    assert records["J1885"].drug_dosage == "15 MG"
    assert result.skipped == 1  # the footnote row


def test_plain_csv_cpt_taxonomy():
    records = by_code(read_source(FIXTURE_DATA / "plain" / "made_up_cpt.csv"))
    assert {code: (r.system, r.level) for code, r in records.items()} == {
        "99990": ("CPT", "cpt-1"),
        "0001F": ("CPT", "cpt-2"),
        "0002T": ("CPT", "cpt-3"),
        "0003U": ("CPT", "cpt-pla"),
    }
    assert records["0002T"].short_description == "Fixture glow wand"


def test_plain_tsv():
    records = by_code(read_source(FIXTURE_DATA / "plain" / "made_up_cpt.tsv"))
    assert records["99991"].long_description == "Fixture tab separated pretend service"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("name,value\nfoo,bar\n", "no header with a code column"),
        ("code,description\n99990,First\n99990,Again\n", ":3: code 99990 appears twice"),
        ("code,description\nABCDEFG,Nope\n", ":2: 'ABCDEFG' is not"),
        ("code,description\n99990\n", ":2: expected at least 2 columns"),
    ],
)
def test_plain_csv_errors_name_file_and_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "codes.csv"
    path.write_text(content)
    with pytest.raises(SourceError, match=message):
        read_source(path)


def test_unsupported_and_missing_files(tmp_path: Path):
    with pytest.raises(SourceError, match="no such file"):
        read_source(tmp_path / "nope.csv")
    pdf = tmp_path / "codes.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    with pytest.raises(SourceError, match="unsupported file type"):
        read_source(pdf)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not really a workbook")
    with pytest.raises(SourceError, match="not a readable xlsx"):
        read_source(broken)
