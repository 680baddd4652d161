"""Sequential judges: Lindon-Malek counts (against savvi and hand values), location and tail."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import types

import numpy as np
import pytest

# savvi 0.3.1's utils module imports matplotlib.pyplot (for plotting helpers we do not use)
# without declaring it as a dependency; stand in an empty module when matplotlib is absent.
if importlib.util.find_spec("matplotlib") is None:  # pragma: no cover - depends on the machine
    sys.modules.setdefault("matplotlib", types.ModuleType("matplotlib"))
    sys.modules.setdefault("matplotlib.pyplot", types.ModuleType("matplotlib.pyplot"))
from savvi.multinomial import Multinomial

from canary.analysis import judges
from canary.analysis.judges import sequential_counts as sc
from canary.analysis.judges import sequential_location as sl
from canary.analysis.judges import sequential_tail as stail


@pytest.mark.parametrize(
    ("n_c", "n_s", "rho_c", "k"),
    [
        (3, 1, 0.5, 2.0),
        (40, 25, 0.5, 100.0),
        (30, 120, 0.1, 100.0),
        (0, 50, 0.3, 10.0),
        (500, 480, 0.5, 100.0),
    ],
)
def test_two_sided_log_bayes_factor_matches_savvi_multinomial(
    n_c: int, n_s: int, rho_c: float, k: float
) -> None:
    # Source: savvi 0.3 Multinomial(alpha, theta_0=[rho_c, 1 - rho_c], k).update(counts).odds.
    ref = Multinomial(0.05, np.array([rho_c, 1.0 - rho_c]), k)
    ref.update(np.array([n_c, n_s]))
    ours = sc.log_bf_two_sided(np.array(float(n_c)), np.array(float(n_s)), np.array(rho_c), k)
    assert float(ours) == pytest.approx(math.log(ref.odds), rel=1e-10, abs=1e-10)


def test_two_sided_bayes_factor_of_a_hand_computed_case() -> None:
    # Hand: k = 2, rho = 1/2 -> prior Beta(1, 1); 3 canary, 1 stable errors:
    # B(4, 2) / B(1, 1) / 0.5**4 = (3! 1! / 5!) * 16 = 0.05 * 16 = 0.8.
    assert math.exp(
        float(sc.log_bf_two_sided(np.array(3.0), np.array(1.0), np.array(0.5), 2.0))
    ) == pytest.approx(0.8)


def test_one_sided_e_value_of_a_hand_computed_case() -> None:
    # Hand: as above times P(theta > 1/2 | Beta(4, 2)) / P(theta > 1/2 | Beta(1, 1));
    # P(Beta(4, 2) > 1/2) = P(Binomial(5, 1/2) <= 3) = 26/32, so 0.8 * (26/32) / 0.5 = 1.3.
    e = math.exp(float(sc.log_bf_one_sided(np.array(3.0), np.array(1.0), np.array(0.5), 2.0)))
    assert e == pytest.approx(1.3)


def test_mixture_over_k_averages_the_bayes_factors() -> None:
    # Hand: k = 4, rho = 1/2 -> Beta(2, 2); 3 canary, 1 stable errors:
    # B(5, 3) / B(2, 2) / 0.5**4 = (1/105) / (1/6) * 16 = 96/105; with k = 2 (above) 0.8.
    # Equal-weight average: (0.8 + 96/105) / 2 = 6/7.
    bf = math.exp(float(sc.log_bf_two_sided(np.array(3.0), np.array(1.0), np.array(0.5), (2.0, 4.0))))
    assert bf == pytest.approx(6 / 7)


def test_one_sided_mixture_over_k_averages_the_e_values() -> None:
    # Hand: k = 4: 96/105 * P(Beta(5, 3) > 1/2) / P(Beta(2, 2) > 1/2), P(Beta(5, 3) > 1/2) =
    # P(Binomial(7, 1/2) <= 4) = 99/128, so 96/105 * 99/64 = 1.4142857; with k = 2 (above) 1.3.
    # Equal-weight average: (1.3 + 1.4142857) / 2 = 1.3571429.
    e = math.exp(float(sc.log_bf_one_sided(np.array(3.0), np.array(1.0), np.array(0.5), (2.0, 4.0))))
    assert e == pytest.approx((1.3 + 96 / 105 * 99 / 64) / 2)


def test_a_one_value_grid_is_the_single_value_test() -> None:
    args = (np.array(40.0), np.array(20.0), np.array(0.5))
    assert float(sc.log_bf_one_sided(*args, (30.0,))) == float(sc.log_bf_one_sided(*args, 30.0))


@pytest.mark.parametrize("k", [0.0, -1.0, (), (10.0, 0.0), (10.0, math.inf)])
def test_counts_rejects_a_k_that_is_not_positive(k: float | tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="k must be a number > 0"):
        sc.validate(sc.CountsConfig(k=k))


def test_request_shares_set_rho_for_unequal_splits() -> None:
    # 1:9 split with error counts in the same 1:9 proportion: no evidence (e-value < 1).
    e = sc.counts_evidence(np.array(900.0), np.array(100.0), np.array(90_000.0), np.array(10_000.0))
    assert float(e) < 1.0


def test_counts_update_fails_when_canary_error_rate_doubles() -> None:
    cfg = sc.CountsConfig()
    _, res = sc.update(
        sc.CountsState(),
        errors_stable=100,
        errors_canary=200,
        requests_stable=10_000,
        requests_canary=10_000,
        config=cfg,
    )
    assert res.verdict == "fail" and res.p_value <= 0.05 and res.estimate == pytest.approx(2.0)
    assert res.ci_low > 1.0


def test_counts_canary_better_never_fails() -> None:
    _, res = sc.update(
        sc.CountsState(),
        errors_stable=400,
        errors_canary=10,
        requests_stable=10_000,
        requests_canary=10_000,
        config=sc.CountsConfig(),
    )
    assert res.verdict == "pass" and res.e_value < 1.0


def test_counts_tolerance_accepts_a_small_increase() -> None:
    kw = {
        "errors_stable": 1000,
        "errors_canary": 1080,
        "requests_stable": 100_000,
        "requests_canary": 100_000,
    }
    _, strict = sc.update(sc.CountsState(), **kw, config=sc.CountsConfig())
    _, tolerant = sc.update(sc.CountsState(), **kw, config=sc.CountsConfig(tolerance=0.2))
    assert tolerant.e_value < strict.e_value and tolerant.verdict == "pass"


def test_counts_state_survives_json() -> None:
    state, _ = sc.update(
        sc.CountsState(),
        errors_stable=3,
        errors_canary=5,
        requests_stable=100,
        requests_canary=90,
        config=sc.CountsConfig(),
    )
    assert sc.CountsState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_counts_running_p_value_never_rises() -> None:
    state = sc.CountsState()
    ps = []
    for e_c in (30, 0, 0, 0):
        state, res = sc.update(
            state,
            errors_stable=10,
            errors_canary=e_c,
            requests_stable=1000,
            requests_canary=1000,
            config=sc.CountsConfig(),
        )
        ps.append(res.p_value)
    assert ps == sorted(ps, reverse=True)


def _hand_case_e_value(effects: list[float]) -> float:
    """E-value of n = 100 per arm, variances 1, shift 0.5: v = 50, S = 0.5 sqrt(50) / sqrt(0.02) = 25."""
    le = sl.location_log_evalue(
        n_s=np.array(100.0),
        mean_s=np.array(0.0),
        var_s=np.array(1.0),
        n_c=np.array(100.0),
        mean_c=np.array(0.5),
        var_c=np.array(1.0),
        tolerance=0.0,
        effects=np.array(effects),
    )
    return math.exp(float(le))


def test_location_e_value_of_one_effect_is_its_likelihood_ratio() -> None:
    # Hand: lambda = 0.1: exp(0.1 * 25 - 0.01 * 50 / 2) = exp(2.25) = 9.487736.
    assert _hand_case_e_value([0.1]) == pytest.approx(9.487736, rel=1e-6)


def test_location_e_value_of_several_effects_is_their_average() -> None:
    # Hand: lambda = 0.2: exp(0.2 * 25 - 0.04 * 25) = exp(4) = 54.59815; mean with exp(2.25).
    assert _hand_case_e_value([0.1, 0.2]) == pytest.approx((9.487736 + 54.59815) / 2, rel=1e-6)


def test_effect_grid_is_log_spaced_between_the_bounds() -> None:
    grid = sl.effect_grid(0.03, 0.3)
    assert grid.size == sl.EFFECT_POINTS and grid[0] == pytest.approx(0.03) and grid[-1] == pytest.approx(0.3)
    assert np.allclose(np.diff(np.log(grid)), np.log(10) / (sl.EFFECT_POINTS - 1))


def test_half_width_of_one_effect_is_the_closed_form() -> None:
    # Hand: cosh(l S) exp(-l^2 v / 2) = 1/alpha -> S* = acosh(20 exp(l^2 v / 2)) / l; l = 0.1,
    # v = 50: acosh(20 exp(0.25)) / 0.1 = acosh(25.68051) / 0.1 = ln(51.34155) / 0.1 = 39.3850; se / sqrt(v) = 0.02.
    hw = sl.half_width(n_s=100, var_s=1.0, n_c=100, var_c=1.0, effects=np.array([0.1]), alpha=0.05)
    assert hw == pytest.approx(math.acosh(20 * math.exp(0.25)) / 0.1 * 0.02, rel=1e-9)
    assert hw == pytest.approx(0.787700, abs=1e-5)


def test_half_width_of_a_mixture_is_where_its_two_sided_e_value_reaches_one_over_alpha() -> None:
    effects, v = [0.05, 0.2], 50.0
    hw = sl.half_width(n_s=100, var_s=1.0, n_c=100, var_c=1.0, effects=np.array(effects), alpha=0.05)
    s = hw / 0.02
    e = sum(math.cosh(lam * s) * math.exp(-lam * lam * v / 2) for lam in effects) / len(effects)
    assert e == pytest.approx(20.0, rel=1e-9)


@pytest.mark.parametrize(("low", "high"), [(0.0, 0.3), (0.3, 0.03), (0.03, math.inf)])
def test_location_rejects_an_effect_range_that_is_not_positive_and_ordered(low: float, high: float) -> None:
    with pytest.raises(judges.JudgeConfigError, match="0 < min_effect <= max_effect"):
        judges.validate_config("sequential-location", {"min_effect": low, "max_effect": high})


def test_location_fails_on_a_clear_shift_and_reports_the_estimate() -> None:
    rng = np.random.default_rng(0)
    _, res = sl.update(
        sl.LocationState(), rng.normal(0, 0.5, 5000), rng.normal(0.1, 0.5, 5000), sl.LocationConfig()
    )
    assert res.verdict == "fail" and res.ci_low < res.estimate < res.ci_high
    assert res.estimate == pytest.approx(0.1, abs=0.03)


def test_location_does_not_fail_when_canary_is_faster() -> None:
    rng = np.random.default_rng(1)
    _, res = sl.update(
        sl.LocationState(), rng.normal(0, 0.5, 5000), rng.normal(-0.1, 0.5, 5000), sl.LocationConfig()
    )
    assert res.verdict == "pass"


def test_location_is_inconclusive_before_min_samples() -> None:
    _, res = sl.update(sl.LocationState(), [0.0] * 10, [5.0] * 10, sl.LocationConfig())
    assert res.verdict == "inconclusive"


def test_location_running_moments_match_numpy_across_batches() -> None:
    rng = np.random.default_rng(2)
    data = rng.normal(3, 2, 300)
    state = sl.LocationState()
    for chunk in np.array_split(data, 7):
        state, _ = sl.update(state, chunk, chunk, sl.LocationConfig())
    # Source: numpy mean and var(ddof=0) * n of the whole sample.
    assert state.mean_stable == pytest.approx(data.mean(), rel=1e-12)
    assert state.m2_stable == pytest.approx(data.var() * data.size, rel=1e-10)


def test_look_sizes_split_a_batch_evenly_and_end_with_all_of_it() -> None:
    # Hand: floor(j * 25 / 10) for j = 1..10.
    assert sl.look_sizes(25, 10).tolist() == [2, 5, 7, 10, 12, 15, 17, 20, 22, 25]


def test_look_sizes_repeat_the_whole_batch_after_its_last_look() -> None:
    assert sl.look_sizes(np.array([10, 7]), np.array([2, 3]), 4).tolist() == [[5, 10, 10, 10], [2, 4, 7, 7]]


@pytest.mark.parametrize(
    ("n_stable", "n_canary", "looks"), [(100, 100, 5), (900, 101, 6), (3, 0, 1), (10**6, 10**5, 50)]
)
def test_looks_come_every_twenty_samples_of_the_smaller_arm_up_to_fifty(
    n_stable: int, n_canary: int, looks: int
) -> None:
    assert int(sl.looks_for(n_stable, n_canary, sl.DEFAULT_SAMPLES_PER_LOOK)) == looks


def test_merged_moments_at_each_look_match_numpy_on_the_prefix() -> None:
    rng = np.random.default_rng(4)
    old, batch = rng.normal(5, 2, 40), rng.normal(7, 3, 25)
    sizes = sl.look_sizes(batch.size, 10)
    n, mean, m2 = sl.merged_moments(old.size, old.mean(), old.var() * old.size, batch, sizes)
    for i, k in enumerate(sizes):
        whole = np.concatenate([old, batch[:k]])
        assert (n[i], mean[i], m2[i]) == pytest.approx((whole.size, whole.mean(), whole.var() * whole.size))


def _regression_that_recovers() -> tuple[np.ndarray, np.ndarray]:
    """Canary 0.5 sd slower for the first half of the interval, 0.5 sd faster for the second."""
    rng = np.random.default_rng(5)
    canary = np.concatenate([rng.normal(0.5, 1, 300), rng.normal(-0.5, 1, 300)])
    return rng.normal(0, 1, 600), canary


def test_location_fails_on_a_regression_seen_inside_an_update_that_its_end_hides() -> None:
    stable, canary = _regression_that_recovers()
    _, res = sl.update(sl.LocationState(), stable, canary, sl.LocationConfig())
    assert res.verdict == "fail" and res.e_value < 1.0


def test_location_with_a_look_per_update_judges_only_the_end() -> None:
    stable, canary = _regression_that_recovers()
    _, res = sl.update(sl.LocationState(), stable, canary, sl.LocationConfig(samples_per_look=10**9))
    assert res.verdict == "pass"


@pytest.mark.parametrize("every", [0, 2.5, True])
def test_location_rejects_samples_per_look_that_are_not_a_whole_number_from_one(every: object) -> None:
    with pytest.raises(judges.JudgeConfigError, match=r"samples_per_look must be a (whole )?number"):
        judges.judge("sequential-location", {"samples_per_look": every}, judges.ArmObservation())


def test_tail_is_inconclusive_during_warm_up_then_counts_exceedances() -> None:
    cfg = stail.TailConfig(warmup_samples=100)
    state, res = stail.update(stail.TailState(), np.arange(50.0), np.arange(50.0), cfg)
    assert res.verdict == "inconclusive" and state.threshold is None
    state, res = stail.update(state, np.arange(50.0, 100.0), np.arange(50.0), cfg)
    # Source: numpy.quantile(arange(100), 0.99) = 98.01.
    assert state.threshold == pytest.approx(98.01)
    # The 100 canary warm-up samples (0..49 twice) are counted once the threshold is set.
    assert state.counts.requests_canary == 100 and state.counts.errors_canary == 0


def test_tail_counts_every_canary_sample_of_the_update_that_ends_the_warm_up() -> None:
    cfg = stail.TailConfig(warmup_samples=10)
    state, _ = stail.update(stail.TailState(), np.arange(20.0), np.arange(50.0), cfg)
    # 10 stable samples fix the threshold, the other 10 are counted; no canary sample is dropped.
    assert state.counts.requests_stable == 10 and state.counts.requests_canary == 50


def test_tail_keeps_at_most_warmup_samples_canary_samples_across_updates() -> None:
    cfg = stail.TailConfig(warmup_samples=10)
    state, _ = stail.update(stail.TailState(), np.arange(5.0), np.arange(50.0), cfg)
    assert len(state.warmup_canary) == 10


def test_tail_fails_when_canary_tail_is_heavier() -> None:
    rng = np.random.default_rng(3)
    cfg = stail.TailConfig(threshold=float(np.quantile(rng.lognormal(0, 0.5, 100_000), 0.99)))
    _, res = stail.update(
        stail.TailState(), rng.lognormal(0, 0.5, 20_000), rng.lognormal(0.3, 0.5, 20_000), cfg
    )
    assert res.verdict == "fail"


def test_tail_state_survives_json() -> None:
    state, _ = stail.update(stail.TailState(), [1.0, 2.0], [3.0], stail.TailConfig(warmup_samples=10))
    assert stail.TailState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_fast_rejection_agrees_with_the_full_e_value() -> None:
    rng = np.random.default_rng(4)
    rs = rng.integers(1, 20_000, 500).astype(float)
    rc = rng.integers(1, 20_000, 500).astype(float)
    es = rng.binomial(rs.astype(int), 0.01).astype(float)
    ec = rng.binomial(rc.astype(int), rng.choice([0.01, 0.02], 500)).astype(float)
    for k in (sc.DEFAULT_K, 100.0, (10.0, 30.0, 100.0)):
        full = sc.counts_evidence(es, ec, rs, rc, k=k) >= 20.0
        assert np.array_equal(sc.rejects(es, ec, rs, rc, alpha=0.05, k=k), full)


def test_judge_config_takes_a_list_of_k_and_keeps_json_state() -> None:
    obs = judges.ArmObservation(stable_events=10, canary_events=30, stable_total=1000, canary_total=1000)
    res = judges.judge("sequential-counts", {"k": [10, 30, 100]}, obs)
    e = sc.counts_evidence(
        np.array(10.0), np.array(30.0), np.array(1000.0), np.array(1000.0), k=(10.0, 30.0, 100.0)
    )
    assert res.evidence["e_value"] == pytest.approx(float(e))
    assert res.state == json.loads(json.dumps(res.state))


@pytest.mark.parametrize("value", [[], ["a"], [True]])
def test_judge_config_rejects_a_list_that_is_not_numbers(value: list[object]) -> None:
    with pytest.raises(judges.JudgeConfigError, match="k must be a number or a non-empty list"):
        judges.validate_config("sequential-counts", {"k": value})
