"""Fine-tune the query/descriptor encoder on CMS's parallel text (``codefinder train-encoder``).

Contrastive training with sentence-transformers' MultipleNegativesRankingLoss: each anchor (a short
descriptor, a drug name) is pulled toward its long descriptor and pushed from the other long descriptors
in its batch. Batches never hold one text twice (a duplicate would be a false negative). Deterministic for
a given seed and thread count: seeded shuffles and dropout, deterministic torch kernels, no data workers.
The result is saved in half precision (the model is used in fp32; fp16 storage halves its size) with a
``training.json`` naming the inputs' sha256, the settings, the held-out scores and the weights' sha256.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codefinder.indexer.manifest import file_digest
from codefinder.indexer.training_pairs import (
    HOLDOUT_PERCENT,
    TrainingPair,
    build_pairs,
    split_pairs,
)
from codefinder.models.encoder import MINILM_NAME, TRAINING_RECORD, WEIGHTS_FILE, EncoderWeights, base_weights

TRAINING_VERSION = "v1"  # bump when pairs or the loop change, so cached runs are redone

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainingConfig:
    """Every choice that changes the weights. The pairs are deduplicated ignoring case: the model is uncased, so
    an upper-cased copy of a short descriptor would be the same example again. Texts are cut at ``max_tokens``
    while training (a long descriptor's first 64 tokens name the item; half the cost of 128 on 2 cores)."""

    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 5e-5
    warmup_share: float = 0.1
    weight_decay: float = 0.01
    scale: float = 20.0  # MultipleNegativesRankingLoss: cosine similarities times this, then softmax
    seed: int = 13
    threads: int = 2
    max_tokens: int = 64
    holdout_percent: int = HOLDOUT_PERCENT

    def command(self, output: str) -> str:
        """The command line that reproduces a run with these settings."""
        return (
            f"codefinder train-encoder --epochs {self.epochs} --batch-size {self.batch_size} "
            f"--learning-rate {self.learning_rate} --max-tokens {self.max_tokens} --seed {self.seed} "
            f"--threads {self.threads} --output {output}"
        )


@dataclass(frozen=True)
class TrainingInputs:
    """The CMS files read: the current long descriptors, then the files pairing codes with other text."""

    current: Path
    others: tuple[Path, ...]

    def described(self) -> list[dict[str, str]]:
        return [{"name": path.name, "sha256": file_digest(path)} for path in (self.current, *self.others)]


def run_key(inputs: TrainingInputs, config: TrainingConfig, base: EncoderWeights) -> str:
    """What a run depends on, as one digest: the cache key of its output."""
    payload = json.dumps(
        {
            "inputs": inputs.described(),
            "config": asdict(config),
            "base": base.sha256,
            "version": TRAINING_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def default_output(cache_dir: Path, key: str) -> Path:
    return cache_dir / "encoders" / f"{MINILM_NAME}-cms-{key[:16]}"


def cached_run(output: Path, key: str) -> dict[str, Any] | None:
    """The record of a finished run with this key in ``output``, or None."""
    record_path = output / TRAINING_RECORD
    if not record_path.is_file() or not (output / WEIGHTS_FILE).is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("run_key") == key else None


def no_duplicate_batches(pairs: list[TrainingPair], batch_size: int, rng: random.Random) -> list[list[TrainingPair]]:
    """Shuffled batches in which no text (anchor or positive, any case) occurs twice; a pair that would
    repeat one waits for a later batch. Batches of one pair (nothing to contrast) are dropped."""
    pending = list(pairs)
    rng.shuffle(pending)
    batches: list[list[TrainingPair]] = []
    while pending:
        batch: list[TrainingPair] = []
        seen: set[str] = set()
        deferred: list[TrainingPair] = []
        for pair in pending:
            texts = {pair.anchor.lower(), pair.positive.lower()}
            if len(batch) < batch_size and not texts & seen:
                batch.append(pair)
                seen |= texts
            else:
                deferred.append(pair)
        if len(batch) > 1:
            batches.append(batch)
        pending = deferred if len(batch) > 1 else []
    return batches


def retrieval_scores(model: Any, queries: list[TrainingPair], corpus: dict[str, str]) -> dict[str, float]:
    """R@1 / R@10 of each held-out anchor's code among every code's long descriptor, by cosine."""
    codes = sorted(corpus)
    documents = model.encode([corpus[code] for code in codes], batch_size=64, normalize_embeddings=True)
    anchors = model.encode([pair.anchor for pair in queries], batch_size=64, normalize_embeddings=True)
    ranked = np.argsort(-(anchors @ documents.T), axis=1)[:, :10]
    gold = np.array([codes.index(pair.code) if pair.code in corpus else -1 for pair in queries])
    hits_at_1 = float(np.mean(ranked[:, 0] == gold))
    hits_at_10 = float(np.mean((ranked == gold[:, None]).any(axis=1)))
    return {"recall@1": round(hits_at_1, 4), "recall@10": round(hits_at_10, 4), "queries": len(queries)}


def seed_everything(seed: int, threads: int) -> None:
    """Fixed seeds, a fixed number of CPU threads and deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already fixed by earlier parallel work in this process
        torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)


def batches_per_epoch(pairs: list[TrainingPair], config: TrainingConfig) -> Iterator[list[list[TrainingPair]]]:
    rng = random.Random(config.seed)
    for _ in range(config.epochs):
        yield no_duplicate_batches(pairs, config.batch_size, rng)


def train_encoder(
    inputs: TrainingInputs, config: TrainingConfig, output: Path, command_output: str, log: Log
) -> dict[str, Any]:
    """Train, score the held-out codes before and after, save fp16 weights and ``training.json`` into
    ``output`` (written beside it under a temp name, then renamed). Returns the record."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    started = time.perf_counter()
    base = base_weights()
    key = run_key(inputs, config, base)
    pairs = build_pairs(inputs.current, list(inputs.others))
    train, held_out = split_pairs(pairs, config.holdout_percent)
    from codefinder.indexer.sources import read_source

    corpus = {
        record.code: record.long_description
        for record in read_source(inputs.current).records
        if record.level == "hcpcs-2" and record.long_description
    }
    log(f"{len(pairs)} pairs: {len(train)} to train on, {len(held_out)} held out ({config.holdout_percent} % of codes)")

    seed_everything(config.seed, config.threads)
    model = SentenceTransformer(
        str(base.path), device="cpu", trust_remote_code=False, local_files_only=True,
        model_kwargs={"dtype": torch.float32},
    )
    model.max_seq_length = config.max_tokens
    model.eval()
    with torch.no_grad():
        before = retrieval_scores(model, held_out, corpus)
    log(f"held out, base model: R@1 {before['recall@1']:.3f}  R@10 {before['recall@10']:.3f}")

    seed_everything(config.seed, config.threads)
    epochs = list(batches_per_epoch(train, config))
    total_steps = sum(len(batches) for batches in epochs)
    loss_fn = MultipleNegativesRankingLoss(model, scale=config.scale)
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    decayed = [p for n, p in model.named_parameters() if not any(word in n for word in no_decay)]
    undecayed = [p for n, p in model.named_parameters() if any(word in n for word in no_decay)]
    groups = [{"params": decayed, "weight_decay": config.weight_decay}, {"params": undecayed, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    scheduler = transformers.get_linear_schedule_with_warmup(
        optimizer, int(total_steps * config.warmup_share), total_steps
    )
    model.train()
    step = 0
    running = 0.0
    for epoch, batches in enumerate(epochs, start=1):
        for batch in batches:
            anchors = model.preprocess([pair.anchor for pair in batch])
            positives = model.preprocess([pair.positive for pair in batch])
            loss = loss_fn([anchors, positives], torch.empty(0))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            value = loss.detach().item()
            running = 0.9 * running + 0.1 * value if step > 1 else value
            if step % 10 == 0 or step == total_steps:
                elapsed = time.perf_counter() - started
                log(f"epoch {epoch}/{config.epochs} step {step}/{total_steps} loss {running:.4f} ({elapsed:.0f} s)")
    model.eval()
    with torch.no_grad():
        after = retrieval_scores(model, held_out, corpus)
    log(f"held out, trained model: R@1 {after['recall@1']:.3f}  R@10 {after['recall@10']:.3f}")

    temp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    model.half()
    model.save(str(temp), create_model_card=False)
    (temp / WEIGHTS_FILE).chmod(0o644)
    record = {
        "base_model": {"name": MINILM_NAME, "sha256": base.sha256},
        "weights_sha256": file_digest(temp / WEIGHTS_FILE),
        "weights_dtype": "float16 (loaded as float32)",
        "run_key": key,
        "training_version": TRAINING_VERSION,
        "command": config.command(command_output),
        "environment": "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1; data dir = the CMS files as shipped",
        "inputs": inputs.described(),
        "config": asdict(config),
        "pairs": {
            "total": len(pairs),
            "train": len(train),
            "held_out": len(held_out),
            "held_out_codes": len({pair.code for pair in held_out}),
            "by_origin": dict(sorted(Counter(pair.origin for pair in pairs).items())),
        },
        "steps": total_steps,
        "held_out_retrieval": {"base": before, "trained": after},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": _version("sentence-transformers"),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (temp / TRAINING_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if output.exists():
        shutil.rmtree(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, output)
    return record


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
