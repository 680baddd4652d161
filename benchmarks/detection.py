"""Detection benchmark of canary's judges (protocol: shared/reference/statistics.md).

Run ``python benchmarks/detection.py`` (full: half an hour on two idle cores; ``--jobs 2`` runs
cells in two processes) or ``--quick`` (smoke run). Writes ``detection.json`` and ``detection.md``
into ``--out DIR`` (default ``benchmarks/results``; full run only, unless ``--out`` is given).
``--scenarios`` and ``--rates`` run a subset of the cells and ``--merge`` puts their rows into the
existing ``detection.json`` (each cell has its own seed, so a cell run alone gives the rows it
gives in a full run); ``meta.runs`` lists the runs that wrote the file.

Every scenario simulates ``reps`` independent rollouts, vectorised over replications with
numpy: requests arrive as Poisson counts per 10 s interval, the judges are checked after every
interval for 1 h (360 checks), and a rollout "fails" at the first check that rejects.

Judges per metric family:
- ``sequential``: ours, with the judges' default configs (counts: Lindon-Malek one-sided;
  latency: one-sided mixture of 16 likelihood ratios over shifts of 0.03-0.3 sd of log latency,
  read at a look per 20 samples of the smaller arm, up to 50 per interval; tail: p99 exceedances as counts after the stable warm-up that
  fixes the p99, 300 samples).
- The mann-whitney judge re-run at every check is measured by ``detection_mann_whitney.py``.
- ``threshold``: a condition users write today, on a 1-minute window checked every interval:
  canary error rate > 1.5 x stable's; canary geometric-mean latency > 1.1 x stable's (>1.05x
  for the +5% cases); canary p99 > 1.2 x stable's.

Simulation shortcuts (exact in distribution unless said): errors are binomial given requests;
for latency, each look's slice of an interval (the judge's own ``look_sizes`` of the interval's
count) has its mean and sum of squared deviations of log latency drawn from their normal /
chi-square laws; per-interval p99 for the baselines uses the normal
approximation of a sample quantile (approximate at 10 req/s). A detection is counted at the
look that crossed (``p80_canary_n``) and where the rollout aborts, at the end of that check
(``p80_canary_n_at_abort``); the two differ only for the sequential latency judge.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from out_dir import RESULTS, quick_parser, write_results

from canary.analysis.judges import mann_whitney as mw
from canary.analysis.judges import sequential_counts as sc
from canary.analysis.judges import sequential_location as sl
from canary.analysis.judges import sequential_tail as stail

INTERVAL_S = 10.0
HORIZON_S = 3600.0
ALPHA = 0.05
Z99, Z98 = float(special.ndtri(0.99)), float(special.ndtri(0.98))
Z_A, Z_B = float(special.ndtri(0.95)), float(special.ndtri(0.80))


@dataclass(frozen=True)
class Scenario:
    family: str  # counts | latency | tail
    name: str
    effect: float  # counts/tail: canary rate; latency: multiplicative shift
    sigma: float = 0.5
    base: float = 0.01


SCENARIOS = [
    Scenario("counts", "errors A/A 1%", 0.01),
    Scenario("counts", "errors 1% -> 1.5%", 0.015),
    Scenario("counts", "errors 1% -> 2%", 0.02),
    Scenario("latency", "latency A/A sigma 0.5", 1.0, 0.5),
    Scenario("latency", "latency A/A sigma 1", 1.0, 1.0),
    Scenario("latency", "latency +5% sigma 0.5", 1.05, 0.5),
    Scenario("latency", "latency +10% sigma 0.5", 1.10, 0.5),
    Scenario("latency", "latency +5% sigma 1", 1.05, 1.0),
    Scenario("latency", "latency +10% sigma 1", 1.10, 1.0),
    Scenario("tail", "p99 A/A", 0.01),
    Scenario("tail", "p99 exceedance 1% -> 2%", 0.02),
]


def oracle_canary_n(sc_: Scenario, share: float) -> float:
    """Canary samples of the fixed-sample one-sided z test (alpha 0.05, power 0.8)."""
    kappa = (1.0 - share) / share  # stable samples per canary sample
    if sc_.family in ("counts", "tail"):
        p1, p2 = sc_.base, sc_.effect
        if p2 == p1:
            return math.nan
        pbar = (p2 + kappa * p1) / (1 + kappa)
        num = Z_A * math.sqrt(pbar * (1 - pbar) * (1 + 1 / kappa)) + Z_B * math.sqrt(
            p2 * (1 - p2) + p1 * (1 - p1) / kappa
        )
        return (num / (p2 - p1)) ** 2
    delta = math.log(sc_.effect)
    if delta == 0:
        return math.nan
    return (Z_A + Z_B) ** 2 * sc_.sigma**2 * (1 + 1 / kappa) / delta**2


def _first(reject: np.ndarray) -> np.ndarray:
    """Index of the first True per row, or -1."""
    any_ = reject.any(axis=1)
    return np.where(any_, reject.argmax(axis=1), -1)


def _window(a: np.ndarray, w: int = 6) -> np.ndarray:
    c = np.cumsum(a, axis=1)
    c[:, w:] = c[:, w:] - c[:, :-w]
    return c


def simulate(  # noqa: PLR0917 - one scenario's simulation reads best in one place
    sc_: Scenario,
    rate: float,
    share: float,
    reps: int,
    seed: int,
    k: float | tuple[float, ...] | None = None,
) -> dict[str, np.ndarray]:
    """First rejecting check per replication (-1: none) for each judge, and canary counts."""
    rng = np.random.default_rng(seed)
    t = int(HORIZON_S / INTERVAL_S)
    total = 2.0 * rate * INTERVAL_S
    n_c = rng.poisson(total * share, size=(reps, t))
    n_s = rng.poisson(total * (1 - share), size=(reps, t))
    out: dict[str, np.ndarray] = {"canary_cum": np.cumsum(n_c, axis=1)}
    if sc_.family in ("counts", "tail"):
        p_s = np.full((reps, 1), sc_.base)
        p_c = np.full((reps, 1), sc_.effect)
        start = np.zeros(reps, dtype=int)
        n_s_counted = n_s
        if sc_.family == "tail":
            # Warm-up: stable's p99 from its first samples (standard normal log scale); the
            # stable samples after them in the same interval are counted.
            warmup = stail.TailConfig.warmup_samples
            q = np.quantile(rng.standard_normal((reps, warmup)), 0.99, axis=1)
            shift = Z99 - special.ndtri(1 - sc_.effect)
            p_s = special.ndtr(-q)[:, None]
            p_c = special.ndtr(-(q - shift))[:, None]
            cum_s = np.cumsum(n_s, axis=1)
            start = np.argmax(cum_s >= warmup, axis=1)
            at = np.arange(t)[None, :] - start[:, None]
            n_s_counted = np.where(at > 0, n_s, np.where(at == 0, cum_s - warmup, 0))
        e_s = rng.binomial(n_s_counted, p_s)
        e_c = rng.binomial(n_c, p_c)
        counted = np.arange(t)[None, :] >= start[:, None]
        ce_s = np.cumsum(e_s, axis=1)
        cr_s = np.cumsum(n_s_counted, axis=1)
        # Canary warm-up samples are kept and counted once the threshold is set (the cap on
        # samples kept across updates is not modelled; it binds only when canary outpaces stable).
        ce_c = np.cumsum(e_c, axis=1)
        cr_c = np.cumsum(n_c, axis=1)
        if k is None:
            k = stail.TailConfig.k if sc_.family == "tail" else sc.CountsConfig.k
        rej = sc.rejects(ce_s, ce_c, cr_s, cr_c, alpha=ALPHA, k=k)
        out["sequential"] = _first(rej & counted & (cr_s > 0) & (cr_c > 0))
        if sc_.family == "counts":
            wc = _window(e_c) / np.maximum(_window(n_c), 1)
            ws = _window(e_s) / np.maximum(_window(n_s), 1)
            out["threshold"] = _first(wc > 1.5 * ws)
        else:
            # 1-minute p99 per arm (normal approximation of the sample quantile, log scale).
            dens = stats.norm.pdf(Z99)
            sh = Z99 - special.ndtri(1 - sc_.effect)
            wsd_c = np.sqrt(0.99 * 0.01 / np.maximum(_window(n_c), 1)) / dens
            wsd_s = np.sqrt(0.99 * 0.01 / np.maximum(_window(n_s), 1)) / dens
            wq_c = sh + Z99 + wsd_c * rng.standard_normal((reps, t))
            wq_s = Z99 + wsd_s * rng.standard_normal((reps, t))
            sigma_lat = 0.5  # p99 latency ratio in latency units, lognormal sigma 0.5
            out["threshold"] = _first(np.exp(sigma_lat * (wq_c - wq_s)) > 1.2)
        return out
    # Latency: log latency ~ N(mu, sigma^2), canary mu + ln(effect).
    first, n_at, sum_c, sum_s = _latency_sequential(rng, sc_, n_c, n_s)
    out["sequential"], out["sequential_canary_n"] = first, n_at
    limit = 1.05 if sc_.effect <= 1.05 and sc_.effect != 1.0 else 1.1
    out["threshold"] = _first(
        np.exp(_window(sum_c) / np.maximum(_window(n_c), 1) - _window(sum_s) / np.maximum(_window(n_s), 1))
        > limit
    )
    return out


def _latency_sequential(
    rng: np.random.Generator, sc_: Scenario, n_c: np.ndarray, n_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The location judge at its looks, in chunks of replications to bound memory.

    Returns the first rejecting check (-1: none), the canary samples at the look that crossed
    (inf: none), and each interval's sum of canary and of stable log latencies (for the baselines).
    """
    looks = sl.looks_for(n_s, n_c, sl.DEFAULT_SAMPLES_PER_LOOK)
    width = int(looks.max())
    chunk = max(1, 1_500_000 // (n_c.shape[1] * width))
    parts = [
        _latency_chunk(rng, sc_, n_c[i : i + chunk], n_s[i : i + chunk], looks[i : i + chunk], width)
        for i in range(0, n_c.shape[0], chunk)
    ]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))  # type: ignore[return-value]


