"""The web page in a real browser: Debian's Chromium driven by Playwright against the app on a local port.
Search, details, check a code and the note view here, at a laptop's width and a phone's; "Check a file" in
test_browser_check_file.py; the accessibility check of every mode in test_browser_accessibility.py."""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.browser import CHROMIUM, browser_tests_required, context_options

if not CHROMIUM.is_file():
    if browser_tests_required():  # make test runs make browser, which installs it: missing there is a failure
        raise RuntimeError(f"{CHROMIUM} not found; `make browser` installs it")
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

from codefinder.api.app import create_app  # noqa: E402
from codefinder.api.context import AppContext  # noqa: E402

expect = playwright_api.expect
WAIT_MS = 5000
LAPTOP = {"width": 1280, "height": 800}
TOUCH_TARGET_PX = 44


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


def api(base: str, path: str, **params: str) -> dict:
    """The JSON the page is answered with, fetched directly, to compare what it shows against."""
    with urllib.request.urlopen(f"{base}{path}?{urllib.parse.urlencode(params)}", timeout=10) as response:
        return json.load(response)


@pytest.fixture
def base_url(browser_settings, fake_encoder) -> Iterator[str]:
    # The fixture index holds a dozen codes, so every code ranks somewhere near the top; a tighter
    # "consistent" rank makes "walker" vs J9271 suspect, as it is on the real index.
    settings = browser_settings.model_copy(update={"verify_consistent_rank": 3})
    context = AppContext(settings=settings, encoder_factory=lambda _settings: fake_encoder)
    with serve(context) as base:
        yield base


def open_page(browser, base_url: str, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"unexpected dialog: {dialog.message}"))
    page.goto(base_url + "/")
    return context, page, errors


@pytest.fixture
def page(browser, base_url):
    context, page, errors = open_page(browser, base_url, viewport=LAPTOP)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def phone(browser, base_url):
    """The page on a 390 px touch screen."""
    context, page, errors = open_page(browser, base_url, **context_options(390, "light"))
    yield page
    context.close()
    assert not errors, errors


def type_query(page, text: str) -> None:
    page.locator("#q").click()
    page.keyboard.type(text, delay=30)


def result_codes(page) -> list[str]:
    return page.locator("#results > li").evaluate_all("items => items.map(item => item.dataset.code)")


def wait_for_first(page, code: str) -> None:
    expect(page.locator("#results > li").first).to_have_attribute("data-code", code)


# --- search ------------------------------------------------------------------------------------------


