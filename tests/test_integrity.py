"""What the loader refuses, and what survives a failed publish.

Each damage case works on a copy of a fixture-built index and asserts the typed ``IndexIntegrityError``
with the file and check it names; the "attacker" cases also rewrite the manifest's digests, so only the
count, dimension or id-map checks stand between them and a served index. Then: nothing on disk or in
the code can unpickle, and a publish that fails between any two of its steps leaves a servable index.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import zipfile
from pathlib import Path

import faiss
import numpy as np
import pytest

from codefinder.indexer import layout
from codefinder.indexer.build import build_index
from codefinder.indexer.errors import IndexIntegrityError
from codefinder.indexer.keyword_index import POSTINGS_FILE, compute_postings, save_postings
from codefinder.indexer.manifest import file_digest
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.settings import PROJECT_ROOT, Settings
from codefinder.search.loader import load_index
from tests.conftest import FIXTURE_DATA, FakeEncoder

FIXTURE_RECORDS = 14


class RotatedEncoder(FakeEncoder):
    """Same name, dimension and records as the fake encoder, other vectors: another build's vectors.npy
    then has the same size and shape but not the same bytes."""

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return np.roll(super().encode(texts, batch_size), 1, axis=1)


class NarrowEncoder(FakeEncoder):
    """A 32-d model: its vectors do not fit a 64-d index."""

    name = "fake-narrow-encoder"
    dimension = 32


@pytest.fixture
def index_copy(built_settings: Settings, tmp_path: Path) -> Path:
    """A private copy of the built index (a build directory the loader accepts as is)."""
    target = tmp_path / "copy"
    shutil.copytree(layout.resolve_build_dir(built_settings.index), target)
    return target


def other_build(settings: Settings, root: Path, encoder: FakeEncoder, extra_row: str | None = None) -> Path:
    """Another build of the fixture sources (plus one CSV row, if given) into its own root and cache."""
    sources = [FIXTURE_DATA / s for s in settings.default_sources]
    if extra_row is not None:
        extra = root.parent / f"{root.name}-extra.csv"
        extra.write_text(f"code,description\n{extra_row}\n", encoding="utf-8")
        sources.append(extra)
    other = settings.model_copy(update={"index": root, "cache_dir": root.parent / f"{root.name}-cache"})
    return build_index(other, encoder, sources).build_dir


def load_failure(build_dir: Path, expected_dimension: int | None = None) -> IndexIntegrityError:
    with pytest.raises(IndexIntegrityError) as caught:
        load_index(build_dir, expected_dimension=expected_dimension)
    message = str(caught.value)
    assert "\n" not in message and caught.value.file in message and caught.value.check in message
    return caught.value


def assert_refused(build_dir: Path, file: str, check: str, expected_dimension: int | None = None) -> None:
    error = load_failure(build_dir, expected_dimension)
    assert (error.file, error.check) == (file, check), str(error)


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def rewrite_manifest(build_dir: Path, **changes: object) -> None:
    manifest = json.loads((build_dir / "manifest.json").read_text())
    manifest.update(changes)
    (build_dir / "manifest.json").write_text(json.dumps(manifest))


def forge_digests(build_dir: Path, *relatives: str) -> None:
    """What an attacker who can write the manifest does: list the swapped files' true sha256 and size."""
    manifest = json.loads((build_dir / "manifest.json").read_text())
    for relative in relatives:
        path = build_dir / relative
        manifest["files"][relative] = {"sha256": file_digest(path), "bytes": path.stat().st_size}
    (build_dir / "manifest.json").write_text(json.dumps(manifest))


def test_the_untouched_copy_loads(index_copy):
    assert len(load_index(index_copy).records) == FIXTURE_RECORDS


# --- damage the manifest catches by itself --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "records.jsonl",
        "vectors.npy",
        "vectors.faiss",
        POSTINGS_FILE,
        "knowledge.json",
        "releases.json",
        "record_facets.json",
    ],
)
def test_one_flipped_byte_fails_the_sha256_check(index_copy, name):
    flip_one_byte(index_copy / name)
    assert_refused(index_copy, name, "sha256")


