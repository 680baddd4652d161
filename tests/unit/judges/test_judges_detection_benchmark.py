"""The detection benchmark runs end to end on a tiny configuration (so it cannot rot)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import detection
import detection_mann_whitney as dmw
import location_stress
import numpy as np
import pytest

from canary.analysis.judges import _shift


def test_tiny_benchmark_produces_rows_and_markdown() -> None:
    scenarios = [s for s in detection.SCENARIOS if s.name in ("errors 1% -> 2%", "latency A/A sigma 0.5")]
    rows = detection.run(reps=40, det_reps=40, rates=(100.0,), shares=(0.5,), scenarios=scenarios)
    assert {r["judge"] for r in rows} == {"sequential", "threshold"}
    detect = next(r for r in rows if r["scenario"] == "errors 1% -> 2%" and r["judge"] == "sequential")
    assert detect["power"] > 0.5 and detect["oracle_canary_n"] > 0
    text = detection.markdown(
        rows, {"metrics": 1.0, "samples_per_arm": 10.0, "seconds": 0.0, "sort_both_arms_seconds": 0.0}
    )
    assert "A/A false alarms" in text and "| errors 1% -> 2% |" in text


def test_oracle_sizes_match_the_reference_table() -> None:
    # Source: shared/reference/statistics.md ("errors 1%->1.5% ~ 6,100 ... +5% (sigma 1) ~ 5,200").
    expect = {
        "errors 1% -> 1.5%": 6100,
        "errors 1% -> 2%": 1830,
        "latency +5% sigma 0.5": 1300,
        "latency +10% sigma 0.5": 340,
        "latency +5% sigma 1": 5200,
    }
    for s in detection.SCENARIOS:
        if s.name in expect:
            assert abs(detection.oracle_canary_n(s, 0.5) / expect[s.name] - 1) < 0.02


def test_location_stress_benchmark_counts_false_alarms_per_distribution() -> None:
    rows = location_stress.run(reps=20)
    assert [r["distribution"] for r in rows] == list(location_stress.DISTRIBUTIONS)
    assert all(0 <= r["false_alarms"] <= 20 and r["upper_95"] >= r["rate"] for r in rows)
    assert "| t, 3 df (heavy tails) | 20 |" in location_stress.markdown(rows)


def _tied_series(seed: int, reps: int = 40, t: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Per-interval samples with many ties and some missing intervals, the canary a little higher."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(0.3, 0.5, (reps, t)) * 4.0) / 4.0
    y = np.round(rng.lognormal(0.0, 0.5, (reps, t)) * 4.0) / 4.0
    x[rng.random((reps, t)) < 0.05] = np.nan
    y[rng.random((reps, t)) < 0.05] = np.nan
    return x, y


def test_incremental_u_test_p_is_the_judges_p_at_every_check() -> None:
    x, y = _tied_series(1)
    p = dmw.u_test_p(x, y)
    for j in (0, 4, 17, 29):
        expect = _shift.shift_test(y[:, : j + 1], x[:, : j + 1], 0.98).pvalue
        np.testing.assert_allclose(p[:, j], np.nan_to_num(expect, nan=1.0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("tolerance", [0.25, 0.0])
def test_asking_the_mann_whitney_judge_only_below_the_prefilter_p_changes_no_verdict(
    tolerance: float,
) -> None:
    x, y = _tied_series(2)
    every_row = dmw.first_fail(x, y, tolerance, prefilter_p=1.0)
    assert (every_row >= 0).any()
    np.testing.assert_array_equal(dmw.first_fail(x, y, tolerance), every_row)
