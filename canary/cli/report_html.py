"""A self-contained HTML page: title, verdict, key facts, inline SVG figures and a table.

Pure (values in, text out) and with no external URL anywhere (no fonts, scripts or images to fetch),
so the report opens the same from a CI artifact, an email or an air-gapped laptop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

VERDICT_COLOURS = {"pass": "#2ca02c", "fail": "#d62728"}
OTHER_VERDICT_COLOUR = "#9467bd"

STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; background: #ffffff; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff; font-weight: bold; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
figure { margin: 16px 0; }
figcaption { font-size: 12px; color: #555; max-width: 640px; }
.why { font-size: 15px; margin: 12px 0; }
"""


@dataclass(frozen=True)
class Figure:
    svg: str
    caption: str


@dataclass(frozen=True)
class Report:
    title: str
    verdict: str
    why: str
    facts: Sequence[tuple[str, str]] = ()
    figures: Sequence[Figure] = ()
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = field(default_factory=list)


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: Report) -> str:
    colour = VERDICT_COLOURS.get(report.verdict, OTHER_VERDICT_COLOUR)
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in report.facts)
    figures = "\n".join(
        f"<figure>{figure.svg}<figcaption>{escape(figure.caption)}</figcaption></figure>"
        for figure in report.figures
    )
    rows = _table(report.columns, report.rows) if report.columns else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(report.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(report.title)}</h1>
<p>Verdict: <span class="verdict" style="background: {colour}">{escape(report.verdict)}</span></p>
<p class="why">{escape(report.why)}</p>
<table>{facts}</table>
{figures}
{rows}
</body>
</html>
"""
