"""What runs on a Dask worker: ``EnginePlugin`` opens the engine once per worker, tasks find it with
``worker_engine()``. Imported on the workers (and by ``api.cluster`` when a cluster starts), never on the
in-process path, so plain commands do not pay for importing distributed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from distributed import Worker, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from codefinder.api.cluster import PLUGIN_NAME, ClusterError, usable_cores
from codefinder.api.commands.search import search_chunk
from codefinder.api.commands.suggest import suggest_lines
from codefinder.api.tables import BadRow
from codefinder.api.verify_report import answer_rows
from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.verify_table import InputRow, TableOptions


def worker_settings(values: dict[str, Any], threads: int) -> Settings:
    """The client's settings on a worker, its threads set to the worker's share of the cores: ONNX Runtime's
    intra-op threads (it ignores OMP_NUM_THREADS) and numpy's BLAS (threadpoolctl, in ``open_engine``)."""
    settings = Settings(**values)
    return settings.model_copy(update={"encoder_threads": threads, "blas_threads": threads})


class EnginePlugin(WorkerPlugin):
    """Opens the engine once per worker from plain values; the engine (or why there is none) stays on the
    worker. The engine is opened on a thread, so the worker keeps answering the scheduler meanwhile."""

    name = PLUGIN_NAME
    idempotent = False

    def __init__(self, index: str, settings: dict[str, Any], share: int) -> None:
        self.index = index
        self.settings = settings
        self.share = share
        self.engine: SearchEngine | None = None
        self.error: str | None = None

    async def setup(self, worker: Worker) -> None:
        threads = self.share or await _host_share(worker)
        try:
            self.engine = await asyncio.get_running_loop().run_in_executor(None, self._open, threads)
        except CodefinderError as error:
            self.error = str(error)
        except Exception as error:  # a model or file error: reported with the worker's name, not a traceback
            self.error = f"{type(error).__name__}: {error}"

    def _open(self, threads: int) -> SearchEngine:
        from codefinder.search.engine_factory import open_engine

        return open_engine(self.index, worker_settings(self.settings, threads))


async def _host_share(worker: Worker) -> int:
    """Cores per thread of the workers on this worker's host, as the scheduler knows them now."""
    try:
        identity = await worker.scheduler.identity()
        host = worker.address.rsplit(":", 1)[0]
        threads = sum(w.get("nthreads", 1) for a, w in identity.get("workers", {}).items() if a.startswith(host))
    except Exception:
        threads = worker.state.nthreads
    return max(1, usable_cores() // max(threads, worker.state.nthreads, 1))


def engine_error(dask_worker: Worker) -> str | None:
    """Why this worker has no engine (``client.run`` target), or None."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        return "no codefinder engine plugin"
    return plugin.error if plugin.engine is None else None


def worker_engine() -> SearchEngine:
    """The engine of the worker running the current task."""
    worker = get_worker()
    why = engine_error(worker)
    if why is not None:
        raise ClusterError(f"worker {worker.address}: {why or 'engine not opened'}")
    return worker.plugins[PLUGIN_NAME].engine


def engine_build(dask_worker: Worker) -> str | None:
    """The index build this worker serves (``client.run`` target), or None."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return plugin.engine.index.build_id if plugin is not None and plugin.engine is not None else None


# --- tasks: the in-process chunk functions, on the worker's engine ---------------------------------------


def verify_partition(chunks: list[list[InputRow | BadRow]], options: TableOptions) -> list[dict[str, str]]:
    """Report rows for a partition's chunks, each chunk verified as ``codefinder verify`` verifies it."""
    engine = worker_engine()
    return [row for chunk in chunks for row in answer_rows(engine, chunk, options)]


def search_partition(chunks: list[list[tuple[int, str]]], options: SearchOptions) -> list[dict[str, str]]:
    """One row per line: its number and the JSON line ``codefinder search --file`` prints for it."""
    engine = worker_engine()
    return [json_row(payload) for chunk in chunks for payload in search_chunk(engine, chunk, options)]


def suggest_partition(
    chunks: list[list[tuple[int, str]]], setting: str, limit_per_item: int
) -> list[dict[str, str]]:
    """One row per document: its line and the JSON line ``codefinder suggest --file`` prints for it (each
    document is read on its own, in process too)."""
    engine = worker_engine()
    documents = [document for chunk in chunks for document in chunk]
    return [json_row(payload) for payload in suggest_lines(engine, documents, setting, limit_per_item)]


def json_row(payload: dict[str, Any]) -> dict[str, str]:
    """The part's row (line, result) and, not written as a column, why a refused line was refused."""
    row = {"line": str(payload["line"]), "result": json.dumps(payload, ensure_ascii=False)}
    if "error" in payload:
        row["error"] = str(payload["error"])
    return row
