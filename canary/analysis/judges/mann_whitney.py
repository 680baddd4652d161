"""Kayenta-style canary judge: a Mann-Whitney classification per metric and a weighted score.

Each metric's canary samples are compared with its stable samples. The null hypothesis of the
per-metric test is that both come from the same distribution (two-sided Mann-Whitney U test);
the Hodges-Lehmann shift (canary minus stable) and its confidence interval decide whether the
metric is ``High``, ``Low`` or ``Pass`` (``Nodata`` when an arm is empty, or too small for any
interval to reach the confidence: :func:`interval_reachable`). The weighted score of many
classified metrics is :mod:`canary.analysis.judges.kayenta_score`.

Everything is vectorised over metrics: :func:`classify` takes 2-D arrays (one row a metric).

References
----------
.. [1] Netflix/Spinnaker Kayenta, ``MannWhitneyClassifier`` and ``NetflixACAJudge``.
.. [2] Hollander, M., Wolfe, D. A. (1999). Nonparametric Statistical Methods, 2nd ed.,
       sections 4.2-4.3 (Hodges-Lehmann estimator and the interval from the U test).
.. [3] R ``wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special
from scipy.stats import rankdata

from canary.analysis.judges._shift import FloatArray, ShiftTestResult, shift_test

Direction = Literal["increase", "decrease", "either"]
Classification = Literal["High", "Low", "Pass", "Nodata", "NodataFailMetric"]
EffectSizeMeasure = Literal["meanRatio", "cles"]
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "either")
NAN_STRATEGIES: tuple[str, ...] = ("remove", "replace")
OUTLIER_STRATEGIES: tuple[str, ...] = ("keep", "remove")
EFFECT_SIZE_MEASURES: tuple[str, ...] = ("meanRatio", "cles")


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is judged (Kayenta's canary-config metric fields).

    Parameters
    ----------
    name : metric name.
    direction : which change is bad. ``"increase"``: only a canary shift above stable's
        (``High``) fails; ``"decrease"``: only below (``Low``); ``"either"``: both.
    nan_strategy : ``"remove"`` drops NaN samples, ``"replace"`` sets them to 0.0.
    outliers : ``"keep"`` or ``"remove"`` (IQR fences, see :func:`remove_outliers`).
    outlier_factor : IQR multiple ``f`` of the fences.
    effect_size_measure : ``"meanRatio"`` (canary mean / stable mean) or ``"cles"`` (the common
        language effect size: the share of (canary, stable) pairs where canary is higher, ties
        counting half).
    allowed_increase, allowed_decrease : a ``High`` needs the effect size
        ``>= allowed_increase``; a ``Low`` needs it ``<= allowed_decrease``.
    critical : a critical metric that is High or Low beyond its critical effect size, or has no
        data, fails the whole canary (see :mod:`canary.analysis.judges.kayenta_score`).
    critical_increase, critical_decrease : a ``High`` (``Low``) is critical only when the
        effect size is ``>= critical_increase`` (``<= critical_decrease``).
    must_have_data : an empty arm gives ``NodataFailMetric`` (counted as a failure)
        instead of ``Nodata`` (not counted); a critical metric stays ``Nodata``, and critical.
    """

    name: str = "metric"
    direction: Direction = "either"
    nan_strategy: Literal["remove", "replace"] = "remove"
    outliers: Literal["keep", "remove"] = "keep"
    outlier_factor: float = 3.0
    effect_size_measure: EffectSizeMeasure = "meanRatio"
    allowed_increase: float = 1.0
    allowed_decrease: float = 1.0
    critical: bool = False
    critical_increase: float = 1.0
    critical_decrease: float = 1.0
    must_have_data: bool = False


@dataclass(frozen=True)
class MetricResults:
    """Per-metric results of :func:`classify` (one entry per metric)."""

    classification: tuple[Classification, ...]
    critical_failure: npt.NDArray[np.bool_]
    """Kayenta's ``critical`` of a result: a critical metric that fails the whole canary unless it passed."""
    pvalue: FloatArray
    statistic: FloatArray
    estimate: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    mean_ratio: FloatArray
    n_stable: npt.NDArray[np.int64]
    n_canary: npt.NDArray[np.int64]
    effect_size: FloatArray = field(default_factory=lambda: np.zeros(0))
    """The spec's effect size measure (the mean ratio, or CLES), NaN where it cannot be computed."""
    reason: tuple[str, ...] = ()
    """Why each metric is not a plain Pass (Kayenta's classificationReason), "" otherwise."""


