"""The judge() entry point: verdicts, evidence, resumable state and config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from canary.analysis.judges import ArmObservation, JudgeConfigError, judge


def test_unknown_kind_names_the_allowed_kinds() -> None:
    with pytest.raises(JudgeConfigError, match=r"kind must be one of .*'sequential-counts'"):
        judge("t-test", {}, ArmObservation())


def test_unknown_config_key_names_the_key_and_the_allowed_keys() -> None:
    with pytest.raises(JudgeConfigError, match=r"unknown config key 'beta'.*allowed keys: \['alpha'"):
        judge("sequential-counts", {"beta": 1}, ArmObservation())


def test_bad_value_names_the_key_and_the_allowed_range() -> None:
    with pytest.raises(JudgeConfigError, match=r"alpha must be in \(0, 1\)"):
        judge("sequential-location", {"alpha": 2.0}, ArmObservation())


def test_bad_direction_names_the_allowed_values() -> None:
    with pytest.raises(JudgeConfigError, match="direction must be one of"):
        judge("mann-whitney", {"direction": "up"}, ArmObservation(stable=[1.0], canary=[1.0]))


def test_non_numeric_value_is_a_config_error() -> None:
    with pytest.raises(JudgeConfigError, match="k must be a number"):
        judge("sequential-counts", {"k": "many"}, ArmObservation())


def test_config_error_is_a_value_error() -> None:
    assert issubclass(JudgeConfigError, ValueError)


def test_mann_whitney_fails_a_slower_canary_with_evidence() -> None:
    rng = np.random.default_rng(0)
    obs = ArmObservation(stable=rng.normal(100, 5, 300), canary=rng.normal(110, 5, 300))
    res = judge("mann-whitney", {"direction": "increase"}, obs)
    assert res.verdict == "fail" and res.state is None
    assert res.evidence["ci_low"] > 0 and res.evidence["n_canary"] == 300.0


def test_mann_whitney_empty_arm_is_nodata() -> None:
    assert judge("mann-whitney", {}, ArmObservation(stable=[], canary=[1.0])).verdict == "nodata"


def test_sequential_counts_state_resumes_after_a_json_round_trip() -> None:
    obs = ArmObservation(stable_events=10, stable_total=1000, canary_events=25, canary_total=1000)
    straight = None
    state = None
    for _ in range(4):
        straight = judge("sequential-counts", {}, obs, state)
        state = json.loads(json.dumps(straight.state))  # a controller restart between checks
    assert straight is not None and straight.verdict == "fail"
    assert straight.evidence["events_canary"] == 100.0 and straight.evidence["n_stable"] == 4000.0


def test_sequential_counts_without_requests_is_nodata() -> None:
    assert judge("sequential-counts", {}, ArmObservation()).verdict == "nodata"


def test_sequential_location_passes_equal_arms() -> None:
    rng = np.random.default_rng(1)
    obs = ArmObservation(stable=rng.normal(0, 1, 500), canary=rng.normal(0, 1, 500))
    res = judge("sequential-location", {"tolerance": 0.05}, obs)
    assert res.verdict == "pass" and res.evidence["ci_low"] < 0 < res.evidence["ci_high"]


def test_sequential_tail_with_fixed_threshold_fails_a_heavier_tail() -> None:
    rng = np.random.default_rng(2)
    obs = ArmObservation(stable=rng.lognormal(0, 0.5, 20_000), canary=rng.lognormal(0.3, 0.5, 20_000))
    res = judge("sequential-tail", {"threshold": float(np.exp(0.5 * 2.326))}, obs)
    assert res.verdict == "fail" and res.evidence["estimate"] > 1.5


def test_evidence_values_are_floats() -> None:
    obs = ArmObservation(stable_events=1, stable_total=100, canary_events=2, canary_total=100)
    res = judge("sequential-counts", {"alpha": 0.01}, obs)
    assert all(isinstance(v, float) for v in res.evidence.values())


def test_a_replaced_key_names_what_replaced_it() -> None:
    with pytest.raises(JudgeConfigError, match=r"'tuning_samples'.*replaced by min_effect and max_effect"):
        judge("sequential-location", {"tuning_samples": 1000}, ArmObservation())