@pytest.mark.parametrize("name", ["records.jsonl", "vectors.npy", POSTINGS_FILE])
def test_a_truncated_file_fails_the_size_check(index_copy, name):
    path = index_copy / name
    path.write_bytes(path.read_bytes()[:-100])
    assert_refused(index_copy, name, "size")


def test_a_bumped_format_version_asks_for_a_rebuild(index_copy):
    rewrite_manifest(index_copy, format_version=2)
    assert_refused(index_copy, "manifest.json", "format_version")
    assert "rebuild" in str(load_failure(index_copy))


@pytest.mark.parametrize(
    "name", ["vectors.faiss", POSTINGS_FILE, "knowledge.json", "releases.json", "record_facets.json"]
)
def test_a_deleted_file_fails_the_missing_check(index_copy, name):
    (index_copy / name).unlink()
    assert_refused(index_copy, name, "missing")


def test_a_required_file_dropped_from_disk_and_manifest_is_missing(index_copy):
    (index_copy / "vectors.npy").unlink()
    manifest = json.loads((index_copy / "manifest.json").read_text())
    del manifest["files"]["vectors.npy"]
    (index_copy / "manifest.json").write_text(json.dumps(manifest))
    assert_refused(index_copy, "vectors.npy", "missing")


def test_a_file_the_manifest_does_not_list_is_refused(index_copy):
    (index_copy / "extra.pkl").write_bytes(b"\x80\x04N.")
    assert_refused(index_copy, "extra.pkl", "unlisted")


def test_a_manifest_naming_a_file_outside_the_build_is_refused(index_copy):
    manifest = json.loads((index_copy / "manifest.json").read_text())
    manifest["files"]["../outside.txt"] = {"sha256": "0" * 64, "bytes": 1}
    (index_copy / "manifest.json").write_text(json.dumps(manifest))
    assert_refused(index_copy, "../outside.txt", "path")


def test_an_unreadable_manifest_is_refused(index_copy):
    (index_copy / "manifest.json").write_text("{not json")
    assert_refused(index_copy, "manifest.json", "unreadable")


def test_another_builds_vectors_fail_the_sha256_check(built_settings, index_copy, tmp_path):
    other = other_build(built_settings, tmp_path / "other", RotatedEncoder())
    assert (other / "vectors.npy").stat().st_size == (index_copy / "vectors.npy").stat().st_size
    shutil.copyfile(other / "vectors.npy", index_copy / "vectors.npy")
    assert_refused(index_copy, "vectors.npy", "sha256")


# --- damage hidden from the digests: the cross-file checks must catch it ----------------------------


def test_forged_vectors_with_one_row_too_many_fail_the_count_check(built_settings, index_copy, tmp_path):
    other = other_build(built_settings, tmp_path / "other", FakeEncoder(), extra_row="99990,Fixture extra service")
    shutil.copyfile(other / "vectors.npy", index_copy / "vectors.npy")
    forge_digests(index_copy, "vectors.npy")
    assert_refused(index_copy, "vectors.npy", "count")


def test_forged_vectors_of_another_dimension_fail_the_dimension_check(built_settings, index_copy, tmp_path):
    other = other_build(built_settings, tmp_path / "other", NarrowEncoder())
    shutil.copyfile(other / "vectors.npy", index_copy / "vectors.npy")
    forge_digests(index_copy, "vectors.npy")
    assert_refused(index_copy, "vectors.npy", "dimension")


def test_a_forged_faiss_index_with_fewer_vectors_fails_the_count_check(index_copy):
    vectors = np.load(index_copy / "vectors.npy", allow_pickle=False)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors[:-1])
    faiss.write_index(flat, str(index_copy / "vectors.faiss"))
    forge_digests(index_copy, "vectors.faiss")
    assert_refused(index_copy, "vectors.faiss", "count")


def test_forged_postings_for_fewer_documents_fail_the_count_check(index_copy):
    records = [CodeRecord.from_dict(json.loads(line)) for line in (index_copy / "records.jsonl").open()]
    save_postings(compute_postings(records[:-1]), index_copy / POSTINGS_FILE)
    forge_digests(index_copy, POSTINGS_FILE)
    assert_refused(index_copy, POSTINGS_FILE, "count")


