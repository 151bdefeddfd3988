"""Screenshots of the web page in each of its modes, on a phone and a laptop, light and dark.

    python -m bench.screenshots [--base http://127.0.0.1:8000] [--out docs/screenshots]   # or: make screenshots

Without ``--base`` it serves the built index (``codefinder build`` first) on a free port with
``codefinder serve`` and stops it afterwards. It writes ``{search,details,check-file,note}-{390,1366}-
{light,dark}.png``: "cpap machine" searched, its first hit's details, a small made-up claims file checked and a
made-up note read. The browser is Debian's Chromium (bench/browser.py).
"""

from __future__ import annotations

import argparse
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bench.browser import CHROMIUM, CHROMIUM_ARGS, SCHEMES, SCREENS, context_options
from bench.load import running_server
from codefinder.indexer.settings import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "screenshots"
SEARCH = "cpap machine"
# Lines and a note written for the screenshots (not taken from any evaluation file).
CLAIMS = """description,code,units
CPAP machine for home use,E0601,1
Keytruda 200 mg IV infusion,J9271,200
Keytruda 200 mg IV infusion,J9271,2
Folding walker with wheels,J9271,1
Office visit established patient,99213,1
Standard wheelchair,K0001,1
Ketorolac 30 mg IM injection,J1885,2
Oxygen concentrator,E1390,1
Screening mammogram digital,G0202,1
Wrist splint left,L3908 RT,1
"""
NOTE = (
    "ED course: Keytruda 200 mg IV given over 30 min. Ketorolac 30 mg IM for pain. Patient declined the CPAP "
    "machine. Standard wheelchair dispensed for home. Office visit, established patient."
)
WAIT_MS = 30_000


def capture(browser, base: str, out: Path, width: int, scheme: str) -> list[Path]:  # type: ignore[no-untyped-def]
    """The four views at one screen size and colour scheme; returns the files written."""
    from playwright.sync_api import expect

    written: list[Path] = []
    context = browser.new_context(**context_options(width, scheme))
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)

    def shot(view: str) -> None:
        page.wait_for_timeout(150)  # the last paint after the answer
        path = out / f"{view}-{width}-{scheme}.png"
        page.screenshot(path=str(path), animations="disabled", caret="hide")
        written.append(path)

    try:
        page.goto(f"{base}/?q={urllib.parse.quote(SEARCH)}")
        expect(page.locator("#results > li").first).to_be_visible()
        page.evaluate("document.activeElement && document.activeElement.blur()")
        shot("search")

        page.locator("#results > li").first.click()
        expect(page.locator("#details-body .record-code")).to_be_visible()
        shot("details")

        page.click("#details-close")
        page.click("#check-file-toggle")
        claims = {"name": "claims.csv", "mimeType": "text/csv", "buffer": CLAIMS.encode()}
        page.set_input_files("#cf-file", files=[claims])
        page.click("#cf-run")
        expect(page.locator("#cf-status")).to_contain_text("Checked")
        page.evaluate("document.activeElement && document.activeElement.blur()")
        shot("check-file")

        page.click("#mode-search")
        page.fill("#q", NOTE)
        expect(page.locator("#note-view .note-item").first).to_be_visible()
        page.evaluate("document.activeElement && document.activeElement.blur()")
        shot("note")
    finally:
        context.close()
    return written


@contextmanager
def served() -> Iterator[str]:
    with (
        tempfile.TemporaryDirectory(prefix="codefinder-screenshots-") as workdir,
        running_server(Path(workdir)) as server,
    ):
        yield server.base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a running codefinder server (default: serve the built index)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with (nullcontext(args.base.rstrip("/")) if args.base else served()) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for width in SCREENS:
                for scheme in SCHEMES:
                    for path in capture(browser, base, args.out, width, scheme):
                        print(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
