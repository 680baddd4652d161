"""Kayenta-style canary judge: a Mann-Whitney classification per metric and a weighted score.

Each metric's canary samples are compared with its stable samples. The null hypothesis of the
per-metric test is that both come from the same distribution (two-sided Mann-Whitney U test);
the Hodges-Lehmann shift (canary minus stable) and its confidence interval decide whether the
metric is ``High``, ``Low`` or ``Pass`` (``Nodata`` when an arm is empty, or too small for any
interval to reach the confidence: :func:`interval_reachable`). Metrics sit in groups
with weights; the score is the weighted share of passing metrics, and the pass / marginal
thresholds turn it into ``Pass`` / ``Marginal`` / ``Fail``.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from canary.analysis.judges._shift import FloatArray, shift_test

Direction = Literal["increase", "decrease", "either"]
Classification = Literal["High", "Low", "Pass", "Nodata", "NodataFailMetric"]
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "either")
NAN_STRATEGIES: tuple[str, ...] = ("remove", "replace")
OUTLIER_STRATEGIES: tuple[str, ...] = ("keep", "remove")


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is judged (Kayenta's canary-config metric fields).

    Parameters
    ----------
    name : metric name.
    group : group the metric belongs to (for the score).
    direction : which change is bad. ``"increase"``: only a canary shift above stable's
        (``High``) fails; ``"decrease"``: only below (``Low``); ``"either"``: both.
    nan_strategy : ``"remove"`` drops NaN samples, ``"replace"`` sets them to 0.0.
    outliers : ``"keep"`` or ``"remove"`` (IQR fences, see :func:`remove_outliers`).
    outlier_factor : IQR multiple ``f`` of the fences.
    allowed_increase, allowed_decrease : a ``High`` needs mean ratio canary / stable
        ``>= allowed_increase``; a ``Low`` needs it ``<= allowed_decrease``.
    critical : a critical metric that does not pass zeroes the score.
    critical_increase, critical_decrease : a ``High`` (``Low``) is critical only when the
        mean ratio is ``>= critical_increase`` (``<= critical_decrease``).
    must_have_data : an empty arm gives ``NodataFailMetric`` (counted as a failure)
        instead of ``Nodata`` (not counted).
    """

    name: str = "metric"
    group: str = "default"
    direction: Direction = "either"
    nan_strategy: Literal["remove", "replace"] = "remove"
    outliers: Literal["keep", "remove"] = "keep"
    outlier_factor: float = 3.0
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
    pvalue: FloatArray
    statistic: FloatArray
    estimate: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    mean_ratio: FloatArray
    n_stable: npt.NDArray[np.int64]
    n_canary: npt.NDArray[np.int64]