def _as_padded(data: npt.ArrayLike | Sequence[npt.ArrayLike]) -> FloatArray:
    """2-D float array, rows right-padded with NaN; ragged sequences are accepted."""
    if isinstance(data, np.ndarray) and data.ndim == 2:
        return data.astype(np.float64, copy=True)
    rows = [np.asarray(r, dtype=np.float64).ravel() for r in data]  # type: ignore[union-attr]
    width = max((r.size for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out


def apply_nan_strategy(
    values: FloatArray, lengths: npt.NDArray[np.int64], replace: npt.NDArray[np.bool_]
) -> None:
    """In place: rows flagged ``replace`` get 0.0 for NaN within their first ``lengths`` cells.

    Rows not flagged keep NaN, which every later step ignores (strategy ``"remove"``).
    """
    if not np.any(replace):
        return
    cols = np.arange(values.shape[1])[None, :]
    inside = cols < lengths[:, None]
    mask = replace[:, None] & inside & np.isnan(values)
    values[mask] = 0.0


def remove_outliers(values: FloatArray, rows: npt.NDArray[np.bool_], factor: FloatArray) -> None:
    """In place: set to NaN the values outside Kayenta's IQR fences, in the flagged rows.

    The fences are ``min(p01, Q1 - f IQR)`` and ``max(p99, Q3 + f IQR)`` with the
    percentiles of the row's non-NaN values (linear interpolation, numpy's default).
    """
    if not np.any(rows):
        return
    sub = values[rows]
    with np.errstate(all="ignore"):
        if np.all(np.isnan(sub), axis=1).any():
            keep = ~np.all(np.isnan(sub), axis=1)
            sub_ok = sub[keep]
        else:
            keep = np.ones(sub.shape[0], dtype=bool)
            sub_ok = sub
        if sub_ok.size:
            p01, q1, q3, p99 = np.nanpercentile(sub_ok, [1, 25, 75, 99], axis=1)
            f = factor[rows][keep]
            low = np.minimum(p01, q1 - f * (q3 - q1))
            high = np.maximum(p99, q3 + f * (q3 - q1))
            out = (sub_ok < low[:, None]) | (sub_ok > high[:, None])
            sub_ok = np.where(out, np.nan, sub_ok)
            sub[keep] = sub_ok
    values[rows] = sub


def _prepare(data: npt.ArrayLike | Sequence[npt.ArrayLike], specs: Sequence[MetricSpec]) -> FloatArray:
    raw_rows = None if isinstance(data, np.ndarray) else [np.asarray(r).ravel() for r in data]  # type: ignore[union-attr]
    values = _as_padded(data)
    if values.shape[0] != len(specs):
        raise ValueError(f"got {values.shape[0]} metric rows but {len(specs)} metric specs")
    lengths = (
        np.full(values.shape[0], values.shape[1], dtype=np.int64)
        if raw_rows is None
        else np.array([r.size for r in raw_rows], dtype=np.int64)
    )
    replace = np.array([s.nan_strategy == "replace" for s in specs], dtype=bool)
    apply_nan_strategy(values, lengths, replace)
    out_rows = np.array([s.outliers == "remove" for s in specs], dtype=bool)
    factor = np.array([s.outlier_factor for s in specs], dtype=np.float64)
    remove_outliers(values, out_rows, factor)
    return values


def validate_spec(spec: MetricSpec) -> None:
    """Raise ``ValueError`` naming the field and its allowed values when a spec is invalid."""
    if spec.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {spec.direction!r}")
    if spec.nan_strategy not in NAN_STRATEGIES:
        raise ValueError(f"nan_strategy must be one of {NAN_STRATEGIES}, got {spec.nan_strategy!r}")
    if spec.outliers not in OUTLIER_STRATEGIES:
        raise ValueError(f"outliers must be one of {OUTLIER_STRATEGIES}, got {spec.outliers!r}")
    if not spec.outlier_factor >= 0:
        raise ValueError(f"outlier_factor must be >= 0, got {spec.outlier_factor!r}")
    if spec.effect_size_measure not in EFFECT_SIZE_MEASURES:
        raise ValueError(
            f"effect_size_measure must be one of {EFFECT_SIZE_MEASURES}, got {spec.effect_size_measure!r}"
        )


def interval_reachable(n_stable: int, n_canary: int, confidence: float) -> bool:
    """Whether any rank interval of the shift can hold with `confidence` on samples of these sizes.

    The widest one, from the smallest to the largest canary - stable difference, holds with
    probability ``1 - 2 / C(n_stable + n_canary, n_canary)`` (every other ordering of the pooled
    ranks is inside it); below `confidence`, an interval the test reports is not one at that level.
    """
    if n_stable < 1 or n_canary < 1:
        return False
    total, arm = n_stable + n_canary, n_canary
    log_orderings = math.lgamma(total + 1) - math.lgamma(arm + 1) - math.lgamma(total - arm + 1)
    return log_orderings >= math.log(2.0 / (1.0 - confidence)) - 1e-12


def samples_needed(confidence: float) -> int:
    """The fewest samples per arm, equal in both, at which a rank interval reaches `confidence`."""
    n = 1
    while not interval_reachable(n, n, confidence):
        n += 1
    return n


def classify(
    stable: npt.ArrayLike | Sequence[npt.ArrayLike],
    canary: npt.ArrayLike | Sequence[npt.ArrayLike],
    specs: Sequence[MetricSpec],
    *,
    tolerance: float = 0.25,
    confidence: float = 0.98,
    ties_at_zero: Literal["pass", "test"] = "pass",
) -> MetricResults:
    """Classify each metric as High, Low, Pass or Nodata (Kayenta's Mann-Whitney classifier).

    Null hypothesis, per metric: canary and stable samples come from the same distribution.

    Parameters
    ----------
    stable, canary : array, shape (n_metrics, n), or a sequence of 1-D arrays
        One row per metric. NaN is a missing value, handled by the spec's ``nan_strategy``.
    specs : one :class:`MetricSpec` per row.
    tolerance : float
        A ``High`` needs the interval's lower end above ``tolerance * |estimate|``, a
        ``Low`` its upper end below ``-tolerance * |estimate|``.
    confidence : float
        Confidence level of the Hodges-Lehmann interval (Kayenta's judge uses 0.98).
    ties_at_zero : ``"pass"`` or ``"test"``
        How an interval end lying exactly on a bound of 0 is decided (a zero shift estimate over
        tied samples, e.g. a metric mostly 0 in both arms): ``"pass"`` keeps it inside, so a zero
        shift never fails; ``"test"`` lets the U test at 0 decide, as Kayenta does (kind
        ``kayenta``, and Kayenta's published cases).

    Returns
    -------
    MetricResults
        ``classification`` per metric, ``critical_failure`` (Kayenta's ``critical``: a
        critical metric High or Low beyond its critical effect size, or Nodata), the U test
        (``statistic``: canary's U, ``pvalue``: two-sided), the shift ``estimate`` with
        ``ci_low``/``ci_high``, the ``mean_ratio`` (canary / stable mean), the spec's
        ``effect_size``, the sample sizes and a ``reason`` per metric.

    Notes
    -----
    Order, as in Kayenta: NaN strategy, then outlier removal, each arm separately; then
    the classification:

    1. An empty arm is ``Nodata`` with NaN strategy ``remove`` (``NodataFailMetric`` with
       ``must_have_data`` on a metric that is not critical), and ``Pass`` with ``replace``.
    2. Identical arms, or a single distinct value over both arms, are ``Pass``.
    3. Arms too small for the confidence (e.g. 4 samples each at 0.98) are ``Nodata``: the
       normal approximation would otherwise report the range of the differences as a 98%
       interval and fail on 3 samples (our guard; Kayenta has none).
    4. The test (:func:`canary.analysis.judges._shift.shift_test`: normal approximation with
       tie and continuity correction; the interval by inverting the test). ``High`` if
       direction is increase or either, ``ci_low > tolerance * |estimate|`` and the effect
       size ``>= allowed_increase``; ``Low`` if direction is decrease or either,
       ``ci_high < -tolerance * |estimate|`` and the effect size ``<= allowed_decrease``;
       otherwise ``Pass``. An effect size that cannot be computed (a mean of 0) skips its check.
    """
    for s in specs:
        validate_spec(s)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not tolerance >= 0.0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    y = _prepare(stable, specs)
    x = _prepare(canary, specs)
    facts = _row_facts(y, x)
    with np.errstate(all="ignore"):
        ratio = np.where((facts.mean_y != 0) & (facts.mean_x != 0), facts.mean_x / facts.mean_y, np.nan)
    effect = np.array(
        [cles(y[i], x[i]) if s.effect_size_measure == "cles" else ratio[i] for i, s in enumerate(specs)],
        dtype=np.float64,
    ).reshape(len(specs))
    # Sorted in place (our own copies): the values stay, all a bound on a jump of the statistic reads.
    res = shift_test(y, x, confidence, overwrite_input=True)
    outcomes = [
        _label(
            s, facts, (y[i], x[i]), _Comparison(res, i, tolerance, confidence, float(effect[i]), ties_at_zero)
        )
        for i, s in enumerate(specs)
    ]
    return MetricResults(
        classification=tuple(o[0] for o in outcomes),
        critical_failure=np.array([o[1] for o in outcomes], dtype=bool),
        pvalue=res.pvalue,
        statistic=res.statistic,
        estimate=res.estimate,
        ci_low=res.ci_low,
        ci_high=res.ci_high,
        mean_ratio=ratio,
        n_stable=res.n_stable,
        n_canary=res.n_canary,
        effect_size=effect,
        reason=tuple(o[2] for o in outcomes),
    )


def pad_missing_arm(
    stable: Sequence[float] | FloatArray, canary: Sequence[float] | FloatArray
) -> tuple[list[float], list[float]]:
    """An arm with no samples gets as many NaN as the other has, as Kayenta fills a series that is
    missing points with NaN up to the window's points: NaN strategy ``replace`` then judges zeros
    against the other arm, and ``remove`` leaves the arm empty (Nodata)."""
    stable_values, canary_values = [float(v) for v in stable], [float(v) for v in canary]
    if not stable_values:
        stable_values = [math.nan] * len(canary_values)
    if not canary_values:
        canary_values = [math.nan] * len(stable_values)
    return stable_values, canary_values


def _present(row: FloatArray) -> FloatArray:
    return row[~np.isnan(row)]


def cles(stable: FloatArray, canary: FloatArray) -> float:
    """Common language effect size: the share of (canary, stable) pairs with canary higher, ties half.

    NaN values are ignored; NaN when an arm is empty (Vargha and Delaney's A statistic).
    """
    xs, ys = _present(np.asarray(canary, dtype=np.float64)), _present(np.asarray(stable, dtype=np.float64))
    if xs.size == 0 or ys.size == 0:
        return math.nan
    ys = np.sort(ys)
    below = np.searchsorted(ys, xs, side="left")
    ties = np.searchsorted(ys, xs, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (xs.size * ys.size))


@dataclass(frozen=True)
class _Comparison:
    """One metric's row of the shift test, with the thresholds that decide High and Low."""

    res: ShiftTestResult
    i: int
    tolerance: float
    confidence: float
    effect: float
    ties_at_zero: Literal["pass", "test"]


_Outcome = tuple[Classification, bool, str]
"""(classification, critical, reason) of one metric."""


@dataclass(frozen=True)
class _RowFacts:
    """What decides a metric before any test, for every row at once."""

    n_stable: npt.NDArray[np.int64]
    n_canary: npt.NDArray[np.int64]
    mean_y: FloatArray
    mean_x: FloatArray
    identical: npt.NDArray[np.bool_]
    single_value: npt.NDArray[np.bool_]


def _row_facts(y: FloatArray, x: FloatArray) -> _RowFacts:
    cnt_y, cnt_x = np.sum(~np.isnan(y), axis=1), np.sum(~np.isnan(x), axis=1)
    sum_y, sum_x = np.nansum(y, axis=1), np.nansum(x, axis=1)
    with np.errstate(all="ignore"):
        mean_y = np.where(cnt_y > 0, sum_y / cnt_y, np.nan)
        mean_x = np.where(cnt_x > 0, sum_x / cnt_x, np.nan)
    lo = np.fmin(np.nanmin(x, axis=1, initial=np.inf), np.nanmin(y, axis=1, initial=np.inf))
    hi = np.fmax(np.nanmax(x, axis=1, initial=-np.inf), np.nanmax(y, axis=1, initial=-np.inf))
    identical = np.zeros(y.shape[0], dtype=bool)
    # Only rows of equal counts and sums can be identical: sorting every row again would double the cost.
    for i in np.flatnonzero((cnt_y == cnt_x) & (cnt_y > 0) & (sum_y == sum_x)):
        identical[i] = np.array_equal(np.sort(_present(y[i])), np.sort(_present(x[i])))
    return _RowFacts(cnt_y, cnt_x, mean_y, mean_x, identical, lo == hi)


def _label(
    spec: MetricSpec, facts: _RowFacts, rows: tuple[FloatArray, FloatArray], cmp: _Comparison
) -> _Outcome:
    """Kayenta's order: missing data, identical arms, a single value, then the test and the effect size."""
    i = cmp.i
    n_stable, n_canary = int(facts.n_stable[i]), int(facts.n_canary[i])
    if n_stable == 0 or n_canary == 0:
        return _missing(spec)
    if facts.identical[i]:
        return "Pass", False, "the canary and stable data are identical"
    if facts.single_value[i]:
        return "Pass", False, ""
    if not interval_reachable(n_stable, n_canary, cmp.confidence):
        reason = f"{n_stable} stable and {n_canary} canary samples cannot reach {cmp.confidence:g} confidence"
        return "Nodata", spec.critical, reason
    label = _compare(spec, rows, cmp)
    if label == "Pass":
        return "Pass", False, ""
    e = cmp.effect
    beyond = math.isnan(e) or (
        e >= spec.critical_increase if label == "High" else e <= spec.critical_decrease
    )
    critical = spec.critical and beyond
    return label, critical, f"{spec.name} was classified as {label}{' (critical)' if critical else ''}"


def _missing(spec: MetricSpec) -> _Outcome:
    """An empty arm: Nodata with NaN strategy remove; with replace, Kayenta passes the metric."""
    if spec.nan_strategy == "replace":
        return "Pass", False, "no data, passed as NaN strategy replace does"
    reason = f"missing data for {spec.name}"
    if spec.must_have_data and not spec.critical:
        return "NodataFailMetric", False, reason
    return "Nodata", spec.critical, reason


def _compare(spec: MetricSpec, rows: tuple[FloatArray, FloatArray], cmp: _Comparison) -> Classification:
    res, i, e = cmp.res, cmp.i, cmp.effect
    bound = cmp.tolerance * abs(float(res.estimate[i]))
    q = _z_quantile(cmp.confidence)
    high = (
        spec.direction in ("increase", "either")
        and _beyond(float(res.ci_low[i]), bound, cmp.ties_at_zero, lambda: _z_at(rows, bound) > q)
        and (math.isnan(e) or e >= spec.allowed_increase)
    )
    if high:
        return "High"
    low = (
        spec.direction in ("decrease", "either")
        and _beyond(-float(res.ci_high[i]), bound, cmp.ties_at_zero, lambda: _z_at(rows, -bound) < -q)
        and (math.isnan(e) or e <= spec.allowed_decrease)
    )
    return "Low" if low else "Pass"


def _beyond(
    end: float, bound: float, ties_at_zero: Literal["pass", "test"], rejects_at_bound: Callable[[], bool]
) -> bool:
    """Whether the interval's end lies beyond the bound.

    An end exactly at the bound is a jump of the rank statistic there (many tied differences, e.g. a
    metric mostly 0 in both arms); the interval is then open at the bound exactly when the test
    at that shift rejects, which decides. A bound of 0 (a zero shift estimate) is decided so only
    with ``ties_at_zero="test"``, as Kayenta does: that is the plain U test, whose false alarms add up
    when the judge is re-run on cumulative samples at every check, so the judge's default passes it.
    """
    if end != bound or (bound == 0 and ties_at_zero == "pass"):
        return end > bound
    return rejects_at_bound()


def _z_quantile(confidence: float) -> float:
    return float(special.ndtri(0.5 + confidence / 2.0))


def _z_at(rows: tuple[FloatArray, FloatArray], shift: float) -> float:
    """The U test's z (tie and continuity corrected) for canary - shift against stable (NaN ignored)."""
    stable, canary = _present(rows[0]), _present(rows[1])
    m, n = canary.size, stable.size
    ranks = rankdata(np.concatenate([canary - shift, stable]))
    dz = float(ranks[:m].sum()) - m * (m + 1) / 2 - m * n / 2
    _, counts = np.unique(ranks, return_counts=True)
    ties = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    sigma = math.sqrt(m * n / 12 * ((m + n + 1) - ties / ((m + n) * (m + n - 1))))
    return 0.0 if sigma == 0 else (dz - math.copysign(0.5, dz) * (dz != 0)) / sigma
