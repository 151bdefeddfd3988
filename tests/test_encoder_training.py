"""The encoder's training pairs (CMS parallel text only), their batching, and the choice of weights."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.indexer.encoder_training import TrainingConfig, TrainingInputs, no_duplicate_batches, run_key
from codefinder.indexer.training_pairs import TrainingPair, build_pairs, held_out, split_pairs
from codefinder.models.encoder import (
    MINILM_NAME,
    WEIGHTS_FILE,
    EncoderWeights,
    ModelUnavailable,
    resolve_weights,
    trained_weights,
)
from codefinder.models.onnx_encoder import IDENTITY_FILE, model_identity
from tests.conftest import FIXTURE_DATA

CURRENT = FIXTURE_DATA / "hcpcs" / "HCPC2099_TEST_ANWEB.txt"
OTHERS = [
    FIXTURE_DATA / "hcpcs" / "HCPC2098_HISTORY_ANWEB.txt",
    FIXTURE_DATA / "hcpcs" / "addendum_b_test.csv",
    FIXTURE_DATA / "drugs" / "crosswalk_test.csv",
]

_opened: list[str] | None = None


def _record_opens(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if _opened is None or event != "open" or not isinstance(args[0], (str, Path)):
        return
    if not str(args[0]).endswith((".py", ".pyc", ".so")):  # Python's own imports (codecs) while reading
        _opened.append(str(args[0]))


sys.addaudithook(_record_opens)  # audit hooks cannot be removed: it records only while _opened is a list


def pairs_reading(tmp_path: Path) -> tuple[list[TrainingPair], list[str]]:
    """The fixture pairs, and every file opened while building them. An evaluation file sits beside the
    sources, where a careless reader would find it."""
    global _opened
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "dev_chargemaster.csv").write_text("description,code\nCPAP MACHINE,E0601\n")
    _opened = []
    try:
        pairs = build_pairs(CURRENT, OTHERS)
        return pairs, list(_opened)
    finally:
        _opened = None


def test_pairs_come_from_the_named_cms_files_only(tmp_path: Path):
    pairs, opened = pairs_reading(tmp_path)
    assert pairs
    assert {Path(path).resolve() for path in opened} <= {path.resolve() for path in [CURRENT, *OTHERS]}
    assert not [path for path in opened if "eval" in Path(path).parts or "queries.csv" in path]


def test_short_descriptors_and_drug_names_pair_with_long_descriptors(tmp_path: Path):
    pairs, _ = pairs_reading(tmp_path)
    by_anchor = {pair.anchor: pair for pair in pairs}
    # a release's short with its own long
    assert by_anchor["Walker, rigid, adjust/fixed"].positive == "Walker, rigid (pickup), adjustable or fixed height"
    # a crosswalk drug name with the current long descriptor of its code
    assert by_anchor["keytruda"].positive == "Injection, pembrolizumab, 1 mg"
    assert by_anchor["keytruda"].origin == "name"
    assert by_anchor["toradol"].code == "J1885"
    # an older release pairs its short with its own (older) long, never another code's
    assert by_anchor["Inj pembrolizumab old"].code == "C9027"
    # no pair teaches nothing (same text up to case), none repeats, no modifier
    assert all(pair.anchor.lower() != pair.positive.lower() for pair in pairs)
    assert len({(p.anchor.lower(), p.positive.lower()) for p in pairs}) == len(pairs)
    assert all(len(pair.code) == 5 for pair in pairs)
    assert pairs == build_pairs(CURRENT, OTHERS)  # a stable order


def test_addendum_b_short_without_a_long_pairs_with_the_current_long(tmp_path: Path):
    addendum = tmp_path / "addendum_b.csv"
    addendum.write_text(
        "HCPCSCode,ShortDescriptor,StatusIndicator\nE0601,Cpap dev,Y\nE9999,Brand new code,Y\n", encoding="utf-8"
    )
    pairs = build_pairs(CURRENT, [addendum])
    new = [pair for pair in pairs if pair.origin == "short-current"]
    assert [(p.anchor, p.code) for p in new] == [("Cpap dev", "E0601")]
    assert new[0].positive == "Continuous positive airway pressure (cpap) device"


def test_held_out_split_is_by_code_and_fixed():
    pairs = [TrainingPair(f"short {i}", f"long {i}", f"A{i:04d}", "short") for i in range(2000)]
    train, kept_out = split_pairs(pairs)
    assert {p.code for p in train}.isdisjoint({p.code for p in kept_out})
    assert 120 < len(kept_out) < 280  # about 10 % of codes
    assert [p.code for p in kept_out] == [p.code for p in pairs if held_out(p.code)]
    twins = [TrainingPair("other text", "long", pair.code, "name") for pair in kept_out]
    assert split_pairs(twins)[0] == []  # a held-out code's every pair is held out


def test_batches_never_repeat_a_text():
    pairs = [TrainingPair(f"short {i}", f"long {i % 30}", f"A{i % 30:04d}", "short") for i in range(200)]
    batches = no_duplicate_batches(pairs, 16, random.Random(1))
    for batch in batches:
        texts = [t.lower() for pair in batch for t in (pair.anchor, pair.positive)]
        assert len(texts) == len(set(texts)) and 1 < len(batch) <= 16
    assert sum(len(b) for b in batches) >= 190  # only pairs that could find no partner are dropped
    assert batches == no_duplicate_batches(pairs, 16, random.Random(1))  # seeded: the same batches


def test_run_key_changes_with_inputs_and_config(tmp_path: Path):
    base = EncoderWeights(MINILM_NAME, tmp_path, "0" * 64)
    inputs = TrainingInputs(CURRENT, tuple(OTHERS))
    key = run_key(inputs, TrainingConfig(), base)
    assert key == run_key(inputs, TrainingConfig(), base)
    assert key != run_key(inputs, TrainingConfig(seed=14), base)
    assert key != run_key(TrainingInputs(CURRENT, tuple(OTHERS[:2])), TrainingConfig(), base)
    assert key != run_key(inputs, TrainingConfig(), EncoderWeights(MINILM_NAME, tmp_path, "1" * 64))


def fake_model_dir(path: Path, weights: bytes) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / WEIGHTS_FILE).write_bytes(weights)
    return path


def test_trained_weights_are_named_by_their_digest(tmp_path: Path):
    first = trained_weights(fake_model_dir(tmp_path / "a", b"weights one"))
    second = trained_weights(fake_model_dir(tmp_path / "b", b"weights two"))
    assert first.name.startswith(f"{MINILM_NAME}-cms-") and first.name.endswith(first.sha256[:12])
    assert first.name != second.name
    assert resolve_weights(str(tmp_path / "a")) == first


def test_an_unknown_encoder_choice_is_one_clear_error(tmp_path: Path):
    with pytest.raises(ModelUnavailable, match="finetuned or base"):
        resolve_weights("largest")
    with pytest.raises(ModelUnavailable, match="train-encoder"):
        resolve_weights(str(tmp_path))  # a folder without a trained model


def test_an_export_names_its_weights_and_an_old_one_is_plain_minilm(tmp_path: Path):
    assert model_identity(tmp_path) == (MINILM_NAME, None)
    (tmp_path / IDENTITY_FILE).write_text('{"name": "all-MiniLM-L6-v2-cms-abc", "weights_sha256": "abc"}')
    assert model_identity(tmp_path) == ("all-MiniLM-L6-v2-cms-abc", "abc")


def test_train_encoder_refuses_a_folder_it_did_not_write(tmp_path: Path, settings):
    data = tmp_path / "data"
    for relative in ("hcpcs/HCPC2025_JUL_ANWEB_v3.xlsx",):
        (data / relative).parent.mkdir(parents=True, exist_ok=True)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    runner = CliRunner()
    missing = runner.invoke(
        main, ["train-encoder", "--data-dir", str(data), "--output", str(occupied)], obj=AppContext(settings=settings)
    )
    assert missing.exit_code == 1 and "no such file" in missing.output and "Traceback" not in missing.output
    assert (occupied / "notes.txt").read_text() == "mine"


def test_build_with_an_unknown_encoder_model_is_one_line(settings):
    bad = settings.model_copy(update={"encoder_model": "nonsense"})
    result = CliRunner().invoke(main, ["build"], obj=AppContext(settings=bad))
    assert result.exit_code == 1
    assert "encoder model 'nonsense'" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (bad.index / "current").exists()
