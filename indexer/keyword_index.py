"""Writing the whoosh index: long, short, synonym and knowledge-term fields, stemmed; the code as an ID.

Field weights are applied at query time (``search.keyword``), so tuning needs no rebuild.
Documents are added in record order in one commit, so whoosh docnum == record row.
"""

from __future__ import annotations

from pathlib import Path

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
