"""Mann-Whitney judge: U test against scipy, the shift interval, Kayenta's classification and score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from canary.analysis.judges import _shift
from canary.analysis.judges import mann_whitney as mw


def _brute_force_interval(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Independent check: scan all differences with R's wdiff rule (normal approx, correct=TRUE).

    For each candidate d (a pairwise difference) count the pairs x - d > y; the lower end is
    the first d where z(d) = (count - mn/2 - 1/2) / sigma drops below z_q, the upper end the
    first d where (count - mn/2 + 1/2) / sigma drops below -z_q (no ties in the data).
    """
    m, n = x.size, y.size
    d = np.sort(np.subtract.outer(x, y).ravel())
    sigma = np.sqrt(m * n * (m + n + 1) / 12.0)
    zq = special.ndtri(0.5 + confidence / 2)
    above = np.array([np.sum(d > v) for v in d])  # pairs with x - y > d
    lower = d[np.argmax((above - m * n / 2 - 0.5) / sigma < zq)]
    upper = d[np.argmax((above - m * n / 2 + 0.5) / sigma < -zq)]
    return float(lower), float(upper), float(np.median(d))


def test_u_and_pvalue_match_scipy_mannwhitneyu_on_continuous_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 1.0, size=(6, 40))
    y = rng.normal(0.0, 1.0, size=(6, 55))
    res = _shift.shift_test(y, x)
    # Source: scipy.stats.mannwhitneyu(x, y, method="asymptotic") (continuity correction on).
    ref = stats.mannwhitneyu(x, y, axis=1, method="asymptotic", use_continuity=True)
    np.testing.assert_allclose(res.statistic, ref.statistic, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.pvalue, ref.pvalue, rtol=1e-12)


def test_u_and_pvalue_match_scipy_mannwhitneyu_with_ties() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(4, 30)).astype(float)
    y = rng.integers(0, 4, size=(4, 25)).astype(float)
    res = _shift.shift_test(y, x)
    # Source: scipy.stats.mannwhitneyu, which applies the same tie correction.
    ref = stats.mannwhitneyu(x, y, axis=1, method="asymptotic", use_continuity=True)
    np.testing.assert_allclose(res.statistic, ref.statistic, atol=1e-9)
    np.testing.assert_allclose(res.pvalue, ref.pvalue, rtol=1e-12)


def test_u_of_a_hand_computed_example() -> None:
    # Hand count: canary [3, 5] vs stable [1, 4]: pairs canary > stable: 3>1, 5>1, 5>4 -> U = 3.
    res = _shift.shift_test(np.array([[1.0, 4.0]]), np.array([[3.0, 5.0]]))
    assert res.statistic[0] == 3.0


def test_ragged_rows_padded_with_nan_are_judged_on_their_own_length() -> None:
    res = _shift.shift_test(np.array([[1.0, 4.0, np.nan]]), np.array([[3.0, 5.0, 6.0]]))
    # Hand count: 3>1, 5>1, 5>4, 6>1, 6>4 -> U = 5 with m = 3, n = 2.
    assert (res.statistic[0], res.n_canary[0], res.n_stable[0]) == (5.0, 3, 2)


def test_hodges_lehmann_estimate_is_median_of_pairwise_differences() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(1, 1, 31), rng.normal(0, 1, 20)
    res = _shift.shift_test(y[None, :], x[None, :])
    # Source: numpy median of all 620 differences (definition of the estimator).
    assert res.estimate[0] == pytest.approx(np.median(np.subtract.outer(x, y)), abs=1e-12)


def test_interval_matches_brute_force_inversion_of_the_test() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.5, 1, 25), rng.normal(0, 1, 30)
    res = _shift.shift_test(y[None, :], x[None, :], confidence=0.98)
    lo, hi, _ = _brute_force_interval(x, y, 0.98)
    assert (res.ci_low[0], res.ci_high[0]) == pytest.approx((lo, hi), abs=1e-12)


def test_root_finding_path_agrees_with_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    x = rng.lognormal(0.05, 0.5, size=(3, 700))
    y = rng.lognormal(0.0, 0.5, size=(3, 300))
    exact = _shift.shift_test(y, x)
    monkeypatch.setattr(_shift, "EXACT_MAX_PAIRS", 0)
    approx = _shift.shift_test(y, x)
    width = exact.ci_high - exact.ci_low
    # Tolerance: 1% of the interval's width (the compressed count's documented error is far below).
    for field in ("estimate", "ci_low", "ci_high"):
        assert np.all(np.abs(getattr(approx, field) - getattr(exact, field)) < 0.01 * width)