def test_forged_postings_that_are_not_an_archive_are_unreadable(index_copy):
    (index_copy / POSTINGS_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    forge_digests(index_copy, POSTINGS_FILE)
    assert_refused(index_copy, POSTINGS_FILE, "unreadable")


@pytest.mark.parametrize(
    "content", [b"not json", b'{"releases": [{"name": "x", "date": null, "dated": false, "codes": 2}], "rows": {}}']
)
def test_forged_releases_that_are_not_a_release_table_are_unreadable(index_copy, content):
    (index_copy / "releases.json").write_bytes(content)
    forge_digests(index_copy, "releases.json")
    assert_refused(index_copy, "releases.json", "unreadable")


def test_forged_facets_for_fewer_records_fail_the_count_check(index_copy):
    data = json.loads((index_copy / "record_facets.json").read_text(encoding="utf-8"))
    data["records"] = data["records"][:-1]
    (index_copy / "record_facets.json").write_text(json.dumps(data), encoding="utf-8")
    forge_digests(index_copy, "record_facets.json")
    assert_refused(index_copy, "record_facets.json", "count")


@pytest.mark.parametrize("content", ['{"format": 99, "records": []}', '{"format": 1, "records": [{"role": {}}]}'])
def test_forged_facets_that_do_not_parse_are_unreadable(index_copy, content):
    (index_copy / "record_facets.json").write_text(content, encoding="utf-8")
    forge_digests(index_copy, "record_facets.json")
    assert_refused(index_copy, "record_facets.json", "unreadable")


def test_a_duplicate_code_fails_the_id_map_check(index_copy):
    lines = (index_copy / "records.jsonl").read_text(encoding="utf-8").splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    second["code"] = first["code"]
    lines[1] = json.dumps(second)
    (index_copy / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    forge_digests(index_copy, "records.jsonl")
    error = load_failure(index_copy)
    assert (error.file, error.check) == ("records.jsonl", "duplicate_code")
    assert first["code"] in str(error)


def test_an_index_built_for_another_model_dimension_is_refused(index_copy):
    assert_refused(index_copy, "manifest.json", "dimension", expected_dimension=384)


# --- no pickle, on disk or in the code ---------------------------------------------------------------

PICKLE_HEADER = re.compile(rb"\A\x80[\x02-\x05]")


def test_no_pickle_anywhere_on_disk(built_settings):
    files = [p for p in [*built_settings.index.rglob("*"), *built_settings.cache_dir.rglob("*")] if p.is_file()]
    assert any(p.name == POSTINGS_FILE for p in files) and any(p.suffix == ".npy" for p in files)
    for path in files:
        assert path.suffix not in {".pkl", ".pickle"}, path
        assert not PICKLE_HEADER.match(path.read_bytes()[:2]), path
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                for name in archive.files:  # an object array inside would raise here
                    assert archive[name].dtype != object
            with zipfile.ZipFile(path) as archive:
                assert all(member.endswith(".npy") for member in archive.namelist())
    build_dir = layout.resolve_build_dir(built_settings.index)
    assert not any(p.suffix in {".toc", ".seg"} or p.name.startswith("_MAIN_") for p in build_dir.rglob("*"))


SOURCE_PACKAGES = ("indexer", "search", "models", "api")
UNPICKLING_MODULES = {"pickle", "cPickle", "_pickle", "joblib", "dill", "cloudpickle", "shelve", "marshal"}
# whoosh stays the analyzer only: its index, writer and storage modules read and write pickles
WHOOSH_STORAGE = re.compile(r"^whoosh\.(index|writing|filedb|codec|reading|searching)\b")
MODEL_LOADERS = {"SentenceTransformer", "from_pretrained"}


def source_trees() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for package in SOURCE_PACKAGES
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
    ]


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else "?"
        return f"{owner}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else "?"


def keyword_is_false(node: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is False for k in node.keywords)


def test_no_module_can_unpickle():
    """No pickle-family import, no torch.load, no whoosh storage, every np.load with allow_pickle=False."""
    problems = []
    for path, tree in source_trees():
        where = path.relative_to(PROJECT_ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                if name.split(".")[0] in UNPICKLING_MODULES or WHOOSH_STORAGE.match(name):
                    problems.append(f"{where}:{node.lineno} imports {name}")
            if isinstance(node, ast.ImportFrom) and node.module == "whoosh":
                problems += [f"{where}:{node.lineno} imports whoosh.{a.name}" for a in node.names if a.name == "index"]
            if isinstance(node, ast.Call):
                name = call_name(node)
                if name == "torch.load" or name.endswith("read_pickle"):
                    problems.append(f"{where}:{node.lineno} calls {name}")
                if name in {"np.load", "numpy.load"} and not keyword_is_false(node, "allow_pickle"):
                    problems.append(f"{where}:{node.lineno} calls {name} without allow_pickle=False")
    assert problems == []


def test_models_load_without_remote_code():
    """Every SentenceTransformer(...) / *.from_pretrained(...) says trust_remote_code=False."""
    calls = [
        f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
        for path, tree in source_trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and call_name(node).split(".")[-1] in MODEL_LOADERS
        and not keyword_is_false(node, "trust_remote_code")
    ]
    assert calls == []


def test_the_packaged_model_holds_no_pickled_weights():
    from codefinder.models.encoder import ModelUnavailable, packaged_model_path

    try:
        model_dir = packaged_model_path()
    except ModelUnavailable:
        pytest.skip("model package not installed")
    assert (model_dir / "model.safetensors").is_file()
    pickled = [p.name for p in model_dir.rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    assert pickled == []


# --- publish: a failure between any two steps leaves a servable index ------------------------------

PUBLISH_STEPS = ("fsync_tree", "move_into_builds", "stage_pointer", "switch_current", "fsync_root", "prune")


class InjectedFailure(Exception):
    """Stands for a crash, a full disk or a kill at one point of ``publish``."""


def fail_at(monkeypatch: pytest.MonkeyPatch, step: str, root: Path) -> None:
    """Make ``step`` raise instead of running: every step before it has completed."""
    if step == "fsync_root":  # fsync_dir also runs inside earlier steps; fail only the root's own
        original = layout.fsync_dir

        def fsync_dir(directory: Path) -> None:
            if Path(directory) == root:
                raise InjectedFailure("fsync_root")
            original(directory)

        monkeypatch.setattr(layout, "fsync_dir", fsync_dir)
        return

    def raise_instead(*args: object, **kwargs: object) -> None:
        raise InjectedFailure(step)

    monkeypatch.setattr(layout, step, raise_instead)


def published_leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".tmp-", layout.POINTER_PREFIX)))


