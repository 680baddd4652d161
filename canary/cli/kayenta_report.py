"""A kayenta judge metric's score as a person reads it: the score against the thresholds, and each
group's and each metric's part in it (the `analyze` output and the HTML report's score tables).

Pure: built from the measurement's value (the JSON of canary.analysis.judges.kayenta.evidence).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.api.analysis import KAYENTA_JUDGE, AnalysisRun, Metric, MetricResult

METRIC_COLUMNS = (
    "metric",
    "classification",
    "critical",
    "groups",
    "effect size",
    "shift (interval)",
    "samples",
    "why",
)
GROUP_COLUMNS = ("group", "score", "weight %", "counts in the score")


@dataclass(frozen=True)
class ScoreTable:
    """One kayenta metric's last score: a headline, why it was forced to 0 if it was, and two tables."""

    headline: str
    reason: str
    groups: Sequence[Sequence[str]]
    metrics: Sequence[Sequence[str]]


def last_score(result: MetricResult) -> Mapping[str, Any] | None:
    """The evidence of the metric's latest measurement that carries a score, else None."""
    for measurement in reversed(result.measurements):
        try:
            value = json.loads(measurement.value or "")
        except ValueError:
            continue
        if isinstance(value, dict) and "score" in value:
            return value
    return None


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def _metric_row(name: str, part: Mapping[str, Any]) -> list[str]:
    interval = (
        f"{_number(part.get('estimate'))} ({_number(part.get('ciLow'))} to {_number(part.get('ciHigh'))})"
    )
    flags = "critical" if part.get("critical") else ("muted" if part.get("muted") else "")
    return [
        name,
        str(part.get("classification", "")),
        flags,
        ", ".join(part.get("groups", [])),
        _number(part.get("effectSize")),
        interval,
        f"{part.get('nStable', 0)} stable, {part.get('nCanary', 0)} canary",
        str(part.get("reason", "")),
    ]


def score_table(metric_name: str, evidence: Mapping[str, Any]) -> ScoreTable:
    thresholds = evidence.get("thresholds", {})
    headline = (
        f"{metric_name}: score {evidence['score']:g} {evidence.get('classification', '')} "
        f"(pass >= {thresholds.get('pass', '?'):g}, marginal >= {thresholds.get('marginal', '?'):g})"
    )
    groups = [
        [
            name,
            f"{group['score']:g}" + (" (no data: counts as 100)" if group.get("noData") else ""),
            f"{group['weight']:g}",
            f"{(100.0 if group.get('noData') else group['score']) * group['weight'] / 100:g}",
        ]
        for name, group in evidence.get("groups", {}).items()
    ]
    metrics = [_metric_row(name, part) for name, part in evidence.get("metrics", {}).items()]
    return ScoreTable(headline, str(evidence.get("reason", "")), groups, metrics)


def run_score_tables(run: AnalysisRun) -> list[ScoreTable]:
    """The latest score table of every kayenta judge metric of the run that has one."""
    results = {r.name: r for r in run.status.metric_results}
    tables = []
    for metric in run.spec.metrics:
        evidence = last_score(results[metric.name]) if is_kayenta(metric) and metric.name in results else None
        if evidence is not None:
            tables.append(score_table(metric.name, evidence))
    return tables


def is_kayenta(metric: Metric) -> bool:
    judge = metric.provider.judge
    return judge is not None and judge.kind == KAYENTA_JUDGE
