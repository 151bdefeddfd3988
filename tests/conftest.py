"""Shared fixtures: a deterministic fake encoder, tiny fixture sources, and indexes built in temp dirs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from codefinder.api.context import AppContext
from codefinder.indexer.build import build_index
from codefinder.indexer.settings import Settings
from codefinder.search.engine import SearchEngine
from codefinder.search.loader import load_index

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATA = FIXTURES / "data"
FIXTURE_SOURCES = (
    "hcpcs/HCPC2099_TEST_ANWEB.txt",
    "hcpcs/addendum_b_test.csv",
    "drugs/crosswalk_test.csv",
)
FIXTURE_HISTORY = ("hcpcs/HCPC2098_HISTORY_ANWEB.txt",)


class FakeEncoder:
    """Bag of hashed words: texts sharing words get similar vectors. Deterministic, instant, no model."""

    name = "fake-hashing-encoder"
    dimension = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                word = word[:-1] if word.endswith("s") and len(word) > 3 else word
                slot = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little") % self.dimension
                vectors[i, slot] += 1.0
            vectors[i, -1] += 0.01  # never a zero vector
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


class FailingEncoder(FakeEncoder):
    """An encoder whose every call fails, as a crashed model would."""

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise RuntimeError("encoder exploded")


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=FIXTURE_DATA,
        index=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        default_sources=FIXTURE_SOURCES,
        history_sources=FIXTURE_HISTORY,
    )


@pytest.fixture
def built_settings(settings: Settings, fake_encoder: FakeEncoder) -> Settings:
    build_index(settings, fake_encoder)
    return settings


@pytest.fixture
def engine(built_settings: Settings, fake_encoder: FakeEncoder) -> SearchEngine:
    return SearchEngine(load_index(built_settings.index), fake_encoder, built_settings)


@pytest.fixture
def app_context(settings: Settings, fake_encoder: FakeEncoder) -> AppContext:
    return AppContext(settings=settings, encoder_factory=lambda _settings: fake_encoder)


def shared_data_present() -> bool:
    settings = Settings()
    return (settings.data_dir / settings.default_sources[0]).is_file()


@pytest.fixture(scope="session")
def real_context(tmp_path_factory) -> AppContext:
    """An index built from the real CMS files with the real model (embedding cache shared with `make run`)."""
    if not shared_data_present():
        pytest.skip("shared data not found")
    settings = Settings()
    settings = settings.model_copy(update={"index": tmp_path_factory.mktemp("real") / "index"})
    context = AppContext(settings=settings)
    build_index(settings, context.build_encoder())
    return context


VERIFY_EXTRA = FIXTURE_DATA / "verify" / "extra_codes.csv"


@pytest.fixture
def verify_settings(settings: Settings, fake_encoder: FakeEncoder) -> Settings:
    """The fixture index plus what verification needs beyond it: more modifiers (RT, RR, NU, JW, JZ), a drug
    billed per 250 mg and one "up to 10 mg", siblings by volume, a pump and an orthosis (made-up names)."""
    sources = [FIXTURE_DATA / source for source in FIXTURE_SOURCES] + [VERIFY_EXTRA]
    build_index(settings, fake_encoder, sources=sources, history=[FIXTURE_DATA / h for h in FIXTURE_HISTORY])
    return settings


BROWSER_EXTRA = FIXTURE_DATA / "browser" / "hospital_devices.csv"


@pytest.fixture
def browser_settings(settings: Settings, fake_encoder: FakeEncoder) -> Settings:
    """The fixture index plus a made-up implant billed two ways (an L code and its OPPS device category C
    code), so the page's setting switch has an order to change: the browser tests' index."""
    sources = [FIXTURE_DATA / source for source in FIXTURE_SOURCES] + [BROWSER_EXTRA]
    build_index(settings, fake_encoder, sources=sources, history=[FIXTURE_DATA / h for h in FIXTURE_HISTORY])
    return settings


@pytest.fixture
def verify_engine(verify_settings: Settings, fake_encoder: FakeEncoder) -> SearchEngine:
    return SearchEngine(load_index(verify_settings.index), fake_encoder, verify_settings)


@pytest.fixture(scope="module")
def browser():
    """One headless Debian Chromium per browser test module (imported here so other tests need no playwright).
    Not per session: Playwright's sync API keeps an asyncio loop running on the main thread while it is open,
    and later tests that call ``anyio.run`` (the MCP tests) would find it there."""
    from playwright import sync_api

    from bench.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