def test_page_is_self_contained_and_labelled(page):
    html = page.content()
    assert "http://" not in html and "https://" not in html  # no CDN, no web font
    expect(page.locator("#q")).to_be_focused()  # autofocus
    expect(page.get_by_label("Search codes by description, code or code prefix")).to_be_visible()
    for role, name in [
        ("combobox", "Section"),
        ("combobox", "Kind"),
        ("combobox", "Mode"),
        ("combobox", "Setting"),
        ("checkbox", "Include terminated"),
        ("textbox", "Description"),
        ("textbox", "Code"),
        ("textbox", "Units"),
        ("button", "Check"),
        ("button", "Search"),
        ("button", "Check a file"),
    ]:
        expect(page.get_by_role(role, name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("listbox", name="Search results", include_hidden=True)).to_be_attached()
    expect(page.locator("#kbd-help")).to_contain_text("Enter")
    expect(page.locator("#filters-toggle")).to_be_hidden()  # on a laptop the filters are always in view


def test_typing_shows_suggestions_then_ranked_results(page):
    type_query(page, "standard wheelchair")
    wait_for_first(page, "K0001")
    first = page.locator("#results > li").first
    expect(first.locator(".code")).to_have_text("K0001")
    expect(first).to_contain_text("Standard wheelchair")
    expect(first.locator(".badge.level")).to_contain_text("K ·")
    expect(first.locator(".why")).to_contain_text("wheelchair")
    expect(page.locator("#summary")).to_contain_text("result")
    expect(page.locator("#summary")).to_contain_text("ms")
    expect(page.locator("#suggestions li").first).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    assert page.evaluate("new URL(location.href).searchParams.get('q')") == "standard wheelchair"


def test_confidence_is_the_one_figure_and_a_named_code_gets_a_badge(page, base_url):
    """Each text hit shows its confidence with its word; the fused score and the ranks are in the details;
    a code or code prefix the query names has no confidence and a badge of its own."""
    type_query(page, "cpap machine")
    wait_for_first(page, "E0601")
    answer = api(base_url, "/search", q="cpap machine", limit="20")
    hits = page.locator("#results > li")
    for i, hit in enumerate(answer["hits"][:5]):
        badge = hits.nth(i).locator(".conf")
        expect(badge).to_have_attribute("data-band", hit["confidence_band"])
        expect(badge).to_contain_text(hit["confidence_band"], ignore_case=True)
        expect(badge).to_contain_text("%")
    listed = page.locator("#results").inner_text()
    assert f"{answer['hits'][0]['score']:.4f}" not in listed and "keyword #" not in listed

    page.fill("#q", "E0")
    wait_for_first(page, "E0130")
    prefix = page.locator("#results > li").first.locator(".conf")
    expect(prefix).to_have_text("code prefix")
    expect(prefix).to_have_class(re.compile(r"\bcode\b"))
    page.fill("#q", "E0601")
    wait_for_first(page, "E0601")
    expect(page.locator("#results > li").first.locator(".conf")).to_have_text("code")
    assert "%" not in page.locator("#results > li").first.locator(".hit-head").inner_text()


def test_what_the_query_says_is_above_the_list_once(page, base_url):
    """The expansions are listed once above the list; a hit repeats only those not every hit matched."""
    type_query(page, "cpap machine")
    wait_for_first(page, "E0601")
    read_as = page.locator("#query-notes #read-as")
    expect(read_as).to_contain_text("cpap machine → continuous positive airway pressure device")
    answer = api(base_url, "/search", q="cpap machine", limit="20")
    matched = [bool(hit["matched_expansions"]) for hit in answer["hits"]]
    shown = page.locator("#results > li").evaluate_all(
        "items => items.map(item => Boolean(item.querySelector('.why .expansion')))"
    )
    assert shown == ([False] * len(matched) if all(matched) else matched)
    assert any(matched) and not all(matched)  # the fixture has both: E0601 matched it, the rest did not

    # matched words: on a hit, those not every hit matched ("walker" is on every walker)
    page.select_option("#f-mode", "keyword")  # the words alone: every hit has "walker"
    page.fill("#q", "walker")
    wait_for_first(page, "E0130")
    answer = api(base_url, "/search", q="walker", limit="20", mode="keyword")
    shared = set.intersection(*(set(hit["matched_terms"]) for hit in answer["hits"]))
    assert "walker" in shared
    shown = page.locator("#results > li").evaluate_all(
        "items => items.map(item => [...item.querySelectorAll('.why .matched .term')].map(term => term.textContent))"
    )
    assert shown == [[term for term in hit["matched_terms"] if term not in shared] for hit in answer["hits"]]
    page.select_option("#f-mode", "hybrid")

    assert api(base_url, "/search", q="pizza")["no_good_match"]  # the fixture index has no food
    page.fill("#q", "pizza")
    expect(page.locator("#query-notes #no-good-match")).to_contain_text("No good match")
    notes_box = page.locator("#query-notes").bounding_box()
    assert notes_box["y"] < page.locator("#results").bounding_box()["y"]  # above the list

    page.fill("#q", "99213")
    expect(page.locator("#query-notes #needs-cpt")).to_contain_text("CPT code, not loaded")
    expect(page.locator("#empty")).to_be_hidden()

    page.fill("#q", "walkr")
    expect(page.locator("#did-you-mean")).to_contain_text("walker")
    page.locator("#did-you-mean button").click()
    expect(page.locator("#q")).to_have_value("walker")
    wait_for_first(page, "E0130")
    expect(page.locator("#did-you-mean")).to_have_count(0)


def test_suggestions_follow_the_filters(page):
    type_query(page, "walk")
    expect(page.locator("#suggestions li").first).to_have_attribute("data-code", "E0130")
    with page.expect_request(lambda request: "/autocomplete" in request.url and "section=J" in request.url):
        page.select_option("#f-section", "J")
    expect(page.locator("#suggestions li[data-code^='E']")).to_have_count(0)
    expect(page.locator("#results > li[data-code^='E']")).to_have_count(0)


def test_keyboard_highlight_details_copy_and_escape(page):
    placeholder = page.locator("#details-body").inner_html()
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
    # why it is #1: the numbers the list leaves out
    why = details.locator(".why-hit")
    expect(why.locator("dt", has_text="Score")).to_have_count(1)
    expect(why.locator("dt", has_text="Ranks").locator("xpath=following-sibling::dd[1]")).to_contain_text("keyword #1")
    expect(why.locator(".conf")).to_be_visible()
    # fields with a value only: no "—" rows
    labels = details.locator(".record > dl.fields > dt").all_inner_texts()
    assert {"Level", "Section", "Status", "BETOS", "OPPS status indicator", "Sources"} <= set(labels), labels
    # the record has no cross reference, drug dosage, synonyms or termination date: they are not listed
    assert not {"Cross reference", "Drug dosage", "Synonyms", "Terminated", "Short description"} & set(labels)
    assert "—" not in details.locator("dl").first.inner_text()
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
    assert details.inner_html() == placeholder  # the panel as it was, its keys styled as before


def test_clicking_a_result_opens_it(page):
    type_query(page, "keytruda")
    wait_for_first(page, "J9271")
    first = page.locator("#results > li").first
    expect(first.locator(".why")).to_contain_text("synonym: keytruda")
    first.click()
    details = page.locator("#details-body")
    expect(details.locator(".record-code")).to_have_text("J9271")
    synonyms = details.locator(".record > dl.fields > dt", has_text=re.compile("^Synonyms$"))
    expect(synonyms.locator("xpath=following-sibling::dd[1]")).to_contain_text("keytruda", ignore_case=True)


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


def test_setting_reruns_the_search_for_a_hospital(page, base_url):
    """A hospital bills the implant with its OPPS device category C code: switching the setting reorders
    the page's list exactly as /search orders it for each setting."""
    query = "madeup breast implant"
    for_anyone = [hit["code"] for hit in api(base_url, "/search", q=query, limit="20")["hits"]]
    for_hospital = [hit["code"] for hit in api(base_url, "/search", q=query, limit="20", setting="hospital")["hits"]]
    assert for_anyone != for_hospital and for_anyone[:2] == ["L9931", "C1939"] and for_hospital[0] == "C1939"

    type_query(page, query)
    wait_for_first(page, "L9931")
    assert result_codes(page) == for_anyone
    with page.expect_response(lambda response: "setting=hospital" in response.url):
        page.select_option("#f-setting", "hospital")
    wait_for_first(page, "C1939")
    assert result_codes(page) == for_hospital


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
    first.click()
    expect(page.locator("#details-body .record-head .badge.terminated")).to_contain_text("Terminated")


def with_statuses(answer: dict) -> dict:
    """A real /search answer whose first hits carry the statuses a newer release gives (not in the current
    lists with a replacement, not yet effective): the fixture's lists give none."""
    changed = copy.deepcopy(answer)
    retired, future = changed["hits"][0], changed["hits"][1]
    retired.update(status="not_in_current_lists", missing_from=["made_up_list_2099.csv"], replaced_by=["E0141"])
    future.update(status="not_yet_effective", add_date="2099-07-01")
    return changed


def test_statuses_on_hits_and_in_details(page, base_url):
    answer = api(base_url, "/search", q="walker", limit="20", offset="0", mode="hybrid")
    changed = with_statuses(answer)
    record = api(base_url, f"/codes/{changed['hits'][0]['code']}")
    record.update(status="not_in_current_lists", missing_from=["made_up_list_2099.csv"], replaced_by=["E0141"])
    walker_search = re.compile(r"/search\?q=walker&")
    page.route(walker_search, lambda route: route.fulfill(json=changed))
    page.route(f"**/codes/{record['code']}", lambda route: route.fulfill(json=record))
    type_query(page, "walker")
    hits = page.locator("#results > li")
    expect(hits.first.locator(".badge.notcurrent")).to_have_text("Not in current lists")
    expect(hits.first.locator(".badge.notcurrent")).to_have_attribute("title", re.compile("made_up_list_2099"))
    expect(hits.first.locator(".status-note")).to_have_text("replaced by E0141")
    expect(hits.first.locator("button")).to_have_count(0)  # a hit is one target: it opens the details
    expect(hits.nth(1).locator(".badge.notcurrent")).to_have_text("Not yet effective until 2099-07-01")
    expect(hits.nth(2).locator(".badge.active, .badge.notcurrent, .badge.terminated")).to_have_count(0)  # active

    hits.first.click()
    details = page.locator("#details-body")
    expect(details.locator(".record-head .badge.notcurrent")).to_have_text("Not in current lists")
    expect(details.locator("dt", has_text="Missing from").locator("xpath=following-sibling::dd[1]")).to_have_text(
        "made_up_list_2099.csv"
    )
    page.unroute(walker_search)
    details.locator("button[data-search='E0141']").click()  # a replacement code searches that code
    expect(page.locator("#q")).to_have_value("E0141")
    wait_for_first(page, "E0141")


def test_check_a_code_shows_the_verdict_with_its_reasons_flags_and_units(page):
    page.fill("#v-description", "keytruda")
    page.fill("#v-code", "J9271")
    page.click("#v-submit")
    result = page.locator("#verify-result")
    verdict = result.locator(".verdict")
    expect(verdict).to_have_attribute("data-verdict", "consistent")
    expect(verdict).to_have_text("Consistent")
    expect(result).to_contain_text("rank #1")

    page.fill("#v-description", "keytruda 200 mg")
    page.fill("#v-units", "2")
    page.click("#v-submit")
    expect(result.locator(".flags .why[data-rule='units_mismatch']")).to_contain_text("expected 200")
    expect(result.locator(".units-line")).to_contain_text("billed 2, expected 200")

    page.fill("#v-units", "two")
    page.click("#v-submit")
    expect(result.locator(".notice.error")).to_contain_text("Units must be a number")
    expect(page.locator("#v-units")).to_be_focused()

    page.fill("#v-units", "")
    page.fill("#v-description", "walker")
    page.fill("#v-code", "J9271")
    page.keyboard.press("Enter")
    expect(verdict).to_have_attribute("data-verdict", "suspect")
    expect(result.locator(".reasons .why").first).to_be_visible()
    expect(result).to_contain_text("Better candidates")
    candidates = result.locator(".candidates button")
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
    expect(page.locator("#verify-result")).to_contain_text("Unknown code")


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


def test_a_keyed_server_asks_for_the_key_once_and_then_searches(browser, browser_settings, fake_encoder):
    """With API keys on, the page's first call gets 401: it asks for a key, keeps it for the tab and
    sends it as X-API-Key from then on."""
    from pydantic import SecretStr

    key = "browser-test-key-0123456789"
    settings = browser_settings.model_copy(update={"api_keys": SecretStr(key)})
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.type)
        dialog.accept(key)

    with serve(AppContext(settings=settings, encoder_factory=lambda _settings: fake_encoder)) as base:
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
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
            context.close()


