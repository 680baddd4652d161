"""A self-contained HTML page: title, verdict, key facts, interactive figures and a folded table.

Pure (values in, text out) and with no external URL anywhere: plotly.js is inlined once, and no font,
script or image is fetched, so the report opens the same from a CI artifact, an email or an
air-gapped laptop. The table of every interval sits behind a summary line (<details>): with
thousands of intervals it would bury the verdict and the plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

import plotly.graph_objects as go

from canary.cli import plots

VERDICT_COLOURS = {"pass": "#2ca02c", "fail": "#d62728"}
OTHER_VERDICT_COLOUR = "#9467bd"

STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; background: #ffffff; max-width: 980px; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff; font-weight: bold; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
figure { margin: 16px 0; }
figcaption { font-size: 12px; color: #555; max-width: 640px; }
summary { cursor: pointer; font-weight: bold; margin: 12px 0; }
.why { font-size: 15px; margin: 12px 0; }
"""


@dataclass(frozen=True)
class Figure:
    plot: go.Figure
    caption: str


@dataclass(frozen=True)
class Section:
    """A table shown open under the facts, e.g. a canary score's groups and each metric's part."""

    title: str
    text: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Report:
    title: str
    verdict: str
    why: str
    facts: Sequence[tuple[str, str]] = ()
    figures: Sequence[Figure] = ()
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = field(default_factory=list)
    table_summary: str = ""
    """The line the folded table shows, e.g. `Every interval (3000: 2956 pass, 44 fail)`."""
    sections: Sequence[Section] = ()


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section_html(section: Section) -> str:
    text = f"<p>{escape(section.text)}</p>" if section.text else ""
    return f"<h2>{escape(section.title)}</h2>{text}{table(section.columns, section.rows)}"


def figure_html(figure: Figure, div_id: str) -> str:
    return (
        f"<figure>{plots.to_html(figure.plot, div_id)}"
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def render(report: Report) -> str:
    colour = VERDICT_COLOURS.get(report.verdict, OTHER_VERDICT_COLOUR)
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in report.facts)
    sections = "\n".join(section_html(s) for s in report.sections)
    figures = "\n".join(figure_html(f, f"figure-{i + 1}") for i, f in enumerate(report.figures))
    rows = (
        f"<details><summary>{escape(report.table_summary or f'The table ({len(report.rows)} rows)')}"
        f"</summary>{table(report.columns, report.rows)}</details>"
        if report.columns
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(report.title)}</title>
<style>{STYLE}</style>
<script>{plots.plotly_js()}</script>
</head>
<body>
<h1>{escape(report.title)}</h1>
<p>Verdict: <span class="verdict" style="background: {colour}">{escape(report.verdict)}</span></p>
<p class="why">{escape(report.why)}</p>
<table>{facts}</table>
{sections}
{figures}
{rows}
</body>
</html>
"""
