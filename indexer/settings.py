"""The one settings object: read once at the edge (CLI, app factory, ``open_engine``) and passed down."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The source checkout this package runs from, if any (an editable install or ``make``): its ``data/`` keeps
# the index and cache beside the code, and ``../shared/data`` is the data dir. A wheel install has none.
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
CHECKOUT: Path | None = (
    _SOURCE_ROOT if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "indexer").is_dir() else None
)
# Where the repository's own files (bench results, docs, eval queries) live; only meaningful in a checkout.
PROJECT_ROOT = CHECKOUT or _SOURCE_ROOT

DEFAULT_SOURCES: tuple[str, ...] = (
    "hcpcs/HCPC2025_JUL_ANWEB_v3.xlsx",
    "hcpcs/NOC codes_JUL2025.xlsx",
    "hcpcs/opps_addendum_b_2026_04_level2.csv",
    "drugs/asp_ndc_hcpcs_crosswalk_2026_01.csv",
)
# Older full releases, read for code dates only (added, effective, terminated): the current release lists
# long-terminated codes without dates. Newest first.
HISTORY_SOURCES: tuple[str, ...] = (
    "hcpcs/HCPC2020_OCT_ANWEB.xlsx",
    "hcpcs/2019-Alpha-Numeric-HCPCS-File.zip",
)


def packaged_data(name: str) -> Path:
    """A file or folder shipped inside ``codefinder.data`` (knowledge tables, calibration), wherever the
    package is installed. pip installs packages unpacked, so the resource is a real path."""
    return Path(str(resources.files("codefinder.data").joinpath(name)))


def default_home() -> Path:
    """Where indexes and the embedding cache go: ``CODEFINDER_HOME``; else a checkout's ``data/`` (what
    ``make run`` uses); else the platform's user data folder (never site-packages)."""
    configured = os.environ.get("CODEFINDER_HOME")
    if configured:
        return Path(configured).expanduser()
    if CHECKOUT is not None:
        return CHECKOUT / "data"
    return Path(platformdirs.user_data_dir("codefinder", appauthor=False))


def default_data_dir() -> Path:
    """The CMS files: ``../shared/data`` beside a checkout, else ``<home>/sources``."""
    if CHECKOUT is not None:
        return CHECKOUT.parent / "shared" / "data"
    return default_home() / "sources"


