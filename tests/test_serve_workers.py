"""``codefinder serve --workers N``: uvicorn's worker processes, each verifying the index; a reload reaches
every worker (rolling restart through the master), and a bad index never replaces a good worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from codefinder.indexer.build import build_index

pytestmark = pytest.mark.integration

KEY = "serve-workers-test-key-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str | None]:
    request = urllib.request.Request(url, headers={"X-API-Key": KEY})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("X-Codefinder-Index")
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def _versions(base: str, n: int = 12) -> set[str | None]:
    return {_get(f"{base}/search?q=walker&limit=1")[1] for _ in range(n)}


def _wait(predicate, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_two_workers_serve_one_index_and_every_worker_reloads(real_context, tmp_path):
    settings = real_context.settings.model_copy(update={"index": tmp_path / "index"})
    build_index(settings, real_context.build_encoder())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CODEFINDER_")},
        "CODEFINDER_CACHE_DIR": str(settings.cache_dir),
        "CODEFINDER_API_KEYS": KEY,
        "HF_HUB_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "codefinder.api.cli", "serve", "--index", str(settings.index)]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: _get(f"{base}/readyz")[0] == 200)
        first = _versions(base)
        assert len(first) == 1 and None not in first

        # POST /admin/reload on one worker: it verifies the new index, then the master replaces every worker
        second_build = build_index(settings, real_context.build_encoder()).manifest["build_id"]
        request = urllib.request.Request(f"{base}/admin/reload", method="POST", headers={"X-API-Key": KEY})
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert b"restarting every worker" in answer.read()
        _wait(lambda: _versions(base) == {second_build})

        # SIGHUP to the master does the same
        third_build = build_index(settings, real_context.build_encoder()).manifest["build_id"]
        server.send_signal(signal.SIGHUP)
        _wait(lambda: _versions(base) == {third_build})

        # a damaged index never replaces a good worker: the restart is abandoned, the old ones keep serving
        broken = Path(build_index(settings, real_context.build_encoder()).build_dir)
        with (broken / "vectors.npy").open("r+b") as handle:
            handle.seek(200)
            byte = handle.read(1)
            handle.seek(200)
            handle.write(bytes([byte[0] ^ 0xFF]))
        server.send_signal(signal.SIGHUP)
        time.sleep(15)
        assert _versions(base) == {third_build}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_several_workers_refuse_to_start_without_a_verified_index(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "codefinder.api.cli", "serve", "--index", str(tmp_path / "none"), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 1
    assert done.stderr.startswith("codefinder: error: not starting") and "Traceback" not in done.stderr
