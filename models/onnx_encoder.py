"""all-MiniLM-L6-v2 on onnxruntime + tokenizers: the query-time encoder, no torch import.

The model is exported once at build time (``export_onnx``, which needs torch) into the index
directory; serving loads only onnxruntime and the tokenizer: faster start, ~2-3 ms per query
instead of ~8-13 ms, and a smaller process. Mean pooling and L2 normalization as the
sentence-transformers model does them, so vectors match the ones the index was built with.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from codefinder.models.encoder import MINILM_DIMENSION, MINILM_NAME, EncoderWeights

EXPORT_VERSION = "v2"  # bump when the export changes, so cached exports are redone
ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Which weights an export holds ({"name", "weights_sha256"}): travels with the model into every index, so a
# served index names its own model. An export without it predates fine-tuning: plain MiniLM.
IDENTITY_FILE = "encoder.json"


def export_onnx(target_dir: Path, weights: EncoderWeights, max_tokens: int = 128) -> Path:
    """Export the weights' transformer to ONNX in fp32 (dynamic batch and length) beside its tokenizer."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    source = weights.path
    target_dir.mkdir(parents=True, exist_ok=True)
    # eager attention, traced with a padded sample: the graph must apply the attention mask (an all-ones
    # sample lets the exporter trace a path without it, and padded batch items then embed wrongly).
    # fp32 whatever the stored precision (fine-tuned weights are stored in fp16).
    bert = AutoModel.from_pretrained(
        str(source), local_files_only=True, trust_remote_code=False, attn_implementation="eager", dtype=torch.float32
    )
    bert.eval()

    class Transformer(torch.nn.Module):
        """Positional inputs in a fixed order, whatever the transformers version's forward() takes."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Transformer()
    sample_ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 6251, 1012, 102], [101, 7592, 102, 0, 0, 0, 0, 0]])
    sample_mask = (sample_ids != 0).to(torch.int64)
    temp = target_dir / f".{ONNX_FILE}.tmp"
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer's notes on this fixed graph: the padded sample above is what makes the trace general, and
        # the indexing it warns about never sees negative indices. Nothing a user could act on.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        torch.onnx.export(
            model,
            (sample_ids, sample_mask, torch.zeros_like(sample_ids)),
            str(temp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"}
                for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
            },
            opset_version=17,
            dynamo=False,
        )
    os.replace(temp, target_dir / ONNX_FILE)
    quantize(target_dir / ONNX_FILE, target_dir / INT8_FILE)
    shutil.copyfile(source / TOKENIZER_FILE, target_dir / TOKENIZER_FILE)
    identity = {"name": weights.name, "weights_sha256": weights.sha256, "export_version": EXPORT_VERSION}
    (target_dir / IDENTITY_FILE).write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")
    return target_dir / ONNX_FILE


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization, per channel: ~2 ms a query instead of ~4 ms. Measured on the dev data
    (docs/evaluation.md method): recall@1/10 within 0.4 point of fp32, so queries use it; the corpus is
    still embedded in fp32 at build time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    temp = target.with_name(f".{target.name}.tmp")
    with without_preprocessing_hint():
        quantize_dynamic(str(source), str(temp), per_channel=True, weight_type=QuantType.QInt8)
    os.replace(temp, target)


class _PreprocessingHint(logging.Filter):
    """onnxruntime's advice to pre-process image models before quantizing: it does not apply to this one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def without_preprocessing_hint() -> Iterator[None]:
    """Drop only that hint, which onnxruntime logs on the root logger; every other warning still shows."""
    root = logging.getLogger()
    hint = _PreprocessingHint()
    # logging.warning() on a root logger with no handler would install one for the rest of the process
    handler = logging.StreamHandler() if not root.handlers else None
    if handler is not None:
        handler.addFilter(hint)
        root.addHandler(handler)
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)
        if handler is not None:
            root.removeHandler(handler)


def ensure_onnx(cache_dir: Path, weights: EncoderWeights, max_tokens: int = 128) -> Path:
    """The weights' export in the cache (exported on first use, keyed by the weights' sha256)."""
    model_dir = cache_dir / "onnx" / f"{weights.name}-{weights.sha256[:16]}-{EXPORT_VERSION}"
    if not all((model_dir / name).is_file() for name in (ONNX_FILE, INT8_FILE, TOKENIZER_FILE, IDENTITY_FILE)):
        export_onnx(model_dir, weights, max_tokens)
    return model_dir


def model_identity(model_dir: Path) -> tuple[str, str | None]:
    """(name, weights sha256) of an exported model; an export from before fine-tuning is plain MiniLM."""
    path = model_dir / IDENTITY_FILE
    if not path.is_file():
        return MINILM_NAME, None
    identity = json.loads(path.read_text(encoding="utf-8"))
    return str(identity["name"]), identity.get("weights_sha256")


def copy_model(model_dir: Path, target_dir: Path) -> None:
    """Put the query-time model (int8, tokenizer, identity) into an index directory (hard links when
    possible). The fp32 model the corpus was embedded with stays in the cache: serving never loads it."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in (INT8_FILE, TOKENIZER_FILE, IDENTITY_FILE):
        try:
            os.link(model_dir / name, target_dir / name)
        except OSError:
            shutil.copyfile(model_dir / name, target_dir / name)


class OnnxEncoder:
    """Encodes with onnxruntime on the CPU; one intra-op thread, no spinning, no padding for one text."""

    def __init__(self, model_dir: Path, max_tokens: int = 128, threads: int = 1, int8: bool = False) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name, self.weights_sha256 = model_identity(model_dir)
        self.dimension = MINILM_DIMENSION
        self.model_dir = model_dir
        self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        weights = model_dir / (INT8_FILE if int8 and (model_dir / INT8_FILE).is_file() else ONNX_FILE)
        self.variant = "int8" if weights.name == INT8_FILE else "fp32"
        self._session = onnxruntime.InferenceSession(
            str(weights), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors of ``texts``. The int8 model encodes one text at a time: its dynamic quantization
        scales each activation tensor by the range over the whole batch, so a text batched with others (and
        their padding) got a vector up to 2 % off (cosine 0.98) from its own, and ``POST /search/batch`` or a
        verified file ranked a line otherwise than ``GET /search``. On a CPU without VNNI batching saved
        about a quarter of the time, so exact agreement costs little; fp32 batches agree exactly."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.variant == "int8":
            batch_size = 1
        out = []
        for start in range(0, len(texts), batch_size):
            out.append(self._encode_batch(texts[start : start + batch_size]))
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), longest), dtype=np.int64)
        mask = np.zeros((len(texts), longest), dtype=np.int64)
        for i, encoding in enumerate(encodings):
            ids[i, : len(encoding.ids)] = encoding.ids
            mask[i, : len(encoding.ids)] = 1
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
