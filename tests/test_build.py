"""Building an index: contents, manifest, atomic publish, the embedding cache, and the keyword postings
checked against a real whoosh index built from the same records."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.fields import ID, NUMERIC, TEXT, Schema

from codefinder.indexer import layout
from codefinder.indexer.build import build_index
from codefinder.indexer.errors import SourceError, UnusableIndexError
from codefinder.indexer.keyword_index import POSTINGS_FILE, TEXT_FIELDS, FieldArrays, compute_postings, load_postings
from codefinder.indexer.manifest import FORMAT_VERSION, file_digest
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.taxonomy import range_heading
from codefinder.indexer.text import analyzer, descriptors, hyphen_joins
from codefinder.search.loader import load_index
from tests.conftest import FIXTURE_DATA, FailingEncoder


def test_build_writes_every_part(built_settings):
    build_dir = layout.resolve_build_dir(built_settings.index)
    assert build_dir is not None and build_dir.parent.name == "builds"
    assert (built_settings.index / "current").is_symlink()
    for name in ("manifest.json", "records.jsonl", "vectors.npy", "vectors.faiss", "keyword_postings.npz"):
        assert (build_dir / name).exists()
    assert not (build_dir / "keyword").exists()  # no whoosh directory: its TOC is a pickle
    vectors = np.load(build_dir / "vectors.npy", allow_pickle=False)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    records = [json.loads(line) for line in (build_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == vectors.shape[0] == 14  # 13 from the release + C1713 from Addendum B


def test_manifest_lists_sources_counts_model_and_checksums(built_settings):
    build_dir = layout.resolve_build_dir(built_settings.index)
    manifest = json.loads((build_dir / "manifest.json").read_text())
    assert manifest["format"] == "codefinder-index" and manifest["format_version"] == FORMAT_VERSION == 5
    assert [s["shape"] for s in manifest["sources"]] == ["hcpcs-fixed-width", "opps-addendum-b", "asp-crosswalk"]
    for source in manifest["sources"]:
        matching = list(built_settings.data_dir.rglob(source["name"]))
        assert source["sha256"] == file_digest(matching[0]) and "path" not in source
    assert manifest["counts"]["records"] == 14
    assert manifest["counts"]["by_kind"] == {"code": 12, "modifier": 2}
    assert manifest["counts"]["terminated"] == 1
    assert manifest["model"] == {"name": "fake-hashing-encoder", "dimension": 64, "normalized": True, "max_tokens": 128}
    assert set(manifest["facets"]) == {"parts", "variants", "with_attributes"}
    assert isinstance(manifest["learned_shorthand"], int)  # how many abbreviations CMS's text taught
    files = manifest["files"]
    expected = {"records.jsonl", "vectors.npy", "vectors.faiss", "keyword_postings.npz", "knowledge.json"}
    assert expected | {"releases.json", "record_facets.json"} <= set(files)
    for relative, facts in files.items():
        assert file_digest(build_dir / relative) == facts["sha256"]
        assert (build_dir / relative).stat().st_size == facts["bytes"]
    assert manifest["built_at"] and manifest["build_id"]


def test_merged_record_has_fields_from_every_source(engine):
    record = engine.lookup("J9271")
    assert record.long_description == "Injection, pembrolizumab, 1 mg"
    assert record.opps_status_indicator == "K"
    assert record.synonyms == ["keytruda"]
    assert record.sources == ["HCPC2099_TEST_ANWEB.txt", "addendum_b_test.csv", "crosswalk_test.csv"]


def test_failed_build_keeps_the_last_good_index(built_settings):
    before = layout.resolve_build_dir(built_settings.index)
    with pytest.raises(RuntimeError, match="encoder exploded"):
        # a new descriptor forces an encoder call, which fails midway through the build
        extra = built_settings.index.parent / "extra.csv"
        extra.write_text("code,description\n99990,Fixture brand new pretend service\n")
        sources = [FIXTURE_DATA / s for s in built_settings.default_sources] + [extra]
        build_index(built_settings, FailingEncoder(), sources)
    assert layout.resolve_build_dir(built_settings.index) == before
    assert not list(built_settings.index.glob(".tmp-*"))
    assert load_index(built_settings.index).manifest["counts"]["records"] == 14


def test_bad_source_fails_before_touching_the_index(built_settings, fake_encoder, tmp_path):
    before = layout.resolve_build_dir(built_settings.index)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,description\nNOPE!,x\n")
    with pytest.raises(SourceError, match=r"bad\.csv:2"):
        build_index(built_settings, fake_encoder, [bad])
    assert layout.resolve_build_dir(built_settings.index) == before


def test_missing_default_source_says_where_to_look(settings, fake_encoder, tmp_path):
    empty = settings.model_copy(update={"data_dir": tmp_path})
    with pytest.raises(SourceError, match="no such file"):
        build_index(empty, fake_encoder)


def test_embedding_cache_reembeds_only_changed_descriptors(built_settings, fake_encoder, tmp_path):
    fake_encoder.texts_encoded = 0
    again = build_index(built_settings, fake_encoder)
    assert again.embedded == 0 and fake_encoder.texts_encoded == 0
    changed_dir = tmp_path / "changed"
    shutil.copytree(FIXTURE_DATA, changed_dir)
    release = changed_dir / "hcpcs" / "HCPC2099_TEST_ANWEB.txt"
    release.write_bytes(release.read_bytes().replace(b"Standard wheelchair      ", b"Standard wheelchair, new "))
    third = build_index(built_settings.model_copy(update={"data_dir": changed_dir}), fake_encoder)
    assert third.embedded == 1


def test_old_builds_are_pruned(built_settings, fake_encoder):
    for _ in range(3):
        build_index(built_settings, fake_encoder)
    assert len(list((built_settings.index / "builds").iterdir())) == built_settings.keep_builds


def test_loader_rejects_a_tampered_file(built_settings):
    build_dir = layout.resolve_build_dir(built_settings.index)
    records = build_dir / "records.jsonl"
    data = bytearray(records.read_bytes())
    data[10] ^= 0x01
    records.write_bytes(bytes(data))
    with pytest.raises(UnusableIndexError, match=r"records\.jsonl"):
        load_index(built_settings.index)


def test_loader_without_index_says_how_to_build(tmp_path):
    with pytest.raises(UnusableIndexError, match="codefinder build"):
        load_index(tmp_path / "nothing")


# --- keyword postings: computed directly, checked against whoosh itself -----------------------------


def whoosh_postings(records: list[CodeRecord], directory: Path) -> dict[str, FieldArrays]:
    """The reference: a whoosh index of the records (the schema the build used to write), read back as
    per-field postings and ``doc_field_length`` values, exactly as the build used to export them."""
    stem = analyzer()
    schema = Schema(
        row=NUMERIC(stored=True),
        code=ID(stored=True),
        long=TEXT(analyzer=stem),
        short=TEXT(analyzer=stem),
        synonyms=TEXT(analyzer=stem),
        knowledge=TEXT(analyzer=stem),
    )
    directory.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(directory), schema)
    writer = ix.writer()
    for row, record in enumerate(records):
        writer.add_document(
            row=row,
            code=record.code,
            long=record.long_description or "",
            short=record.short_description or "",
            synonyms=" ; ".join(record.synonyms),
            # the knowledge terms, the one-word spellings of hyphenated descriptor words, the range heading
            knowledge=" ; ".join(
                [*record.knowledge_terms, *hyphen_joins(descriptors(record)), range_heading(record.code)]
            ).strip(" ;"),
        )
    writer.commit(optimize=True)
    fields: dict[str, FieldArrays] = {}
    with ix.reader() as reader:
        for field in TEXT_FIELDS:
            postings = {}
            if field in reader.indexed_field_names():
                for term in reader.lexicon(field):
                    items = list(reader.postings(field, term).items_as("frequency"))
                    postings[term.decode("utf-8")] = (
                        np.array([doc for doc, _ in items], dtype=np.int32),
                        np.array([freq for _, freq in items], dtype=np.float32),
                    )
            lengths = [reader.doc_field_length(doc, field, 0) for doc in range(len(records))]
            fields[field] = (postings, np.array(lengths, dtype=np.float32))
    ix.close()
    return fields


def assert_same_postings(actual: dict[str, FieldArrays], expected: dict[str, FieldArrays]) -> None:
    for field in TEXT_FIELDS:
        (postings, lengths), (want_postings, want_lengths) = actual[field], expected[field]
        assert sorted(postings) == sorted(want_postings), field
        for term, (want_ids, want_tfs) in want_postings.items():
            ids, tfs = postings[term]
            assert ids.dtype == np.int32 and tfs.dtype == np.float32
            np.testing.assert_array_equal(ids, want_ids, err_msg=f"{field}:{term}")
            np.testing.assert_array_equal(tfs, want_tfs, err_msg=f"{field}:{term}")
        assert lengths.dtype == np.float32
        np.testing.assert_array_equal(lengths, want_lengths, err_msg=f"{field} lengths")  # NaN == NaN here


def made_up(
    code: str, long: str | None, short: str | None = None, synonyms: Iterable[str] = (), knowledge: Iterable[str] = ()
) -> CodeRecord:
    return CodeRecord.new(
        code, long_description=long, short_description=short, synonyms=list(synonyms), knowledge_terms=list(knowledge)
    )


EDGE_RECORDS = [
    made_up("A0001", "Oxygen concentrator, capable of delivering 85 percent or greater at the flow rate", "O2"),
    made_up("J0002", "Injection, sodium chloride 0.9%, 1,000 ML", "NaCl 1,000 ML", synonyms=["saline", "saline"]),
    made_up("E0003", "Walker, walker walker; WALKERS walked — folding (walker)", None, knowledge=["walker", "walker"]),
    made_up("E0004", None, "", synonyms=["the", "of and a"]),  # text whose every word is a stop word
    made_up("E0005", "", None),  # every field empty
    made_up("J0006", " ".join(f"word{i % 17} x{i}" for i in range(40)), "a b c d e f g h i j k l"),  # >10 tokens
    made_up("L0007", "Näsal cañula — 2‑liter, ½ inch; 3/4\" & 10mg/mL (e.g. o'clock) A-B-C", "Cañula"),
    made_up("G0008", "I/O 100% ... 1.5 1,5 1 000 #2 No. 2", "-", synonyms=["keytruda"], knowledge=["pembrolizumab"]),
]


def test_postings_equal_whoosh_on_edge_cases(tmp_path):
    """Stop words, punctuation, numbers like "1,000 ML", repeated and stemmed words, empty and all-stop-word
    fields, lengths past whoosh's exact byte range, non-ASCII terms: the same postings and lengths."""
    assert_same_postings(compute_postings(EDGE_RECORDS), whoosh_postings(EDGE_RECORDS, tmp_path / "whoosh"))