def _latency_chunk(  # noqa: PLR0917 - the chunk's arrays, passed through as they are
    rng: np.random.Generator,
    sc_: Scenario,
    n_c: np.ndarray,
    n_s: np.ndarray,
    looks: np.ndarray,
    width: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each interval split into the judge's looks (sl.looks_for, sl.look_sizes; padded to `width`
    with empty slices); each slice's mean and sum of squared deviations drawn from their normal /
    chi-square laws; the e-value read at every look."""
    reps, t = n_c.shape
    sig, delta = sc_.sigma, math.log(sc_.effect)

    def slices(n: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = np.diff(sl.look_sizes(n, looks, width), axis=-1, prepend=0).reshape(reps, t * width)
        mean = mu + sig * rng.standard_normal(k.shape) / np.sqrt(np.maximum(k, 1))
        m2 = sig**2 * rng.chisquare(np.maximum(k - 1, 1))
        return k, np.where(k > 0, mean, 0.0), np.where(k > 1, m2, 0.0)

    def cum(k: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> tuple[np.ndarray, ...]:
        cn = np.cumsum(k, axis=1).astype(float)
        s1 = np.cumsum(k * mean, axis=1)
        s2 = np.cumsum(m2 + k * mean**2, axis=1)
        cm = s1 / np.maximum(cn, 1)
        var = (s2 - cn * cm**2) / np.maximum(cn - 1, 1)
        return cn, cm, np.maximum(var, 1e-12)

    k_c, mean_c, m2_c = slices(n_c, delta)
    k_s, mean_s, m2_s = slices(n_s, 0.0)
    cn_c, cm_c, cv_c = cum(k_c, mean_c, m2_c)
    cn_s, cm_s, cv_s = cum(k_s, mean_s, m2_s)
    log_e, judged = sl.look_evidence(
        n_s=cn_s, mean_s=cm_s, var_s=cv_s, n_c=cn_c, mean_c=cm_c, var_c=cv_c, config=sl.LocationConfig()
    )
    look = _first((log_e >= math.log(1 / ALPHA)) & judged)
    hit = look >= 0
    n_at = np.where(hit, cn_c[np.arange(reps), np.maximum(look, 0)], np.inf)
    sum_c = (k_c * mean_c).reshape(reps, t, width).sum(axis=2)
    sum_s = (k_s * mean_s).reshape(reps, t, width).sum(axis=2)
    return np.where(hit, look // width, -1), n_at, sum_c, sum_s


def clopper_pearson_upper(x: int, n: int, level: float = 0.95) -> float:
    """Upper end of the two-sided Clopper-Pearson interval for x successes in n."""
    if x >= n:
        return 1.0
    return float(stats.beta.ppf(1 - (1 - level) / 2, x + 1, n - x))


def looks_per_check(sc_: Scenario, judge: str, rate: float, share: float) -> int:
    """How often per check a judge reads its data: the location judge at its looks (its samples
    arrive in order), here for the expected requests per interval; the count judges and the
    baselines once (one number per interval)."""
    if (sc_.family, judge) != ("latency", "sequential"):
        return 1
    total = 2.0 * rate * INTERVAL_S
    expected = [round(total * share), round(total * (1 - share))]
    return int(sl.looks_for(expected[1], expected[0], sl.DEFAULT_SAMPLES_PER_LOOK))


JUDGES = ("sequential", "threshold")


def _on_grid(n: float, grid: float) -> float:
    """`n` rounded up to a whole number of `grid` steps."""
    return math.ceil(n / grid) * grid


def summarise(sc_: Scenario, rate: float, share: float, sim: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    oracle = oracle_canary_n(sc_, share)
    canary_cum = sim["canary_cum"]
    for judge in JUDGES:
        first = sim[judge]
        reps = first.size
        hit = first >= 0
        x = int(hit.sum())
        times = np.where(hit, (first + 1) * INTERVAL_S, np.inf)
        med = float(np.median(times))
        p80 = float(np.quantile(times, 0.8, method="higher"))
        row: dict[str, Any] = {
            "scenario": sc_.name,
            "family": sc_.family,
            "rate_per_arm": rate,
            "split": "1:1" if share == 0.5 else "1:9",
            "judge": judge,
            "reps": reps,
            "rejected": x,
            "rate_rejected": x / reps,
        }
        if sc_.effect in (sc_.base, 1.0):
            row["false_alarm_upper"] = clopper_pearson_upper(x, reps)
        else:
            row["power"] = x / reps
            row["median_ttd_s"] = med
            row["p80_ttd_s"] = p80
            if math.isfinite(p80):
                idx = np.where(hit, first, 0)
                at_abort = np.where(hit, canary_cum[np.arange(reps), idx].astype(float), np.inf)
                n80 = float(np.quantile(sim.get(f"{judge}_canary_n", at_abort), 0.8, method="higher"))
                row["p80_canary_n"] = n80
                row["oracle_canary_n"] = oracle
                row["ratio_to_oracle"] = n80 / oracle
                row["p80_checks"] = p80 / INTERVAL_S
                # The oracle, too, can only decide when data arrives: its n rounded up to the
                # judge's grid, whole looks of expected canary requests.
                row["looks_per_check"] = looks_per_check(sc_, judge, rate, share)
                per_check = 2.0 * rate * INTERVAL_S * share
                row["oracle_canary_n_on_grid"] = _on_grid(oracle, per_check / row["looks_per_check"])
                row["ratio_to_oracle_on_grid"] = n80 / row["oracle_canary_n_on_grid"]
                # Where the rollout aborts: the end of the check (the look that crossed, for
                # every judge but sequential latency), against the oracle on the check grid.
                row["p80_canary_n_at_abort"] = float(np.quantile(at_abort, 0.8, method="higher"))
                row["ratio_to_oracle_at_abort"] = row["p80_canary_n_at_abort"] / oracle
                row["oracle_canary_n_on_check_grid"] = _on_grid(oracle, per_check)
                row["ratio_to_oracle_on_check_grid_at_abort"] = (
                    row["p80_canary_n_at_abort"] / row["oracle_canary_n_on_check_grid"]
                )
        rows.append(row)
    return rows


def speed(n_metrics: int = 1000, n: int = 10_000, repeat: int = 3, seed: int = 7) -> dict[str, float]:
    """Seconds to judge n_metrics x n samples per arm with the Mann-Whitney judge (best of repeat)."""
    rng = np.random.default_rng(seed)
    stable = rng.lognormal(0.0, 0.5, size=(n_metrics, n))
    canary = rng.lognormal(0.02, 0.5, size=(n_metrics, n))
    specs = [mw.MetricSpec(name=f"m{i}") for i in range(n_metrics)]
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        mw.classify(stable, canary, specs)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    np.sort(stable, axis=1)
    np.sort(canary, axis=1)
    sort_s = time.perf_counter() - t0
    return {"metrics": n_metrics, "samples_per_arm": n, "seconds": best, "sort_both_arms_seconds": sort_s}


Cell = tuple[Scenario, float, float, int, int]  # scenario, rate per arm, canary share, reps, seed


def _cell(cell: Cell) -> list[dict[str, Any]]:
    sc_, rate, share, reps, seed = cell
    return summarise(sc_, rate, share, simulate(sc_, rate, share, reps, seed))


RATES = (10.0, 100.0, 1000.0)
SHARES = (0.5, 0.1)


def run(
    *,
    reps: int,
    det_reps: int,
    rates: tuple[float, ...] = RATES,
    shares: tuple[float, ...] = SHARES,
    scenarios: list[Scenario] | None = None,
    seed: int = 20240501,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every cell's rows; with `jobs` > 1 the cells run in that many processes. A cell's seed
    follows from its place in SCENARIOS x RATES x SHARES, so running a subset gives the same rows."""
    cells: list[Cell] = [
        (
            sc_,
            rate,
            share,
            reps if sc_.effect in (sc_.base, 1.0) else det_reps,
            seed + 1000 * SCENARIOS.index(sc_) + 10 * RATES.index(rate) + SHARES.index(share),
        )
        for sc_ in scenarios or SCENARIOS
        for rate in rates
        for share in shares
    ]
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool:
        results = pool.map(_cell, cells) if pool is not None else map(_cell, cells)
        for (sc_, rate, share, _, _), cell_rows in zip(cells, results, strict=True):
            rows.extend(cell_rows)
            if progress:
                progress(f"{sc_.name} rate={rate} share={share}")
    return rows


