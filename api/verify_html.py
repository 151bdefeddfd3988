"""The report in numbers and one self-contained HTML page: a summary, a chart of verdicts by section, and the
rows a reviewer should look at first.

Both are computed by reading the report CSV once, row by row, keeping counts and the first rows that need a
look (never the whole report), so a report of millions of rows costs the same memory as one of ten. The page
has no external resources: its style and its chart (an SVG) are inline, so it can be mailed or archived.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from codefinder.search.verify_table import MALFORMED, SEPARATOR

# Verdicts in the order a reviewer reads them, with their chart colours (also the web page's).
VERDICT_COLOURS = {
    "suspect": "#c0392b",
    "terminated": "#8e44ad",
    "unknown_code": "#d35400",
    "needs_cpt": "#2471a3",
    MALFORMED: "#7f8c8d",
    "consistent": "#27ae60",
}
ROWS_SHOWN = 200
SECTIONS_SHOWN = 20


@dataclass
class ReportStats:
    rows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    by_section: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    flags: Counter[str] = field(default_factory=Counter)
    flagged_rows: int = 0  # rows with at least one flag (units, modifiers, status)
    to_review: list[dict[str, str]] = field(default_factory=list)  # the first rows not consistent or flagged
    to_review_total: int = 0

    def summary_line(self) -> str:
        parts = [f"{count:,} {verdict}" for verdict, count in self.ordered_verdicts()]
        flagged = f"; {self.flagged_rows:,} with flags" if self.flagged_rows else ""
        return f"{self.rows:,} rows: {', '.join(parts)}{flagged}"

    def ordered_verdicts(self) -> list[tuple[str, int]]:
        known = [(v, self.verdicts[v]) for v in VERDICT_COLOURS if self.verdicts[v]]
        return known + sorted((v, n) for v, n in self.verdicts.items() if v not in VERDICT_COLOURS)


def needs_review(row: dict[str, str]) -> bool:
    return row.get("verdict") != "consistent" or bool(row.get("flags"))


def report_stats(report: Path, keep: int = ROWS_SHOWN) -> ReportStats:
    """Counts by verdict, by section and by flag, and the first ``keep`` rows needing review, read row by row."""
    with report.open(encoding="utf-8", newline="") as handle:
        return rows_stats(csv.DictReader(handle), keep)


def rows_stats(rows: Iterable[dict[str, str]], keep: int = ROWS_SHOWN) -> ReportStats:
    """``report_stats`` of report rows from anywhere (a cluster run's parts)."""
    stats = ReportStats()
    for row in rows:
        verdict = row.get("verdict", "")
        stats.rows += 1
        stats.verdicts[verdict] += 1
        stats.by_section[row.get("section") or "—"][verdict] += 1
        flags = [flag.split(":", 1)[0] for flag in (row.get("flags") or "").split(SEPARATOR) if flag]
        stats.flags.update(flags)
        stats.flagged_rows += bool(flags)
        if needs_review(row):
            stats.to_review_total += 1
            if len(stats.to_review) < keep:
                stats.to_review.append(row)
    return stats


def verdict_chart(stats: ReportStats) -> str:
    """Horizontal stacked bars, one per section (the largest first), as inline SVG."""
    sections = sorted(stats.by_section.items(), key=lambda item: -sum(item[1].values()))[:SECTIONS_SHOWN]
    if not sections:
        return ""
    widest = max(sum(counts.values()) for _, counts in sections)
    bar, label, top, width = 22, 60, 28, 560
    height = top + bar * len(sections) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label + width + 80} {height}" role="img" '
        f'aria-label="verdicts by section" class="chart">'
    ]
    x = label
    for verdict, colour in VERDICT_COLOURS.items():
        if stats.verdicts[verdict]:
            parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>')
            parts.append(f'<text x="{x + 16}" y="15">{html.escape(verdict)}</text>')
            x += 24 + 8 * len(verdict)
    for i, (section, counts) in enumerate(sections):
        y = top + i * bar
        parts.append(f'<text x="{label - 6}" y="{y + 15}" text-anchor="end">{html.escape(section)}</text>')
        x = float(label)
        for verdict, colour in VERDICT_COLOURS.items():
            if counts[verdict]:
                w = width * counts[verdict] / widest
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{bar - 6}" fill="{colour}">'
                    f"<title>{html.escape(section)}: {counts[verdict]:,} {html.escape(verdict)}</title></rect>"
                )
                x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{sum(counts.values()):,}</text>')
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:70rem;color:#222;
padding:0 1rem}
h1{font-size:1.4rem;margin-bottom:.2rem} .meta{color:#666;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.5rem .8rem;min-width:7rem}
.card b{display:block;font-size:1.3rem} .card span{color:#555}
.chart{width:100%;max-width:52rem;font-size:12px;fill:#333}
table{border-collapse:collapse;width:100%;margin-top:1rem;font-size:13px}
th,td{border-bottom:1px solid #e5e5e5;padding:.35rem .4rem;text-align:left;vertical-align:top}
th{background:#f6f6f6;position:sticky;top:0}
.verdict{font-weight:600;white-space:nowrap} .num{text-align:right;white-space:nowrap}
"""


def write_html(stats: ReportStats, path: Path, source: str, description: str, code: str) -> None:
    """The report as one HTML page (``description`` and ``code`` name the report's columns)."""
    cards = [f'<div class="card"><b>{stats.rows:,}</b><span>rows</span></div>']
    for verdict, count in stats.ordered_verdicts():
        share = f" ({100 * count / stats.rows:.1f} %)" if stats.rows else ""
        colour = VERDICT_COLOURS.get(verdict, "#333")
        cards.append(
            f'<div class="card"><b style="color:{colour}">{count:,}</b>'
            f"<span>{html.escape(verdict)}{share}</span></div>"
        )
    for flag, count in stats.flags.most_common():
        cards.append(f'<div class="card"><b>{count:,}</b><span>{html.escape(flag)}</span></div>')
    head = ["line", code, description, "verdict", "confidence", "better codes", "why", "flags"]
    rows = []
    for row in stats.to_review:
        verdict = row.get("verdict", "")
        cells = [
            f'<td class="num">{html.escape(row.get("line", ""))}</td>',
            f"<td>{html.escape(row.get(code, ''))}</td>",
            f"<td>{html.escape(row.get(description, ''))}</td>",
            f'<td class="verdict" style="color:{VERDICT_COLOURS.get(verdict, "#333")}">{html.escape(verdict)}</td>',
            f'<td class="num">{html.escape(row.get("confidence", ""))}</td>',
            f"<td>{html.escape(row.get('better_codes', ''))}</td>",
            f"<td>{html.escape(row.get('reasons', ''))}</td>",
            f"<td>{html.escape(row.get('flags', ''))}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    shown = (
        f"The first {len(stats.to_review):,} of {stats.to_review_total:,} rows to review"
        if stats.to_review_total > len(stats.to_review)
        else f"All {stats.to_review_total:,} rows to review"
    )
    when = dt.datetime.now().isoformat(timespec="minutes")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>codefinder verify: {html.escape(source)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>Code check: {html.escape(source)}</h1>
<p class="meta">codefinder verify, {when}. {html.escape(stats.summary_line())}.</p>
<div class="cards">{"".join(cards)}</div>
<h2>Verdicts by section</h2>
{verdict_chart(stats)}
<h2>Rows to review</h2>
<p>{shown} (not consistent, or flagged), in file order; the full list is in the report CSV.</p>
<table><thead><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in head)}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(path)