def test_built_postings_equal_whoosh_on_the_fixture_index(built_settings, tmp_path):
    build_dir = layout.resolve_build_dir(built_settings.index)
    records = [CodeRecord.from_dict(json.loads(line)) for line in (build_dir / "records.jsonl").open()]
    assert any(r.synonyms for r in records)
    assert_same_postings(load_postings(build_dir / POSTINGS_FILE), whoosh_postings(records, tmp_path / "whoosh"))


WORDS = st.sampled_from(
    ["the", "of", "and", "a", "walker", "walkers", "walking", "1,000", "ml", "0.9%", "cpap", "mg", "x", "(", ",", "-"]
)
FIELD_TEXT = st.lists(WORDS, max_size=14).map(" ".join) | st.text(max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(FIELD_TEXT, FIELD_TEXT, st.lists(FIELD_TEXT, max_size=3)), min_size=1, max_size=6))
def test_postings_equal_whoosh_on_generated_text(tmp_path_factory, docs):
    records = [
        made_up(f"A{i:04d}", long, short, synonyms=synonyms, knowledge=synonyms[:1])
        for i, (long, short, synonyms) in enumerate(docs)
    ]
    reference = whoosh_postings(records, tmp_path_factory.mktemp("whoosh"))
    assert_same_postings(compute_postings(records), reference)
