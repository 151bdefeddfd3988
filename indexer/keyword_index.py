"""The keyword postings: per text field (long, short, synonyms, knowledge terms with the one-word spellings of
hyphenated descriptor words), every stemmed term's documents and frequencies, and every document's field
length, saved as plain arrays.

They are computed straight from the records with the whoosh analyzer the query side uses, exactly as a
whoosh ``TEXT`` field would index them; no whoosh index is written, because whoosh pickles its table of
contents (an index file must never be able to run code when loaded) and its writer cost most of a warm
rebuild. Field weights are applied at query time (``search.keyword``), so tuning needs no rebuild.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
from whoosh.util.numeric import byte_to_length, length_to_byte

from codefinder.indexer.records import CodeRecord
from codefinder.indexer.taxonomy import range_heading
from codefinder.indexer.text import analyzer, descriptors, hyphen_joins

TEXT_FIELDS = ("long", "short", "synonyms", "knowledge")
POSTINGS_FILE = "keyword_postings.npz"
Postings = dict[str, tuple[np.ndarray, np.ndarray]]
FieldArrays = tuple[Postings, np.ndarray]


def field_texts(record: CodeRecord) -> dict[str, str]:
    """The text each keyword field indexes for one record."""
    return {
        "long": record.long_description or "",
        "short": record.short_description or "",
        "synonyms": " ; ".join(record.synonyms),
        "knowledge": " ; ".join(
            [*record.knowledge_terms, *hyphen_joins(descriptors(record)), range_heading(record.code)]
        ).strip(" ;"),
    }


def term_counts(text: str) -> Counter[str]:
    """Each term's frequency in one field value, counted as whoosh's writer counts it: analyzed in index
    mode, stop words (removed by the analyzer) not counted."""
    if not text:
        return Counter()
    return Counter(token.text for token in analyzer()(text, mode="index") if not token.stopped)


def stored_length(tokens: int) -> float:
    """A field length as whoosh reported it and as the postings have always carried it: kept in one byte
    (log scale, rounded up above 10 tokens), and an empty field read back as None, i.e. NaN here (0 when
    the field is empty in every document: whoosh then has no length column and answers the default).
    ``search.keyword`` normalizes with these values, and its weights were tuned on them."""
    if tokens == 0:
        return math.nan
    return float(byte_to_length(length_to_byte(tokens)))


def compute_postings(records: list[CodeRecord]) -> dict[str, FieldArrays]:
    """Every text field's postings (doc id == record row, ids ascending) and field lengths."""
    ids_of: dict[str, dict[str, list[int]]] = {field: {} for field in TEXT_FIELDS}
    tfs_of: dict[str, dict[str, list[int]]] = {field: {} for field in TEXT_FIELDS}
    lengths = {field: np.empty(len(records), dtype=np.float32) for field in TEXT_FIELDS}
    seen: dict[str, Counter[str]] = {}  # many records share a value (empty fields, repeated names)
    for row, record in enumerate(records):
        for field, text in field_texts(record).items():
            counts = seen.get(text)
            if counts is None:
                counts = seen[text] = term_counts(text)
            for term, frequency in counts.items():
                ids_of[field].setdefault(term, []).append(row)
                tfs_of[field].setdefault(term, []).append(frequency)
            lengths[field][row] = stored_length(sum(counts.values()))
    fields: dict[str, FieldArrays] = {}
    for field in TEXT_FIELDS:
        if np.isnan(lengths[field]).all():
            lengths[field][:] = 0.0
        postings = {
            term: (np.array(ids, dtype=np.int32), np.array(tfs_of[field][term], dtype=np.float32))
            for term, ids in ids_of[field].items()
        }
        fields[field] = (postings, lengths[field])
    return fields


def save_postings(fields: dict[str, FieldArrays], target: Path) -> None:
    """Per field: sorted terms, offsets into one array of doc ids and one of frequencies, and the lengths
    (no object arrays, so the file loads with ``allow_pickle=False``)."""
    arrays: dict[str, np.ndarray] = {}
    for field in TEXT_FIELDS:
        postings, lengths = fields[field]
        terms = sorted(postings)
        sizes = np.array([postings[t][0].size for t in terms], dtype=np.int64)
        arrays[f"{field}.terms"] = np.array(terms, dtype=str)
        arrays[f"{field}.offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        arrays[f"{field}.ids"] = np.concatenate([np.zeros(0, np.int32), *(postings[t][0] for t in terms)])
        arrays[f"{field}.tfs"] = np.concatenate([np.zeros(0, np.float32), *(postings[t][1] for t in terms)])
        arrays[f"{field}.lengths"] = lengths
    with target.open("wb") as handle:
        np.savez(handle, **arrays)


def write_postings(records: list[CodeRecord], target: Path) -> None:
    save_postings(compute_postings(records), target)


def check_field_arrays(field: str, terms: np.ndarray, offsets: np.ndarray, ids: np.ndarray, documents: int) -> None:
    """ValueError unless the offsets cut ``ids`` into one slice per term and every id is a document,
    so a damaged file fails at load instead of misindexing at query time."""
    if offsets.shape != (terms.size + 1,) or offsets[0] != 0 or offsets[-1] != ids.size:
        raise ValueError(f"{field}: offsets do not cover the postings")
    if np.any(np.diff(offsets) < 0):
        raise ValueError(f"{field}: offsets go backwards")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= documents):
        raise ValueError(f"{field}: a posting names a document past the {documents} field lengths")


def load_postings(path: Path) -> dict[str, FieldArrays]:
    """The arrays ``save_postings`` wrote, per field (``allow_pickle=False``); ValueError if malformed."""
    fields: dict[str, FieldArrays] = {}
    with np.load(path, allow_pickle=False) as data:
        for field in TEXT_FIELDS:
            terms, offsets = data[f"{field}.terms"], data[f"{field}.offsets"]
            ids, tfs = data[f"{field}.ids"], data[f"{field}.tfs"]
            if tfs.shape != ids.shape:
                raise ValueError(f"{field}: {ids.size} doc ids but {tfs.size} frequencies")
            check_field_arrays(field, terms, offsets, ids, data[f"{field}.lengths"].shape[0])
            postings = {
                str(term): (ids[offsets[i] : offsets[i + 1]], tfs[offsets[i] : offsets[i + 1]])
                for i, term in enumerate(terms)
            }
            fields[field] = (postings, data[f"{field}.lengths"])
    return fields
