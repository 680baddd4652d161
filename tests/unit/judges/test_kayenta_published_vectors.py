"""Kayenta's published test vectors for its classifier and its scorer, as facts our judge must reproduce.

Classifier: every MannWhitneyClassifier case of spinnaker/kayenta's
kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ClassifierSuite.scala (commit a69573be), its
inputs and asserted outputs stored in data/kayenta_classifier_suite.json.
Scorer: every case of kayenta-judge/src/test/scala/com/netflix/kayenta/judge/ScorerSuite.scala (same
commit), written out below: (classification, group, critical) per metric, the group weights and
the asserted summary score.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from canary.analysis.judges import kayenta_score as ks
from canary.analysis.judges import mann_whitney as mw

SUITE = json.loads((Path(__file__).parent / "data" / "kayenta_classifier_suite.json").read_text())
CASES: list[dict[str, Any]] = SUITE["cases"]


def _spec(case: dict[str, Any]) -> mw.MetricSpec:
    return mw.MetricSpec(
        name=case["name"],
        direction=case["direction"],
        nan_strategy=case["nanStrategy"],
        critical=case["critical"],
        effect_size_measure=case.get("measure", "meanRatio"),
        allowed_increase=case.get("allowedIncrease", 1.0),
        allowed_decrease=case.get("allowedDecrease", 1.0),
        critical_increase=case.get("criticalIncrease", 1.0),
        critical_decrease=case.get("criticalDecrease", 1.0),
    )


def _classify(case: dict[str, Any]) -> mw.MetricResults:
    return mw.classify(
        [case["stable"]],
        [case["canary"]],
        [_spec(case)],
        tolerance=case["tolerance"],
        confidence=case["confidence"],
        ties_at_zero="test",
    )


def test_the_suite_holds_every_mann_whitney_case_of_kayenta() -> None:
    assert len(CASES) == 34


@pytest.mark.parametrize("case", [c for c in CASES if c["expected"]], ids=lambda c: c["name"])
def test_classifier_gives_kayentas_classification(case: dict[str, Any]) -> None:
    assert _classify(case).classification[0] == case["expected"]


@pytest.mark.parametrize("case", [c for c in CASES if "expectedCritical" in c], ids=lambda c: c["name"])
def test_classifier_gives_kayentas_critical_flag(case: dict[str, Any]) -> None:
    assert bool(_classify(case).critical_failure[0]) is case["expectedCritical"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.get("expectedDeviation") == "NaN"], ids=lambda c: c["name"]
)
def test_mean_ratio_of_a_zero_mean_is_nan(case: dict[str, Any]) -> None:
    assert math.isnan(_classify(case).mean_ratio[0])


@pytest.mark.parametrize("case", [c for c in CASES if c.get("expectedReason")], ids=lambda c: c["name"])
def test_missing_data_gives_a_reason(case: dict[str, Any]) -> None:
    assert _classify(case).reason[0]


# (classifications with groups and critical flags, group weights, summary score), as ScorerSuite asserts.
SCORER_CASES = {
    "Single Metric Pass": ([("Pass", "test-group", False)], {}, 100.0),
    "Single Metric Fail": ([("High", "test-group", False)], {}, 0.0),
    "Single group Nodata": ([("Nodata", "test-group-nodata", False)], {}, 0.0),
    "Two Groups, one Pass, one Nodata": (
        [
            ("Pass", "test-group-pass", False),
            ("Pass", "test-group-pass", False),
            ("Nodata", "test-group-nodata", False),
        ],
        {},
        100.0,
    ),
    "One Group, Two Metrics": ([("Pass", "test-group", False), ("High", "test-group", False)], {}, 50.0),
    "One Group, Three Metrics": (
        [("Pass", "test-group", False), ("High", "test-group", False), ("Low", "test-group", False)],
        {},
        33.33,
    ),
    "Two Groups, Three Metrics": (
        [("Pass", "group-1", False), ("Pass", "group-1", False), ("High", "group-2", False)],
        {"group-1": 75.0, "group-2": 25.0},
        75.0,
    ),
    "Two Groups, Three Metrics (Equal Weight)": (
        [("Pass", "group-1", False), ("High", "group-1", False), ("High", "group-2", False)],
        {"group-1": 50.0, "group-2": 50.0},
        25.0,
    ),
    "Two Groups, Three Metrics (Equal Weight), one NoData": (
        [("Pass", "group-1", False), ("Nodata", "group-1", False), ("High", "group-2", False)],
        {"group-1": 50.0, "group-2": 50.0},
        50.0,
    ),
    "Two Metrics, one good (normal), one fail (critical)": (
        [("Pass", "test-group", False), ("High", "test-group", True)],
        {},
        0.0,
    ),
    "Two Metrics, one low (normal), one good (critical)": (
        [("Low", "test-group", False), ("Pass", "test-group", True)],
        {},
        50.0,
    ),
    "Two Metrics, one good (normal), one nodata (critical)": (
        [("Pass", "test-group", False), ("Nodata", "test-group", True)],
        {},
        0.0,
    ),
    "Two Groups (Unequal Weight), Four Metrics": (
        [
            ("High", "group1", False),
            ("Low", "group1", False),
            ("Pass", "group1", False),
            ("High", "group2", False),
        ],
        {"group1": 15.0, "group2": 85.0},
        5.0,
    ),
}


@pytest.mark.parametrize("name", SCORER_CASES)
def test_scorer_gives_kayentas_summary_score(name: str) -> None:
    metrics, weights, expected = SCORER_CASES[name]
    results = [
        ks.ScoredMetric(f"m{i}", label, (group,), critical)
        for i, (label, group, critical) in enumerate(metrics)
    ]
    assert ks.score(results, weights).score == expected


def test_scorer_reports_a_group_without_counted_metrics_as_0_next_to_a_passing_group() -> None:
    # ScorerSuite "Two Groups, one Pass, one Nodata": group scores sorted are [0.0, 100.0].
    metrics, weights, _ = SCORER_CASES["Two Groups, one Pass, one Nodata"]
    results = [
        ks.ScoredMetric(f"m{i}", label, (group,), crit) for i, (label, group, crit) in enumerate(metrics)
    ]
    assert sorted(g.score for g in ks.score(results, weights).groups) == [0.0, 100.0]
