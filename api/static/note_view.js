// codefinder note view: a pasted note, order set or MAR (long, or several sentences) is sent to POST /suggest
// and shown with each billable mention highlighted and its codes beside it. Self-contained: app.js hands it
// its JSON fetcher, the details panel and the confidence badge, and calls show()/hide(); its markup lives in
// one container it adds to the results pane.
"use strict";

window.codefinderNoteView = (() => {
  const NOTE_CHARS = 200; // a query longer than this is a note
  const NOTE_SENTENCES = 2; // ... or one with this many sentences of a few words each
  const SENTENCE_WORDS = 3; // "INJ. KETOROLAC 30 MG" is one chargemaster line, not two sentences
  const CODES_SHOWN = 3;

  let getJSON = null;
  let openDetails = null;
  let confidenceBadge = null;
  let container = null;
  let seq = 0;
  let controller = null;
  let pasted = null; // the last text pasted into the search box, line breaks kept

  function attach(options) {
    getJSON = options.getJSON;
    openDetails = options.openDetails;
    confidenceBadge = options.confidenceBadge;
    container = document.createElement("section");
    container.id = "note-view";
    container.className = "note-view";
    container.hidden = true;
    container.setAttribute("aria-label", "Billable items in the pasted note");
    options.pane.prepend(container);
    linkHover(container); // once: the container stays, its contents are replaced on every note
    // A one-line search box drops a pasted note's line breaks, which separate its entries: keep the original.
    options.input.addEventListener("paste", (event) => {
      pasted = event.clipboardData ? event.clipboardData.getData("text") : null;
    });
  }

  const squeezed = (text) => text.replace(/\s+/g, "");

  // The text to read: what was pasted (with its line breaks) if the box still holds just that.
  function original(value) {
    return pasted && squeezed(pasted) === squeezed(value) ? pasted : value;
  }

  // A note: long, or several sentences (split at . ! ? or a line break), each of a few words.
  function isNote(text) {
    const whole = original(text).trim();
    if (whole.length > NOTE_CHARS) return true;
    const sentences = whole.split(/(?<=[.!?])\s+|\n+/).filter((part) => part.trim().split(/\s+/).length >= SENTENCE_WORDS);
    return sentences.length >= NOTE_SENTENCES;
  }

  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  // /suggest counts offsets in code points; JavaScript strings index UTF-16 units.
  function utf16Offsets(text) {
    const offsets = [0];
    let position = 0;
    for (const character of text) {
      position += character.length;
      offsets.push(position);
    }
    return offsets;
  }

  function highlightedNote(text, items) {
    const offsets = utf16Offsets(text);
    const at = (index) => offsets[Math.min(index, offsets.length - 1)];
    const parts = [];
    let cursor = 0;
    items.forEach((item, index) => {
      const start = at(item.start);
      const end = at(item.end);
      if (start < cursor) return;
      parts.push(text.slice(cursor, start));
      const label = `${item.text}: ${item.codes.length ? item.codes[0].code : "CPT service"}`;
      parts.push(
        el(
          "mark",
          {
            class: `mention${item.negated ? " negated" : ""}${item.needs_cpt ? " cpt" : ""}`,
            "data-item": String(index),
            tabindex: "0",
            title: label,
          },
          text.slice(start, end),
          el("sup", { class: "mention-number" }, String(index + 1)),
        ),
      );
      cursor = end;
    });
    parts.push(text.slice(cursor));
    return el("div", { class: "note-text", role: "region", "aria-label": "The note" }, parts);
  }

  function codeLine(code) {
    const billing = [];
    if (code.units) billing.push(el("strong", { class: "units" }, `× ${code.units.units}`), ` ${code.units.how}`);
    if (code.modifiers.length) billing.push(el("span", { class: "modifiers" }, `modifier ${code.modifiers.join(", ")}`));
    return el(
      "li",
      { class: "note-code" },
      el("a", { class: "code mono", href: `/?code=${encodeURIComponent(code.code)}`, "data-code": code.code }, code.code),
      el("span", { class: "description" }, code.description),
      el("span", { class: "confidence" }, confidenceBadge(code)),
      billing.length ? el("span", { class: "billing" }, billing) : null,
    );
  }

  function itemCard(item, index) {
    const flags = [];
    if (item.negated) flags.push(el("span", { class: "badge negated" }, "Not given"));
    if (item.needs_cpt) flags.push(el("span", { class: "badge cpt" }, "CPT"));
    const body = item.codes.length
      ? el("ol", { class: "note-codes" }, item.codes.slice(0, CODES_SHOWN).map(codeLine))
      : el("p", { class: "placeholder" }, `${item.cpt_service || "CPT service"}: CPT code, not loaded`);
    return el(
      "li",
      { class: "note-item", "data-item": String(index), tabindex: "-1" },
      el("div", { class: "note-item-head" }, el("span", { class: "number" }, String(index + 1)), el("q", null, item.text), flags),
      body,
    );
  }

  function linkHover(root) {
    const all = (index) => root.querySelectorAll(`[data-item="${index}"]`);
    const toggle = (index, on) => all(index).forEach((node) => node.classList.toggle("linked", on));
    root.addEventListener("mouseover", (event) => {
      const node = event.target.closest("[data-item]");
      if (node) toggle(node.dataset.item, true);
    });
    root.addEventListener("mouseout", (event) => {
      const node = event.target.closest("[data-item]");
      if (node) toggle(node.dataset.item, false);
    });
    root.addEventListener("click", (event) => {
      // a code opens in the details panel; with a modifier key, its link opens a new tab as links do
      const link = event.target.closest("a[data-code]");
      if (link && !(event.ctrlKey || event.metaKey || event.shiftKey || event.button)) {
        event.preventDefault();
        openDetails(link.dataset.code);
        return;
      }
      const mark = event.target.closest("mark[data-item]");
      if (!mark) return;
      const card = root.querySelector(`li.note-item[data-item="${mark.dataset.item}"]`);
      if (card) {
        card.scrollIntoView({ block: "nearest" });
        card.focus();
      }
    });
    root.addEventListener("keydown", (event) => {
      const mark = event.target.closest("mark[data-item]");
      if (mark && event.key === "Enter") mark.click();
    });
  }

  function render(text, data) {
    const items = data.items || [];
    const summary = `${items.length} billable item${items.length === 1 ? "" : "s"} · ${Number(data.took_ms).toFixed(0)} ms`;
    const list = items.length
      ? el("ol", { class: "note-items", "aria-label": "Items and their codes" }, items.map(itemCard))
      : el("p", { class: "placeholder" }, "Nothing billable found in this text.");
    container.replaceChildren(
      el("header", { class: "note-head" }, el("h2", null, "Note"), el("p", { class: "note-summary", role: "status" }, summary)),
      el("div", { class: "note-columns" }, highlightedNote(text, items), list),
    );
  }

  async function show(value, setting, onError) {
    const text = original(value);
    container.hidden = false;
    document.body.classList.add("note-mode");
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = ++seq;
    container.setAttribute("aria-busy", "true");
    try {
      const data = await getJSON("/suggest", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text, setting }),
        signal: controller.signal,
      });
      if (mine !== seq) return;
      onError(null);
      render(text, data);
    } catch (error) {
      if ((error && error.name === "AbortError") || mine !== seq) return;
      container.replaceChildren();
      onError(error.message);
    } finally {
      if (mine === seq) container.removeAttribute("aria-busy");
    }
  }

  function hide() {
    if (!container || container.hidden) return;
    seq += 1;
    if (controller) controller.abort();
    container.hidden = true;
    container.replaceChildren();
    document.body.classList.remove("note-mode");
  }

  return { attach, isNote, show, hide };
})();
