"""The package as a user installs it: a wheel, installed non-editable into a fresh venv, that builds an
index from the shared CMS files, searches and serves; and the README's three-line Python API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from codefinder.indexer.settings import CHECKOUT, Settings
from tests.conftest import shared_data_present

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        cwd=out,
        capture_output=True,
    )
    (built,) = out.glob("codefinder-*.whl")
    return built


def test_the_wheel_installs_one_namespace_with_its_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["codefinder"]
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {"codefinder"}
    for shipped in (
        "codefinder/data/calibration.json",
        "codefinder/data/knowledge/drug_names.csv",
        "codefinder/api/static/index.html",
        "codefinder/search/engine.py",
        "codefinder/indexer/sources/detect.py",
        "codefinder/models/encoder.py",
        "codefinder/models/finetuned/model.safetensors",  # the CMS fine-tune (CODEFINDER_ENCODER_MODEL=finetuned)
        "codefinder/models/finetuned/training.json",
        "codefinder/models/finetuned/1_Pooling/config.json",
    ):
        assert shipped in names, shipped
    assert not any("/index/" in name or "/cache/" in name or name.endswith(".onnx") for name in names)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not shared_data_present(), reason="shared data not found")
def test_a_fresh_venv_with_the_wheel_builds_searches_and_serves(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # type: ignore[attr-defined]
    fresh_site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies (torch, onnxruntime…) come from this environment, so the test does not download
    # gigabytes; a path in a .pth file is not a site dir, so this environment's editable codefinder
    # (its own .pth finder) stays invisible there.
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = str(venv / "bin" / "python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CODEFINDER_")},
        "CODEFINDER_HOME": str(home),
        # reuse the checkout's embeddings and model export: the point is the install, not the embedding time
        "CODEFINDER_CACHE_DIR": str(Settings().cache_dir),
        "HF_HUB_OFFLINE": "1",
    }

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    where = run(
        python, "-c", "import codefinder, codefinder.search.engine as e; print(codefinder.__file__, e.__file__)"
    )
    assert all(str(fresh_site) in path for path in where.split()), where
    assert CHECKOUT is not None and str(CHECKOUT) not in where
    codefinder = str(venv / "bin" / "codefinder")
    run(codefinder, "build", "--data-dir", str(Settings().data_dir))
    assert (home / "index" / "current" / "manifest.json").is_file()  # under CODEFINDER_HOME, not site-packages
    found = json.loads(run(codefinder, "search", "cpap machine", "--json"))
    assert found["hits"][0]["code"] == "E0601" and found["hits"][0]["confidence"] is not None
    snippet = run(
        python,
        "-c",
        "from codefinder import open_engine\nengine = open_engine()\nprint(engine.search('cpap machine').hits[0].code)",
    )
    assert snippet.strip() == "E0601"

    port = _free_port()
    server = subprocess.Popen(
        [codefinder, "serve", "--port", str(port), "--no-access-log"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as ready:
                    if ready.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the installed server never became ready"
            time.sleep(0.5)
        with urllib.request.urlopen(f"{base}/search?q=cpap%20machine&limit=1", timeout=10) as answer:
            assert json.loads(answer.read())["hits"][0]["code"] == "E0601"
        with urllib.request.urlopen(f"{base}/docs", timeout=10) as docs:
            assert b"/static/docs/swagger-ui-bundle.js" in docs.read()
        with urllib.request.urlopen(f"{base}/static/docs/swagger-ui-bundle.js", timeout=10) as bundle:
            assert bundle.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def readme_python_snippet() -> str:
    """The README's first Python block (on its first screen)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_python_snippet_runs_as_written(real_context, tmp_path):
    """Exactly the README's lines, in a new interpreter whose only configuration is the index location."""
    snippet = readme_python_snippet()
    *statements, last = [line for line in snippet.splitlines() if line.strip()]
    program = "\n".join([*statements, f"print(repr({last.split('#')[0].strip()}))"])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CODEFINDER_")},
        "CODEFINDER_INDEX": str(real_context.settings.index),
        "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "'E0601'"
