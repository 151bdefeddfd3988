"""Building an index: contents, manifest, atomic publish, the embedding cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer import layout
from indexer.build import build_index
from indexer.errors import IndexError_, SourceError
from indexer.manifest import file_digest
from search.loader import load_index
from tests.conftest import FIXTURE_DATA, FailingEncoder


def test_build_writes_every_part(built_settings):
    build_dir = layout.resolve_build_dir(built_settings.index)
    assert build_dir is not None and build_dir.parent.name == "builds"
    assert (built_settings.index / "current").is_symlink()
    for name in ("manifest.json", "records.jsonl", "vectors.npy", "vectors.faiss", "keyword"):
        assert (build_dir / name).exists()
    vectors = np.load(build_dir / "vectors.npy", allow_pickle=False)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    records = [json.loads(line) for line in (build_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == vectors.shape[0] == 13  # 12 from the release + C1713 from Addendum B


def test_manifest_lists_sources_counts_model_and_checksums(built_settings):
    build_dir = layout.resolve_build_dir(built_settings.index)
    manifest = json.loads((build_dir / "manifest.json").read_text())
    assert manifest["format"] == "codefinder-index" and manifest["format_version"] == 2
    assert [s["shape"] for s in manifest["sources"]] == ["hcpcs-fixed-width", "opps-addendum-b", "asp-crosswalk"]
    for source in manifest["sources"]:
        assert source["sha256"] == file_digest(Path(source["path"]))
    assert manifest["counts"]["records"] == 13
    assert manifest["counts"]["by_kind"] == {"code": 11, "modifier": 2}
    assert manifest["counts"]["terminated"] == 1
    assert manifest["model"] == {"name": "fake-hashing-encoder", "dimension": 64, "normalized": True, "max_tokens": 128}
    files = manifest["files"]
    assert "records.jsonl" in files and "vectors.npy" in files and any(f.startswith("keyword/") for f in files)
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
    assert load_index(built_settings.index).manifest["counts"]["records"] == 13


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


def test_nothing_on_disk_is_a_pickle(built_settings):
    for path in built_settings.index.rglob("*.npy"):
        np.load(path, allow_pickle=False)
    for path in built_settings.cache_dir.rglob("*.npz"):
        with np.load(path, allow_pickle=False) as archive:
            assert set(archive.files) == {"keys", "vectors"}
    for path in [*built_settings.index.rglob("*"), *built_settings.cache_dir.rglob("*")]:
        if path.is_file():
            assert path.read_bytes()[:2] != b"\x80\x04", path


def test_loader_rejects_a_tampered_file(built_settings):
    build_dir = layout.resolve_build_dir(built_settings.index)
    records = build_dir / "records.jsonl"
    data = bytearray(records.read_bytes())
    data[10] ^= 0x01
    records.write_bytes(bytes(data))
    with pytest.raises(IndexError_, match=r"records\.jsonl"):
        load_index(built_settings.index)


def test_loader_without_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexError_, match="codefinder build"):
        load_index(tmp_path / "nothing")
