"""A whole Kayenta canary config judged at once: groups, weights, critical metrics, NaN strategies."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from canary.analysis import judges
from canary.analysis.judges import kayenta
from canary.analysis.judges import kayenta_score as ks
from canary.api.canary_config import CanaryConfig, ScoreThresholds

RNG = np.random.default_rng(18)
SAME = (list(RNG.normal(10, 1, 60)), list(RNG.normal(10, 1, 60)))
HIGHER = (list(RNG.normal(10, 1, 60)), list(RNG.normal(14, 1, 60)))


def _metric(name: str, groups: list[str], **canary: Any) -> dict[str, Any]:
    return {
        "name": name,
        "query": {"stable": f"{name}_stable", "canary": f"{name}_canary"},
        "groups": groups,
        "analysisConfigurations": {"canary": {"direction": "increase", **canary}},
    }


def _config(metrics: list[dict[str, Any]], weights: dict[str, float] | None = None) -> CanaryConfig:
    return CanaryConfig.model_validate({"metrics": metrics, "classifier": {"groupWeights": weights or {}}})


THRESHOLDS = ScoreThresholds.model_validate({"pass": 75, "marginal": 50})


def test_groups_without_a_weight_share_what_the_weights_leave() -> None:
    results = [
        ks.ScoredMetric("a", "High", ("errors",)),
        ks.ScoredMetric("b", "Pass", ("latency",)),
        ks.ScoredMetric("c", "Pass", ("saturation",)),
    ]
    out = ks.score(results, {"errors": 50.0})
    # Hand: errors 0 x 50% + latency 100 x 25% + saturation 100 x 25% (the 50 left, shared by two) = 50.
    assert out.score == 50.0 and [g.weight for g in out.groups] == [50.0, 25.0, 25.0]


def test_a_metric_in_two_groups_counts_in_both() -> None:
    out = ks.score(
        [ks.ScoredMetric("a", "High", ("errors", "latency")), ks.ScoredMetric("b", "Pass", ("latency",))]
    )
    assert {g.name: g.score for g in out.groups} == {"errors": 0.0, "latency": 50.0}


def test_a_muted_metric_is_reported_but_not_scored() -> None:
    out = ks.score([ks.ScoredMetric("a", "High", ("g",), muted=True), ks.ScoredMetric("b", "Pass", ("g",))])
    assert out.score == 100.0


def test_score_between_the_thresholds_is_marginal() -> None:
    out = ks.score(
        [ks.ScoredMetric("a", "High", ("g",)), ks.ScoredMetric("b", "Pass", ("g",))], pass_threshold=75
    )
    assert (out.score, out.classification) == (50.0, "Marginal")


def test_a_failing_critical_metric_fails_the_canary_and_says_which() -> None:
    config = _config(
        [_metric("errors", ["errors"], critical=True), _metric("latency", ["latency"])], {"errors": 10}
    )
    out = kayenta.judge(config, THRESHOLDS, {"errors": HIGHER, "latency": SAME})
    assert (out.score.score, out.score.classification, out.verdict) == (0.0, "Fail", "fail")
    assert "errors was classified as High (critical)" in out.score.reason


def test_a_failing_metric_that_is_not_critical_only_lowers_its_group() -> None:
    config = _config(
        [_metric("errors", ["errors"]), _metric("latency", ["latency"])], {"errors": 40, "latency": 60}
    )
    out = kayenta.judge(config, THRESHOLDS, {"errors": HIGHER, "latency": SAME})
    assert (out.score.score, out.score.classification, out.verdict) == (60.0, "Marginal", "inconclusive")


def test_critical_effect_size_decides_whether_a_high_is_critical() -> None:
    effect = {"criticalIncrease": 2.0}  # the canary's mean is ~1.4x stable's: High, not critical
    config = _config(
        [_metric("errors", ["errors"], critical=True, effectSize=effect), _metric("b", ["other"])]
    )
    out = kayenta.judge(config, THRESHOLDS, {"errors": HIGHER, "b": SAME})
    assert [(m.classification, m.critical) for m in out.metrics] == [("High", False), ("Pass", False)]
    assert out.score.score == 50.0


def test_empty_canary_with_nan_strategy_replace_is_judged_as_zeros() -> None:
    config = _config([_metric("errors", ["g"], nanStrategy="replace", direction="either")])
    out = kayenta.judge(config, THRESHOLDS, {"errors": ([1.0, 2.0, 1.5, 2.5, 1.2, 1.8], [])})
    assert (out.metrics[0].classification, out.metrics[0].n_canary) == ("Low", 6)


def test_empty_canary_with_nan_strategy_remove_is_nodata() -> None:
    config = _config([_metric("errors", ["g"], nanStrategy="remove")])
    out = kayenta.judge(config, THRESHOLDS, {"errors": ([1.0, 2.0, 1.5, 2.5, 1.2, 1.8], [])})
    assert out.metrics[0].classification == "Nodata"


def test_nan_samples_with_replace_become_zeros() -> None:
    config = _config([_metric("errors", ["g"], nanStrategy="replace")])
    out = kayenta.judge(config, THRESHOLDS, {"errors": ([0.0] * 6, [float("nan")] * 6)})
    assert (out.metrics[0].classification, out.metrics[0].n_canary) == ("Pass", 6)


def test_mann_whitney_judge_judges_an_empty_canary_as_zeros_with_replace() -> None:
    stable = judges.ArmObservation(stable=[1.0, 2.0, 1.5, 2.5, 1.2, 1.8], canary=[])
    replaced = judges.judge("mann-whitney", {"nan_strategy": "replace", "direction": "either"}, stable)
    removed = judges.judge("mann-whitney", {"nan_strategy": "remove"}, stable)
    assert (replaced.verdict, replaced.evidence["n_canary"], removed.verdict) == ("fail", 6.0, "nodata")


def test_must_have_data_without_data_counts_as_a_failure_in_its_group() -> None:
    config = _config([_metric("a", ["g"], mustHaveData=True), _metric("b", ["g"]), _metric("c", ["g"])])
    out = kayenta.judge(config, THRESHOLDS, {"a": ([1.0] * 6, []), "b": SAME, "c": SAME})
    assert out.metrics[0].classification == "NodataFailMetric" and out.score.score == 66.67


def test_evidence_is_json_with_the_score_and_each_metrics_part() -> None:
    metrics = [_metric("errors", ["errors"]), _metric("latency", ["latency"]), _metric("cpu", ["cpu"])]
    samples = {"errors": HIGHER, "latency": ([], []), "cpu": SAME}
    data = kayenta.evidence(kayenta.judge(_config(metrics, {"errors": 40}), THRESHOLDS, samples))
    decoded = json.loads(json.dumps(data, allow_nan=False))
    # Hand: errors 0 x 40% + latency (no data: counts as 100) x 30% + cpu 100 x 30% = 60.
    assert decoded["score"] == 60.0
    assert decoded["groups"]["errors"] == {"score": 0.0, "weight": 40.0, "noData": False}
    assert decoded["metrics"]["latency"]["classification"] == "Nodata"
    assert decoded["metrics"]["latency"]["estimate"] is None


def test_message_names_the_score_the_thresholds_and_every_metric() -> None:
    config = _config([_metric("errors", ["errors"]), _metric("latency", ["latency"])])
    text = kayenta.message(kayenta.judge(config, THRESHOLDS, {"errors": HIGHER, "latency": SAME}))
    assert text.startswith("kayenta: score 50 Marginal (pass >= 75, marginal >= 50)")
    assert "metrics: errors High, latency Pass" in text


LABELS = st.sampled_from(["High", "Low", "Pass", "Nodata", "NodataFailMetric", "Error"])
RESULTS = st.lists(
    st.builds(
        ks.ScoredMetric,
        name=st.text(min_size=1, max_size=3),
        classification=LABELS,
        groups=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2).map(tuple),
        critical=st.booleans(),
        muted=st.booleans(),
    ),
    max_size=8,
)
WEIGHTS = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.floats(0, 33))


@given(RESULTS, WEIGHTS)
def test_the_score_is_between_0_and_100_and_classified_by_the_thresholds(
    results: list[ks.ScoredMetric], weights: dict[str, float]
) -> None:
    out = ks.score(results, weights, pass_threshold=75, marginal_threshold=50)
    assert 0.0 <= out.score <= 100.0 + 1e-9
    assert out.classification == ("Pass" if out.score >= 75 else "Marginal" if out.score >= 50 else "Fail")


@given(RESULTS, WEIGHTS)
def test_a_critical_result_that_did_not_pass_always_zeroes_the_score(
    results: list[ks.ScoredMetric], weights: dict[str, float]
) -> None:
    failing = [ks.ScoredMetric("x", "High", ("a",), critical=True), *results]
    assert ks.score(failing, weights).score == 0.0