@pytest.mark.parametrize("cleanup", [True, False], ids=["exception", "hard-crash"])
@pytest.mark.parametrize("step", PUBLISH_STEPS)
def test_a_publish_failing_before_any_step_keeps_a_servable_index(
    built_settings, fake_encoder, monkeypatch, tmp_path, step, cleanup
):
    root = built_settings.index
    first = layout.resolve_build_dir(root)
    extra = tmp_path / "extra.csv"
    extra.write_text("code,description\n99990,Fixture brand new pretend service\n", encoding="utf-8")
    grown = [FIXTURE_DATA / s for s in built_settings.default_sources] + [extra]

    with monkeypatch.context() as patch:
        fail_at(patch, step, root)
        if not cleanup:  # a killed process runs no except-block: whatever it wrote stays behind
            patch.setattr(shutil, "rmtree", lambda *args, **kwargs: None)
        with pytest.raises(InjectedFailure):
            build_index(built_settings, fake_encoder, grown)

    served = load_index(root)  # verified against its manifest: never a half-written directory
    switched = PUBLISH_STEPS.index(step) > PUBLISH_STEPS.index("switch_current")
    if switched:  # the failure came after the atomic switch: the new build is complete and current
        assert served.build_dir != first and len(served.records) == FIXTURE_RECORDS + 1
    else:
        assert served.build_dir == first and len(served.records) == FIXTURE_RECORDS
    assert (root / layout.CURRENT).resolve().parent == root / layout.BUILDS

    after = build_index(built_settings, fake_encoder)
    assert layout.resolve_build_dir(root) == after.build_dir
    assert len(load_index(root).records) == FIXTURE_RECORDS
    assert published_leftovers(root) == []
    assert len(list((root / layout.BUILDS).iterdir())) <= built_settings.keep_builds
