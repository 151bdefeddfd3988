"""The loaded engine the app serves from, and how it is swapped for a new index without a pause.

A request takes the current engine once, when it arrives (``PinIndex``), and uses that one to the
end, so every response names exactly one index version. A reload loads and verifies the new index
completely, then swaps one reference; requests already running finish on the old engine.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codefinder.api.access_log import INDEX_HEADER
from codefinder.api.context import AppContext
from codefinder.api.errors import NotReady, ReloadRefused
from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.layout import resolve_build_dir
from codefinder.search.engine import SearchEngine, SearchOptions

log = logging.getLogger("codefinder.api")


@dataclass(frozen=True)
class ReloadResult:
    status: str  # "reloaded" or "unchanged"
    index_version: str
    previous_version: str | None
    seconds: float


class Service:
    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.engine: SearchEngine | None = None
        self.load_error: str | None = "not loaded yet"
        self.last_reload_error: str | None = None
        self.reloads = 0
        self._reload_lock = threading.Lock()

    @property
    def one_of_many_workers(self) -> bool:
        return self.context.settings.serve_workers > 1

    def load(self) -> None:
        """Load the model and the index at startup; on failure keep answering /healthz and say why on
        /readyz (503) until a reload brings a good index. One of several workers instead refuses to start
        (``WorkerStartRefused``): uvicorn then keeps the worker it was replacing, which still serves."""
        try:
            self.engine = self.context.engine()
            self.load_error = None
            log.info("serving index %s", self.engine.index.build_id)
            settle_heap()
        except CodefinderError as error:
            self.load_error = str(error)
            log.error("no index loaded: %s", error)
            if self.one_of_many_workers:
                raise WorkerStartRefused(f"worker not started, no verified index: {error}") from error

    def reload(self, force: bool = False) -> ReloadResult:
        """Load ``current`` again and swap it in if it passes every check; otherwise raise ReloadRefused
        and keep serving what is loaded. One reload at a time."""
        with self._reload_lock:
            started = time.perf_counter()
            old = self.engine
            previous = old.index.build_id if old is not None else None
            target = resolve_build_dir(self.context.settings.index)
            if not force and old is not None and target is not None and target == old.index.build_dir:
                return ReloadResult("unchanged", old.index.build_id, previous, time.perf_counter() - started)
            gc.unfreeze()  # the engine being replaced must become collectable again (see settle_heap)
            try:
                fresh = self.context.engine()
            except CodefinderError as error:
                self.last_reload_error = str(error)
                still = f"still serving {previous}" if previous else "no index is being served"
                log.error("reload refused: %s (%s)", error, still)
                raise ReloadRefused(f"reload refused, {still}: {error}") from error
            warm_up(fresh)
            self.engine = fresh  # the swap: one reference, atomic for readers
            self.load_error = None
            self.last_reload_error = None
            self.reloads += 1
            log.info("reloaded: serving index %s (was %s)", fresh.index.build_id, previous)
            status = "reloaded"
            if self.one_of_many_workers:
                restart_siblings(self.context.settings.serve_master_pid)
                status = "reloaded; restarting every worker"
            return ReloadResult(status, fresh.index.build_id, previous, time.perf_counter() - started)

    def close(self) -> None:
        """At shutdown, drop the engine and thaw what startup froze: frozen objects are never collected, so
        a process that starts apps in turn (tests, a host embedding the app) would otherwise keep each one."""
        self.engine = None
        self.load_error = "shut down"
        gc.unfreeze()

    def require(self) -> SearchEngine:
        engine = self.engine
        if engine is None:
            raise NotReady(f"no index is loaded: {self.load_error}")
        return engine


class WorkerStartRefused(RuntimeError):
    """One of several serving workers could not load a verified index; it must not start serving."""


def restart_siblings(master_pid: int) -> None:
    """This worker verified the new index; SIGHUP to the master makes uvicorn replace every worker, one by
    one, each new one loading and verifying the index before the old one retires."""
    if master_pid <= 0 or master_pid == os.getpid():
        log.error("cannot reach the serving master (pid %s): only this worker reloaded", master_pid)
        return
    os.kill(master_pid, signal.SIGHUP)
    log.info("asked the master (pid %s) to restart every worker on the new index", master_pid)


def settle_heap() -> None:
    """Move what startup loaded (records, postings, vocabularies: millions of objects that live as long as
    the engine) out of the cyclic garbage collector's sight, so the full collections that request garbage
    triggers do not walk them every time (a quarter of /verify/batch throughput on 2 cores). A reload
    unfreezes first, so the engine it replaces can be collected; it does not freeze again, since a request
    may still be finishing on the old engine. Shutdown (``Service.close``) thaws it all."""
    gc.collect()
    gc.freeze()


def warm_up(engine: SearchEngine) -> None:
    """One search before the swap, so the first real request does not pay for first-use costs."""
    engine.search("warm up", SearchOptions(limit=1))


def pinned_engine(request: Request) -> SearchEngine:
    """The engine this request was pinned to on arrival (the service's current one if not pinned)."""
    engine = getattr(request.state, "engine", None)
    if engine is None:
        return request.app.state.service.require()
    return engine


class PinIndex:
    """ASGI middleware: pin the current engine for the whole request and name its version in the
    ``X-Codefinder-Index`` response header (the same version the body reports)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        engine = self.service.engine
        scope.setdefault("state", {})["engine"] = engine
        if engine is None:
            await self.app(scope, receive, send)
            return
        version = engine.index.build_id.encode("latin-1")

        async def named_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (INDEX_HEADER, version)]}
            await send(message)

        await self.app(scope, receive, named_send)
