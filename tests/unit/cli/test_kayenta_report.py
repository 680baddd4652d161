"""A kayenta metric's score in the `analyze` output and the HTML report: headline, groups, each metric."""

from __future__ import annotations

import json
from typing import Any

from canary.api.analysis import AnalysisPhase, Measurement, MetricResult
from canary.cli import kayenta_report, report_html

EVIDENCE: dict[str, Any] = {
    "score": 0.0,
    "classification": "Fail",
    "reason": "Canary Failed: errors was classified as High (critical)",
    "thresholds": {"pass": 90.0, "marginal": 75.0},
    "groups": {
        "errors": {"score": 0.0, "weight": 60.0, "noData": False},
        "latency": {"score": 0.0, "weight": 40.0, "noData": True},
    },
    "metrics": {
        "errors": {
            "classification": "High",
            "critical": True,
            "muted": False,
            "groups": ["errors"],
            "reason": "errors was classified as High (critical)",
            "estimate": 0.02,
            "ciLow": 0.019,
            "ciHigh": 0.021,
            "effectSize": 5.0,
            "nStable": 11,
            "nCanary": 11,
        }
    },
}


def test_the_headline_names_the_score_its_classification_and_the_thresholds() -> None:
    table = kayenta_report.score_table("canary-score", EVIDENCE)
    assert table.headline == "canary-score: score 0 Fail (pass >= 90, marginal >= 75)"
    assert table.reason.startswith("Canary Failed: errors")


def test_a_group_without_data_shows_that_it_counts_as_100() -> None:
    groups = kayenta_report.score_table("s", EVIDENCE).groups
    assert groups[1] == ["latency", "0 (no data: counts as 100)", "40", "40"]


def test_each_metric_row_shows_its_classification_shift_and_samples() -> None:
    row = kayenta_report.score_table("s", EVIDENCE).metrics[0]
    assert row == [
        "errors",
        "High",
        "critical",
        "errors",
        "5",
        "0.02 (0.019 to 0.021)",
        "11 stable, 11 canary",
        "errors was classified as High (critical)",
    ]


def test_the_latest_scored_measurement_is_read_past_an_error() -> None:
    result = MetricResult(
        name="canary-score",
        measurements=[
            Measurement(phase=AnalysisPhase.FAILED, value=json.dumps(EVIDENCE)),
            Measurement(phase=AnalysisPhase.ERROR, message="timed out"),
        ],
    )
    assert kayenta_report.last_score(result) == EVIDENCE


def test_the_html_report_shows_sections_open_with_their_tables() -> None:
    section = report_html.Section("canary-score: score 0 Fail", "why", ("group",), [["errors"]])
    page = report_html.render(report_html.Report("t", "fail", "w", sections=[section]))
    assert "<h2>canary-score: score 0 Fail</h2><p>why</p><table>" in page
