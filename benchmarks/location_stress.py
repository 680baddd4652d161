"""A/A stress of the sequential-location judge on samples that are not normal.

Run ``python benchmarks/location_stress.py`` (about 15 minutes) or ``--quick``. Writes
``location_stress.{json,md}`` into ``--out DIR`` (default ``benchmarks/results``; full run only,
unless ``--out`` is given).

The detection benchmark draws each look's mean and variance from their normal laws; here every
sample is drawn, so the judge's plug-in variance meets skew, heavy tails and ties. Both arms get
the same distribution (standardised to mean 0, sd 1; the judge is scale-free), 10 req/s per arm
(100 samples per 10 s interval) for 1 h, judged at the judge's own looks (``looks_for``/``look_sizes``:
five of 20 samples per interval) with its default config; and normal samples at 100 req/s per arm
(1,000 per interval, 50 looks of 20), the traffic at which the judge's running maximum has the
most looks. A false alarm is any look whose e-value reaches ``1/alpha`` once both arms have
``min_samples``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection import ALPHA, clopper_pearson_upper
from out_dir import quick_parser, write_results

from canary.analysis.judges import sequential_location as sl

INTERVALS = 360
INTERVAL_S = 10.0

Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def _standardised(draw: Draw, mean: float, sd: float) -> Draw:
    return lambda rng, shape: (draw(rng, shape) - mean) / sd


DISTRIBUTIONS: dict[str, Draw] = {
    "normal (control)": lambda rng, shape: rng.standard_normal(shape),
    # ln of a Pareto(alpha=3) latency is exponential: a skewed log latency.
    "exponential (ln of Pareto latency)": _standardised(
        lambda rng, shape: rng.exponential(1.0, shape), 1.0, 1.0
    ),
    # Student t with 3 degrees of freedom: heavy tails, finite variance (sd sqrt(3)).
    "t, 3 df (heavy tails)": _standardised(lambda rng, shape: rng.standard_t(3, shape), 0.0, math.sqrt(3.0)),
    # Log latency rounded to a coarse grid: many ties (about 5 distinct values per sd).
    "normal rounded to 0.2 sd (ties)": lambda rng, shape: np.round(rng.standard_normal(shape) * 5.0) / 5.0,
}


# The distributions run at each request rate per arm (100 req/s: ten times the samples per run).
RATES: dict[float, tuple[str, ...]] = {10.0: tuple(DISTRIBUTIONS), 100.0: ("normal (control)",)}
# Samples held at once per arm: a chunk of replications x intervals x samples per interval.
CHUNK_SAMPLES = 7_200_000


def false_alarms(draw: Draw, reps: int, seed: int, per_interval: int) -> int:
    """Replications in which the judge rejects at any look within the hour."""
    rng = np.random.default_rng(seed)
    looks = int(sl.looks_for(per_interval, per_interval, sl.DEFAULT_SAMPLES_PER_LOOK))
    edges = sl.look_sizes(per_interval, looks)
    config = sl.LocationConfig()
    chunk = max(1, CHUNK_SAMPLES // (INTERVALS * per_interval))
    hits = 0
    for start in range(0, reps, chunk):
        rows = min(chunk, reps - start)
        arms = [_cumulative_moments(draw(rng, (rows, INTERVALS, per_interval)), edges) for _ in range(2)]
        (n_s, mean_s, var_s), (n_c, mean_c, var_c) = arms
        log_e, judged = sl.look_evidence(
            n_s=n_s, mean_s=mean_s, var_s=var_s, n_c=n_c, mean_c=mean_c, var_c=var_c, config=config
        )
        hits += int(np.sum(np.any((log_e >= math.log(1 / ALPHA)) & judged, axis=1)))
    return hits


def _cumulative_moments(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running count, mean and variance at every look (rows: replications)."""
    rows = x.shape[0]
    prefix1 = np.cumsum(x, axis=2)[..., edges - 1]
    prefix2 = np.cumsum(x * x, axis=2)[..., edges - 1]
    per_look1 = np.diff(prefix1, axis=2, prepend=0.0).reshape(rows, -1)
    per_look2 = np.diff(prefix2, axis=2, prepend=0.0).reshape(rows, -1)
    n = np.cumsum(np.diff(edges, prepend=0).astype(float)[None, :].repeat(INTERVALS, 0).ravel())[None, :]
    s1, s2 = np.cumsum(per_look1, axis=1), np.cumsum(per_look2, axis=1)
    mean = s1 / n
    var = np.maximum((s2 - n * mean * mean) / np.maximum(n - 1, 1), sl.LocationConfig.min_variance)
    return np.broadcast_to(n, mean.shape), mean, var


def run(reps: Mapping[float, int], seed: int = 20261125) -> list[dict[str, Any]]:
    """One row per request rate and distribution, with `reps[rate]` replications."""
    rows = []
    for j, (rate, names) in enumerate(RATES.items()):
        for name in names:
            i = list(DISTRIBUTIONS).index(name)
            per_interval = round(rate * INTERVAL_S)
            x = false_alarms(DISTRIBUTIONS[name], reps[rate], seed + 1000 * j + i, per_interval)
            rows.append(
                {
                    "rate_per_arm": rate,
                    "distribution": name,
                    "reps": reps[rate],
                    "false_alarms": x,
                    "rate": x / reps[rate],
                    "upper_95": clopper_pearson_upper(x, reps[rate]),
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "### sequential-location A/A stress (1:1, a look every 20 samples, 1 h; alpha = 5%)",
        "",
        "| req/s per arm | log-latency distribution | reps | false alarms | 95% upper bound (Clopper-Pearson) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['rate_per_arm']:.0f} | {r['distribution']} | {r['reps']} | {100 * r['rate']:.1f}% | "
        f"{100 * r['upper_95']:.1f}% |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


WRITES = ("location_stress.json", "location_stress.md")


def main(argv: list[str] | None = None) -> int:
    ap = quick_parser(__doc__, WRITES)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = run({10.0: 200, 100.0: 20} if args.quick else {10.0: 10_000, 100.0: 5_000})
    text = markdown(rows)
    print(text)
    meta = {
        "alpha": ALPHA,
        "intervals": INTERVALS,
        "interval_s": INTERVAL_S,
        "seconds": time.perf_counter() - t0,
    }
    write_results(
        args.out, quick=args.quick, name="location_stress", data={"meta": meta, "rows": rows}, text=text
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
