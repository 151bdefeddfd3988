// codefinder web page: instant suggestions, hybrid search, details, copy, check a code; the mode switch
// ("Search" / "Check a file") and the hooks note_view.js and check_file.js use. No dependencies.
"use strict";

(() => {
  const PAGE_SIZE = 20;
  const AUTOCOMPLETE_DELAY_MS = 120;
  const SEARCH_DELAY_MS = 300;
  const TOAST_MS = 1800;
  // Below this width the panes stack: the filters fold into a row under the search box and the details
  // open as a sheet over the page (app.css uses the same width).
  const NARROW = window.matchMedia("(max-width: 980px)");

  const byId = (id) => document.getElementById(id);
  const els = {
    form: byId("search-form"),
    q: byId("q"),
    filters: byId("filters"),
    filtersToggle: byId("filters-toggle"),
    filtersCount: byId("filters-count"),
    section: byId("f-section"),
    kind: byId("f-kind"),
    mode: byId("f-mode"),
    setting: byId("f-setting"),
    terminated: byId("f-terminated"),
    modeSearch: byId("mode-search"),
    modeFile: byId("check-file-toggle"),
    checkFile: byId("check-file"),
    suggestions: byId("suggestions"),
    summary: byId("summary"),
    degraded: byId("degraded"),
    error: byId("error"),
    queryNotes: byId("query-notes"),
    empty: byId("empty"),
    results: byId("results"),
    more: byId("more"),
    details: byId("details"),
    detailsTitle: byId("details-title"),
    detailsBody: byId("details-body"),
    detailsPlaceholder: byId("details-placeholder"),
    detailsCopy: byId("details-copy"),
    detailsClose: byId("details-close"),
    verifyForm: byId("verify-form"),
    verifyDescription: byId("v-description"),
    verifyCode: byId("v-code"),
    verifyUnits: byId("v-units"),
    verifySubmit: byId("v-submit"),
    verifyResult: byId("verify-result"),
    toast: byId("toast"),
  };

  const state = {
    key: null, // the query + filters the shown hits answer
    hits: [],
    total: 0,
    highlight: -1,
    detailsCode: null,
    suggestions: [],
    activeSuggestion: -1,
    errors: { search: null, autocomplete: null },
  };

  // One sequence number and one AbortController per kind of request: only the newest answer is shown.
  const seqs = { autocomplete: 0, search: 0, details: 0, verify: 0 };
  const controllers = {};
  const timers = {};

  function startRequest(kind) {
    if (controllers[kind]) controllers[kind].abort();
    controllers[kind] = new AbortController();
    seqs[kind] += 1;
    return { seq: seqs[kind], signal: controllers[kind].signal };
  }

  function cancelRequest(kind) {
    if (controllers[kind]) controllers[kind].abort();
    controllers[kind] = null;
    seqs[kind] += 1;
  }

  const isCurrent = (kind, seq) => seqs[kind] === seq;
  const isAbort = (error) => error && error.name === "AbortError";

  // --- DOM helpers ---------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const present = (value) =>
    value !== null && value !== undefined && value !== "" && !(Array.isArray(value) && value.length === 0);
  const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);
  const percent = (value) => (value < 0.005 ? "< 1 %" : `${Math.round(value * 100)} %`);
  const sameText = (a, b) => a.trim().toLowerCase() === b.trim().toLowerCase();

  // --- HTTP ---------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.name = "ApiError";
      this.status = status;
    }
  }

  // When the server is configured with API keys it answers 401; the page asks for a key once and keeps
  // it for this tab only (sessionStorage), sending it as X-API-Key.
  const KEY_STORE = "codefinder.apiKey";
  let keyPrompt = null;

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORE) || "";
    } catch {
      return "";
    }
  }

  function askForKey() {
    if (!keyPrompt) {
      keyPrompt = Promise.resolve().then(() => {
        const key = (window.prompt("This codefinder server needs an API key:") || "").trim();
        try {
          if (key) sessionStorage.setItem(KEY_STORE, key);
        } catch {
          /* storage disabled: the key is used for this request only */
        }
        keyPrompt = null;
        return key;
      });
    }
    return keyPrompt;
  }

  async function fetchWithKey(url, options, key) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (key) headers["X-API-Key"] = key;
    try {
      return await fetch(url, { ...options, headers });
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError("Network error: the codefinder server did not answer.", 0);
    }
  }

  async function getJSON(url, options = {}) {
    let response = await fetchWithKey(url, options, storedKey());
    if (response.status === 401) {
      const key = await askForKey();
      if (key) response = await fetchWithKey(url, options, key);
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      let detail = body && body.detail;
      if (Array.isArray(detail)) detail = detail.map((item) => item.msg || JSON.stringify(item)).join("; ");
      else if (detail && typeof detail !== "string") detail = JSON.stringify(detail);
      const prefix = response.status ? `${response.status}: ` : "";
      throw new ApiError(prefix + (detail || response.statusText || "request failed"), response.status);
    }
    if (body === null) throw new ApiError("The server sent an answer that is not JSON.", response.status);
    return body;
  }

  // --- inline errors ------------------------------------------------------------------------
  function setError(source, message) {
    state.errors[source] = message || null;
    const messages = [...new Set(Object.values(state.errors).filter(Boolean))];
    els.error.replaceChildren(...messages.map((m) => h("div", null, m)));
    els.error.hidden = messages.length === 0;
  }

  // --- modes --------------------------------------------------------------------------------
  // "search" (with the note view when a note is pasted) or "file" (check_file.js fills #check-file).
  function setMode(mode) {
    const file = mode === "file";
    if (file) closeDetails();
    document.body.dataset.mode = file ? "file" : "search";
    els.checkFile.hidden = !file;
    els.modeSearch.setAttribute("aria-pressed", file ? "false" : "true");
    els.modeFile.setAttribute("aria-pressed", file ? "true" : "false");
    const target = file ? els.checkFile.querySelector("input, button") : els.q;
    if (target) target.focus();
  }

  const inFileMode = () => document.body.dataset.mode === "file";

  // --- filters ------------------------------------------------------------------------------
  function showFilters(open) {
    els.filters.classList.toggle("open", open);
    els.filtersToggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function countFilters() {
    const chosen = [els.section.value, els.kind.value, els.mode.value !== "hybrid", els.setting.value !== "any", els.terminated.checked];
    const count = chosen.filter(Boolean).length;
    els.filtersCount.replaceChildren(...(count ? [String(count), h("span", { class: "visually-hidden" }, " set")] : []));
  }

  // --- labels -------------------------------------------------------------------------------
  function levelText(item) {
    if (item.kind === "modifier") return "Modifier";
    if (item.section) return item.section_name ? `${item.section} · ${item.section_name}` : `Section ${item.section}`;
    return item.level_label || item.level || "";
  }

  function levelBadge(item) {
    const title = [item.level_label, item.section_name].filter(Boolean).join(" — ");
    return h("span", { class: "badge level", title }, levelText(item));
  }

  // The status of a code, the same words on a hit, in the details and in a verdict. Active codes get a badge
  // only where every field is listed (the details): on a hit it would be noise.
  function statusBadge(item, { showActive = false } = {}) {
    if (item.status === "terminated") {
      const when = item.termination_date ? ` ${item.termination_date}` : "";
      return h("span", { class: "badge terminated", title: "terminated: no longer valid for claims" }, `Terminated${when}`);
    }
    if (item.status === "not_in_current_lists") {
      const lists = (item.missing_from || []).join(", ");
      const title = `newer lists that should carry this code do not${lists ? `: ${lists}` : ""}`;
      return h("span", { class: "badge notcurrent", title }, "Not in current lists");
    }
    if (item.status === "not_yet_effective") {
      const when = item.add_date ? ` until ${item.add_date}` : "";
      return h("span", { class: "badge notcurrent", title: "added after today: not valid for claims yet" }, `Not yet effective${when}`);
    }
    if (!showActive) return null;
    return h("span", { class: "badge active" }, item.status ? capitalize(item.status) : "Active");
  }

  // The codes that likely replace a code no longer in the current lists. In the details and a verdict they are
  // links that search that code; on a hit, text (the whole hit is one target: tapping it opens the details).
  function replacedBy(item, { links = true, words = true } = {}) {
    const codes = item.replaced_by || [];
    if (!codes.length) return null;
    const code = (replacement) =>
      links
        ? h("button", { type: "button", class: "link", "data-search": replacement, title: `Search ${replacement}`, onclick: () => searchFor(replacement) }, replacement)
        : h("span", { class: "mono" }, replacement);
    return h("span", { class: "status-note" }, words ? "replaced by " : "", codes.map((replacement, i) => [i ? ", " : "", code(replacement)]));
  }

  function searchFor(text) {
    if (inFileMode()) setMode("search");
    if (NARROW.matches) closeDetails();
    els.q.value = text;
    runSearch();
    runAutocomplete();
    els.q.focus();
  }

  // Confidence as one figure with its word; a code or code prefix the query names has no confidence and a
  // badge of another shape. ``item``: a hit or a suggested code (confidence, confidence_band).
  function confidenceBadge(item) {
    const band = item.confidence_band;
    if (band === "code" || band === "code prefix") {
      const title = band === "code" ? "the query names this code" : "the code starts with the code prefix the query names";
      return h("span", { class: "conf code", "data-band": band, title }, band);
    }
    if (item.confidence === null || item.confidence === undefined) return null;
    const word = band || "";
    return h(
      "span",
      {
        class: `conf ${word}`,
        "data-band": word,
        title: `calibrated probability that this code is right: ${percent(item.confidence)}${word ? ` (${word})` : ""}`,
      },
      word ? h("span", { class: "band" }, capitalize(word)) : null,
      h("span", { class: "pct" }, percent(item.confidence)),
    );
  }

  function ranksText(ranks) {
    const parts = Object.entries(ranks || {}).map(([name, rank]) => (rank ? `${name} #${rank}` : `${name} —`));
    return parts.join(" · ");
  }

  // --- expansions: shown once above the list; on a hit only those that not every hit matched ----------
  const expansionKey = (expansion) => `${expansion.from}\u2192${expansion.to}`;

  function uniqueExpansions(expansions) {
    const byKey = new Map();
    for (const expansion of expansions || []) {
      const key = expansionKey(expansion);
      const seen = byKey.get(key);
      if (seen) seen.kinds.add(expansion.kind);
      else byKey.set(key, { from: expansion.from, to: expansion.to, kinds: new Set([expansion.kind]) });
    }
    return [...byKey.values()];
  }

  // "mg → milligram, milligrams": the expansions of one phrase together
  function expansionTexts(expansions) {
    const byFrom = new Map();
    for (const expansion of expansions) {
      if (!byFrom.has(expansion.from)) byFrom.set(expansion.from, []);
      byFrom.get(expansion.from).push(expansion);
    }
    return [...byFrom.entries()].map(([from, targets]) =>
      h(
        "span",
        { class: "expansion", title: `query expansion (${[...new Set(targets.flatMap((t) => [...t.kinds]))].join(", ")})` },
        `${from} → `,
        targets.map((target, i) => [i ? ", " : "", h("span", { class: "term" }, target.to)]),
      ),
    );
  }

  // What every hit of the list has in common (two hits or more): said once, not on each hit.
  function sharedBy(hits, keysOf) {
    if (hits.length < 2) return new Set();
    const sets = hits.map((hit) => new Set(keysOf(hit)));
    return new Set([...sets[0]].filter((key) => sets.every((set) => set.has(key))));
  }

  const sharedExpansions = (hits) => sharedBy(hits, (hit) => (hit.matched_expansions || []).map(expansionKey));
  const sharedTerms = (hits) => sharedBy(hits, (hit) => hit.matched_terms || []);
  const terms = (list) => list.map((t, i) => [i ? " " : "", h("span", { class: "term" }, t)]);

  // --- search -------------------------------------------------------------------------------
  function searchParams() {
    const params = new URLSearchParams({ q: els.q.value, limit: String(PAGE_SIZE), offset: "0", mode: els.mode.value });
    if (els.section.value) params.set("section", els.section.value);
    if (els.kind.value) params.set("kind", els.kind.value);
    if (els.terminated.checked) params.set("include_terminated", "true");
    if (els.setting.value !== "any") params.set("setting", els.setting.value);
    return params;
  }

  function keyOf(params) {
    const copy = new URLSearchParams(params);
    copy.delete("offset");
    copy.delete("limit");
    return copy.toString();
  }

  async function runSearch({ append = false } = {}) {
    clearTimeout(timers.search);
    const query = els.q.value;
    if (!query.trim()) {
      clearResults();
      return;
    }
    if (noteView && noteView.isNote(query)) {
      // a pasted note: each billable item and its codes, from /suggest (note_view.js)
      cancelRequest("search");
      cancelRequest("autocomplete");
      renderSuggestions([]);
      els.summary.textContent = "";
      els.queryNotes.replaceChildren();
      noteView.show(query, els.setting.value, (message) => setError("search", message));
      rememberQuery(query);
      return;
    }
    if (noteView) noteView.hide();
    const params = searchParams();
    const key = keyOf(params);
    if (append) {
      if (key !== state.key) return;
      params.set("offset", String(state.hits.length));
    }
    const { seq, signal } = startRequest("search");
    els.results.setAttribute("aria-busy", "true");
    try {
      const data = await getJSON(`/search?${params}`, { signal });
      if (!isCurrent("search", seq)) return;
      setError("search", null);
      if (append) {
        state.hits = state.hits.concat(data.hits || []);
      } else {
        state.hits = data.hits || [];
        state.highlight = -1;
        state.response = data;
      }
      state.key = key;
      state.total = data.total ?? state.hits.length;
      renderResults();
      renderSummary(data);
      renderQueryNotes(state.response);
      renderDegraded(data.degraded);
      rememberQuery(query);
    } catch (error) {
      if (isAbort(error) || !isCurrent("search", seq)) return;
      setError("search", error.message);
      if (!append) {
        state.hits = [];
        state.total = 0;
        state.key = null;
        state.highlight = -1;
        state.response = null;
        renderResults();
        els.summary.textContent = "";
        els.queryNotes.replaceChildren();
        renderDegraded([]);
      }
    } finally {
      if (isCurrent("search", seq)) els.results.removeAttribute("aria-busy");
    }
  }

  function clearResults() {
    if (noteView) noteView.hide();
    clearTimeout(timers.search);
    clearTimeout(timers.autocomplete);
    cancelRequest("search");
    cancelRequest("autocomplete");
    state.hits = [];
    state.total = 0;
    state.key = null;
    state.highlight = -1;
    state.response = null;
    renderResults();
    renderSuggestions([]);
    renderDegraded([]);
    els.summary.textContent = "";
    els.queryNotes.replaceChildren();
    els.results.removeAttribute("aria-busy");
    setError("search", null);
    setError("autocomplete", null);
    rememberQuery("");
  }

  function rememberQuery(query) {
    const url = new URL(window.location.href);
    if (query.trim()) url.searchParams.set("q", query);
    else url.searchParams.delete("q");
    url.searchParams.delete("code");
    window.history.replaceState(null, "", url);
  }

  function renderSummary(data) {
    const shown = state.hits.length;
    const total = state.total;
    const parts = [
      h("strong", null, `${total.toLocaleString()} result${total === 1 ? "" : "s"}`),
      ` for “${data.query}”`,
    ];
    if (shown && shown < total) parts.push(` · showing 1–${shown}`);
    parts.push(` · ${Number(data.took_ms).toFixed(1)} ms`);
    if (data.mode && data.mode !== "hybrid") parts.push(` · ${data.mode}`);
    els.summary.replaceChildren(...parts);
    els.summary.title = data.index_version ? `index ${data.index_version}` : "";
  }

  // What the answer says about the query as a whole, once, above the list: a CPT service or code that needs
  // the licensed files, no good match, a spelling fix, and how the query was read.
  function renderQueryNotes(data) {
    const notes = [];
    if (!data) {
      els.queryNotes.replaceChildren();
      return;
    }
    if (data.needs_cpt) {
      notes.push(h("p", { id: "needs-cpt", class: "notice info" }, h("strong", null, "CPT: "), data.needs_cpt.message));
    }
    if (data.no_good_match && state.hits.length) {
      notes.push(
        h(
          "p",
          { id: "no-good-match", class: "notice warn" },
          h("strong", null, "No good match. "),
          "None of these codes is likely right: try other words, a code or a code prefix.",
        ),
      );
    }
    if (data.did_you_mean) {
      const fix = h(
        "button",
        { type: "button", class: "linklike", title: "search the corrected words", onclick: () => searchFor(data.did_you_mean) },
        data.did_you_mean,
      );
      notes.push(h("p", { id: "did-you-mean", class: "read-as" }, "Did you mean ", fix, "?"));
    }
    const expansions = uniqueExpansions(data.expansions);
    const ignored = data.ignored || [];
    if (expansions.length || ignored.length) {
      const parts = [];
      if (expansions.length) {
        parts.push("Read as: ", expansionTexts(expansions).map((text, i) => [i ? "; " : "", text]));
      }
      if (ignored.length) parts.push(expansions.length ? " · " : "", `Ignored: ${ignored.join(", ")}`);
      notes.push(h("p", { id: "read-as", class: "read-as" }, parts));
    }
    els.queryNotes.replaceChildren(...notes);
  }

  function renderDegraded(degraded) {
    const items = (degraded || []).filter(Boolean);
    els.degraded.replaceChildren(
      ...(items.length ? [h("strong", null, "Degraded search: "), items.join("; ")] : []),
    );
    els.degraded.hidden = items.length === 0;
  }

  function renderResults() {
    const shared = { expansions: sharedExpansions(state.hits), terms: sharedTerms(state.hits) };
    els.results.replaceChildren(...state.hits.map((hit, index) => hitItem(hit, index, shared)));
    const hasQuery = Boolean(els.q.value.trim());
    const cptNote = state.response && state.response.needs_cpt;
    if (state.hits.length) {
      els.empty.hidden = true;
    } else if (hasQuery && state.key) {
      els.empty.hidden = Boolean(cptNote);
      els.empty.textContent = "No codes match. Try other words, a code prefix, another filter or include terminated codes.";
    } else {
      els.empty.hidden = false;
      els.empty.textContent =
        "Type a description, a code or a code prefix; results appear as you type. " +
        "Paste a note, an order or MAR lines to see each billable item with its codes.";
    }
    els.more.hidden = !state.hits.length || state.hits.length >= state.total;
    els.q.setAttribute("aria-expanded", state.hits.length ? "true" : "false");
    applyHighlight(false);
  }

  function hitItem(hit, index, shared) {
    const classes = ["hit"];
    if (hit.status === "terminated") classes.push("terminated");
    if (hit.code === state.detailsCode) classes.push("open");
    // per hit, only what sets it apart: the words and expansions every hit matched are in the details
    const why = [];
    const own = (hit.matched_terms || []).filter((term) => !shared.terms.has(term));
    if (own.length) why.push(h("span", { class: "matched" }, "matched: ", terms(own)));
    for (const synonym of hit.matched_synonyms || []) {
      why.push(h("span", null, "synonym: ", h("span", { class: "term" }, synonym)));
    }
    why.push(...expansionTexts(uniqueExpansions(hit.matched_expansions).filter((e) => !shared.expansions.has(expansionKey(e)))));
    const long = hit.long_description || hit.short_description || "(no description)";
    const short = hit.short_description && !sameText(hit.short_description, long) ? hit.short_description : null;
    return h(
      "li",
      {
        id: `hit-${index}`,
        class: classes.join(" "),
        role: "option",
        "aria-selected": "false",
        "data-index": index,
        "data-code": hit.code,
        onclick: () => {
          setHighlight(index);
          openDetails(hit.code);
        },
      },
      h("div", { class: "hit-head" }, h("span", { class: "code" }, hit.code), confidenceBadge(hit)),
      h(
        "div",
        { class: "hit-body" },
        h("p", { class: "long" }, long),
        short ? h("p", { class: "short" }, short) : null,
        h(
          "div",
          { class: "meta" },
          levelBadge(hit),
          statusBadge(hit),
          hit.status === "not_in_current_lists" ? replacedBy(hit, { links: false }) : null,
          hit.noc ? h("span", { class: "badge noc", title: "not otherwise classified" }, "NOC") : null,
          why.length ? h("span", { class: "why" }, why) : null,
        ),
      ),
    );
  }

  // --- highlight ----------------------------------------------------------------------------
  function setHighlight(index, scroll = true) {
    const count = state.hits.length;
    state.highlight = count ? Math.max(0, Math.min(count - 1, index)) : -1;
    applyHighlight(scroll);
  }

  function applyHighlight(scroll) {
    let active = null;
    for (const item of els.results.children) {
      const selected = Number(item.dataset.index) === state.highlight;
      item.setAttribute("aria-selected", selected ? "true" : "false");
      if (selected) active = item;
    }
    for (const el of [els.q, els.results]) {
      if (active) el.setAttribute("aria-activedescendant", active.id);
      else el.removeAttribute("aria-activedescendant");
    }
    if (active && scroll) active.scrollIntoView({ block: "nearest" });
  }

  const highlightedHit = () => (state.highlight >= 0 ? state.hits[state.highlight] : null);

  // --- autocomplete -------------------------------------------------------------------------
  // The suggestions follow the filters: with section J chosen, "walker" offers no E code.
  async function runAutocomplete() {
    const query = els.q.value;
    if (!query.trim()) return;
    const params = new URLSearchParams({ q: query, limit: "8" });
    if (els.section.value) params.set("section", els.section.value);
    if (els.kind.value) params.set("kind", els.kind.value);
    if (els.terminated.checked) params.set("include_terminated", "true");
    const { seq, signal } = startRequest("autocomplete");
    try {
      const data = await getJSON(`/autocomplete?${params}`, { signal });
      if (!isCurrent("autocomplete", seq)) return;
      setError("autocomplete", null);
      renderSuggestions(data.suggestions || []);
    } catch (error) {
      if (isAbort(error) || !isCurrent("autocomplete", seq)) return;
      setError("autocomplete", error.message);
      renderSuggestions([]);
    }
  }

  function renderSuggestions(suggestions) {
    state.suggestions = suggestions;
    state.activeSuggestion = -1;
    els.suggestions.removeAttribute("aria-activedescendant");
    els.suggestions.replaceChildren(
      ...suggestions.map((s, i) =>
        h(
          "li",
          {
            id: `sug-${i}`,
            role: "option",
            "aria-selected": "false",
            "data-code": s.code,
            class: s.status === "terminated" ? "terminated" : null,
            title: [s.label, s.level_label, s.status === "terminated" ? "terminated" : null].filter(Boolean).join(" — "),
            onmousedown: (event) => event.preventDefault(), // keep focus in the search box
            onclick: () => pickSuggestion(i),
          },
          h("span", { class: "s-code" }, s.code),
          h("span", { class: "s-label" }, s.short_description || s.label),
        ),
      ),
    );
    // The strip keeps its row while there is a query, so results do not jump as suggestions come and go.
    els.suggestions.hidden = !els.q.value.trim();
    els.suggestions.tabIndex = suggestions.length ? 0 : -1;
  }

  function setActiveSuggestion(index) {
    const count = state.suggestions.length;
    if (!count) return;
    state.activeSuggestion = (index + count) % count;
    for (const [i, item] of [...els.suggestions.children].entries()) {
      const on = i === state.activeSuggestion;
      item.classList.toggle("active", on);
      item.setAttribute("aria-selected", on ? "true" : "false");
    }
    els.suggestions.setAttribute("aria-activedescendant", `sug-${state.activeSuggestion}`);
  }

  function pickSuggestion(index) {
    const suggestion = state.suggestions[index];
    if (!suggestion) return;
    const hitIndex = state.hits.findIndex((hit) => hit.code === suggestion.code);
    if (hitIndex >= 0) setHighlight(hitIndex);
    openDetails(suggestion.code);
  }

  // --- details ------------------------------------------------------------------------------
  // The record's fields in reading order; a field with no value is not listed. The code, its descriptor,
  // level, status and NOC flag are in the panel's head.
  const RECORD_FIELDS = [
    ["short_description", "Short description"],
    ["level_label", "Level"],
    ["section", "Section"],
    ["status", "Status"],
    ["add_date", "Added"],
    ["effective_date", "Effective"],
    ["termination_date", "Terminated"],
    ["missing_from", "Missing from"],
    ["missing_since", "Missing since"],
    ["replaced_by", "Replaced by"],
    ["added_after", "Added after"],
    ["action_code", "Action code"],
    ["betos", "BETOS"],
    ["coverage", "Coverage"],
    ["type_of_service", "Type of service"],
    ["cross_reference", "Cross reference"],
    ["opps_status_indicator", "OPPS status indicator"],
    ["drug_dosage", "Drug dosage"],
    ["synonyms", "Synonyms"],
    ["knowledge_terms", "Also written"],
    ["sources", "Sources"],
  ];
  const IN_THE_HEAD = new Set(["code", "system", "kind", "level", "section_name", "long_description", "noc"]);

  function fieldValue(record, key) {
    const value = record[key];
    switch (key) {
      case "short_description":
        return present(value) && !sameText(value, record.long_description || "") ? value : null;
      case "level_label":
        return present(value) ? [value, record.level ? h("span", { class: "muted mono" }, ` (${record.level})`) : null] : null;
      case "section":
        if (!present(value)) return null;
        return record.section_name ? `${value} — ${record.section_name}` : value;
      case "status":
        return statusBadge(record, { showActive: true });
      case "replaced_by":
        return present(value) ? replacedBy(record, { words: false }) : null;
      case "synonyms":
      case "knowledge_terms":
        return present(value) ? h("ul", { class: "chips" }, value.map((s) => h("li", null, s))) : null;
      case "sources":
        return present(value) ? h("ul", { class: "chips sources" }, value.map((s) => h("li", null, s))) : null;
      default:
        if (!present(value) || value === false) return null;
        if (value === true) return "yes";
        if (Array.isArray(value)) return value.join(", ");
        if (typeof value === "object") return JSON.stringify(value);
        return String(value);
    }
  }

  function fieldRows(pairs) {
    return pairs.flatMap(([label, value]) => (value === null ? [] : [h("dt", null, label), h("dd", null, value)]));
  }

  // Why a hit of the current results matched: the numbers behind its place in the list.
  function whyHit(hit) {
    const expansions = uniqueExpansions(hit.matched_expansions);
    const rows = fieldRows([
      ["Confidence", confidenceBadge(hit)],
      ["Score", h("span", { class: "mono", title: "fused score of the retrievers' rankings" }, Number(hit.score).toFixed(4))],
      ["Ranks", present(ranksText(hit.ranks)) ? h("span", { class: "mono" }, ranksText(hit.ranks)) : null],
      ["Matched words", present(hit.matched_terms) ? h("span", { class: "why" }, terms(hit.matched_terms)) : null],
      ["Matched synonyms", present(hit.matched_synonyms) ? hit.matched_synonyms.join(", ") : null],
      ["Read as", expansions.length ? h("div", { class: "codes-inline" }, expansionTexts(expansions)) : null],
    ]);
    return h(
      "section",
      { class: "why-hit", "aria-label": "Why this result" },
      h("h3", { class: "fields-title" }, `Why it is #${state.hits.indexOf(hit) + 1}`),
      h("dl", { class: "fields" }, rows),
    );
  }

  function renderRecord(record) {
    const known = new Set(RECORD_FIELDS.map(([key]) => key));
    const extra = Object.keys(record)
      .filter((key) => !known.has(key) && !IN_THE_HEAD.has(key))
      .map((key) => [key, capitalize(key.replaceAll("_", " "))]);
    const rows = fieldRows([...RECORD_FIELDS, ...extra].map(([key, label]) => [label, fieldValue(record, key)]));
    const hit = state.hits.find((item) => item.code === record.code);
    els.detailsTitle.textContent = `Details — ${record.code}`;
    els.detailsBody.replaceChildren(
      h(
        "div",
        { class: record.status === "terminated" ? "record terminated-record" : "record" },
        h(
          "div",
          { class: "record-head" },
          h("span", { class: "record-code" }, record.code),
          levelBadge(record),
          statusBadge(record),
          record.noc ? h("span", { class: "badge noc", title: "not otherwise classified" }, "NOC") : null,
        ),
        h("p", { class: "record-long" }, record.long_description || record.short_description || "(no description)"),
        hit ? whyHit(hit) : null,
        h("h3", { class: "fields-title" }, "Record"),
        h("dl", { class: "fields" }, rows),
      ),
    );
    els.detailsBody.scrollTop = 0;
  }

  // On a narrow screen the details are a sheet over the page: the reader goes there, and what lies under the
  // sheet cannot be reached until it closes.
  function showSheet(open) {
    document.body.classList.toggle("details-open", open);
    const sheet = open && NARROW.matches;
    for (const el of document.querySelectorAll(".topbar, .subbar, .results-pane, .side-pane > .verify")) el.inert = sheet;
    if (sheet) els.details.focus({ preventScroll: true });
  }

  function showPlaceholder() {
    els.detailsBody.replaceChildren(els.detailsPlaceholder.content.cloneNode(true));
  }

  async function openDetails(code) {
    if (!code) return;
    const { seq, signal } = startRequest("details");
    state.detailsCode = code;
    markOpen();
    els.detailsTitle.textContent = `Details — ${code}`;
    els.detailsCopy.hidden = false;
    els.detailsClose.hidden = false;
    showSheet(true);
    els.detailsBody.replaceChildren(h("p", { class: "placeholder" }, `Loading ${code}…`));
    try {
      const record = await getJSON(`/codes/${encodeURIComponent(code)}`, { signal });
      if (!isCurrent("details", seq)) return;
      renderRecord(record);
    } catch (error) {
      if (isAbort(error) || !isCurrent("details", seq)) return;
      els.detailsBody.replaceChildren(h("div", { class: "notice error", role: "alert" }, error.message));
    }
  }

  function closeDetails() {
    if (!state.detailsCode) return;
    cancelRequest("details");
    state.detailsCode = null;
    markOpen();
    showSheet(false);
    els.detailsTitle.textContent = "Details";
    els.detailsCopy.hidden = true;
    els.detailsClose.hidden = true;
    showPlaceholder();
  }

  // Back from the details to where the coder was: the search box on a desktop, the list on a phone.
  function leaveDetails() {
    const wasOpen = Boolean(state.detailsCode);
    closeDetails();
    if (wasOpen && NARROW.matches && state.hits.length) els.results.focus({ preventScroll: true });
    else els.q.focus();
  }

  function markOpen() {
    for (const item of els.results.children) item.classList.toggle("open", item.dataset.code === state.detailsCode);
  }

  // --- copy ---------------------------------------------------------------------------------
  function toast(message) {
    els.toast.textContent = message;
    els.toast.hidden = false;
    clearTimeout(timers.toast);
    timers.toast = setTimeout(() => {
      els.toast.hidden = true;
    }, TOAST_MS);
  }

  function legacyCopy(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.setAttribute("aria-hidden", "true");
    area.style.position = "fixed";
    area.style.top = "0";
    area.style.left = "-9999px";
    area.style.opacity = "0";
    const previous = document.activeElement;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    if (previous && typeof previous.focus === "function") previous.focus({ preventScroll: true });
    return ok;
  }

  async function copyCode(code) {
    if (!code) {
      toast("Nothing to copy: highlight a result first");
      return;
    }
    let ok = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 1000));
        await Promise.race([navigator.clipboard.writeText(code), timeout]);
        ok = true;
      } catch {
        ok = false;
      }
    }
    if (!ok) ok = legacyCopy(code);
    toast(ok ? `Copied ${code}` : `Could not copy ${code}`);
  }

  function codeToCopy() {
    const hit = highlightedHit();
    if (hit) return hit.code;
    if (state.detailsCode) return state.detailsCode;
    return state.hits.length ? state.hits[0].code : null;
  }

  // --- check a code -------------------------------------------------------------------------
  const VERDICTS = {
    consistent: ["Consistent", "The code fits the description."],
    suspect: ["Suspect", "Other codes fit the description better."],
    unknown_code: ["Unknown code", "No such code in the loaded index."],
    terminated: ["Terminated", "The code is terminated: it is no longer valid for claims."],
    needs_cpt: ["Needs CPT", "A CPT code: load your licensed CPT files to check it."],
  };

  function codeLink(code) {
    return h("button", { type: "button", class: "link", title: `Show ${code} in details`, onclick: () => openDetails(code) }, code);
  }

  const number = (value) => (Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3))));

  // Billed units against the dose the description states: "billed 2, expected 200 (200 mg ÷ 1 mg = 200 → 200 units)".
  function unitsLine(units) {
    if (!units) return null;
    const parts = [];
    if (units.billed !== null && units.billed !== undefined) parts.push(`billed ${number(units.billed)}`);
    if (units.expected !== null && units.expected !== undefined) parts.push(`expected ${units.expected}`);
    const how = units.how || (units.dose && units.per ? `${units.dose} at ${units.per} a unit` : "");
    if (!parts.length && !how) return null;
    return h(
      "p",
      { class: "units-line" },
      h("strong", null, "Units: "),
      parts.join(", "),
      how ? h("span", { class: "muted" }, parts.length ? ` (${how})` : how) : null,
    );
  }

  function findings(title, list, kind) {
    if (!list || !list.length) return [];
    return [
      h("p", { class: "findings-title" }, title),
      h(
        "ul",
        { class: `findings ${kind}` },
        list.map((finding) => h("li", { class: "why", "data-rule": finding.rule, title: finding.rule }, finding.message)),
      ),
    ];
  }

  function renderVerdict(data) {
    const verdict = data.verdict || "unknown";
    const [word, meaning] = VERDICTS[verdict] || [capitalize(verdict.replaceAll("_", " ")), ""];
    const record = data.record;
    const facts = [];
    if (data.rank) facts.push(`rank #${data.rank}`);
    else if (record) facts.push("not among the top results");
    if (data.confidence !== null && data.confidence !== undefined) facts.push(`confidence ${percent(data.confidence)}`);
    const parts = [
      h(
        "div",
        { class: "verdict-head" },
        h("span", { class: `verdict ${verdict}`, "data-verdict": verdict }, word),
        record ? codeLink(record.code) : h("span", { class: "mono" }, data.code),
        (data.modifiers || []).length ? h("span", { class: "mono", title: "modifiers" }, data.modifiers.join(" ")) : null,
        facts.length ? h("span", { class: "muted" }, facts.join(" · ")) : null,
      ),
      meaning ? h("p", { class: "verdict-meaning" }, meaning) : null,
    ];
    if (record) {
      parts.push(
        h(
          "p",
          { class: "verdict-code" },
          h("span", null, record.long_description || record.short_description || ""),
          statusBadge(record),
          record.status === "not_in_current_lists" ? replacedBy(record) : null,
        ),
      );
    }
    parts.push(...findings("Why", data.reasons, "reasons"), ...findings("Also check", data.flags, "flags"));
    parts.push(unitsLine(data.units));
    const candidates = data.better_candidates || [];
    if (candidates.length) {
      parts.push(h("p", { class: "findings-title" }, verdict === "suspect" ? "Better candidates" : "Candidates"));
      parts.push(
        h(
          "ol",
          { class: "candidates" },
          candidates.map((hit) =>
            h(
              "li",
              null,
              codeLink(hit.code),
              h("span", { class: "desc" }, hit.long_description || hit.short_description || ""),
              confidenceBadge(hit),
            ),
          ),
        ),
      );
    }
    els.verifyResult.replaceChildren(...parts.filter(Boolean));
  }

  function verifyError(message, field) {
    els.verifyResult.replaceChildren(h("div", { class: "notice error", role: "alert" }, message));
    if (field) field.focus();
  }

  async function runVerify(event) {
    event.preventDefault();
    const description = els.verifyDescription.value.trim();
    const code = els.verifyCode.value.trim();
    const unitsText = els.verifyUnits.value.trim();
    if (!description || !code) {
      verifyError("Enter both a description and a code.", description ? els.verifyCode : els.verifyDescription);
      return;
    }
    const units = unitsText ? Number(unitsText) : null;
    if (unitsText && !(Number.isFinite(units) && units >= 0)) {
      verifyError(`Units must be a number, not “${unitsText}”.`, els.verifyUnits);
      return;
    }
    const body = { description, code, setting: els.setting.value };
    if (units !== null) body.units = units;
    const { seq, signal } = startRequest("verify");
    els.verifySubmit.disabled = true;
    els.verifyResult.replaceChildren(h("p", { class: "placeholder" }, "Checking…"));
    try {
      const data = await getJSON("/verify", {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal,
      });
      if (!isCurrent("verify", seq)) return;
      renderVerdict(data);
    } catch (error) {
      if (isAbort(error) || !isCurrent("verify", seq)) return;
      verifyError(error.message);
    } finally {
      if (isCurrent("verify", seq)) els.verifySubmit.disabled = false;
    }
  }

  // --- events -------------------------------------------------------------------------------
  function onInput() {
    clearTimeout(timers.autocomplete);
    clearTimeout(timers.search);
    // Typing makes in-flight answers stale; the shown results stay until the new ones arrive.
    cancelRequest("autocomplete");
    cancelRequest("search");
    state.highlight = -1;
    applyHighlight(false);
    if (!els.q.value.trim()) {
      clearResults();
      return;
    }
    els.suggestions.hidden = false;
    const note = noteView && noteView.isNote(els.q.value);
    if (!note) timers.autocomplete = setTimeout(runAutocomplete, AUTOCOMPLETE_DELAY_MS);
    timers.search = setTimeout(runSearch, SEARCH_DELAY_MS);
  }

  function onFilterChange() {
    countFilters();
    if (!els.q.value.trim()) return;
    runSearch();
    if (!(noteView && noteView.isNote(els.q.value))) runAutocomplete();
  }

  function isTextField(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function moveHighlight(event) {
    const pageStep = 10;
    const moves = {
      ArrowDown: state.highlight + 1,
      ArrowUp: Math.max(0, state.highlight - 1),
      PageDown: state.highlight + pageStep,
      PageUp: state.highlight - pageStep,
    };
    if (!(event.key in moves) || !state.hits.length) return false;
    event.preventDefault();
    setHighlight(moves[event.key]);
    return true;
  }

  function onSearchBoxKey(event) {
    if (moveHighlight(event)) return;
    if (event.key === "Enter") {
      event.preventDefault();
      const hit = highlightedHit();
      if (hit) openDetails(hit.code);
      else runSearch();
    }
  }

  function onResultsKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (moveHighlight(event)) return;
    if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      setHighlight(event.key === "Home" ? 0 : state.hits.length - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (state.highlight < 0) setHighlight(0);
      const hit = highlightedHit();
      if (hit) openDetails(hit.code);
    } else if (event.key === "c" || event.key === "C") {
      event.preventDefault();
      const hit = highlightedHit();
      copyCode(hit ? hit.code : null);
    }
  }

  function onSuggestionsKey(event) {
    if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      event.preventDefault();
      setActiveSuggestion(state.activeSuggestion + 1);
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      event.preventDefault();
      setActiveSuggestion(state.activeSuggestion - 1);
    } else if (event.key === "Enter" && state.activeSuggestion >= 0) {
      event.preventDefault();
      pickSuggestion(state.activeSuggestion);
    }
  }

  function onDocumentKey(event) {
    if (inFileMode()) return; // "Check a file" has its own controls and no shortcuts
    if ((event.ctrlKey || event.metaKey) && event.shiftKey && event.code === "KeyC") {
      event.preventDefault();
      copyCode(codeToCopy());
      return;
    }
    if (event.key === "Escape") {
      if (state.detailsCode || document.activeElement !== els.q) {
        // With nothing to close, Escape in the search box keeps its native meaning (clear the box).
        event.preventDefault();
        leaveDetails();
      }
      return;
    }
    if (event.defaultPrevented) return;
    const target = event.target;
    if (target === els.q) onSearchBoxKey(event);
    else if (target === els.results) onResultsKey(event);
    else if (target === els.suggestions) onSuggestionsKey(event);
    else if (event.key === "/" && !isTextField(target) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      els.q.focus();
      els.q.select();
    }
  }

  const noteView = window.codefinderNoteView || null;
  if (noteView) {
    noteView.attach({ getJSON, pane: els.results.parentElement, input: els.q, openDetails, confidenceBadge });
  }

  els.q.addEventListener("input", onInput);
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });
  for (const el of [els.section, els.kind, els.mode, els.setting, els.terminated]) {
    el.addEventListener("change", onFilterChange);
  }
  els.filtersToggle.addEventListener("click", () => showFilters(!els.filters.classList.contains("open")));
  els.modeSearch.addEventListener("click", () => setMode("search"));
  els.modeFile.addEventListener("click", () => setMode(inFileMode() ? "search" : "file"));
  els.results.addEventListener("focus", () => {
    if (state.highlight < 0 && state.hits.length) setHighlight(0);
  });
  els.more.addEventListener("click", () => runSearch({ append: true }));
  els.detailsClose.addEventListener("click", leaveDetails);
  els.detailsCopy.addEventListener("click", () => copyCode(state.detailsCode));
  els.verifyForm.addEventListener("submit", runVerify);
  document.addEventListener("keydown", onDocumentKey);
  NARROW.addEventListener("change", () => {
    if (!NARROW.matches) showFilters(false);
    if (state.detailsCode) showSheet(true);
  });

  showPlaceholder();
  countFilters();
  // A link such as /?q=cpap+machine runs that search; /?code=E0601 opens that record.
  const initial = new URLSearchParams(window.location.search);
  if (initial.get("q")) {
    els.q.value = initial.get("q");
    runSearch();
    if (!(noteView && noteView.isNote(els.q.value))) runAutocomplete();
  }
  if (initial.get("code")) openDetails(initial.get("code"));
  if (!NARROW.matches || !initial.get("code")) els.q.focus();
  // What check_file.js and note_view.js use: requests with the page's API key and error handling, the
  // details panel, the mode switch and the confidence badge.
  window.codefinder = Object.freeze({ getJSON, openDetails, setMode, confidenceBadge });
})();