def _cell_key(row: dict[str, Any]) -> tuple[int, int, int]:
    scenario = next(i for i, sc_ in enumerate(SCENARIOS) if sc_.name == row["scenario"])
    share = 0.5 if row["split"] == "1:1" else 0.1
    return scenario, RATES.index(row["rate_per_arm"]), SHARES.index(share)


def merged(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`previous` rows with the cells in `new` replaced by its rows, in SCENARIOS x RATES x SHARES
    order; rows of a judge this script does not run (any more) are dropped."""
    ran = {_cell_key(r) for r in new}
    kept = [r for r in previous if _cell_key(r) not in ran and r["judge"] in JUDGES]
    return sorted(kept + new, key=lambda r: (_cell_key(r), JUDGES.index(r["judge"])))


def _fmt(v: Any, kind: str = "f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "never"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "s":
        return f"{v:.0f}"
    return f"{v:.2f}"


def markdown(rows: list[dict[str, Any]], speed_row: dict[str, float] | None) -> str:
    lines = [
        "### A/A false alarms (checked every 10 s for 1 h; alpha = 5%)",
        "",
        "| scenario | req/s per arm | split | judge | reps | false alarms | 95% upper bound |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "false_alarm_upper" in r:
            lines.append(
                f"| {r['scenario']} | {r['rate_per_arm']:.0f} | {r['split']} | {r['judge']} | "
                f"{r['reps']} | {_fmt(r['rate_rejected'], 'pct')} | {_fmt(r['false_alarm_upper'], 'pct')} |"
            )
    lines += [
        "",
        "### Detection (1 h horizon)",
        "",
        "p80 checks: 80th percentile of the number of 10 s checks to detection. p80 canary n /",
        "oracle: 80th-percentile canary requests at detection over the fixed-sample oracle's n; for",
        "the sequential latency judge, the requests at the look that crossed the boundary (it reads",
        "each interval's samples in arrival order, a look per 20 samples of the smaller arm, at most",
        "50 per interval).",
        "/ oracle on the grid: the same over the oracle's n rounded up to the judge's grid, whole",
        "looks of expected canary requests (a look is a check for every judge but sequential",
        "latency): with data arriving in lumps, no judge can decide between two lumps; at 100 and",
        "1,000 req/s one interval can hold more than the oracle's whole sample.",
        "at the abort: the canary requests when the rollout aborts, at the end of the check (for",
        "every judge but sequential latency, the same as at the look), over the oracle's n and over",
        "the oracle's n rounded up to whole checks.",
        "",
        "| scenario | req/s per arm | split | judge | power | median TTD (s) | p80 TTD (s) | "
        "p80 checks | p80 canary n / oracle | / oracle on the grid | at the abort / oracle | "
        "/ oracle on the check grid |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "power" in r:
            # "never": not detected in the hour; "-": detected, but counted by an earlier run of
            # this script that did not count at the abort yet (--merge keeps such cells).
            ratio, on_grid, abort, abort_grid = (
                _fmt(r[key]) + "x" if key in r else ("-" if "ratio_to_oracle" in r else "never")
                for key in (
                    "ratio_to_oracle",
                    "ratio_to_oracle_on_grid",
                    "ratio_to_oracle_at_abort",
                    "ratio_to_oracle_on_check_grid_at_abort",
                )
            )
            lines.append(
                f"| {r['scenario']} | {r['rate_per_arm']:.0f} | {r['split']} | {r['judge']} | "
                f"{_fmt(r['power'], 'pct')} | {_fmt(r['median_ttd_s'], 's')} | "
                f"{_fmt(r['p80_ttd_s'], 's')} | {_fmt(r.get('p80_checks', math.inf), 's')} | "
                f"{ratio} | {on_grid} | {abort} | {abort_grid} |"
            )
    if speed_row:
        lines += [
            "",
            "### Speed (Mann-Whitney judge)",
            "",
            "| metrics | samples per arm | seconds | of which sorting |",
            "|---|---|---|---|",
            f"| {speed_row['metrics']:.0f} | {speed_row['samples_per_arm']:.0f} | "
            f"{speed_row['seconds']:.2f} | {speed_row['sort_both_arms_seconds']:.2f} |",
        ]
    return "\n".join(lines) + "\n"


WRITES = ("detection.json", "detection.md")


def main(argv: list[str] | None = None) -> int:
    ap = quick_parser(__doc__, WRITES)
    ap.add_argument("--jobs", type=int, default=1, metavar="N", help="cells run in N processes (default 1)")
    names = [sc_.name for sc_ in SCENARIOS]
    ap.add_argument(
        "--scenarios", nargs="+", choices=names, default=names, metavar="NAME", help="default: all"
    )
    ap.add_argument("--rates", nargs="+", type=float, choices=RATES, default=RATES, help="req/s per arm")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="replace only the cells run in the detection.json of --out (default benchmarks/results), "
        "keeping its other cells and its speed row",
    )
    args = ap.parse_args(argv)
    reps, det_reps = (400, 200) if args.quick else (10_000, 2_000)
    t0 = time.perf_counter()
    rows = run(
        reps=reps,
        det_reps=det_reps,
        rates=tuple(args.rates),
        scenarios=[sc_ for sc_ in SCENARIOS if sc_.name in args.scenarios],
        jobs=args.jobs,
        progress=lambda s: print(f"[{time.perf_counter() - t0:6.1f}s] {s}", file=sys.stderr),
    )
    run_meta = {"scenarios": args.scenarios, "rates": args.rates, "seconds": time.perf_counter() - t0}
    if args.merge:
        previous = json.loads(((args.out or RESULTS) / "detection.json").read_text(encoding="utf-8"))
        rows = merged(previous["rows"], rows)
        speed_row = previous["speed"]
        meta = {**previous["meta"], "runs": [*previous["meta"].get("runs", []), run_meta]}
    else:
        speed_row = speed(repeat=1 if args.quick else 3)
        meta = {
            "alpha": ALPHA,
            "interval_s": INTERVAL_S,
            "horizon_s": HORIZON_S,
            "reps_aa": reps,
            "reps_detection": det_reps,
            "seconds": time.perf_counter() - t0,
            "runs": [run_meta],
        }
    text = markdown(rows, speed_row)
    print(text)
    data = {"meta": meta, "rows": rows, "speed": speed_row}
    write_results(args.out, quick=args.quick, name="detection", data=data, text=text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
