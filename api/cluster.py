"""Dask distributed for the file commands (``--cluster``): which cluster, and an engine on every worker.

``--cluster none`` runs in this process; ``local[:N]`` starts a ``distributed.LocalCluster`` of N worker
processes with one thread each (N defaults to the usable cores); ``tcp://host:port`` joins a running
scheduler. Each worker opens the engine once, through ``EnginePlugin`` (a ``WorkerPlugin``): the plugin
carries only plain values (the index path and the settings as JSON), opens and verifies the index on the
worker (``open_engine`` checks every file's sha256 against the manifest) and keeps the engine there. Tasks
look it up with ``worker_engine()``; an engine is never part of a task, so nothing large travels with one.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.settings import Settings

if TYPE_CHECKING:
    from distributed import Client

PLUGIN_NAME = "codefinder-engine"
CONNECT_TIMEOUT_S = 20
WORKERS_TIMEOUT_S = 60
CLUSTER_HELP = (
    "Where to run: none (this process, streaming), local[:N] (N worker processes on this machine, one thread "
    "each; N defaults to the cores) or tcp://host:8786 (a running Dask scheduler)."
)


class ClusterError(CodefinderError):
    """A cluster that cannot be started or reached, or a worker that cannot serve."""


@dataclass(frozen=True)
class ClusterSpec:
    """``kind`` is ``none``, ``local`` or ``remote``; ``workers`` for local, ``address`` for remote."""

    kind: str
    workers: int = 0
    address: str = ""

    @property
    def in_process(self) -> bool:
        return self.kind == "none"

    def __str__(self) -> str:
        return {"none": "none", "local": f"local:{self.workers}", "remote": self.address}[self.kind]


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parse_cluster(text: str) -> ClusterSpec:
    """``none``, ``local``, ``local:N`` or ``tcp://host:port``; anything else is a one-line error."""
    value = text.strip()
    if value.lower() == "none":
        return ClusterSpec("none")
    local = re.fullmatch(r"local(?::(\d+))?", value, flags=re.IGNORECASE)
    if local:
        workers = int(local.group(1)) if local.group(1) else usable_cores()
        if not 1 <= workers <= 256:
            raise ClusterError(f"--cluster {value}: the number of local workers must be 1 to 256")
        return ClusterSpec("local", workers=workers)
    if re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d{1,5}", value):
        return ClusterSpec("remote", address=value)
    raise ClusterError(f"--cluster {value!r}: use none, local, local:N or tcp://host:port")


def dashboard_available() -> bool:
    """distributed's dashboard needs bokeh, which codefinder does not install (``pip install bokeh`` adds it)."""
    return importlib.util.find_spec("bokeh") is not None


@contextmanager
def cluster_client(spec: ClusterSpec, settings: Settings, index: str) -> Iterator[Client]:
    """A client with an engine on every worker (checked: any worker that cannot open the index is a one-line
    error naming it); a local cluster is shut down, every process of it, on the way out."""
    import logging

    from distributed import Client, LocalCluster

    if spec.kind == "local":
        cluster = LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            # the scheduler's web server (the dashboard, where bokeh is installed) on this machine's loopback only
            dashboard_address="127.0.0.1:8787" if dashboard_available() else "127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
        try:
            with Client(cluster) as client:
                start_engines(client, settings, index, share=max(1, usable_cores() // spec.workers))
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(spec.address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {spec.address}: {error}") from error
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except TimeoutError as error:
            raise ClusterError(f"no worker joined the scheduler at {spec.address} in {WORKERS_TIMEOUT_S} s") from error
        start_engines(client, settings, index, share=0)
        yield client


def start_engines(client: Client, settings: Settings, index: str, share: int) -> None:
    """Register ``EnginePlugin`` (every worker, and every worker that joins later, opens the engine) and check
    that each worker has one. ``share``: cores per worker (0: each worker works it out from its host)."""
    from codefinder.api.cluster_engine import EnginePlugin, engine_error

    plugin = EnginePlugin(index, settings.model_dump(mode="json", exclude_unset=True), share)
    client.register_plugin(plugin, name=PLUGIN_NAME)
    failures = {address: error for address, error in client.run(engine_error).items() if error}
    if failures:
        address, error = sorted(failures.items())[0]
        more = f" (and {len(failures) - 1} more workers)" if len(failures) > 1 else ""
        raise ClusterError(f"worker {address}: {error}{more}")