def _spec(**kw: object) -> mw.MetricSpec:
    return mw.MetricSpec(**kw)  # type: ignore[arg-type]


def test_clearly_higher_canary_is_high() -> None:
    rng = np.random.default_rng(5)
    res = mw.classify([rng.normal(10, 1, 200)], [rng.normal(12, 1, 200)], [_spec()])
    assert res.classification == ("High",)


def test_direction_decrease_passes_an_increase() -> None:
    rng = np.random.default_rng(5)
    res = mw.classify([rng.normal(10, 1, 200)], [rng.normal(12, 1, 200)], [_spec(direction="decrease")])
    assert res.classification == ("Pass",)


def test_clearly_lower_canary_is_low() -> None:
    rng = np.random.default_rng(6)
    res = mw.classify([rng.normal(10, 1, 200)], [rng.normal(8, 1, 200)], [_spec()])
    assert res.classification == ("Low",)


def test_same_distribution_passes() -> None:
    rng = np.random.default_rng(7)
    res = mw.classify([rng.normal(10, 1, 300)], [rng.normal(10, 1, 300)], [_spec()])
    assert res.classification == ("Pass",)


def test_allowed_increase_above_the_mean_ratio_blocks_high() -> None:
    rng = np.random.default_rng(5)
    # Mean ratio is about 12 / 10 = 1.2 < 1.5 allowed.
    res = mw.classify([rng.normal(10, 1, 200)], [rng.normal(12, 1, 200)], [_spec(allowed_increase=1.5)])
    assert res.classification == ("Pass",)


def test_empty_arm_is_nodata() -> None:
    assert mw.classify([[]], [[1.0, 2.0]], [_spec()]).classification == ("Nodata",)


def test_empty_arm_with_must_have_data_is_nodata_fail_metric() -> None:
    res = mw.classify([[]], [[1.0, 2.0]], [_spec(must_have_data=True)])
    assert res.classification == ("NodataFailMetric",)


def test_arms_too_small_for_the_confidence_are_nodata_not_high() -> None:
    # Hand: 1 - 2 / C(6, 3) = 0.9 < 0.98: no 98% interval exists on 3 samples per arm.
    res = mw.classify([[1.0, 2.0, 3.0]], [[10.0, 11.0, 12.0]], [_spec()], confidence=0.98)
    assert res.classification == ("Nodata",)


def test_identical_arms_pass_however_small_as_in_kayenta() -> None:
    # Kayenta checks identical data before any test; nothing differs, so nothing can fail.
    res = mw.classify([[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]], [_spec()], confidence=0.98)
    assert res.classification == ("Pass",)


def test_five_samples_per_arm_can_reach_98_percent() -> None:
    # Hand: 1 - 2 / C(10, 5) = 1 - 2 / 252 = 0.992 >= 0.98; C(8, 4) = 70 gives 0.971 < 0.98.
    assert mw.interval_reachable(5, 5, 0.98) and not mw.interval_reachable(4, 4, 0.98)


def test_single_distinct_value_is_pass() -> None:
    assert mw.classify([[3.0] * 50], [[3.0] * 60], [_spec()]).classification == ("Pass",)


def test_nan_remove_drops_missing_values() -> None:
    res = mw.classify([[1.0, np.nan, 2.0]], [[np.nan, 5.0]], [_spec()])
    assert (res.n_stable[0], res.n_canary[0]) == (2, 1)


def test_nan_replace_sets_missing_values_to_zero() -> None:
    res = mw.classify([[1.0, np.nan, 2.0]], [[np.nan, 5.0]], [_spec(nan_strategy="replace")])
    # Hand count: canary [0, 5] vs stable [1, 0, 2]: 5 beats all 3, 0 ties one 0 -> U = 3.5.
    assert (res.n_stable[0], res.n_canary[0], res.statistic[0]) == (3, 2, 3.5)


def test_outlier_removal_uses_kayenta_iqr_fences() -> None:
    values = np.arange(1.0, 101.0)
    data = np.concatenate([values, [1000.0]])[None, :]
    mw.remove_outliers(data, np.array([True]), np.array([3.0]))
    # Hand: numpy linear percentiles of 1..100 and 1000: Q1 = 26, Q3 = 76, IQR 50, p99 = 100.9;
    # upper fence max(100.9, 76 + 150) = 226 removes 1000 only; lower min(p01 = 2, 26 - 150).
    assert np.isnan(data[0, -1]) and not np.isnan(data[0, :-1]).any()