def test_api_docs_render_offline(browser, base_url):
    """/docs (Swagger UI 5, from the fastapi-offline package's assets) renders with no request leaving the
    host."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    outside: list[str] = []

    def note(request) -> None:  # type: ignore[no-untyped-def]  # blob: and data: URLs are made in the page
        if request.url.startswith(("http:", "https:")) and not request.url.startswith(base_url):
            outside.append(request.url)

    page.on("request", note)
    try:
        page.goto(base_url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("codefinder", timeout=15000)
        expect(page.locator(".opblock-summary-path", has_text="/search").first).to_be_visible()
        assert not outside, outside
    finally:
        context.close()


# --- the note view -----------------------------------------------------------------------------------

NOTE = (
    "ED note: Keytruda 200 mg IV given over 30 min. Pt tolerated well. BP 120/80. "
    "Standard wheelchair dispensed for home. CPAP machine set up at 10 cm H2O."
)


def paste(page, text: str) -> None:
    """What pasting does: the paste event carries the text with its line breaks, the one-line box drops them."""
    page.locator("#q").click()
    page.evaluate(
        """note => {
            const data = new DataTransfer();
            data.setData("text/plain", note);
            document.querySelector("#q").dispatchEvent(new ClipboardEvent("paste", {clipboardData: data}));
        }""",
        text,
    )
    page.fill("#q", text.replace("\n", ""))


def test_a_pasted_note_shows_each_item_with_its_codes(page):
    paste(page, NOTE.replace(". ", ".\n"))
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
    # the confidence as on a search hit: a figure with its word
    expect(view.locator(".note-code .conf").first).to_have_attribute("data-band", re.compile("high|possible|unlikely"))
    # the note keeps the line breaks it was pasted with
    assert "\n" in view.locator(".note-text").inner_text()
    # a mention leads to its card
    marks.first.click()
    expect(view.locator("li.note-item").first).to_be_focused()
    # a code opens in the details panel, the note stays
    view.locator(".note-code a[data-code='J9271']").first.click()
    expect(page.locator("#details-body .record-code")).to_have_text("J9271")
    expect(view).to_be_visible()
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


# --- a phone -----------------------------------------------------------------------------------------


def small_targets(page) -> list[str]:
    """Visible controls smaller than a touch target (a checkbox counts by its label, as the label takes the tap)."""
    return page.evaluate(
        """limit => {
            const controls = document.querySelectorAll(
                "button, select, input, a[href], [role=option]:not(.hit), label.check, summary");
            const small = [];
            for (const el of controls) {
                if (el.type === "checkbox" || el.closest(".visually-hidden")) continue;
                if (el.classList.contains("skip-link")) continue;
                if (el.closest("[inert]")) continue;
                const box = el.getBoundingClientRect();
                const style = getComputedStyle(el);
                if (!box.width || !box.height || style.visibility === "hidden") continue;
                if (box.bottom < 0 || box.top > innerHeight) continue;  // what is on the screen
                if (box.height < limit || box.width < limit) {
                    const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
                    small.push(`${el.tagName.toLowerCase()}#${el.id || ""}.${el.className} ${size}`);
                }
            }
            return small;
        }""",
        TOUCH_TARGET_PX,
    )


def test_on_a_phone_the_header_is_compact_and_the_filters_fold(phone):
    header = phone.locator("header.topbar").bounding_box()
    assert header["height"] <= 120, header  # was 238 px
    expect(phone.locator("#kbd-help")).to_be_hidden()  # no keyboard shortcuts on a touch screen
    expect(phone.locator("#f-section")).to_be_hidden()
    assert not small_targets(phone), small_targets(phone)

    toggle = phone.locator("#filters-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.tap()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#f-section")).to_be_visible()
    assert not small_targets(phone), small_targets(phone)
    checkbox = phone.locator("#f-terminated").bounding_box()
    assert checkbox["width"] >= 24 and phone.locator("label.check").bounding_box()["height"] >= TOUCH_TARGET_PX
    phone.select_option("#f-section", "E")
    expect(phone.get_by_role("button", name="Filters 1 set", exact=True)).to_be_visible()
    expect(phone.locator("#filters-count")).to_have_text("1 set")  # "set" for a screen reader only
    toggle.tap()
    expect(phone.locator("#f-section")).to_be_hidden()


def test_on_a_phone_a_tapped_result_opens_over_the_list(phone):
    type_query(phone, "walker")
    wait_for_first(phone, "E0130")
    assert not small_targets(phone), small_targets(phone)
    phone.evaluate("window.scrollTo(0, 120)")
    hits = phone.locator("#results > li")
    hits.nth(1).tap()
    scrolled = phone.evaluate("window.scrollY")
    details = phone.locator("#details")
    expect(details.locator(".record-code")).to_have_text("E0141")
    box = details.bounding_box()
    viewport = phone.viewport_size
    assert box["y"] == 0 and box["height"] >= viewport["height"] - 1, box  # on screen, over the list
    expect(details).to_be_focused()
    assert phone.locator("header.topbar").evaluate("el => el.inert")  # what lies under cannot be reached
    assert not small_targets(phone), small_targets(phone)

    phone.locator("#details-close").tap()
    expect(details).to_be_hidden()
    assert phone.evaluate("window.scrollY") == scrolled > 0  # back where the coder was
    assert not phone.locator("header.topbar").evaluate("el => el.inert")
    expect(hits.nth(1)).to_have_attribute("aria-selected", "true")