@dataclass(frozen=True)
class CanaryScore:
    """Result of :func:`score`: ``score`` in [0, 100] and ``"Pass" | "Marginal" | "Fail"``."""

    score: float
    classification: Literal["Pass", "Marginal", "Fail"]
    group_scores: dict[str, float] = field(default_factory=dict)
    critical_failed: bool = False
    nodata_share: float = 0.0


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

    Returns
    -------
    MetricResults
        ``classification`` per metric, ``critical_failure`` (a critical metric that is High
        or Low beyond its critical ratio), the U test (``statistic``: canary's U,
        ``pvalue``: two-sided), the shift ``estimate`` with ``ci_low``/``ci_high``, the
        ``mean_ratio`` effect size (canary / stable mean) and the sample sizes.

    Notes
    -----
    Order, as in Kayenta: NaN strategy, then outlier removal, each arm separately; then
    the test (:func:`canary.analysis.judges._shift.shift_test`: normal approximation with
    tie and continuity correction; the interval by inverting the test).

    ``High`` if direction is increase or either, ``ci_low > tolerance * |estimate|`` and
    ``mean_ratio >= allowed_increase``; ``Low`` if direction is decrease or either,
    ``ci_high < -tolerance * |estimate|`` and ``mean_ratio <= allowed_decrease``;
    otherwise ``Pass``. The mean ratio is NaN when a mean is 0 and its check is then
    skipped. Identical samples or a single distinct value over both arms is ``Pass`` (if the
    arms are large enough to conclude at all, below). An empty arm is ``Nodata`` (``NodataFailMetric`` with ``must_have_data``), and so are arms
    too small for the confidence (e.g. 4 samples each at 0.98): the normal approximation would
    otherwise report the range of the differences as a 98% interval and fail on 3 samples.
    """
    for s in specs:
        validate_spec(s)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not tolerance >= 0.0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    y = _prepare(stable, specs)
    x = _prepare(canary, specs)
    cnt_y = np.sum(~np.isnan(y), axis=1)
    cnt_x = np.sum(~np.isnan(x), axis=1)
    with np.errstate(all="ignore"):
        mean_y = np.where(cnt_y > 0, np.nansum(y, axis=1) / cnt_y, np.nan)
        mean_x = np.where(cnt_x > 0, np.nansum(x, axis=1) / cnt_x, np.nan)
        ratio = np.where((mean_y != 0) & (mean_x != 0), mean_x / mean_y, np.nan)
    lo_all = np.fmin(np.nanmin(x, axis=1, initial=np.inf), np.nanmin(y, axis=1, initial=np.inf))
    hi_all = np.fmax(np.nanmax(x, axis=1, initial=-np.inf), np.nanmax(y, axis=1, initial=-np.inf))
    res = shift_test(y, x, confidence, overwrite_input=True)  # x and y are our own copies
    single_value = lo_all == hi_all
    tol_abs = tolerance * np.abs(res.estimate)
    labels: list[Classification] = []
    critical = np.zeros(len(specs), dtype=bool)
    for i, s in enumerate(specs):
        if res.n_stable[i] == 0 or res.n_canary[i] == 0:
            labels.append("NodataFailMetric" if s.must_have_data else "Nodata")
            continue
        if not interval_reachable(int(res.n_stable[i]), int(res.n_canary[i]), confidence):
            labels.append("Nodata")
            continue
        if single_value[i]:
            labels.append("Pass")
            continue
        r = ratio[i]
        high = (
            s.direction in ("increase", "either")
            and res.ci_low[i] > tol_abs[i]
            and (np.isnan(r) or r >= s.allowed_increase)
        )
        low = (
            s.direction in ("decrease", "either")
            and res.ci_high[i] < -tol_abs[i]
            and (np.isnan(r) or r <= s.allowed_decrease)
        )
        if high:
            labels.append("High")
            critical[i] = s.critical and (np.isnan(r) or r >= s.critical_increase)
        elif low:
            labels.append("Low")
            critical[i] = s.critical and (np.isnan(r) or r <= s.critical_decrease)
        else:
            labels.append("Pass")
    return MetricResults(
        classification=tuple(labels),
        critical_failure=critical,
        pvalue=res.pvalue,
        statistic=res.statistic,
        estimate=res.estimate,
        ci_low=res.ci_low,
        ci_high=res.ci_high,
        mean_ratio=ratio,
        n_stable=res.n_stable,
        n_canary=res.n_canary,
    )


def score(
    results: MetricResults,
    specs: Sequence[MetricSpec],
    *,
    group_weights: Mapping[str, float] | None = None,
    pass_threshold: float = 75.0,
    marginal_threshold: float = 50.0,
) -> CanaryScore:
    """Kayenta's summary score of classified metrics and its Pass / Marginal / Fail.

    Parameters
    ----------
    results : output of :func:`classify` for ``specs``.
    group_weights : weight (percent) per group; groups without a weight share what is left
        of 100 equally.
    pass_threshold, marginal_threshold : ``Pass`` if score >= pass, ``Marginal`` if
        score >= marginal, else ``Fail``.

    Returns
    -------
    CanaryScore

    Notes
    -----
    Group score = ``Pass / (High + Low + Pass + NodataFailMetric) * 100`` (``Nodata`` is
    not counted). A group with nothing counted is left out and the weights of the others
    are rescaled to sum to 100 (our choice; the reference does not say). Summary = the
    weighted sum; it is 0 when a critical metric did not pass or when half or more of the
    results are ``Nodata``.
    """
    weights = dict(group_weights or {})
    if any(w < 0 for w in weights.values()):
        raise ValueError("group_weights must be >= 0")
    groups: dict[str, list[str]] = {}
    for s, label in zip(specs, results.classification, strict=True):
        groups.setdefault(s.group, []).append(label)
    assigned = sum(weights.get(g, 0.0) for g in groups if g in weights)
    unweighted = [g for g in groups if g not in weights]
    rest = max(100.0 - assigned, 0.0) / len(unweighted) if unweighted else 0.0
    group_scores: dict[str, float] = {}
    group_weight: dict[str, float] = {}
    for g, group_labels in groups.items():
        counted = [lab for lab in group_labels if lab in ("High", "Low", "Pass", "NodataFailMetric")]
        if counted:
            group_scores[g] = 100.0 * sum(lab == "Pass" for lab in counted) / len(counted)
            group_weight[g] = weights.get(g, rest)
    total_w = sum(group_weight.values())
    summary = sum(group_scores[g] * group_weight[g] for g in group_scores) / total_w if total_w > 0 else 0.0
    n = len(results.classification)
    nodata = sum(lab in ("Nodata", "NodataFailMetric") for lab in results.classification)
    nodata_share = nodata / n if n else 1.0
    critical_failed = bool(np.any(results.critical_failure)) or any(
        s.critical and lab == "NodataFailMetric" for s, lab in zip(specs, results.classification, strict=True)
    )
    if critical_failed or nodata_share >= 0.5:
        summary = 0.0
    verdict: Literal["Pass", "Marginal", "Fail"]
    if summary >= pass_threshold:
        verdict = "Pass"
    elif summary >= marginal_threshold:
        verdict = "Marginal"
    else:
        verdict = "Fail"
    return CanaryScore(
        score=summary,
        classification=verdict,
        group_scores=group_scores,
        critical_failed=critical_failed,
        nodata_share=nodata_share,
    )
