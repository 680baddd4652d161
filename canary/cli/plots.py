"""The plots of the analysis report and the dashboard, as plotly figures: lines over intervals and
overlaid distributions.

Pure functions from numbers to figures. Long inputs are aggregated first (`aggregate`): a plot of
3,000 intervals shows at most `MAX_POINTS` points, each summarising a run of consecutive intervals,
and its hover text names the intervals and times it covers. Histograms are counted here (numpy), so
a figure carries its bins, never the raw samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

STABLE_COLOUR = "#1f77b4"
CANARY_COLOUR = "#ff7f0e"
THRESHOLD_COLOUR = "#d62728"
HEIGHT = 320
MAX_POINTS = 120
"""Points per line at most: enough to follow a trend, few enough to tell each point apart."""
BINS = 30
CONFIG = {"displaylogo": False, "responsive": True}
"""plotly.js options of every figure (no plotly logo in the mode bar; resized with the page)."""


class Summary(StrEnum):
    """How a run of intervals becomes one point."""

    MEAN = "mean"
    """For values: the level of the run."""
    MIN = "min"
    """For p-values: the strongest evidence of the run, so a fall to a threshold stays visible."""


def _summarise(values: Sequence[float], how: Summary) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return min(finite) if how is Summary.MIN else sum(finite) / len(finite)


@dataclass(frozen=True)
class Bucket:
    """Consecutive intervals `first`..`last` (0-based positions) drawn as one point."""

    first: int
    last: int
    value: float

    def describe(self, labels: Sequence[str]) -> str:
        if self.first == self.last:
            return f"interval {self.first + 1} (time {labels[self.first]})"
        return (
            f"intervals {self.first + 1} to {self.last + 1} "
            f"(time {labels[self.first]} to {labels[self.last]})"
        )


def aggregate(values: Sequence[float], how: Summary, max_points: int = MAX_POINTS) -> list[Bucket]:
    """At most `max_points` buckets of equal runs of consecutive values (the last may be shorter),
    each summarised as `how` says; NaN values are skipped, a bucket of only NaN is NaN (a gap)."""
    size = max(1, math.ceil(len(values) / max_points))
    return [
        Bucket(start, min(start + size, len(values)) - 1, _summarise(values[start : start + size], how))
        for start in range(0, len(values), size)
    ]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    """One y value per interval (NaN leaves a gap)."""
    colour: str
    summary: Summary = Summary.MEAN


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> go.Layout:
    return go.Layout(
        title={"text": title, "y": 0.97, "yanchor": "top"},
        template="none",
        height=HEIGHT,
        margin={"l": 64, "r": 16, "t": 72, "b": 44},
        xaxis={"title": {"text": x_title}},
        yaxis={"title": {"text": y_title}},
        legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
        **extra,
    )


def _line(series: Series, labels: Sequence[str]) -> go.Scatter:
    buckets = aggregate(series.values, series.summary)
    ranged = any(b.first != b.last for b in buckets)
    return go.Scatter(
        name=series.name + (f" ({series.summary} of each run)" if ranged else ""),
        x=[b.first + 1 for b in buckets],
        y=[None if math.isnan(b.value) else b.value for b in buckets],
        text=[b.describe(labels) for b in buckets],
        hovertemplate="%{text}<br>%{y:.4g}<extra>" + series.name + "</extra>",
        mode="lines+markers",
        line={"color": series.colour, "width": 2.5},
        marker={"color": series.colour, "size": 5},
    )


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_title: str = "interval",
    y_title: str = "",
    log_y: bool = False,
    threshold: Threshold | None = None,
    mark: tuple[int, str] | None = None,
) -> go.Figure:
    """Each series as a line over the intervals (numbered from 1, hover names their times); an
    optional horizontal threshold, dashed, and an optional interval marked by a dotted vertical line
    with its label (`(473, "failed at 473")`)."""
    figure = go.Figure(layout=_layout(title, x_title, y_title))
    step = tick_step(len(labels))
    figure.update_xaxes(tick0=1 if step == 1 else 0, dtick=step)
    for entry in series:
        figure.add_trace(_line(entry, labels))
    if log_y:
        figure.update_yaxes(type="log")
    if threshold is not None:
        figure.add_trace(
            go.Scatter(
                name=threshold.label,
                x=[0.5, len(labels) + 0.5],  # across every point, even a lone one
                y=[threshold.value, threshold.value],
                mode="lines",
                hoverinfo="skip",
                line={"color": THRESHOLD_COLOUR, "width": 2, "dash": "dash"},
            )
        )
    if mark is not None:
        figure.add_vline(
            x=mark[0], line={"color": THRESHOLD_COLOUR, "width": 1.5, "dash": "dot"}, annotation_text=mark[1]
        )
    return figure


def tick_step(count: int) -> int:
    """Whole intervals between x ticks, 1, 2 or 5 times a power of ten, for about ten ticks (a tick at
    1.2 names no interval, one at 301 reads worse than 300)."""
    wanted = max(1.0, count / 10)
    power: int = 10 ** math.floor(math.log10(wanted))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= wanted)


def histogram(title: str, arms: Sequence[Series], *, x_title: str = "") -> go.Figure:
    """The arms' value distributions on shared bins, as overlaid translucent bars."""
    finite = [v for arm in arms for v in arm.values if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, BINS + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
    figure = go.Figure(layout=_layout(title, x_title, "count", barmode="overlay"))
    for arm in arms:
        counts, _ = np.histogram([v for v in arm.values if math.isfinite(v)], bins=edges)
        figure.add_trace(
            go.Bar(
                name=arm.name,
                x=centres.tolist(),
                y=counts.tolist(),
                width=width,
                opacity=0.55,
                marker={"color": arm.colour, "line": {"width": 0}},
            )
        )
    return figure


def to_html(figure: go.Figure, div_id: str) -> str:
    """A figure as a <div> and the script drawing it, for a page that loads plotly.js once."""
    html: str = figure.to_html(include_plotlyjs=False, full_html=False, div_id=div_id, config=CONFIG)
    return html


def plotly_js() -> str:
    """plotly.js itself (minified), shipped inside the plotly package: inlined in the report and
    served by the dashboard, so neither fetches anything from the network."""
    return str(get_plotlyjs())
