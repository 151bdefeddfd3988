"""Writing the whoosh index: long, short, synonym and knowledge-term fields, stemmed; the code as an ID.

Field weights are applied at query time (``search.keyword``), so tuning needs no rebuild.
Documents are added in record order in one commit, so whoosh docnum == record row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh.fields import ID, NUMERIC, TEXT, Schema

from indexer.records import CodeRecord
from indexer.text import analyzer

TEXT_FIELDS = ("long", "short", "synonyms", "knowledge")


def schema() -> Schema:
    stem = analyzer()
    return Schema(
        row=NUMERIC(stored=True),
        code=ID(stored=True),
        long=TEXT(analyzer=stem),
        short=TEXT(analyzer=stem),
        synonyms=TEXT(analyzer=stem),
        knowledge=TEXT(analyzer=stem),
    )


def write_keyword_index(directory: Path, records: list[CodeRecord]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(directory), schema())
    writer = ix.writer(limitmb=256)
    for row, record in enumerate(records):
        writer.add_document(
            row=row,
            code=record.code,
            long=record.long_description or "",
            short=record.short_description or "",
            synonyms=" ; ".join(record.synonyms),
            knowledge=" ; ".join(record.knowledge_terms),
        )
    writer.commit(optimize=True)
    ix.close()


POSTINGS_FILE = "keyword_postings.npz"
FieldArrays = tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]


def read_field_postings(reader, field: str, doc_count: int) -> FieldArrays:  # type: ignore[no-untyped-def]
    """One field's postings from a whoosh reader: term -> (doc ids, frequencies), and field lengths."""
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if field in reader.indexed_field_names():
        for term in reader.lexicon(field):
            items = list(reader.postings(field, term).items_as("frequency"))
            ids = np.fromiter((doc for doc, _ in items), dtype=np.int32, count=len(items))
            tfs = np.fromiter((freq for _, freq in items), dtype=np.float32, count=len(items))
            postings[term.decode("utf-8")] = (ids, tfs)
    lengths = np.array([reader.doc_field_length(doc, field, 0) for doc in range(doc_count)], dtype=np.float32)
    return postings, lengths


def export_postings(whoosh_dir: Path, target: Path, doc_count: int) -> None:
    """Save the whoosh index's postings as plain arrays beside it, so a search process loads them in
    milliseconds instead of walking whoosh's lexicon (the whoosh index stays the source they come from)."""
    ix = whoosh_index.open_dir(str(whoosh_dir))
    arrays: dict[str, np.ndarray] = {}
    with ix.reader() as reader:
        for field in TEXT_FIELDS:
            postings, lengths = read_field_postings(reader, field, doc_count)
            terms = sorted(postings)
            sizes = np.array([postings[t][0].size for t in terms], dtype=np.int64)
            arrays[f"{field}.terms"] = np.array(terms, dtype=str)
            arrays[f"{field}.offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            arrays[f"{field}.ids"] = np.concatenate([np.zeros(0, np.int32), *(postings[t][0] for t in terms)])
            arrays[f"{field}.tfs"] = np.concatenate([np.zeros(0, np.float32), *(postings[t][1] for t in terms)])
            arrays[f"{field}.lengths"] = lengths
    ix.close()
    with target.open("wb") as handle:
        np.savez(handle, **arrays)


def load_postings(path: Path) -> dict[str, FieldArrays]:
    """The arrays ``export_postings`` wrote, per field (``allow_pickle=False``)."""
    fields: dict[str, FieldArrays] = {}
    with np.load(path, allow_pickle=False) as data:
        for field in TEXT_FIELDS:
            terms, offsets = data[f"{field}.terms"], data[f"{field}.offsets"]
            ids, tfs = data[f"{field}.ids"], data[f"{field}.tfs"]
            postings = {
                str(term): (ids[offsets[i] : offsets[i + 1]], tfs[offsets[i] : offsets[i + 1]])
                for i, term in enumerate(terms)
            }
            fields[field] = (postings, data[f"{field}.lengths"])
    return fields
