// codefinder web page, "Check a file": a CSV of description/code lines in, the verify report out, as a
// sortable, filterable table (rows to review first), a small chart of verdicts, and the report CSV to download.
//
// The file is read here and posted to POST /verify/csv a chunk at a time, each chunk its header line plus
// whole records (a quoted field may hold a line break) within the request limits: at most 1,000 rows and a
// JSON body well under 256 KiB. The server reads every chunk as `codefinder verify` reads a file, so the
// columns, verdicts and line numbers are the command's; this page joins the rows. No dependencies.
"use strict";

(() => {
  const MAX_ROWS_PER_CHUNK = 1000; // the server's verify batch limit
  const MAX_CHUNK_BYTES = 200 * 1024; // under the 256 KiB body limit, with room for the JSON around it
  const ROWS_SHOWN = 500; // rows drawn at a time; "Show more" draws the next ones
  const VERDICT_ORDER = ["suspect", "terminated", "unknown_code", "needs_cpt", "malformed", "consistent"];
  const api = window.codefinder; // app.js: getJSON (API keys, errors), openDetails, setMode (the mode tabs)
  const root = document.getElementById("check-file");
  if (!api || !root) return;

  const state = { columns: [], rows: [], sortKey: null, sortDir: 1, shown: ROWS_SHOWN, fileName: "", controller: null };

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

  // --- the panel ------------------------------------------------------------------------------
  const fileInput = h("input", { id: "cf-file", type: "file", accept: ".csv,.tsv,.txt,text/csv" });
  const setting = h(
    "select",
    { id: "cf-setting", title: "Hospital: implants get the OPPS device category C codes first" },
    h("option", { value: "any" }, "Any"),
    h("option", { value: "hospital" }, "Hospital"),
  );
  const run = h("button", { id: "cf-run", type: "submit", class: "btn primary" }, "Check");
  const cancel = h("button", { id: "cf-cancel", type: "button", class: "btn", hidden: true }, "Stop");
  const progress = h("progress", { id: "cf-progress", max: "1", value: "0", hidden: true, "aria-label": "Lines checked" });
  const status = h("p", { id: "cf-status", class: "cf-status", role: "status", "aria-live": "polite" });
  const error = h("div", { id: "cf-error", class: "notice error", role: "alert", hidden: true });
  const summary = h("div", { id: "cf-summary", class: "cf-summary" });
  const filterText = h("input", { id: "cf-filter", type: "search", placeholder: "Filter rows", spellcheck: "false" });
  const filterVerdict = h("select", { id: "cf-verdict" }, h("option", { value: "" }, "All verdicts"));
  const download = h("button", { id: "cf-download", type: "button", class: "btn" }, "Download report CSV");
  const table = h("table", { id: "cf-table", class: "cf-table" });
  // the table scrolls sideways on its own on a narrow screen; the wrapper is focusable so a keyboard can scroll it
  const tableWrap = h("div", { class: "cf-table-wrap", tabindex: "0", role: "region", "aria-label": "Report rows" }, table);
  const more = h("button", { id: "cf-more", type: "button", class: "btn more", hidden: true }, "Show more rows");
  const tools = h(
    "div",
    { class: "cf-tools", hidden: true },
    h("label", { class: "visually-hidden", for: "cf-filter" }, "Filter rows"),
    filterText,
    h("label", { class: "visually-hidden", for: "cf-verdict" }, "Verdict"),
    filterVerdict,
    download,
  );

  root.replaceChildren(
    h("header", { class: "cf-head" }, h("h2", { id: "check-file-title" }, "Check a file")),
    h(
      "p",
      { class: "cf-help" },
      "A CSV with a description column (description, desc, charge description…) and a code column (code, hcpcs, " +
        "cpt…); optional modifiers and units columns. Every line is checked as codefinder verify checks it.",
    ),
    h(
      "form",
      { id: "cf-form", class: "cf-form", novalidate: true, onsubmit: start },
      h("label", { class: "cf-field" }, h("span", null, "File"), fileInput),
      h("label", { class: "cf-field" }, h("span", null, "Setting"), setting),
      h("div", { class: "cf-actions" }, run, cancel, progress),
    ),
    status,
    error,
    summary,
    tools,
    tableWrap,
    more,
  );

  // --- reading the file in chunks -------------------------------------------------------------
  // Records of CSV text, each with its start offset, end offset and the line it starts on: a newline
  // inside quotes belongs to its field.
  function records(text) {
    const found = [];
    let start = 0;
    let line = 1;
    let startLine = 1;
    let quoted = false;
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i];
      if (ch === '"') quoted = !quoted;
      else if (ch === "\n") {
        line += 1;
        if (!quoted) {
          found.push({ start, end: i + 1, line: startLine });
          start = i + 1;
          startLine = line;
        }
      }
    }
    if (start < text.length) found.push({ start, end: text.length, line: startLine });
    return found;
  }

  const encoder = new TextEncoder();
  const jsonBytes = (text) => encoder.encode(JSON.stringify(text)).length;

  function* chunks(text, all) {
    const header = text.slice(all[0].start, all[0].end).replace(/\r?\n$/, "") + "\n";
    const headerBytes = jsonBytes(header);
    let i = 1;
    while (i < all.length) {
      let bytes = headerBytes;
      let j = i;
      while (j < all.length && j - i < MAX_ROWS_PER_CHUNK) {
        const size = jsonBytes(text.slice(all[j].start, all[j].end));
        if (j > i && bytes + size > MAX_CHUNK_BYTES) break;
        bytes += size;
        j += 1;
      }
      yield { csv: header + text.slice(all[i].start, all[j - 1].end), first_line: all[i].line, rows: j - i };
      i = j;
    }
  }

  async function start(event) {
    event.preventDefault();
    const file = fileInput.files && fileInput.files[0];
    error.hidden = true;
    if (!file) {
      showError("Choose a CSV file first.");
      return;
    }
    let text = await file.text();
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const all = records(text);
    if (all.length < 2) {
      showError("The file has no rows under its header line.");
      return;
    }
    state.fileName = file.name;
    state.rows = [];
    state.columns = [];
    state.sortKey = null;
    state.shown = ROWS_SHOWN;
    state.controller = new AbortController();
    const total = all.length - 1;
    progress.max = total;
    progress.value = 0;
    progress.hidden = false;
    cancel.hidden = false;
    run.disabled = true;
    let done = 0;
    try {
      for (const chunk of chunks(text, all)) {
        const data = await api.getJSON("/verify/csv", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ csv: chunk.csv, first_line: chunk.first_line, setting: setting.value }),
          signal: state.controller.signal,
        });
        state.columns = data.columns;
        state.rows.push(...data.rows);
        done += chunk.rows;
        progress.value = done;
        status.textContent = `Checked ${done.toLocaleString()} of ${total.toLocaleString()} lines…`;
      }
      status.textContent = `Checked ${state.rows.length.toLocaleString()} rows of ${file.name}.`;
    } catch (failure) {
      if (failure && failure.name === "AbortError") status.textContent = `Stopped after ${done.toLocaleString()} lines.`;
      else showError(failure.message);
    } finally {
      progress.hidden = true;
      cancel.hidden = true;
      run.disabled = false;
      state.controller = null;
      render();
    }
  }

  cancel.addEventListener("click", () => state.controller && state.controller.abort());

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  // --- the report ------------------------------------------------------------------------------
  const needsReview = (row) => row.verdict !== "consistent" || Boolean(row.flags);
  const verdictRank = (row) => {
    const rank = VERDICT_ORDER.indexOf(row.verdict);
    return (rank < 0 ? VERDICT_ORDER.length : rank) * 2 + (row.flags ? 0 : 1);
  };

  function counts() {
    const by = new Map();
    for (const row of state.rows) by.set(row.verdict, (by.get(row.verdict) || 0) + 1);
    return [...by.entries()].sort((a, b) => VERDICT_ORDER.indexOf(a[0]) - VERDICT_ORDER.indexOf(b[0]));
  }

  function renderSummary() {
    const total = state.rows.length;
    if (!total) {
      summary.replaceChildren();
      return;
    }
    const flagged = state.rows.filter((row) => row.flags).length;
    const bars = counts().map(([verdict, count]) =>
      h(
        "div",
        { class: "cf-bar-row", "data-verdict": verdict },
        h("span", { class: "cf-bar-label" }, verdict.replace("_", " ")),
        h(
          "span",
          { class: "cf-bar-track" },
          h("span", { class: `cf-bar ${verdict}`, style: `width: ${((100 * count) / total).toFixed(1)}%` }),
        ),
        h("span", { class: "cf-bar-count" }, `${count.toLocaleString()} (${((100 * count) / total).toFixed(1)} %)`),
      ),
    );
    summary.replaceChildren(
      h("div", { class: "cf-chart", role: "img", "aria-label": "verdicts" }, bars),
      flagged
        ? h("p", { class: "cf-flagged" }, `${flagged.toLocaleString()} row${flagged === 1 ? "" : "s"} with flags (units, modifiers, status)`)
        : "",
    );
    const wanted = filterVerdict.value;
    filterVerdict.replaceChildren(
      h("option", { value: "" }, "All verdicts"),
      h("option", { value: "review" }, "To review"),
      ...counts().map(([verdict]) => h("option", { value: verdict }, verdict.replace("_", " "))),
    );
    filterVerdict.value = wanted;
  }

  function visibleRows() {
    const text = filterText.value.trim().toLowerCase();
    const verdict = filterVerdict.value;
    let rows = state.rows.filter((row) => {
      if (verdict === "review" && !needsReview(row)) return false;
      if (verdict && verdict !== "review" && row.verdict !== verdict) return false;
      return !text || state.columns.some((column) => String(row[column] || "").toLowerCase().includes(text));
    });
    const key = state.sortKey;
    const dir = state.sortDir;
    const byLine = (a, b) => Number(a.line) - Number(b.line);
    if (!key) rows = rows.sort((a, b) => verdictRank(a) - verdictRank(b) || byLine(a, b));
    else {
      const numeric = rows.every((row) => row[key] === "" || !Number.isNaN(Number(row[key])));
      rows = rows.sort((a, b) => {
        const x = a[key] || "";
        const y = b[key] || "";
        const order = numeric ? (x === "" ? -1 : Number(x)) - (y === "" ? -1 : Number(y)) : x.localeCompare(y);
        return dir * order || byLine(a, b);
      });
    }
    return rows;
  }

  const SHOWN_COLUMNS = ["line", "verdict", "confidence", "better_codes", "reasons", "flags", "expected_units"];

  function tableColumns() {
    const report = new Set(SHOWN_COLUMNS.concat(["rank", "section", "units_how"]));
    const input = state.columns.filter((column) => !report.has(column));
    return ["line", ...input, ...SHOWN_COLUMNS.slice(1)];
  }

  function renderTable() {
    const columns = tableColumns();
    const rows = visibleRows();
    const head = h(
      "tr",
      null,
      columns.map((column) => {
        const sorted = state.sortKey === column;
        return h(
          "th",
          { scope: "col", "aria-sort": sorted ? (state.sortDir > 0 ? "ascending" : "descending") : "none" },
          h(
            "button",
            { type: "button", class: "cf-sort", "data-column": column, onclick: () => sortBy(column) },
            column.replace("_", " "),
            sorted ? (state.sortDir > 0 ? " ▲" : " ▼") : "",
          ),
        );
      }),
    );
    const body = rows.slice(0, state.shown).map((row) =>
      h(
        "tr",
        { class: needsReview(row) ? "review" : "", "data-verdict": row.verdict, "data-line": row.line },
        columns.map((column) => {
          const value = row[column] || "";
          const label = column.replace("_", " "); // a phone shows each row as a card of labelled fields
          if (column === "verdict")
            return h("td", { "data-label": label }, h("span", { class: `verdict ${value}` }, value.replace("_", " ")));
          if (column === "confidence" && value !== "" && !Number.isNaN(Number(value)))
            return h(
              "td",
              { class: "num", title: value, "data-label": label },
              Number(value) < 0.005 ? "< 1 %" : `${Math.round(Number(value) * 100)} %`,
            );
          if (column === "better_codes" && value)
            return h(
              "td",
              { class: "mono", "data-label": label },
              h(
                "span",
                null,
                value.split(" ").map((code) =>
                  h("button", { type: "button", class: "link", onclick: () => openCode(code) }, code),
                ),
              ),
            );
          return h("td", { class: column === "line" || column === "confidence" ? "num" : "", "data-label": label }, value);
        }),
      ),
    );
    table.replaceChildren(h("thead", null, head), h("tbody", null, body));
    more.hidden = rows.length <= state.shown;
    more.textContent = `Show more rows (${Math.min(ROWS_SHOWN, rows.length - state.shown).toLocaleString()} of ${(rows.length - state.shown).toLocaleString()} more)`;
  }

  function openCode(code) {
    api.setMode("search");
    api.openDetails(code);
  }

  function sortBy(column) {
    if (state.sortKey === column) state.sortDir = -state.sortDir;
    else {
      state.sortKey = column;
      state.sortDir = 1;
    }
    renderTable();
  }

  function render() {
    tools.hidden = state.rows.length === 0;
    renderSummary();
    renderTable();
  }

  // --- the report CSV ----------------------------------------------------------------------------
  const cell = (value) => {
    const text = String(value === undefined || value === null ? "" : value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };

  function reportCsv() {
    const rows = [...state.rows].sort((a, b) => Number(a.line) - Number(b.line));
    const lines = [state.columns.map(cell).join(",")];
    for (const row of rows) lines.push(state.columns.map((column) => cell(row[column])).join(","));
    return lines.join("\r\n") + "\r\n";
  }

  download.addEventListener("click", () => {
    const blob = new Blob([reportCsv()], { type: "text/csv;charset=utf-8" });
    const link = h("a", { href: URL.createObjectURL(blob), download: state.fileName.replace(/\.[^.]*$/, "") + ".report.csv" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });

  filterText.addEventListener("input", () => {
    state.shown = ROWS_SHOWN;
    renderTable();
  });
  filterVerdict.addEventListener("change", () => {
    state.shown = ROWS_SHOWN;
    renderTable();
  });
  more.addEventListener("click", () => {
    state.shown += ROWS_SHOWN;
    renderTable();
  });
})();