class Settings(BaseSettings):
    """Every tunable of codefinder. Environment variables use the ``CODEFINDER_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="CODEFINDER_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    data_dir: Path = Field(default_factory=default_data_dir)
    # index and cache default to <home>/index and <home>/cache
    index: Path = Field(default=None, validate_default=False)  # type: ignore[assignment]
    cache_dir: Path = Field(default=None, validate_default=False)  # type: ignore[assignment]
    knowledge_dir: Path = Field(default_factory=lambda: packaged_data("knowledge"))
    default_sources: tuple[str, ...] = DEFAULT_SOURCES
    history_sources: tuple[str, ...] = HISTORY_SOURCES
    # Sections a newer OPPS Addendum B lists completely, and the share of a section's codes it must carry for
    # that to be trusted (indexer/currency.py): a code such a list omits is "not_in_current_lists".
    current_list_sections: str = "ABCEJKLPQV"
    current_list_min_coverage: float = 0.5

    # Which encoder weights a build embeds with: "finetuned" (MiniLM fine-tuned on CMS's short descriptors and
    # drug names, shipped in the package; docs/encoder.md), "base" (plain all-MiniLM-L6-v2), or a folder
    # `codefinder train-encoder` wrote. Queries always use the model shipped inside the index they search.
    encoder_model: str = "base"
    # onnx: onnxruntime at query time (the model is exported at build time into the index); torch: sentence-transformers
    encoder_backend: str = "onnx"
    encoder_threads: int = 1
    encoder_int8: bool = True  # queries on the int8 model (the build always embeds with fp32)
    embed_batch_size: int = 64
    embed_max_tokens: int = 128

    # Keyword retrieval: BM25F field weights and parameters. Defaults chosen by bench/tune.py on the dev data.
    weight_long: float = 1.0
    weight_short: float = 0.3
    weight_synonyms: float = 1.2
    weight_knowledge: float = 1.2
    bm25_k1: float = 0.8
    bm25_b: float = 0.4
    # Synonym lists are mostly empty, so their average length is tiny; length normalization there
    # would punish exactly the records that have synonyms.
    bm25_b_synonyms: float = 0.0
    coordination_scale: float = 0.9

    # Domain knowledge (data/knowledge): query rewriting and brand-name terms; off = plain retrieval.
    use_knowledge: bool = True
    expansion_weight: float = 0.6
    # Keyword weight of a bare number ("150" in "TRASTUZUMAB 150MG"), a single letter ("CATH 5FR D LMN") and,
    # in a drug order, a packaging word (VIAL, SOLR): they pick between siblings at most (dose and route
    # agreement do that) and must not outweigh the drug's or device's name on short descriptors sharing them.
    number_weight: float = 0.3
    correct_typos: bool = True
    # The fitted confidence model, shipped with the package. None switches confidences off on purpose
    # (tuning ranks without them); a file that is missing or fitted for other features is an error.
    calibration_file: Path | None = Field(default_factory=lambda: packaged_data("calibration.json"))

    # Fusion.
    fusion: str = "rrf"
    rrf_k: float = 15.0
    keyword_weight: float = 1.0
    semantic_weight: float = 0.6
    candidate_depth: int = 50
    vector_backend: str = "numpy"  # or "faiss"
    # Reranking (search/rerank.py): dose agreement bonus; modifiers' share of their fused score.
    dose_bonus: float = 0.1
    route_bonus: float = 0.3
    # ... and a near-top code stating only another route ("methadone 10 mg tabs": the injection) this much less.
    route_penalty: float = 0.2
    # ... and a near-top drug code naming none of the drugs the query names (``search.drug_names``)
    other_drug_penalty: float = 0.2
    negation_penalty: float = 0.2
    qualifier_penalty: float = 0.2
    modifier_weight: float = 0.5
    # near-top codes of another section than the query names ("J code for zofran") score this much less
    section_hint_penalty: float = 0.5
    # Attribute agreement (indexer/attributes.py): near-top siblings stating the query's size, capacity,
    # pressure, age, mode… score this much more; those stating another value this much less (per family).
    attribute_bonus: float = 0.15
    attribute_penalty: float = 0.2
    # Base item first (indexer/roles.py): parts/accessories the query does not name, and special variants
    # (institutional, pediatric, heavy duty, a maker's own code…) it does not state, score this much less.
    part_penalty: float = 0.25
    variant_penalty: float = 0.15
    # ... and when the query names a part ("cpap filter"), near-top base items without it score this much less.
    # 0.15 since 2026-12-07, by `bench.tune`'s objective measured at 0 / 0.15 / 0.25 once the part rules knew
    # each part's host (tune part MRR unchanged, query files up); bench/results/tuning.json predates that.
    named_part_penalty: float = 0.15
    # ... and a near-top descriptor that is a sibling's plus qualifiers the query does not state ("Red blood cells,
    # leukocytes reduced, …" beside "Red blood cells, each unit") scores this less. 0.15 by the tune objective
    # measured at 0 / 0.1 / 0.15 / 0.25 on 2026-12-07 (tune MRR +0.001, head and sibling queries up, no line lost).
    plain_sibling_penalty: float = 0.15
    # setting=hospital: near-top OPPS device category C codes score this much more than DMEPOS siblings.
    hospital_device_bonus: float = 0.1
    # Quality-reporting codes (bill nothing) score this fraction of their fused score, in every setting; and,
    # unless setting=hospital, S codes (not accepted by Medicare) too. Both 0.9, measured at 1 / 0.9 / 0.8 / 0.7
    # on 2026-12-07: tune part unchanged or up, query files up; 0.8 gained no more, and put another code before a
    # query stating a reporting code's own descriptor (docs/currency.md).
    reporting_code_weight: float = 0.9
    private_payer_weight: float = 0.9
    # Terminated codes, shown only on request, score this fraction of a current code's score.
    terminated_weight: float = 0.5
    # Codes newer lists no longer carry (status not_in_current_lists) score this fraction.
    not_current_weight: float = 0.7

    # Query vectors kept (LRU) so repeated queries and keystrokes skip the model; 0 = embed every query
    # (the HTTP benchmark uses 0, so repeated texts cannot flatter it).
    query_embedding_cache: int = 4096

    # QA verification: the operating point of the verdict rules (thresholds, measured rates), chosen for the
    # calibration above by `python -m bench.verify_rates`; None, or no calibration, falls back to ranks:
    verify_policy_file: Path | None = Field(default_factory=lambda: packaged_data("verify_policy.json"))
    # without a calibration, how high the assigned code must rank to be called "consistent".
    verify_consistent_rank: int = 10
    verify_retriever_rank: int = 3
    verify_depth: int = 50

    # Suggestions from documentation text (/suggest): a mention is reported when its best billable code's
    # calibrated confidence reaches this (tuned on data/eval/notes.csv by bench/suggest_eval.py).
    suggest_min_confidence: float = 0.3
    # ... or this lower bar for a code that matches the mention outright: the mention's own name opens its
    # descriptor ("iv pole" -> E0776 "Iv pole"), or its descriptor holds every word describing the item.
    suggest_min_matched_confidence: float = 0.01
    # ... and this one for a sentence no billable name was found in, searched whole (a G-code service).
    suggest_min_phrase_confidence: float = 0.5

    # HTTP service.
    # numpy's BLAS threads in a serving process: one, because requests already run side by side and a
    # second BLAS thread per matrix-vector product only fights them for the 2 cores (0 = library default).
    blas_threads: int = 1
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 256 * 1024
    # Every request is answered within this many seconds (504 past it), so no worker hangs on one.
    request_deadline_seconds: float = 2.0
    # ... except the batch endpoints (up to 1,000 verify pairs or 100 searches), which get this long.
    batch_deadline_seconds: float = 30.0
    # ... and /admin/reload, which reads, checks and warms a whole index (1-2 s for the default data on 2
    # cores, more on a slow disk or a busy host): a 504 there would report failure for a reload that succeeds.
    reload_deadline_seconds: float = 120.0
    # API keys, comma-separated: raw keys (>= 16 bytes) or "sha256:<hex digest>" entries. Empty = open,
    # except /admin/*, which always needs a key. Held as a secret: never printed, never logged.
    api_keys: SecretStr = SecretStr("")
    # Requests per minute per API key (or client address without keys); 0 = no limit.
    rate_limit_per_minute: int = 0
    rate_limit_burst: int = 0  # bucket size; 0 = the per-minute rate
    # Access logs are one JSON line per request; query strings are left out (they can carry patient
    # details) unless this is switched on.
    log_query_text: bool = False

    keep_builds: int = 2

    # Serving processes (`codefinder serve --workers N`, uvicorn's worker model). With more than one, each
    # worker must load a verified index to start (a replacement that cannot keeps the old worker serving),
    # and a reload restarts the workers one by one through the master (``serve_master_pid``, set by serve).
    serve_workers: int = 1
    serve_master_pid: int = 0
    log_level: str = "info"
    access_log: bool = True

    @model_validator(mode="after")
    def _paths_under_home(self) -> Settings:
        if self.index is None:
            self.index = self.home / "index"
        if self.cache_dir is None:
            self.cache_dir = self.home / "cache"
        return self
