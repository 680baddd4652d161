"""Sequential judges: one batch or many give the same final evidence; A/A false alarms <= alpha."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from canary.analysis.judges import sequential_counts as sc
from canary.analysis.judges import sequential_location as sl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import detection

batch = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(30, 3000), st.integers(30, 3000))


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.lists(batch, min_size=1, max_size=12), st.sampled_from([sc.DEFAULT_K, (10.0, 30.0, 100.0)]))
def test_counts_many_batches_end_with_the_one_batch_e_value(
    batches: list[tuple[int, int, int, int]], k: float | tuple[float, ...]
) -> None:
    cfg = sc.CountsConfig(k=k)
    state = sc.CountsState()
    res = None
    for es, ec, rs, rc in batches:
        state, res = sc.update(
            state, errors_stable=es, errors_canary=ec, requests_stable=rs, requests_canary=rc, config=cfg
        )
    tot = [sum(b[i] for b in batches) for i in range(4)]
    _, one = sc.update(
        sc.CountsState(),
        errors_stable=tot[0],
        errors_canary=tot[1],
        requests_stable=tot[2],
        requests_canary=tot[3],
        config=cfg,
    )
    assert res is not None
    # The e-value depends on cumulative counts only; the running-min p can only be smaller.
    assert res.e_value == pytest.approx(one.e_value, rel=1e-9)
    assert res.p_value <= one.p_value + 1e-12
    if one.verdict == "fail":
        assert res.verdict == "fail"


def _run_location(
    sizes: list[int], s: np.ndarray, c: np.ndarray, cfg: sl.LocationConfig
) -> sl.LocationResult:
    state = sl.LocationState()
    res = None
    start = 0
    for n in sizes:
        state, res = sl.update(state, s[start : start + n], c[start : start + n], cfg)
        start += n
    assert res is not None
    return res


location_batches = st.lists(st.integers(1, 80), min_size=1, max_size=10)
effect_ranges = st.sampled_from([(sl.DEFAULT_MIN_EFFECT, sl.DEFAULT_MAX_EFFECT), (0.1, 0.1), (0.01, 3.0)])


@settings(derandomize=True, max_examples=40, deadline=None)
@given(location_batches, st.integers(0, 2**31 - 1), effect_ranges)
def test_location_many_batches_end_with_the_one_batch_e_value(
    sizes: list[int], seed: int, effects: tuple[float, float]
) -> None:
    rng = np.random.default_rng(seed)
    s, c = rng.normal(0, 1, sum(sizes)), rng.normal(0.2, 1, sum(sizes))
    cfg = sl.LocationConfig(
        min_samples=2, min_effect=effects[0], max_effect=effects[1], samples_per_look=10**9
    )
    res = _run_location(sizes, s, c, cfg)
    _, one = sl.update(sl.LocationState(), s, c, cfg)
    assert res.e_value == pytest.approx(one.e_value, rel=1e-6)
    assert res.p_value <= one.p_value * (1 + 1e-6)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(location_batches, st.integers(0, 2**31 - 1), st.integers(1, 40))
def test_location_looks_inside_updates_never_raise_the_p_value_or_change_the_e_value(
    sizes: list[int], seed: int, every: int
) -> None:
    rng = np.random.default_rng(seed)
    s, c = rng.normal(0, 1, sum(sizes)), rng.normal(0.2, 1, sum(sizes))
    at_ends = _run_location(sizes, s, c, sl.LocationConfig(min_samples=2, samples_per_look=10**9))
    inside = _run_location(sizes, s, c, sl.LocationConfig(min_samples=2, samples_per_look=every))
    assert inside.e_value == pytest.approx(at_ends.e_value, rel=1e-6)
    assert inside.p_value <= at_ends.p_value * (1 + 1e-6)


@pytest.mark.parametrize("scenario", ["errors A/A 1%", "latency A/A sigma 0.5", "p99 A/A"])
def test_seeded_aa_false_alarm_rate_is_not_above_alpha(scenario: str) -> None:
    sc_ = next(s for s in detection.SCENARIOS if s.name == scenario)
    sim = detection.simulate(sc_, 10.0, 0.5, 300, seed=11)
    false_alarms = int(np.sum(sim["sequential"] >= 0))
    # One-sided binomial test of rate > 5% at level 1% (checks every 10 s for 1 h).
    assert stats.binomtest(false_alarms, 300, 0.05, alternative="greater").pvalue > 0.01
