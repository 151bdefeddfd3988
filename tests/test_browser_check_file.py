"""The web page's "Check a file" mode in a real browser (Debian's Chromium, Playwright): a CSV posted in
chunks to /verify/csv, the report as a sortable, filterable table with the rows to review first, a chart of
verdicts, and the report CSV downloaded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.browser import context_options
from codefinder.api.context import AppContext
from tests.test_browser import TOUCH_TARGET_PX, WAIT_MS, serve

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

LINES = [
    ("walker", "E0130", ""),
    ("madeupcillin 1 g", "J9901", "2"),
    ("office visit", "99213", ""),
    ("wrist splint", "L9901-LT-RT", ""),
    ("keytruda", "J9271", ""),
    ("walker", "E0130 ZZ", ""),
]
ROWS = 1203  # more than the 1,000 rows one request may carry: the page sends two chunks


def csv_bytes() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Charge Description", "HCPCS", "Units"])
    for i in range(ROWS):
        description, code, units = LINES[i % len(LINES)]
        writer.writerow([description if i != 7 else "walker,\nwith a line break", code, units])
    return out.getvalue().encode("utf-8")


@pytest.fixture
def base_url(verify_settings, fake_encoder) -> Iterator[str]:
    context = AppContext(settings=verify_settings, encoder_factory=lambda _settings: fake_encoder)
    with serve(context) as base:
        yield base


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS * 6)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base_url + "/")
    yield page
    context.close()
    assert not errors, errors


def test_check_a_file_shows_the_report_and_downloads_it(page):
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.url.endswith("/verify/csv") else None)
    page.click("#check-file-toggle")
    expect(page.locator("#check-file")).to_be_visible()
    expect(page.locator("#check-file-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#workspace")).to_be_hidden()
    expect(page.locator("#q")).to_be_hidden()  # the search box belongs to the other mode
    expect(page.locator("#cf-file")).to_be_focused()

    page.set_input_files("#cf-file", files=[{"name": "lines.csv", "mimeType": "text/csv", "buffer": csv_bytes()}])
    page.click("#cf-run")
    expect(page.locator("#cf-status")).to_contain_text(f"Checked {ROWS:,} rows of lines.csv")
    assert len(posts) == 2

    rows = page.locator("#cf-table tbody tr")
    expect(rows.first).not_to_have_attribute("data-verdict", "consistent")  # rows to review come first
    chart = page.locator("#cf-summary .cf-bar-row")
    verdicts = chart.evaluate_all("rows => rows.map(row => row.dataset.verdict)")
    assert {"needs_cpt", "malformed"} <= set(verdicts)
    expect(page.locator("#cf-summary")).to_contain_text("rows with flags")

    page.fill("#cf-filter", "99213")
    expect(rows.first).to_have_attribute("data-verdict", "needs_cpt")
    assert set(rows.evaluate_all("rows => rows.map(row => row.dataset.verdict)")) == {"needs_cpt"}
    page.fill("#cf-filter", "")
    page.select_option("#cf-verdict", "malformed")
    expect(rows.first).to_contain_text("unknown modifier 'ZZ'")
    page.select_option("#cf-verdict", index=0)

    page.click("#cf-table th button[data-column='line']")
    lines = rows.evaluate_all("rows => rows.slice(0, 5).map(row => Number(row.dataset.line))")
    assert lines == [2, 3, 4, 5, 6]
    expect(page.locator("#cf-table th[aria-sort='ascending']")).to_have_count(1)
    page.click("#cf-table th button[data-column='line']")
    expect(page.locator("#cf-table th[aria-sort='descending']")).to_have_count(1)
    # line 9 starts the record with a line break in it: the next record is on line 11 (numbered as in the file)
    page.fill("#cf-filter", "line break")
    expect(rows.first).to_have_attribute("data-line", "9")

    with page.expect_download() as download:
        page.click("#cf-download")
    assert download.value.suggested_filename == "lines.report.csv"
    report = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(report) == ROWS
    assert list(report[0])[:4] == ["Charge Description", "HCPCS", "Units", "line"]
    numbers = [int(row["line"]) for row in report]
    assert numbers == sorted(numbers) and numbers[:8] == list(range(2, 10)) and numbers[8] == 11
    assert {row["verdict"] for row in report if row["HCPCS"] == "99213"} == {"needs_cpt"}

    # a better code opens in the search mode's details
    page.fill("#cf-filter", "walker")
    page.select_option("#cf-verdict", "suspect")
    better = rows.first.locator("button.link").first
    code = better.inner_text()
    better.click()
    expect(page.locator("#check-file")).to_be_hidden()
    expect(page.locator("#details-body .record-code")).to_have_text(code)
    page.click("#check-file-toggle")
    expect(rows.first).to_be_visible()  # the report is still there
    page.click("#mode-search")
    expect(page.locator("#workspace")).to_be_visible()
    expect(page.locator("#check-file")).to_be_hidden()
    expect(page.locator("#q")).to_be_focused()


def test_the_check_a_code_form_shows_why(page):
    page.fill("#v-description", "office visit")
    page.fill("#v-code", "99213")
    page.click("#v-submit")
    expect(page.locator("#verify-result .verdict")).to_have_attribute("data-verdict", "needs_cpt")
    expect(page.locator("#verify-result .why[data-rule='needs_cpt']")).to_contain_text("CPT code, not loaded")
    page.fill("#v-description", "wrist splint")
    page.fill("#v-code", "L9901-LT-RT")
    page.click("#v-submit")
    expect(page.locator("#verify-result .flags .why[data-rule='modifier_conflict']")).to_contain_text("LT")


def test_on_a_phone_each_report_row_is_a_card(browser, base_url):
    """At 390 px the report is a list of cards, each field with its column's name and empty fields left out,
    so nothing runs off the side of the screen."""
    context = browser.new_context(**context_options(390, "light"))
    page = context.new_page()
    page.set_default_timeout(WAIT_MS * 6)
    try:
        page.goto(base_url + "/")
        page.click("#check-file-toggle")
        # suspect by a rule that holds on the tiny fixture index whatever the low-confidence line is
        lines = b"description,code\ncpap machine,J9271\noffice visit,99213\n"
        page.set_input_files("#cf-file", files=[{"name": "lines.csv", "mimeType": "text/csv", "buffer": lines}])
        page.click("#cf-run")
        expect(page.locator("#cf-status")).to_contain_text("Checked 2 rows")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        card = page.locator("#cf-table tbody tr").first
        expect(card).to_have_attribute("data-verdict", "suspect")
        verdict = card.locator("td[data-label='verdict']")
        assert verdict.evaluate("td => getComputedStyle(td, '::before').content") == '"verdict"'
        assert card.bounding_box()["width"] <= 390
        better = card.locator("td[data-label='better codes'] button.link").first
        assert better.bounding_box()["height"] >= TOUCH_TARGET_PX
        shown = card.locator("td").evaluate_all("cells => cells.filter(cell => cell.offsetHeight > 0).length")
        assert shown < card.locator("td").count()  # the empty fields (no flags, no expected units) are left out
    finally:
        context.close()
