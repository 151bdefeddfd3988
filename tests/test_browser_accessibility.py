"""Every mode of the web page passes axe-core's rules (WCAG 2.x A and AA, colour contrast included, and best
practices) with no serious or critical violation: on a phone and a laptop, in the light and the dark theme.
axe-core comes from npm (tests/browser/package-lock.json; ``make browser`` runs ``npm ci``) and is injected
into the page by Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bench.browser import AXE_SCRIPT, SCHEMES, SCREENS, browser_tests_required, context_options
from codefinder.api.context import AppContext
from tests.test_browser import (
    WAIT_MS,
    api,
    paste,
    serve,
    type_query,
    wait_for_first,
    with_statuses,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

if not AXE_SCRIPT.is_file():
    if browser_tests_required():  # make test runs make browser, which installs it: missing there is a failure
        raise RuntimeError(f"{AXE_SCRIPT} not found; `make browser` installs it (npm ci --prefix tests/browser)")
    pytest.skip(f"{AXE_SCRIPT} not found: run `make browser`", allow_module_level=True)

BLOCKING = ("serious", "critical")
NOTE = "Keytruda 200 mg IV given over 30 min. Patient declined CPAP machine. Standard wheelchair dispensed for home."
LINES = b"""description,code,units
walker,E0130,1
walker,J9271,1
keytruda 200 mg,J9271,2
office visit,99213,1
screening mammography,G0202,1
standard wheelchair,K0001 ZZ,1
"""


@pytest.fixture
def base_url(browser_settings, fake_encoder) -> Iterator[str]:
    context = AppContext(settings=browser_settings, encoder_factory=lambda _settings: fake_encoder)
    with serve(context) as base:
        yield base


def violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    results = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")

    def where(node: dict) -> str:
        summary = node.get("failureSummary", "").splitlines()
        return " ".join(node["target"]) + f" [{summary[-1].strip() if summary else ''}]"

    return [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(where(node) for node in v["nodes"][:4])
        for v in results
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", list(SCREENS))
def test_every_mode_passes_axe(browser, base_url, width, scheme):
    context = browser.new_context(**context_options(width, scheme))
    page = context.new_page()
    page.set_default_timeout(WAIT_MS * 3)
    page.emulate_media(color_scheme=scheme)
    found: dict[str, list[str]] = {}
    try:
        page.goto(base_url + "/")
        found["empty page"] = violations(page)

        # the hits' status badges too: the first is not in the current lists, the second not yet effective
        walker = with_statuses(api(base_url, "/search", q="walker", limit="20", offset="0", mode="hybrid"))
        page.route(re.compile(r"/search\?q=walker&"), lambda route: route.fulfill(json=walker))
        type_query(page, "walker")
        wait_for_first(page, "E0130")
        expect(page.locator("#results > li .badge.notcurrent")).to_have_count(2)
        found["search results, status badges"] = violations(page)
        page.unroute(re.compile(r"/search\?q=walker&"))

        page.fill("#q", "pizza")  # the notes above the list: no good match (the fixture index has no food)
        expect(page.locator("#no-good-match")).to_be_visible()
        page.fill("#q", "E0")  # code prefix badges
        wait_for_first(page, "E0130")
        found["notes and code badges"] = violations(page)

        if page.locator("#filters-toggle").is_visible():
            page.click("#filters-toggle")
        page.check("#f-terminated")
        page.fill("#q", "screening mammography")
        wait_for_first(page, "G0202")
        found["filters open, a terminated code"] = violations(page)

        page.locator("#results > li").first.click()
        expect(page.locator("#details-body .record-code")).to_be_visible()
        found["details open"] = violations(page)
        page.locator("#details-close").click()

        page.fill("#v-description", "walker")
        page.fill("#v-code", "J9271")
        page.fill("#v-units", "2")
        page.click("#v-submit")
        expect(page.locator("#verify-result .verdict")).to_be_visible()
        found["check a code"] = violations(page)

        paste(page, NOTE)
        expect(page.locator("#note-view .note-item").first).to_be_visible()
        found["note view"] = violations(page)

        page.click("#check-file-toggle")
        page.set_input_files("#cf-file", files=[{"name": "lines.csv", "mimeType": "text/csv", "buffer": LINES}])
        page.click("#cf-run")
        expect(page.locator("#cf-status")).to_contain_text("Checked")
        found["check a file report"] = violations(page)
    finally:
        context.close()
    failures = {mode: lines for mode, lines in found.items() if lines}
    assert not failures, "\n".join(f"{mode}: {line}" for mode, lines in failures.items() for line in lines)
