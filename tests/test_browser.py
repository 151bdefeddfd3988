"""The web page in a real browser: Debian's Chromium driven by Playwright against the app on a local port."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    if os.environ.get("CI"):  # CI installs it (make test → make browser): missing there is a failure
        raise RuntimeError(f"{CHROMIUM} not found; `make browser` installs it")
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from codefinder.api.app import create_app  # noqa: E402
from codefinder.api.context import AppContext  # noqa: E402

expect = playwright_api.expect
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 5000
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(context: AppContext, startup_timeout: float = 120.0) -> Iterator[str]:
    """The app under uvicorn in a background thread; yields its base URL once /healthz answers."""
    port = free_port()
    config = uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="codefinder-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200 and server.started:
                        break
            except OSError:
                pass
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start on {base}")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with tempfile.TemporaryDirectory(prefix="codefinder-chromium-") as profile, playwright_api.sync_playwright() as p:
        # A persistent context gives the fresh, throw-away profile directory explicitly.
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def base_url(built_settings, fake_encoder) -> Iterator[str]:
    # The fixture index holds a dozen codes, so every code ranks somewhere near the top; a tighter
    # "consistent" rank makes "walker" vs J9271 suspect, as it is on the real index.
    settings = built_settings.model_copy(update={"verify_consistent_rank": 3})
    context = AppContext(settings=settings, encoder_factory=lambda _settings: fake_encoder)
    with serve(context) as base:
        yield base


@pytest.fixture
def page(browser, base_url):
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"unexpected dialog: {dialog.message}"))
    page.goto(base_url + "/")
    yield page
    page.close()
    assert not errors, errors


def type_query(page, text: str) -> None:
    page.locator("#q").click()
    page.keyboard.type(text, delay=30)


def result_codes(page) -> list[str]:
    return page.locator("#results > li").evaluate_all("items => items.map(item => item.dataset.code)")


def wait_for_first(page, code: str) -> None:
    expect(page.locator("#results > li").first).to_have_attribute("data-code", code)


def test_page_is_self_contained_and_labelled(page):
    html = page.content()
    assert "http://" not in html and "https://" not in html  # no CDN, no web font
    expect(page.locator("#q")).to_be_focused()  # autofocus
    expect(page.get_by_label("Search codes by description, code or code prefix")).to_be_visible()
    for role, name in [
        ("combobox", "Section"),
        ("combobox", "Kind"),
        ("combobox", "Mode"),
        ("checkbox", "Include terminated"),
        ("textbox", "Description"),
        ("textbox", "Code"),
        ("button", "Check"),
    ]:
        expect(page.get_by_role(role, name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("listbox", name="Search results", include_hidden=True)).to_be_attached()
    expect(page.locator("#kbd-help")).to_contain_text("Enter")


def test_typing_shows_suggestions_then_ranked_results(page):
    type_query(page, "standard wheelchair")
    wait_for_first(page, "K0001")
    first = page.locator("#results > li").first
    expect(first.locator(".code")).to_have_text("K0001")
    expect(first).to_contain_text("Standard wheelchair")
    expect(first.locator(".badge.level")).to_contain_text("K ·")
    expect(first.locator(".why")).to_contain_text("wheelchair")
    expect(first.locator(".why .ranks")).to_contain_text("keyword #1")
    expect(page.locator("#summary")).to_contain_text("result")
    expect(page.locator("#summary")).to_contain_text("ms")
    expect(page.locator("#suggestions li").first).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    assert page.evaluate("new URL(location.href).searchParams.get('q')") == "standard wheelchair"


def test_keyboard_highlight_details_copy_and_escape(page):
    type_query(page, "standard wheelchair")
    wait_for_first(page, "K0001")
    items = page.locator("#results > li")
    expect(items.nth(0)).to_have_attribute("aria-selected", "false")
    page.keyboard.press("ArrowDown")
    expect(items.nth(0)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#q")).to_have_attribute("aria-activedescendant", "hit-0")
    if items.count() > 1:
        page.keyboard.press("ArrowDown")
        expect(items.nth(1)).to_have_attribute("aria-selected", "true")
        expect(items.nth(0)).to_have_attribute("aria-selected", "false")
        page.keyboard.press("ArrowUp")
        expect(items.nth(0)).to_have_attribute("aria-selected", "true")

    page.keyboard.press("Enter")
    details = page.locator("#details-body")
    expect(details.locator(".record-code")).to_have_text("K0001")
    expect(details).to_contain_text("Standard wheelchair")
    expect(details).to_contain_text("Durable medical equipment")
    for label in ("Short description", "BETOS", "OPPS status indicator", "Drug dosage", "Synonyms", "Sources"):
        expect(details.locator("dt", has_text=label)).to_have_count(1)
    expect(page.locator("#q")).to_be_focused()

    page.keyboard.press("Control+Shift+C")  # anywhere
    expect(page.locator("#toast")).to_have_text("Copied K0001")

    page.locator("#results").focus()
    page.keyboard.press("ArrowDown")
    highlighted = page.locator("#results > li[aria-selected=true]").get_attribute("data-code")
    page.keyboard.press("c")
    expect(page.locator("#toast")).to_have_text(f"Copied {highlighted}")

    page.keyboard.press("Escape")
    expect(page.locator("#details-body .record-code")).to_have_count(0)
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#q")).to_have_value("standard wheelchair")


def test_clicking_a_result_opens_it(page):
    type_query(page, "keytruda")
    wait_for_first(page, "J9271")
    first = page.locator("#results > li").first
    expect(first.locator(".why")).to_contain_text("synonym: keytruda")
    first.click()
    details = page.locator("#details-body")
    expect(details.locator(".record-code")).to_have_text("J9271")
    expect(details.locator("dt", has_text="Synonyms").locator("xpath=following-sibling::dd[1]")).to_contain_text(
        "keytruda", ignore_case=True
    )


def test_kind_filter_reruns_the_search(page):
    type_query(page, "left")
    expect(page.locator("#results > li").first).to_be_visible()
    page.select_option("#f-kind", "modifier")
    wait_for_first(page, "LT")
    expect(page.locator("#results > li").first.locator(".badge.level")).to_have_text("Modifier")
    assert set(result_codes(page)) <= {"LT", "A1"}
    page.select_option("#f-section", "E")
    expect(page.locator("#results > li")).to_have_count(0)
    expect(page.locator("#empty")).to_contain_text("No codes match")


def test_setting_reruns_the_search_for_a_hospital(page):
    type_query(page, "anchor screw")
    wait_for_first(page, "C1713")
    with page.expect_request(lambda request: "setting=hospital" in request.url):
        page.select_option("#f-setting", "hospital")
    wait_for_first(page, "C1713")


def test_include_terminated_shows_the_terminated_code(page):
    type_query(page, "screening mammography")
    expect(page.locator("#summary")).to_contain_text("result")
    assert "G0202" not in result_codes(page)
    page.check("#f-terminated")
    wait_for_first(page, "G0202")
    first = page.locator("#results > li").first
    expect(first).to_have_class("hit terminated")
    expect(first.locator(".badge.terminated")).to_contain_text("Terminated")
    assert first.locator(".long").evaluate("el => getComputedStyle(el).textDecorationLine") == "line-through"


def test_verify_form(page):
    page.fill("#v-description", "keytruda")
    page.fill("#v-code", "J9271")
    page.click("#v-submit")
    verdict = page.locator("#verify-result .verdict")
    expect(verdict).to_have_attribute("data-verdict", "consistent")
    expect(page.locator("#verify-result")).to_contain_text("rank #1")

    page.fill("#v-description", "walker")
    page.fill("#v-code", "J9271")
    page.keyboard.press("Enter")
    expect(verdict).to_have_attribute("data-verdict", "suspect")
    expect(page.locator("#verify-result")).to_contain_text("Better candidates")
    candidates = page.locator("#verify-result .candidates button")
    expect(candidates.first).to_have_text("E0130")
    candidates.first.click()
    expect(page.locator("#details-body .record-code")).to_have_text("E0130")


def test_errors_are_inline(page):
    page.fill("#q", "wheelchair " * 1900)  # 20,900 characters: a note over the /suggest limit
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("20000 characters")
    expect(page.locator("#results > li")).to_have_count(0)

    page.fill("#q", "")
    expect(error).to_be_hidden()
    expect(page.locator("#summary")).to_have_text("")

    page.fill("#v-description", "walker")
    page.fill("#v-code", "ZZ999")
    page.click("#v-submit")
    expect(page.locator("#verify-result")).to_contain_text("unknown")


SLOW_KEYTRUDA = """
const realFetch = window.fetch.bind(window);
window.fetch = async (url, options) => {
  const response = await realFetch(url, options);
  if (String(url).includes("/search?q=keytruda")) await new Promise((resolve) => setTimeout(resolve, 700));
  return response;
};
"""


def test_out_of_order_answers_are_ignored(page):
    # The first query's answer arrives after the second one's; the page must keep showing the second.
    page.add_init_script(SLOW_KEYTRUDA)
    page.reload()
    page.fill("#q", "keytruda")
    page.keyboard.press("Enter")
    page.fill("#q", "standard wheelchair")
    page.keyboard.press("Enter")
    wait_for_first(page, "K0001")
    page.wait_for_timeout(1000)
    wait_for_first(page, "K0001")
    expect(page.locator("#summary")).to_contain_text("standard wheelchair")


@pytest.mark.integration
def test_readme_screenshot(request, browser):
    try:
        real_context = request.getfixturevalue("real_context")  # built from ../shared/data with the real model
    except pytest.FixtureLookupError:
        pytest.skip("no real_context fixture in tests/conftest.py")
    with serve(real_context, startup_timeout=300) as base:
        page = browser.new_page()  # the module's browser: one sync Playwright per thread
        try:
            page.set_default_timeout(15000)
            page.goto(base + "/")
            type_query(page, "cpap machine")
            wait_for_first(page, "E0601")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            expect(page.locator("#details-body .record-code")).to_have_text("E0601")
            expect(page.locator("#details-body")).to_contain_text("Durable medical equipment")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            page.close()
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_keyed_server_asks_for_the_key_once_and_then_searches(browser, built_settings, fake_encoder):
    """With API keys on, the page's first call gets 401: it asks for a key, keeps it for the tab and
    sends it as X-API-Key from then on."""
    from pydantic import SecretStr

    key = "browser-test-key-0123456789"
    settings = built_settings.model_copy(update={"api_keys": SecretStr(key)})
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.type)
        dialog.accept(key)

    with serve(AppContext(settings=settings, encoder_factory=lambda _settings: fake_encoder)) as base:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("dialog", answer)
        try:
            page.goto(base + "/")
            type_query(page, "standard wheelchair")
            page.keyboard.press("Enter")
            wait_for_first(page, "K0001")
            type_query(page, " folding")
            page.keyboard.press("Enter")
            expect(page.locator("#error")).to_be_hidden()
            assert asked == ["prompt"]  # asked once; later calls reuse the stored key
            assert page.evaluate("sessionStorage.getItem('codefinder.apiKey')") == key
        finally:
            page.close()


def test_api_docs_render_offline(browser, base_url):
    """/docs (Swagger UI 5, from the fastapi-offline package's assets) renders with no request leaving the
    host."""
    page = browser.new_page()
    outside: list[str] = []
    def note(request) -> None:  # blob: and data: URLs are made in the page
        if request.url.startswith(("http:", "https:")) and not request.url.startswith(base_url):
            outside.append(request.url)

    page.on("request", note)
    try:
        page.goto(base_url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("codefinder", timeout=15000)
        expect(page.locator(".opblock-summary-path", has_text="/search").first).to_be_visible()
        assert not outside, outside
    finally:
        page.close()


NOTE = (
    "ED note: Keytruda 200 mg IV given over 30 min. Pt tolerated well. BP 120/80. "
    "Standard wheelchair dispensed for home. CPAP machine set up at 10 cm H2O."
)


def test_a_pasted_note_shows_each_item_with_its_codes(page):
    page.locator("#q").click()
    page.evaluate(
        """note => {
            const data = new DataTransfer();
            data.setData("text/plain", note);
            document.querySelector("#q").dispatchEvent(new ClipboardEvent("paste", {clipboardData: data}));
        }""",
        NOTE.replace(". ", ".\n"),
    )
    page.fill("#q", NOTE.replace(". ", ".\n").replace("\n", ""))  # a one-line box drops the line breaks
    view = page.locator("#note-view")
    expect(view).to_be_visible()
    expect(page.locator("#results")).to_be_hidden()
    marks = view.locator("mark.mention")
    expect(marks.first).to_be_visible()
    texts = marks.evaluate_all("nodes => nodes.map(node => node.firstChild.textContent)")
    assert any(t.startswith("Keytruda 200 mg IV") for t in texts), texts
    codes = view.locator(".note-code .code").evaluate_all("nodes => nodes.map(node => node.textContent)")
    assert {"J9271", "K0001", "E0601"} <= set(codes), codes
    expect(view.locator(".note-code .billing .units").first).to_have_text("× 200")
    # the note keeps the line breaks it was pasted with
    assert "\n" in view.locator(".note-text").inner_text()
    # a mention leads to its card
    marks.first.click()
    expect(view.locator("li.note-item").first).to_be_focused()
    # back to a plain search: the note view goes away
    page.fill("#q", "")
    type_query(page, "standard wheelchair")
    wait_for_first(page, "K0001")
    expect(view).to_be_hidden()


def test_two_sentences_are_a_note_but_a_chargemaster_line_is_not(page):
    type_query(page, "Gave keytruda 200 mg IV. Standard wheelchair dispensed today.")
    expect(page.locator("#note-view")).to_be_visible()
    page.fill("#q", "")
    type_query(page, "INJ. KEYTRUDA 200 MG")
    wait_for_first(page, "J9271")
    expect(page.locator("#note-view")).to_be_hidden()
