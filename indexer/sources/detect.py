"""Pick the reader for a file from its extension and contents; unpack zips CMS ships."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from codefinder.indexer.errors import SourceError
from codefinder.indexer.sources.ama_cpt import sniff_ama
from codefinder.indexer.sources.base import SourceResult
from codefinder.indexer.sources.delimited import decode, read_addendum_b, read_crosswalk, read_plain, sniff_delimited
from codefinder.indexer.sources.fee_schedule import looks_like_rvu_fixed, read_rvu_csv, read_rvu_fixed
from codefinder.indexer.sources.fixed_width import looks_like_fixed_width, parse_fixed_width_text
from codefinder.indexer.sources.pla_xml import looks_like_pla, read_pla_xml
from codefinder.indexer.sources.workbook import read_workbook

TEXT_SUFFIXES = {".txt", ".csv", ".tsv", ".tab", ".prn", ".xml"}


def read_source(path: Path) -> SourceResult:
    """Read one source file of any supported shape; SourceError names the file (and line) on failure."""
    if not path.is_file():
        raise SourceError(str(path), "no such file")
    data = path.read_bytes()
    return _read_bytes(data, path.name, str(path))


def _read_bytes(data: bytes, name: str, display: str) -> SourceResult:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".zip" or (data[:4] == b"PK\x03\x04" and suffix != ".xlsx"):
        return _read_zip(data, display)
    if suffix in (".xlsx", ".xlsm"):
        return read_workbook(data, display)
    if suffix in TEXT_SUFFIXES or not suffix:
        return _read_text(data, display)
    raise SourceError(display, f"unsupported file type {suffix!r} (expected .txt, .csv, .tsv, .xml, .xlsx or .zip)")


def _read_text(data: bytes, display: str) -> SourceResult:
    if not data.strip():
        raise SourceError(display, "the file is empty")
    if b"\x00" in data[:4096]:
        raise SourceError(display, "binary data, not a text file")
    head = data[:64_000].decode("cp1252", errors="replace")
    if looks_like_pla(head):
        return read_pla_xml(data, display)
    if looks_like_fixed_width(head.splitlines()):
        return parse_fixed_width_text(data.decode("cp1252", errors="replace"), display)
    if looks_like_rvu_fixed(head):
        return read_rvu_fixed(data.decode("cp1252", errors="replace"), display)
    text = decode(data)
    ama_reader = sniff_ama(text, PurePosixPath(display).name)
    if ama_reader is not None:
        return ama_reader(text, display)
    shape = sniff_delimited(text)
    if shape == "addendum-b":
        return read_addendum_b(text, display)
    if shape == "asp-crosswalk":
        return read_crosswalk(text, display)
    if shape == "pfs-rvu":
        return read_rvu_csv(text, display)
    return read_plain(text, display)


def _member_rank(name: str) -> int | None:
    """How good a zip member is as the code list: lower is better; None to ignore it."""
    lower = PurePosixPath(name).name.lower()
    if lower.startswith(("~", ".")) or "__macosx" in name.lower():
        return None
    suffix = PurePosixPath(lower).suffix
    if "anweb" in lower:
        return 0 if suffix == ".txt" else 1 if suffix == ".xlsx" else None
    if suffix in (".txt", ".xlsx", ".csv") and not any(word in lower for word in ("readme", "note", "change", "trans")):
        return 2
    return None


def _read_zip(data: bytes, display: str) -> SourceResult:
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise SourceError(display, f"not a readable zip archive ({error})") from error
    with archive:
        ranked = sorted(
            (rank, info.filename) for info in archive.infolist() if (rank := _member_rank(info.filename)) is not None
        )
        if not ranked:
            names = ", ".join(archive.namelist()[:10])
            raise SourceError(display, f"no HCPCS code file inside the zip (members: {names})")
        best_rank = ranked[0][0]
        best = [name for rank, name in ranked if rank == best_rank]
        if len(best) > 1 and best_rank == 2:
            raise SourceError(display, f"several candidate code files inside the zip: {', '.join(best)}")
        member = best[0]
        return _read_bytes(archive.read(member), member, f"{display}:{member}")
