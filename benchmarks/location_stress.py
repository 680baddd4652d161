"""A/A stress of the sequential-location judge on samples that are not normal.

Run ``python benchmarks/location_stress.py`` (about a minute) or ``--quick``. Writes
``location_stress.{json,md}`` into ``--out DIR`` (default ``benchmarks/results``; full run only,
unless ``--out`` is given).

The detection benchmark draws each look's mean and variance from their normal laws; here every
sample is drawn, so the judge's plug-in variance meets skew, heavy tails and ties. Both arms get
the same distribution (standardised to mean 0, sd 1; the judge is scale-free), 100 samples per
arm per 10 s interval for 1 h, judged at the judge's own looks (``looks_for``/``look_sizes``:
five of 20 samples per interval) with its default config. A false alarm is any look whose
e-value reaches ``1/alpha`` once both arms have ``min_samples``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detection import ALPHA, clopper_pearson_upper
from out_dir import quick_parser, write_results

from canary.analysis.judges import sequential_location as sl

INTERVALS = 360
PER_INTERVAL = 100

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


def false_alarms(draw: Draw, reps: int, seed: int, chunk: int = 200) -> int:
    """Replications in which the judge rejects at any look within the hour."""
    rng = np.random.default_rng(seed)
    looks = int(sl.looks_for(PER_INTERVAL, PER_INTERVAL, sl.DEFAULT_SAMPLES_PER_LOOK))
    edges = sl.look_sizes(PER_INTERVAL, looks)
    config = sl.LocationConfig()
    hits = 0
    for start in range(0, reps, chunk):
        rows = min(chunk, reps - start)
        arms = [_cumulative_moments(draw(rng, (rows, INTERVALS, PER_INTERVAL)), edges) for _ in range(2)]
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


def run(reps: int, seed: int = 20261125) -> list[dict[str, Any]]:
    rows = []
    for i, (name, draw) in enumerate(DISTRIBUTIONS.items()):
        x = false_alarms(draw, reps, seed + i)
        rows.append(
            {
                "distribution": name,
                "reps": reps,
                "false_alarms": x,
                "rate": x / reps,
                "upper_95": clopper_pearson_upper(x, reps),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "### sequential-location A/A stress (10 req/s per arm, 1:1, a look every 20 samples, 1 h; alpha = 5%)",
        "",
        "| log-latency distribution | reps | false alarms | 95% upper bound |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['distribution']} | {r['reps']} | {100 * r['rate']:.1f}% | {100 * r['upper_95']:.1f}% |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


WRITES = ("location_stress.json", "location_stress.md")


def main(argv: list[str] | None = None) -> int:
    args = quick_parser(__doc__, WRITES).parse_args(argv)
    t0 = time.perf_counter()
    rows = run(200 if args.quick else 10_000)
    text = markdown(rows)
    print(text)
    meta = {
        "alpha": ALPHA,
        "intervals": INTERVALS,
        "per_interval": PER_INTERVAL,
        "seconds": time.perf_counter() - t0,
    }
    write_results(
        args.out, quick=args.quick, name="location_stress", data={"meta": meta, "rows": rows}, text=text
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
