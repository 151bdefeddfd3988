// codefinder web page: instant suggestions, hybrid search, details, copy, verify. No dependencies.
"use strict";

(() => {
  const PAGE_SIZE = 20;
  const AUTOCOMPLETE_DELAY_MS = 120;
  const SEARCH_DELAY_MS = 300;
  const TOAST_MS = 1800;

  const byId = (id) => document.getElementById(id);
  const els = {
    form: byId("search-form"),
    q: byId("q"),
    section: byId("f-section"),
    kind: byId("f-kind"),
    mode: byId("f-mode"),
    setting: byId("f-setting"),
    terminated: byId("f-terminated"),
    suggestions: byId("suggestions"),
    summary: byId("summary"),
    degraded: byId("degraded"),
    error: byId("error"),
    empty: byId("empty"),
    results: byId("results"),
    more: byId("more"),
    details: byId("details"),
    detailsTitle: byId("details-title"),
    detailsBody: byId("details-body"),
    detailsCopy: byId("details-copy"),
    detailsClose: byId("details-close"),
    verifyForm: byId("verify-form"),
    verifyDescription: byId("v-description"),
    verifyCode: byId("v-code"),
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
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const present = (value) =>
    value !== null && value !== undefined && value !== "" && !(Array.isArray(value) && value.length === 0);

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

  function statusBadge(item) {
    if (item.status === "terminated") {
      const when = item.termination_date ? ` ${item.termination_date}` : "";
      return h("span", { class: "badge terminated", title: "terminated code" }, `Terminated${when}`);
    }
    if (item.status === "not_in_current_lists") {
      const lists = (item.missing_from || []).join(", ");
      const instead = (item.replaced_by || []).length ? ` → ${item.replaced_by.join(", ")}` : "";
      const title = `newer lists that should carry this code do not${lists ? `: ${lists}` : ""}`;
      return h("span", { class: "badge notcurrent", title }, `Not in current lists${instead}`);
    }
    if (item.status === "not_yet_effective") {
      const title = item.add_date ? `added ${item.add_date}` : "added after the date searched";
      return h("span", { class: "badge notcurrent", title }, "Not yet effective");
    }
    return h("span", { class: "badge active" }, item.status ? capitalize(item.status) : "Active");
  }

  const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1);

  function ranksText(ranks) {
    const parts = Object.entries(ranks || {}).map(([name, rank]) => (rank ? `${name} #${rank}` : `${name} —`));
    return parts.join(" · ");
  }

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
      }
      state.key = key;
      state.total = data.total ?? state.hits.length;
      renderResults();
      renderSummary(data);
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
        renderResults();
        els.summary.textContent = "";
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
    renderResults();
    renderSuggestions([]);
    renderDegraded([]);
    els.summary.textContent = "";
    els.results.removeAttribute("aria-busy");
    setError("search", null);
    setError("autocomplete", null);
    rememberQuery("");
  }

  function rememberQuery(query) {
    const url = new URL(window.location.href);
    if (query.trim()) url.searchParams.set("q", query);
    else url.searchParams.delete("q");
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
    parts.push(` · ${Number(data.took_ms).toFixed(1)} ms · ${data.mode}`);
    if (data.did_you_mean) {
      const fix = h("button", { type: "button", class: "linklike", title: "search the corrected words" }, data.did_you_mean);
      fix.addEventListener("click", () => {
        els.q.value = data.did_you_mean;
        els.q.dispatchEvent(new Event("input"));
      });
      parts.push(" · did you mean ", fix, "?");
    }
    if (data.no_good_match) parts.push(" · ", h("strong", { class: "nomatch" }, "no good match"));
    if (data.needs_cpt) parts.push(" · ", h("strong", { class: "needscpt" }, data.needs_cpt.message));
    els.summary.replaceChildren(...parts);
    els.summary.title = data.index_version ? `index ${data.index_version}` : "";
  }

  function renderDegraded(degraded) {
    const items = (degraded || []).filter(Boolean);
    els.degraded.replaceChildren(
      ...(items.length ? [h("strong", null, "Degraded search: "), items.join("; ")] : []),
    );
    els.degraded.hidden = items.length === 0;
  }

  function renderResults() {
    els.results.replaceChildren(...state.hits.map(hitItem));
    const hasQuery = Boolean(els.q.value.trim());
    if (state.hits.length) {
      els.empty.hidden = true;
    } else if (hasQuery && state.key) {
      els.empty.hidden = false;
      els.empty.textContent = "No codes match. Try other words, a code prefix, another filter or include terminated codes.";
    } else {
      els.empty.hidden = false;
      els.empty.textContent = "Type a description, a code or a code prefix. Results appear as you type.";
    }
    els.more.hidden = !state.hits.length || state.hits.length >= state.total;
    els.q.setAttribute("aria-expanded", state.hits.length ? "true" : "false");
    applyHighlight(false);
  }

  function hitItem(hit, index) {
    const terminated = hit.status === "terminated";
    const classes = ["hit"];
    if (terminated) classes.push("terminated");
    if (hit.code === state.detailsCode) classes.push("open");
    const why = [];
    if (hit.match === "code") why.push(h("span", { class: "badge codematch" }, "code match"));
    if (hit.matched_terms && hit.matched_terms.length) {
      why.push(h("span", null, "matched: ", ...hit.matched_terms.map((t) => [h("span", { class: "term" }, t), " "])));
    }
    for (const expansion of hit.matched_expansions || []) {
      why.push(h("span", { title: `query expansion (${expansion.kind})` }, `${expansion.kind}: ${expansion.from} → `,
        h("span", { class: "term" }, expansion.to)));
    }
    if (hit.confidence !== null && hit.confidence !== undefined) {
      why.push(h("span", { class: "confidence", title: "calibrated probability that this code is right" },
        `confidence ${Math.round(hit.confidence * 100)}%`));
    }
    for (const synonym of hit.matched_synonyms || []) {
      why.push(h("span", null, "synonym: ", h("span", { class: "term" }, synonym)));
    }
    const ranks = ranksText(hit.ranks);
    if (ranks) why.push(h("span", { class: "ranks", title: "rank in each retriever (— = not retrieved)" }, ranks));
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
      h("span", { class: "code" }, hit.code),
      h(
        "div",
        { class: "line1" },
        h("span", { class: "long" }, long),
        h("span", { class: "score", title: "fused score" }, Number(hit.score).toFixed(4)),
      ),
      short ? h("div", { class: "short" }, short) : null,
      h(
        "div",
        { class: "meta" },
        levelBadge(hit),
        statusBadge(hit),
        hit.noc ? h("span", { class: "badge noc", title: "not otherwise classified" }, "NOC") : null,
        why.length ? h("span", { class: "why" }, why) : null,
      ),
    );
  }

  const sameText = (a, b) => a.trim().toLowerCase() === b.trim().toLowerCase();

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
  async function runAutocomplete() {
    const query = els.q.value;
    if (!query.trim()) return;
    const params = new URLSearchParams({ q: query, limit: "8" });
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
  const RECORD_FIELDS = [
    ["code", "Code"],
    ["system", "System"],
    ["level_label", "Level"],
    ["kind", "Kind"],
    ["section", "Section"],
    ["long_description", "Long description"],
    ["short_description", "Short description"],
    ["status", "Status"],
    ["add_date", "Added"],
    ["effective_date", "Effective"],
    ["termination_date", "Terminated"],
    ["action_code", "Action code"],
    ["betos", "BETOS"],
    ["coverage", "Coverage"],
    ["type_of_service", "Type of service"],
    ["cross_reference", "Cross reference"],
    ["opps_status_indicator", "OPPS status indicator"],
    ["drug_dosage", "Drug dosage"],
    ["noc", "NOC"],
    ["synonyms", "Synonyms"],
    ["sources", "Sources"],
  ];
  const SHOWN_WITH_OTHERS = new Set(["level", "section_name"]);

  function fieldValue(record, key) {
    const value = record[key];
    switch (key) {
      case "code":
        return h("span", { class: "mono" }, value);
      case "level_label":
        return [value || "", record.level ? h("span", { class: "muted mono" }, ` (${record.level})`) : null];
      case "section":
        if (!present(value)) return null;
        return record.section_name ? `${value} — ${record.section_name}` : value;
      case "status":
        return statusBadge(record);
      case "noc":
        return value ? "yes" : "no";
      case "synonyms":
        return present(value) ? h("ul", { class: "chips" }, value.map((s) => h("li", null, s))) : null;
      case "sources":
        return present(value) ? h("ul", { class: "chips sources" }, value.map((s) => h("li", null, s))) : null;
      default:
        if (!present(value)) return null;
        if (Array.isArray(value)) return value.join(", ");
        if (typeof value === "object") return JSON.stringify(value);
        return String(value);
    }
  }

  function renderRecord(record) {
    const known = new Set(RECORD_FIELDS.map(([key]) => key));
    const extra = Object.keys(record)
      .filter((key) => !known.has(key) && !SHOWN_WITH_OTHERS.has(key))
      .map((key) => [key, capitalize(key.replaceAll("_", " "))]);
    const rows = [...RECORD_FIELDS, ...extra].flatMap(([key, label]) => {
      const value = fieldValue(record, key);
      return [h("dt", null, label), h("dd", value === null ? { class: "none" } : null, value === null ? "—" : value)];
    });
    const terminated = record.status === "terminated";
    els.detailsTitle.textContent = `Details — ${record.code}`;
    els.detailsBody.replaceChildren(
      h(
        "div",
        { class: terminated ? "record terminated-record" : "record" },
        h(
          "div",
          { class: "record-head" },
          h("span", { class: "record-code" }, record.code),
          levelBadge(record),
          statusBadge(record),
          record.noc ? h("span", { class: "badge noc" }, "NOC") : null,
        ),
        h("p", { class: "record-long" }, record.long_description || record.short_description || "(no description)"),
        h("dl", { class: "fields" }, rows),
      ),
    );
  }

  async function openDetails(code) {
    if (!code) return;
    const { seq, signal } = startRequest("details");
    state.detailsCode = code;
    markOpen();
    els.detailsTitle.textContent = `Details — ${code}`;
    els.detailsCopy.hidden = false;
    els.detailsClose.hidden = false;
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
    cancelRequest("details");
    state.detailsCode = null;
    markOpen();
    els.detailsTitle.textContent = "Details";
    els.detailsCopy.hidden = true;
    els.detailsClose.hidden = true;
    els.detailsBody.replaceChildren(
      h("p", { class: "placeholder" }, "Pick a result (click, or ↓ then Enter) to see every field of its record."),
    );
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

  // --- verify -------------------------------------------------------------------------------
  const VERDICT_TEXT = {
    consistent: "the code fits the description",
    suspect: "other codes fit the description better",
    unknown_code: "no such code in the loaded index",
    terminated: "the code is terminated",
    needs_cpt: "a CPT code: load your licensed CPT files to check it",
  };

  function codeLink(code) {
    return h("button", { type: "button", class: "link", title: `Show ${code} in details`, onclick: () => openDetails(code) }, code);
  }

  function renderVerdict(data) {
    const verdict = data.verdict || "unknown";
    const record = data.record;
    const lines = [
      h(
        "div",
        { class: "verify-line" },
        h("span", { class: `verdict ${verdict}`, "data-verdict": verdict }, verdict.replace("_", " ")),
        record ? codeLink(record.code) : h("span", { class: "mono" }, data.code),
        h("span", { class: "muted" }, VERDICT_TEXT[verdict] || ""),
      ),
      h(
        "div",
        { class: "verify-line muted" },
        data.rank ? `rank #${data.rank}` : "not among the top results",
        data.score !== null && data.score !== undefined ? ` · score ${Number(data.score).toFixed(4)}` : "",
        record && record.termination_date ? ` · terminated ${record.termination_date}` : "",
      ),
    ];
    if (record) lines.push(h("div", { class: "verify-line" }, record.long_description || record.short_description || ""));
    for (const finding of [...(data.reasons || []), ...(data.flags || [])]) {
      lines.push(h("div", { class: "verify-line why", "data-rule": finding.rule }, finding.message));
    }
    const candidates = data.better_candidates || [];
    if (candidates.length) {
      lines.push(h("div", { class: "verify-line muted" }, verdict === "suspect" ? "Better candidates:" : "Candidates:"));
      lines.push(
        h(
          "ol",
          { class: "candidates" },
          candidates.map((hit) =>
            h("li", null, codeLink(hit.code), h("span", null, hit.long_description || hit.short_description || "")),
          ),
        ),
      );
    }
    els.verifyResult.replaceChildren(...lines);
  }

  async function runVerify(event) {
    event.preventDefault();
    const description = els.verifyDescription.value.trim();
    const code = els.verifyCode.value.trim();
    if (!description || !code) {
      els.verifyResult.replaceChildren(
        h("div", { class: "notice error", role: "alert" }, "Enter both a description and a code."),
      );
      (description ? els.verifyCode : els.verifyDescription).focus();
      return;
    }
    const { seq, signal } = startRequest("verify");
    els.verifySubmit.disabled = true;
    els.verifyResult.replaceChildren(h("p", { class: "placeholder" }, "Checking…"));
    try {
      const data = await getJSON("/verify", {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ description, code, setting: els.setting.value }),
        signal,
      });
      if (!isCurrent("verify", seq)) return;
      renderVerdict(data);
    } catch (error) {
      if (isAbort(error) || !isCurrent("verify", seq)) return;
      els.verifyResult.replaceChildren(h("div", { class: "notice error", role: "alert" }, error.message));
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
    if (els.q.value.trim()) runSearch();
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
    if ((event.ctrlKey || event.metaKey) && event.shiftKey && event.code === "KeyC") {
      event.preventDefault();
      copyCode(codeToCopy());
      return;
    }
    if (event.key === "Escape") {
      if (state.detailsCode || document.activeElement !== els.q) {
        // With nothing to close, Escape in the search box keeps its native meaning (clear the box).
        event.preventDefault();
        if (state.detailsCode) closeDetails();
        els.q.focus();
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
  if (noteView) noteView.attach({ getJSON, pane: els.results.parentElement, input: els.q });

  els.q.addEventListener("input", onInput);
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });
  for (const el of [els.section, els.kind, els.mode, els.setting, els.terminated]) {
    el.addEventListener("change", onFilterChange);
  }
  els.results.addEventListener("focus", () => {
    if (state.highlight < 0 && state.hits.length) setHighlight(0);
  });
  els.more.addEventListener("click", () => runSearch({ append: true }));
  els.detailsClose.addEventListener("click", () => {
    closeDetails();
    els.q.focus();
  });
  els.detailsCopy.addEventListener("click", () => copyCode(state.detailsCode));
  els.verifyForm.addEventListener("submit", runVerify);
  document.addEventListener("keydown", onDocumentKey);

  // A link such as /?q=cpap+machine runs that search; /?code=E0601 opens that record.
  const initial = new URLSearchParams(window.location.search);
  if (initial.get("q")) {
    els.q.value = initial.get("q");
    runSearch();
    runAutocomplete();
  }
  if (initial.get("code")) openDetails(initial.get("code"));
  els.q.focus();
  // What check_file.js (the "Check a file" mode) uses: requests with the page's API key and error handling.
  window.codefinder = Object.freeze({ getJSON, openDetails });
})();
