"""A/A false alarms of canary's mann-whitney judge, re-run at every check as users run it.

Run ``python benchmarks/detection_mann_whitney.py`` (a few minutes) or ``--quick`` (smoke run).
Writes ``detection_mann_whitney.{json,md}`` into ``--out DIR`` (default ``benchmarks/results``;
full run only, unless ``--out`` is given).

What is measured: two identical arms (A/A) checked every 10 s for 1 h (360 checks), as in
``detection.py``. Each arm gives the judge one sample per 10 s interval: the interval's error rate
(errors / requests, 1% errors) or its geometric-mean latency (lognormal latency, sigma 0.5 of log
latency, in units of the median); an interval without requests gives no sample. At every check the
judge (``mann_whitney.classify``) classifies all samples of each arm since the start (the window
grows with the rollout), and a run fails at the first check classified High or Low, the
measurement's ``fail``. Two configs: the provider's defaults (direction either, confidence 0.98,
tolerance 0.25, allowed increase and decrease 1.0) and the same with tolerance 0 (High or Low as soon
as the 98% interval of the shift excludes 0). Rates are requests per second per arm; each cell has
its own fixed seed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection import HORIZON_S, INTERVAL_S, clopper_pearson_upper
from out_dir import quick_parser, write_results

from canary.analysis import judges
from canary.analysis.judges import mann_whitney as mw

WRITES = ("detection_mann_whitney.json", "detection_mann_whitney.md")
# The mann-whitney judge as the provider runs it when a template sets no config.
MW_SPEC = mw.MetricSpec(
    **{k: v for k, v in judges.MANN_WHITNEY_DEFAULTS.items() if k not in ("tolerance", "confidence")}
)
MW_CONFIDENCE = float(judges.MANN_WHITNEY_DEFAULTS["confidence"])
DEFAULT_TOLERANCE = float(judges.MANN_WHITNEY_DEFAULTS["tolerance"])
TOLERANCES = (DEFAULT_TOLERANCE, 0.0)
FAILS = ("High", "Low", "NodataFailMetric")
# The judge's interval of the shift inverts its own U test, with a variance no smaller than the
# test's, so it can exclude 0 (which High and Low need) only where the test's p <= 1 - confidence.
# Rows above this p are Pass without asking the judge, a saving of about 20x on A/A runs;
# tests/unit/judges/test_judges_detection_benchmark.py checks that it changes no verdict.
PREFILTER_P = 0.05


@dataclass(frozen=True)
class Cell:
    scenario: str  # "errors A/A 1%" | "latency A/A sigma 0.5"
    rate_per_arm: float
    share: float  # the canary's share of traffic


SCENARIOS = ("errors A/A 1%", "latency A/A sigma 0.5")
# 1:1 at 10 and 100 req/s per arm, and the one 1:9 cell where unequal traffic alone fails the judge
# (the canary's smaller intervals give mostly 0% error rates: a different distribution).
CELLS = (
    *(Cell(s, rate, 0.5) for s in SCENARIOS for rate in (10.0, 100.0)),
    Cell("errors A/A 1%", 10.0, 0.1),
)


def u_test_p(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two-sided p of the U test of canary x against stable y on each row's samples 0..j, for every j.

    The judge's formula (normal approximation, tie and continuity corrected; NaN is no sample),
    with U and the tie term updated as each interval's pair of samples joins: O(t^2) per row
    instead of a sort per check.
    """
    reps, t = x.shape
    u, ties = np.zeros(reps), np.zeros(reps)
    m = np.cumsum(~np.isnan(x), axis=1).astype(float)
    n = np.cumsum(~np.isnan(y), axis=1).astype(float)
    p = np.ones((reps, t))
    for j in range(t):
        xj, yj, xs, ys = x[:, j : j + 1], y[:, j : j + 1], x[:, :j], y[:, :j]
        same = xj[:, 0] == yj[:, 0]
        u += np.sum(xj > ys, axis=1) + np.sum(xs > yj, axis=1) + (xj[:, 0] > yj[:, 0])
        u += 0.5 * (np.sum(xj == ys, axis=1) + np.sum(xs == yj, axis=1) + same)
        # A sample joining a tie group of c adds (c+1)^3 - (c+1) - (c^3 - c) = 3c^2 + 3c.
        c = np.sum(xs == xj, axis=1) + np.sum(ys == xj, axis=1)
        ties += 3.0 * c * (c + 1.0)
        c = np.sum(xs == yj, axis=1) + np.sum(ys == yj, axis=1) + same
        ties += 3.0 * c * (c + 1.0)
        mn, total = m[:, j] * n[:, j], m[:, j] + n[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            sigma = np.sqrt(np.maximum(mn / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0))), 0.0))
            z = (np.abs(u - mn / 2.0) - 0.5) / sigma
        p[:, j] = np.where(sigma > 0, np.clip(2.0 * special.ndtr(-z), 0.0, 1.0), 1.0)
    return p


