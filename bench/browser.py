"""The browser the page's tests and screenshots drive: Debian's Chromium under Playwright (Playwright never
downloads a browser here), and axe-core, the accessibility rules engine, from tests/browser (``make browser``
runs ``npm ci`` there from its package-lock.json)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from codefinder.indexer.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = PROJECT_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"

# The two screens every view is checked and shown at: a phone held upright and a laptop.
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 800}
SCREENS = {390: PHONE, 1366: LAPTOP}
SCHEMES = ("light", "dark")


def context_options(width: int, scheme: str) -> dict[str, Any]:
    """``browser.new_context`` options for a screen: the phone is a touch screen, as a phone is."""
    phone = width < 600
    return {
        "viewport": SCREENS[width],
        "color_scheme": scheme,
        "device_scale_factor": 1,
        "is_mobile": phone,
        "has_touch": phone,
    }


def browser_tests_required() -> bool:
    """Whether a browser test that finds no Chromium or axe-core must fail rather than skip: under CI and
    ``make test`` (which installs both first, so a missing one is a broken install, not a choice)."""
    return bool(os.environ.get("CI")) or os.environ.get("BROWSER_TESTS") == "required"
