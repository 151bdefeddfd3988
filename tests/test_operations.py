"""Operating the service: hot reload (HTTP and SIGHUP), API keys, rate limits, deadlines, access logs,
and a bounded load run against a real server on loopback. Fixture index and fake encoder throughout."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr

from codefinder.api.access_log import ACCESS_LOGGER
from codefinder.api.admin import reload_on_sighup
from codefinder.api.app import create_app
from codefinder.api.auth import KeyConfigError, KeyRing, digest
from codefinder.api.cli import main
from codefinder.api.context import AppContext
from codefinder.api.rate_limit import TokenBuckets
from codefinder.api.service import Service
from codefinder.indexer.build import build_index
from codefinder.indexer.layout import resolve_build_dir
from codefinder.indexer.settings import Settings
from tests.conftest import FIXTURE_DATA, FIXTURE_SOURCES, FakeEncoder

KEY = "k" * 12 + "-0123456789abcdef"  # 29 bytes
OTHER_KEY = "another-long-enough-key-0001"


def rebuild(settings: Settings, encoder: FakeEncoder, small: bool = False) -> str:
    """Publish a new build (the fixture HCPCS file alone when ``small``) and return its version."""
    sources = [FIXTURE_DATA / FIXTURE_SOURCES[0]] if small else None
    return build_index(settings, encoder, sources).manifest["build_id"]


def keyed(settings: Settings, **updates: object) -> Settings:
    return settings.model_copy(update={"api_keys": SecretStr(KEY), **updates})


def make_client(settings: Settings, encoder: FakeEncoder) -> TestClient:
    return TestClient(create_app(AppContext(settings=settings, encoder_factory=lambda _s: encoder)))


def corrupt(build_dir: Path) -> None:
    path = build_dir / "records.jsonl"
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))


# --- hot reload -------------------------------------------------------------------------------


def test_reload_swaps_in_the_new_index_and_names_one_version(built_settings, fake_encoder):
    settings = keyed(built_settings)
    with make_client(settings, fake_encoder) as client:
        headers = {"X-API-Key": KEY}
        first = client.get("/search", params={"q": "walker"}, headers=headers)
        old_version = first.json()["index_version"]
        assert first.headers["x-codefinder-index"] == old_version
        unchanged = client.post("/admin/reload", headers=headers).json()
        assert unchanged["status"] == "unchanged" and unchanged["index_version"] == old_version

        new_version = rebuild(settings, fake_encoder, small=True)
        reloaded = client.post("/admin/reload", headers=headers)
        assert reloaded.status_code == 200
        assert reloaded.json() == {**reloaded.json(), "status": "reloaded", "index_version": new_version}
        assert reloaded.json()["previous_version"] == old_version
        after = client.get("/search", params={"q": "walker"}, headers=headers)
        assert after.json()["index_version"] == after.headers["x-codefinder-index"] == new_version
        assert client.get("/readyz", headers=headers).json()["index_version"] == new_version


def test_a_bad_new_index_is_refused_and_the_old_one_keeps_serving(built_settings, fake_encoder):
    settings = keyed(built_settings)
    with make_client(settings, fake_encoder) as client:
        headers = {"X-API-Key": KEY}
        old_version = client.get("/readyz", headers=headers).json()["index_version"]
        rebuild(settings, fake_encoder, small=True)
        corrupt(resolve_build_dir(settings.index))
        refused = client.post("/admin/reload", headers=headers)
        assert refused.status_code == 409
        detail = refused.json()["detail"]
        assert "records.jsonl" in detail and f"still serving {old_version}" in detail
        ready = client.get("/readyz", headers=headers)
        assert ready.status_code == 200 and ready.json()["index_version"] == old_version
        assert "records.jsonl" in ready.json()["reload_error"]
        search = client.get("/search", params={"q": "standard wheelchair"}, headers=headers)
        assert search.status_code == 200 and search.json()["hits"][0]["code"] == "K0001"


def test_a_bad_index_at_startup_is_not_served_until_a_good_one_is_reloaded(built_settings, fake_encoder):
    corrupt(resolve_build_dir(built_settings.index))
    settings = keyed(built_settings)
    with make_client(settings, fake_encoder) as client:
        headers = {"X-API-Key": KEY}
        ready = client.get("/readyz", headers=headers)
        assert ready.status_code == 503 and "records.jsonl" in ready.json()["detail"]
        assert client.get("/search", params={"q": "walker"}, headers=headers).status_code == 503
        version = rebuild(settings, fake_encoder)
        assert client.post("/admin/reload", headers=headers).json()["index_version"] == version
        assert client.get("/readyz", headers=headers).status_code == 200


def test_old_engines_are_released_after_reloads(built_settings, fake_encoder):
    """Each engine owns its worker threads; an engine swapped out must not leave them behind."""
    settings = keyed(built_settings)
    before = set(threading.enumerate())
    with make_client(settings, fake_encoder) as client:
        for _ in range(8):
            assert client.post("/admin/reload?force=true", headers={"X-API-Key": KEY}).status_code == 200
            assert client.get("/search", params={"q": "walker"}, headers={"X-API-Key": KEY}).status_code == 200
        gc.collect()
        time.sleep(0.2)
        workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("codefinder-")]
        assert len(workers) <= 6, [t.name for t in workers]


def test_the_loaded_heap_is_frozen_at_startup_and_thawed_by_a_reload(built_settings, fake_encoder):
    """The collector skips what startup loaded; a reload thaws it so the replaced engine can be collected."""
    settings = keyed(built_settings)
    gc.unfreeze()
    with make_client(settings, fake_encoder) as client:
        assert gc.get_freeze_count() > 0
        assert client.post("/admin/reload?force=true", headers={"X-API-Key": KEY}).status_code == 200
        assert gc.get_freeze_count() == 0


def test_shutdown_thaws_the_heap_so_a_stopped_app_can_be_collected(built_settings, fake_encoder):
    gc.unfreeze()
    with make_client(built_settings, fake_encoder) as client:
        assert client.get("/readyz").status_code == 200 and gc.get_freeze_count() > 0
        service = client.app.state.service
    assert gc.get_freeze_count() == 0 and service.engine is None


def test_sighup_reloads_the_index(built_settings, fake_encoder):
    service = Service(AppContext(settings=built_settings, encoder_factory=lambda _s: fake_encoder))
    service.load()
    old_version = service.require().index.build_id
    new_version = rebuild(built_settings, fake_encoder, small=True)
    with reload_on_sighup(service):
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while service.reloads == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert service.reloads == 1
    assert service.require().index.build_id == new_version != old_version


@pytest.fixture
def live_server(built_settings, fake_encoder) -> Iterator[tuple[str, Settings]]:
    """``create_app`` under a real uvicorn on a loopback port, in a thread. The tests rebuild indexes and drive
    the load in this same process, so on 2 busy cores a search can wait on them past the served 2 s deadline
    (a 504 that says nothing about reloading: CI once saw 2 of 1,555); the deadline itself is tested apart."""
    settings = keyed(built_settings, request_deadline_seconds=30.0)
    app = create_app(AppContext(settings=settings, encoder_factory=lambda _s: fake_encoder))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)


QUERIES = ["standard wheelchair", "walker", "cpap machine", "E0601", "oxygen", "left side", "infusion"]


def hammer(base: str, stop: threading.Event, seen: list[tuple[int, str | None, str | None]]) -> None:
    """Search in a loop, recording status, header version and body version of every answer."""
    with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=10) as client:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                response = client.get("/search", params={"q": QUERIES[i % len(QUERIES)]})
            except httpx.HTTPError as error:
                seen.append((0, None, repr(error)))
                continue
            body = response.json() if response.headers.get("content-type") == "application/json" else {}
            seen.append((response.status_code, response.headers.get("x-codefinder-index"), body.get("index_version")))


def test_reloading_under_load_loses_no_request_and_mixes_no_versions(live_server, fake_encoder):
    base, settings = live_server
    stop = threading.Event()
    seen: list[tuple[int, str | None, str | None]] = []
    workers = [threading.Thread(target=hammer, args=(base, stop, seen)) for _ in range(6)]
    for worker in workers:
        worker.start()
    versions = set()
    try:
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as admin:
            for round_number in range(6):
                rebuild(settings, fake_encoder, small=round_number % 2 == 0)
                reloaded = admin.post("/admin/reload")
                assert reloaded.status_code == 200, reloaded.text
                versions.add(reloaded.json()["index_version"])
                time.sleep(0.15)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    statuses = Counter(status for status, _, _ in seen)
    assert len(seen) > 100
    assert statuses == {200: len(seen)}, statuses
    assert all(header == body for _, header, body in seen)
    served = {header for _, header, _ in seen}
    assert len(versions) == 6 and len(served & versions) >= 3, (served, versions)


# --- bounded load -----------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_bounded_load_run_has_no_errors_and_flat_memory(live_server):
    """32 concurrent clients for a few seconds: zero 5xx, memory flat after warm-up, p99 reported."""
    base, _settings = live_server
    concurrency, seconds = 32, 6.0
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    samples: list[int] = []
    stop = threading.Event()

    def client_loop(worker: int) -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=10) as client:
            i = worker
            while not stop.is_set():
                i += 1
                path = ("/search", "/autocomplete")[i % 2]
                started = time.perf_counter()
                try:
                    status = client.get(path, params={"q": f"{QUERIES[i % len(QUERIES)]} {i % 50}"}).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    latencies.append(time.perf_counter() - started)
                    statuses[status] += 1

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(rss_bytes())
        time.sleep(0.25)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    p99 = float(np.percentile(latencies, 99)) * 1000
    print(f"bounded load: {sum(statuses.values())} requests, statuses {dict(statuses)}, p99 {p99:.1f} ms")
    assert set(statuses) == {200}, statuses
    warm, late = np.median(samples[4:8]), np.median(samples[-4:])
    assert late - warm < 64 * 2**20, f"RSS grew {(late - warm) / 2**20:.1f} MiB under steady load"


# --- API keys -----------------------------------------------------------------------------------


def test_keys_guard_every_endpoint_but_healthz_and_the_page(built_settings, fake_encoder):
    with make_client(keyed(built_settings), fake_encoder) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200
        assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200
        assert client.get("/readyz").status_code == 200  # the load balancer's probe
        for path in ("/search?q=walker", "/autocomplete?q=wal", "/codes/E0601", "/version"):
            denied = client.get(path)
            assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer", path
            assert "API key" in denied.json()["detail"]
        assert client.post("/verify", json={"description": "walker", "code": "E0130"}).status_code == 401
        assert client.get("/search?q=walker", headers={"X-API-Key": KEY[:-1] + "x"}).status_code == 401
        assert client.get("/search?q=walker", headers={"X-API-Key": KEY}).status_code == 200
        assert client.get("/search?q=walker", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_keys_may_be_configured_as_hashes(built_settings, fake_encoder):
    setting = f"sha256:{digest(KEY).hex()}, {OTHER_KEY}"
    with make_client(built_settings.model_copy(update={"api_keys": SecretStr(setting)}), fake_encoder) as client:
        assert client.get("/version", headers={"X-API-Key": KEY}).status_code == 200
        assert client.get("/version", headers={"X-API-Key": OTHER_KEY}).status_code == 200
        assert client.get("/version", headers={"X-API-Key": digest(KEY).hex()}).status_code == 401


def test_keyring_keeps_only_digests_and_checks_every_one(monkeypatch):
    ring = KeyRing.parse(f"{KEY},{OTHER_KEY}")
    assert KEY.encode() not in repr(ring).encode() and ring.digests == (digest(KEY), digest(OTHER_KEY))
    compared = []
    from codefinder.api import auth

    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    assert ring.identify(KEY) == digest(KEY).hex()[:8]
    assert len(compared) == 2  # no early exit on the first match
    assert ring.identify("nope") is None and ring.identify(None) is None


@pytest.mark.parametrize("setting", ["short-key", f"{KEY},tooshort", "sha256:abc"])
def test_an_unusable_key_refuses_to_start(built_settings, setting):
    with pytest.raises(KeyConfigError):
        create_app(AppContext(settings=built_settings.model_copy(update={"api_keys": SecretStr(setting)})))


def test_serve_with_a_short_key_is_one_line_error(built_settings, monkeypatch):
    monkeypatch.setenv("CODEFINDER_API_KEYS", "short-key")
    result = CliRunner().invoke(main, ["serve", "--index", str(built_settings.index)])
    assert result.exit_code == 1
    assert "shorter than 16 bytes" in result.output and "Traceback" not in result.output
    assert "short-key" not in result.output


def test_admin_always_needs_a_key(client_without_keys):
    closed = client_without_keys.post("/admin/reload")
    assert closed.status_code == 403 and "CODEFINDER_API_KEYS" in closed.json()["detail"]


@pytest.fixture
def client_without_keys(built_settings, fake_encoder) -> Iterator[TestClient]:
    with make_client(built_settings, fake_encoder) as client:
        yield client


def test_admin_with_keys_rejects_a_missing_key(built_settings, fake_encoder):
    with make_client(keyed(built_settings), fake_encoder) as client:
        assert client.post("/admin/reload").status_code == 401
        assert client.post("/admin/reload", headers={"X-API-Key": KEY}).status_code == 200


# --- rate limits --------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(built_settings, fake_encoder):
    settings = keyed(built_settings, rate_limit_per_minute=3)
    with make_client(settings, fake_encoder) as client:
        answers = [client.get("/search?q=walker", headers={"X-API-Key": KEY}) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1 and "too many" in answers[-1].json()["detail"]
        assert client.get("/healthz").status_code == 200  # never limited


def test_token_buckets_refill_and_stay_bounded():
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0], max_clients=100)
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0  # separate clients, separate buckets
    now[0] += 1.0
    assert buckets.take("a") == 0
    for n in range(1000):
        buckets.take(f"ip:{n}")
    assert len(buckets.buckets) == 100


# --- deadlines ----------------------------------------------------------------------------------


class SlowEncoder(FakeEncoder):
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        time.sleep(1.5)
        return super().encode(texts, batch_size)


def test_a_request_past_its_deadline_gets_504_and_the_worker_keeps_answering(built_settings):
    settings = built_settings.model_copy(update={"request_deadline_seconds": 0.3})
    with make_client(settings, SlowEncoder()) as client:
        started = time.perf_counter()
        late = client.get("/search", params={"q": "a query the slow model must embed"})
        assert late.status_code == 504 and "deadline" in late.json()["detail"]
        assert time.perf_counter() - started < 1.4  # answered at the deadline, not when the model finished
        assert client.get("/healthz").status_code == 200
        assert client.get("/autocomplete", params={"q": "wal"}).status_code == 200


def test_a_reload_slower_than_the_request_deadline_still_answers_200(built_settings):
    """A reload reads, checks and warms a whole index; it has its own deadline, so a slow host does not
    report a successful reload as 504."""
    settings = keyed(built_settings, request_deadline_seconds=0.3)
    with make_client(settings, SlowEncoder()) as client:
        reloaded = client.post("/admin/reload", params={"force": "true"}, headers={"X-API-Key": KEY})
        assert reloaded.status_code == 200 and reloaded.json()["status"] == "reloaded"
        assert reloaded.json()["seconds"] >= 1.5  # the warm-up search waited on the slow model


def test_batch_work_stops_at_the_deadline(built_settings, fake_encoder):
    settings = built_settings.model_copy(update={"request_deadline_seconds": 60, "batch_deadline_seconds": 1e-6})
    with make_client(settings, fake_encoder) as client:
        items = [{"description": f"walker {n}", "code": "E0130"} for n in range(300)]
        answer = client.post("/verify/batch", json={"items": items})
        assert answer.status_code == 504 and "deadline" in answer.json()["detail"]


# --- access logs --------------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_access_log_is_one_json_line_per_request_without_query_text_or_keys(built_settings, fake_encoder, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with make_client(keyed(built_settings), fake_encoder) as client:
        client.get("/search", params={"q": "patient jane roe walker"}, headers={"X-API-Key": KEY})
        client.get("/search", params={"q": "patient jane roe walker"})
        client.post("/verify", json={"description": "patient jane roe", "code": "E0130"}, headers={"X-API-Key": KEY})
    lines = access_lines(caplog)
    assert [(line["path"], line["status"]) for line in lines] == [("/search", 200), ("/search", 401), ("/verify", 200)]
    first = lines[0]
    assert set(first) >= {"time", "method", "path", "status", "duration_ms", "index_version", "key_id"}
    assert first["index_version"] and first["key_id"] == digest(KEY).hex()[:8] and lines[1]["key_id"] is None
    logged = caplog.text
    assert "jane" not in logged and KEY not in logged


def test_access_log_carries_query_text_only_when_enabled(built_settings, fake_encoder, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with make_client(built_settings.model_copy(update={"log_query_text": True}), fake_encoder) as client:
        client.get("/search", params={"q": "walker"})
    assert "walker" in access_lines(caplog)[0]["query"]