def test_invalid_direction_names_the_field_and_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"direction must be one of \('increase', 'decrease', 'either'\)"):
        mw.classify([[1.0]], [[1.0]], [_spec(direction="up")])


def _exact_order_stat(x: np.ndarray, y: np.ndarray, rank: float) -> float:
    """Independent check for large arms: bisect on the exact count #{x - y <= d} (no m*n array)."""
    ys = np.sort(y)
    lo, hi = float(x.min() - ys[-1]) - 1e-9, float(x.max() - ys[0])
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if np.sum(ys.size - np.searchsorted(ys, x - mid, side="left")) >= rank:
            hi = mid
        else:
            lo = mid
    return hi


def test_large_arm_interval_is_within_half_a_percent_of_its_width_of_the_exact_ends() -> None:
    rng = np.random.default_rng(8)
    x, y = rng.lognormal(0.02, 0.5, 10_000), rng.lognormal(0.0, 0.5, 8_000)
    res = _shift.shift_test(y[None, :], x[None, :])
    m, n = x.size, y.size
    sigma = np.sqrt(m * n * (m + n + 1) / 12.0)
    r_low, r_high = _shift._ci_ranks(np.array([m * n * 1.0]), np.array([sigma]), 0.98)
    lo, hi = _exact_order_stat(x, y, r_low[0]), _exact_order_stat(x, y, r_high[0])
    med = 0.5 * (_exact_order_stat(x, y, m * n / 2) + _exact_order_stat(x, y, m * n / 2 + 1))
    # Tolerance: the documented 0.5% of the width (about 0.2% is typical at this size).
    got = np.array([res.ci_low[0], res.ci_high[0], res.estimate[0]])
    assert np.all(np.abs(got - [lo, hi, med]) < 0.005 * (hi - lo))


def test_large_discrete_arms_get_the_exact_lattice_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    x = rng.poisson(31.0, size=(2, 2000)).astype(float)
    y = rng.poisson(30.0, size=(2, 1500)).astype(float)
    exact = _shift.shift_test(y, x)
    monkeypatch.setattr(_shift, "EXACT_MAX_PAIRS", 0)
    approx = _shift.shift_test(y, x)
    for field in ("estimate", "ci_low", "ci_high"):
        np.testing.assert_allclose(getattr(approx, field), getattr(exact, field), atol=1e-9)


def test_u_and_pvalue_match_scipy_on_many_rows_with_and_without_ties() -> None:
    rng = np.random.default_rng(10)
    x = np.vstack([rng.normal(0.1, 1, (40, 300)), rng.integers(0, 9, (40, 300)).astype(float)])
    y = np.vstack([rng.normal(0.0, 1, (40, 250)), rng.integers(0, 8, (40, 250)).astype(float)])
    res = _shift.shift_test(y, x)
    # Source: scipy.stats.mannwhitneyu, row by row (rows span several sorting chunks).
    ref = stats.mannwhitneyu(x, y, axis=1, method="asymptotic", use_continuity=True)
    np.testing.assert_allclose(res.statistic, ref.statistic, atol=1e-9)
    np.testing.assert_allclose(res.pvalue, ref.pvalue, rtol=1e-12)


def test_a_zero_shift_over_tied_samples_passes_where_kayentas_rule_lets_the_u_test_fail_it() -> None:
    # A sparse error metric: 0 in most intervals of both arms, a few more 1s in the canary. The
    # Hodges-Lehmann shift is 0 and the interval's lower end sits exactly on it; the U test at 0
    # rejects (p 0.017 < 0.02). Kayenta lets that fail the metric, which, re-run on cumulative
    # samples at every check, fails healthy canaries; the judge's default keeps a zero shift a Pass.
    stable, canary = [0.0] * 90 + [1.0] * 2, [0.0] * 82 + [1.0] * 10
    spec = mw.MetricSpec()
    ours = mw.classify([stable], [canary], [spec])
    kayentas = mw.classify([stable], [canary], [spec], ties_at_zero="test")
    assert (ours.estimate[0], ours.ci_low[0]) == (0.0, 0.0)
    assert ours.classification[0] == "Pass"
    assert kayentas.classification[0] == "High"