def first_fail(
    x: np.ndarray, y: np.ndarray, tolerance: float, prefilter_p: float = PREFILTER_P
) -> np.ndarray:
    """First check (-1: none) at which the judge fails canary x against stable y, judging at
    check j every sample 0..j of each arm (rows: replications; NaN: no sample)."""
    reps, t = x.shape
    p = u_test_p(x, y)
    first = np.full(reps, -1)
    for j in range(t):
        ask = np.flatnonzero((first < 0) & (p[:, j] <= prefilter_p))
        if ask.size:
            res = mw.classify(
                y[ask, : j + 1],
                x[ask, : j + 1],
                [MW_SPEC] * ask.size,
                tolerance=tolerance,
                confidence=MW_CONFIDENCE,
            )
            first[ask[np.isin(res.classification, FAILS)]] = j
    return first


def samples(cell: Cell, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each arm's per-interval samples (canary, stable), NaN for an interval without requests."""
    t = int(HORIZON_S / INTERVAL_S)
    total = 2.0 * cell.rate_per_arm * INTERVAL_S
    out = []
    for share in (cell.share, 1.0 - cell.share):
        n = rng.poisson(total * share, size=(reps, t))
        if cell.scenario.startswith("errors"):
            value = rng.binomial(n, 0.01) / np.maximum(n, 1)
        else:  # the mean of n normal log latencies, sd 0.5 each
            value = np.exp(0.5 * rng.standard_normal((reps, t)) / np.sqrt(np.maximum(n, 1)))
        out.append(np.where(n > 0, value, np.nan))
    return out[0], out[1]


def run(reps: int, cells: tuple[Cell, ...] = CELLS, seed: int = 20261207) -> list[dict[str, Any]]:
    rows = []
    for i, cell in enumerate(cells):
        x, y = samples(cell, reps, np.random.default_rng(seed + i))
        for tolerance in TOLERANCES:
            fails = int(np.sum(first_fail(x, y, tolerance) >= 0))
            rows.append(
                {
                    "scenario": cell.scenario,
                    "rate_per_arm": cell.rate_per_arm,
                    "split": "1:1" if cell.share == 0.5 else "1:9",
                    "judge": "mann-whitney",
                    "tolerance": tolerance,
                    "confidence": MW_CONFIDENCE,
                    "reps": reps,
                    "rejected": fails,
                    "rate_rejected": fails / reps,
                    "false_alarm_upper": clopper_pearson_upper(fails, reps),
                }
            )
    return rows


TABLE_HEAD = (
    "### mann-whitney judge, A/A: re-run every 10 s for 1 h on all per-interval samples so far",
    "",
    "Confidence 0.98 (a nominal 2% per check), direction either; 95% upper bound: Clopper-Pearson.",
    "",
    "| scenario | req/s per arm | split | tolerance | reps | false alarms | 95% upper bound |",
    "|---|---|---|---|---|---|---|",
)


def _table_row(r: dict[str, Any]) -> str:
    return (
        f"| {r['scenario']} | {r['rate_per_arm']:.0f} | {r['split']} | {r['tolerance']:g} | {r['reps']} | "
        f"{100 * r['rate_rejected']:.1f}% | {100 * r['false_alarm_upper']:.1f}% |"
    )


def markdown(rows: list[dict[str, Any]]) -> str:
    return "\n".join([*TABLE_HEAD, *map(_table_row, rows)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = quick_parser(__doc__, WRITES).parse_args(argv)
    t0 = time.perf_counter()
    reps = 50 if args.quick else 2_000
    rows = run(reps)
    text = markdown(rows)
    print(text)
    meta = {
        "interval_s": INTERVAL_S,
        "horizon_s": HORIZON_S,
        "reps": reps,
        "prefilter_p": PREFILTER_P,
        "seconds": time.perf_counter() - t0,
    }
    data = {"meta": meta, "rows": rows}
    write_results(args.out, quick=args.quick, name="detection_mann_whitney", data=data, text=text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
