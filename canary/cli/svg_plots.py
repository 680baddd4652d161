"""Small, dependency-free SVG charts for the analysis report: lines over time and overlaid histograms.

Pure functions from numbers to SVG text. The report must open anywhere with no network, so the
charts are inline SVG drawn here rather than images or a JavaScript library loaded from a CDN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 44
STABLE_COLOUR = "#1f77b4"
CANARY_COLOUR = "#ff7f0e"
THRESHOLD_COLOUR = "#d62728"
AXIS_COLOUR = "#555555"
TICKS = 5


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    """One y value per x position (NaN leaves a gap)."""
    colour: str


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    log: bool = False

    def fraction(self, value: float) -> float:
        low, high, v = (
            (math.log10(self.low), math.log10(self.high), math.log10(value))
            if self.log
            else (self.low, self.high, value)
        )
        return 0.5 if high == low else (v - low) / (high - low)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = math.floor(math.log10(self.low)), math.ceil(math.log10(self.high))
            return [10.0**e for e in range(first, last + 1) if self.low <= 10.0**e <= self.high]
        return [self.low + (self.high - self.low) * i / (TICKS - 1) for i in range(TICKS)]


def _finite(values: Sequence[float], *, positive: bool) -> list[float]:
    return [v for v in values if math.isfinite(v) and (v > 0 or not positive)]


def value_scale(values: Sequence[float], *, log: bool) -> Scale:
    finite = _finite(values, positive=log)
    if not finite:
        return Scale(0.1, 1.0, log) if log else Scale(0.0, 1.0)
    low, high = min(finite), max(finite)
    if log:
        return Scale(10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high)), True)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return Scale(low - pad, high + pad)


def _label(value: float) -> str:
    return f"{value:.3g}"


def _x(fraction: float) -> float:
    return LEFT + fraction * (WIDTH - LEFT - RIGHT)


def _y(fraction: float) -> float:
    return HEIGHT - BOTTOM - fraction * (HEIGHT - TOP - BOTTOM)


def _frame(title: str, y_label: str, scale: Scale) -> list[str]:
    parts = [
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
        f'<line x1="{LEFT}" y1="{_y(0)}" x2="{WIDTH - RIGHT}" y2="{_y(0)}" stroke="{AXIS_COLOUR}"/>',
        f'<line x1="{LEFT}" y1="{_y(0)}" x2="{LEFT}" y2="{_y(1)}" stroke="{AXIS_COLOUR}"/>',
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">{escape(y_label)}</text>',
    ]
    for tick in scale.ticks():
        y = _y(scale.fraction(tick))
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="{AXIS_COLOUR}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_label(tick)}</text>'
        )
    return parts


def _legend(entries: Sequence[tuple[str, str]]) -> list[str]:
    parts = []
    for index, (name, colour) in enumerate(entries):
        x = LEFT + 8 + index * 130
        parts.append(f'<rect x="{x}" y="{TOP - 4}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{TOP}" font-size="11">{escape(name)}</text>')
    return parts


def _svg(parts: Sequence[str], title: str) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'font-family="sans-serif">\n{body}\n</svg>'
    )


def _x_ticks(labels: Sequence[str]) -> list[str]:
    if not labels:
        return []
    every = max(1, math.ceil(len(labels) / 8))
    parts = []
    for index in range(0, len(labels), every):
        x = _x(index / max(1, len(labels) - 1))
        parts.append(
            f'<line x1="{x:.1f}" y1="{_y(0)}" x2="{x:.1f}" y2="{_y(0) + 4}" stroke="{AXIS_COLOUR}"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{_y(0) + 16}" font-size="10" text-anchor="middle">'
            f"{escape(labels[index][:12])}</text>"
        )
    return parts


def _polyline(values: Sequence[float], scale: Scale, colour: str) -> list[str]:
    """One polyline per run of drawable points, with a dot on each point (a lone point stays visible)."""
    count = len(values)
    runs: list[list[str]] = [[]]
    dots = []
    for index, value in enumerate(values):
        if not math.isfinite(value) or (scale.log and value <= 0):
            runs.append([])
            continue
        fraction = min(1.0, max(0.0, scale.fraction(value)))
        point = f"{_x(index / max(1, count - 1)):.1f},{_y(fraction):.1f}"
        runs[-1].append(point)
        dots.append(point)
    parts = [
        f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        for run in runs
        if len(run) > 1
    ]
    for dot in dots:
        x, y = dot.split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
    return parts


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str = "",
    log_y: bool = False,
    threshold: Threshold | None = None,
) -> str:
    """Each series as a line over the x positions; an optional horizontal threshold, dashed."""
    every_value = [v for s in series for v in s.values] + ([threshold.value] if threshold else [])
    scale = value_scale(every_value, log=log_y)
    parts = _frame(title, y_label, scale) + _x_ticks(x_labels)
    legend = [(s.name, s.colour) for s in series]
    if threshold is not None:
        y = _y(scale.fraction(threshold.value))
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>'
        )
        legend.append((threshold.label, THRESHOLD_COLOUR))
    for entry in series:
        parts += _polyline(entry.values, scale, entry.colour)
    return _svg(parts + _legend(legend), title)


def histogram(title: str, arms: Sequence[Series], *, bins: int = 30, x_label: str = "") -> str:
    """The arms' value distributions on shared bins, as overlaid translucent bars."""
    finite = _finite([v for arm in arms for v in arm.values], positive=False)
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    counts = {
        arm.name: [int(c) for c in np.histogram(_finite(arm.values, positive=False), bins=edges)[0]]
        for arm in arms
    }
    top = max((c for each in counts.values() for c in each), default=1) or 1
    scale = Scale(0.0, float(top))
    parts = _frame(title, "count", scale)
    bar = (WIDTH - LEFT - RIGHT) / bins
    for arm in arms:
        for index, count in enumerate(counts[arm.name]):
            if count:
                height = _y(0) - _y(count / top)
                parts.append(
                    f'<rect x="{LEFT + index * bar:.1f}" y="{_y(count / top):.1f}" width="{bar - 1:.1f}" '
                    f'height="{height:.1f}" fill="{arm.colour}" fill-opacity="0.55"/>'
                )
    for fraction in (0.0, 0.5, 1.0):
        x = _x(fraction)
        parts.append(
            f'<text x="{x:.1f}" y="{_y(0) + 16}" font-size="10" text-anchor="middle">'
            f"{_label(float(edges[0] + fraction * (edges[-1] - edges[0])))}</text>"
        )
    if x_label:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" font-size="11" text-anchor="middle">{escape(x_label)}</text>'
        )
    return _svg(parts + _legend([(a.name, a.colour) for a in arms]), title)
