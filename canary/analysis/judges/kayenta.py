"""A whole Kayenta canary config judged at once: every metric classified, then scored 0-100.

Pure: the samples of every metric's two arms in, a :class:`CanaryJudgement` out. As Kayenta's
judge does, each metric is classified by the Mann-Whitney classifier at tolerance 0.25 and
confidence 0.98 (:mod:`canary.analysis.judges.mann_whitney`) and the results are scored by the
weighted-sum scorer (:mod:`canary.analysis.judges.kayenta_score`). The score's classification
maps onto an analysis phase: Pass is Successful, Marginal Inconclusive (a person decides), Fail
Failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.analysis.judges import kayenta_score as ks
from canary.analysis.judges import mann_whitney as mw
from canary.api.canary_config import CanaryConfig, CanaryMetricConfig, ScoreThresholds

TOLERANCE = 0.25
CONFIDENCE = 0.98
"""The classifier's settings in Kayenta's judge (fixed there, so here too)."""

VERDICTS = {"Pass": "pass", "Marginal": "inconclusive", "Fail": "fail"}
"""The score's classification as a judge verdict (and so an analysis phase)."""

ArmSamples = tuple[Sequence[float], Sequence[float]]
"""(stable, canary) samples of one metric; NaN is a missing value, for the metric's NaN strategy.
An arm with no samples at all is as many missing values as the other arm has (Kayenta's rule)."""


@dataclass(frozen=True)
class MetricJudgement:
    """One metric's part in the score."""

    name: str
    classification: str
    groups: tuple[str, ...]
    critical: bool
    muted: bool
    reason: str
    estimate: float
    ci_low: float
    ci_high: float
    effect_size: float
    n_stable: int
    n_canary: int


@dataclass(frozen=True)
class CanaryJudgement:
    score: ks.CanaryScore
    metrics: tuple[MetricJudgement, ...]
    pass_threshold: float
    marginal_threshold: float

    @property
    def verdict(self) -> str:
        return VERDICTS[self.score.classification]


def metric_spec(metric: CanaryMetricConfig) -> mw.MetricSpec:
    """The classifier's settings for one metric of a canary config."""
    canary = metric.analysis_configurations.canary
    effect = canary.effect_size
    return mw.MetricSpec(
        name=metric.name,
        direction=canary.direction,
        nan_strategy=canary.nan_strategy,
        outliers=canary.outliers.strategy,
        outlier_factor=canary.outliers.outlier_factor,
        effect_size_measure=effect.measure,
        allowed_increase=effect.threshold(effect.allowed_increase),
        allowed_decrease=effect.threshold(effect.allowed_decrease),
        critical=canary.critical,
        critical_increase=effect.threshold(effect.critical_increase),
        critical_decrease=effect.threshold(effect.critical_decrease),
        must_have_data=canary.must_have_data,
    )


def judge(
    config: CanaryConfig, thresholds: ScoreThresholds, samples: Mapping[str, ArmSamples]
) -> CanaryJudgement:
    """Classify every metric of `config` on its `samples` (keyed by metric name) and score them."""
    missing = [m.name for m in config.metrics if m.name not in samples]
    if missing:
        raise ValueError(f"no samples for canaryConfig metric(s) {', '.join(missing)}")
    specs = [metric_spec(m) for m in config.metrics]
    arms = [mw.pad_missing_arm(*samples[m.name]) for m in config.metrics]
    res = mw.classify(
        [stable for stable, _ in arms],
        [canary for _, canary in arms],
        specs,
        tolerance=TOLERANCE,
        confidence=CONFIDENCE,
        ties_at_zero="test",
    )
    metrics = tuple(_metric(m, res, i) for i, m in enumerate(config.metrics))
    scored = [
        ks.ScoredMetric(m.name, m.classification, m.groups, m.critical, m.muted, m.reason) for m in metrics
    ]
    outcome = ks.score(
        scored,
        config.classifier.group_weights,
        pass_threshold=thresholds.pass_,
        marginal_threshold=thresholds.marginal,
    )
    return CanaryJudgement(outcome, metrics, thresholds.pass_, thresholds.marginal)


def _metric(metric: CanaryMetricConfig, res: mw.MetricResults, i: int) -> MetricJudgement:
    return MetricJudgement(
        name=metric.name,
        classification=res.classification[i],
        groups=tuple(metric.groups),
        critical=bool(res.critical_failure[i]),
        muted=metric.analysis_configurations.canary.muted,
        reason=res.reason[i],
        estimate=float(res.estimate[i]),
        ci_low=float(res.ci_low[i]),
        ci_high=float(res.ci_high[i]),
        effect_size=float(res.effect_size[i]),
        n_stable=int(res.n_stable[i]),
        n_canary=int(res.n_canary[i]),
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evidence(judgement: CanaryJudgement) -> dict[str, Any]:
    """The judgement as JSON-ready data (a measurement's value): the score, each group and metric."""
    score = judgement.score
    return {
        "score": score.score,
        "classification": score.classification,
        "reason": score.reason,
        "thresholds": {"pass": judgement.pass_threshold, "marginal": judgement.marginal_threshold},
        "groups": {g.name: {"score": g.score, "weight": g.weight, "noData": g.no_data} for g in score.groups},
        "metrics": {
            m.name: {
                "classification": m.classification,
                "critical": m.critical,
                "muted": m.muted,
                "groups": list(m.groups),
                "reason": m.reason,
                "estimate": _finite(m.estimate),
                "ciLow": _finite(m.ci_low),
                "ciHigh": _finite(m.ci_high),
                "effectSize": _finite(m.effect_size),
                "nStable": m.n_stable,
                "nCanary": m.n_canary,
            }
            for m in judgement.metrics
        },
    }


def message(judgement: CanaryJudgement) -> str:
    """One line: the score against the thresholds, why it was forced to 0 if it was, each metric."""
    score = judgement.score
    head = (
        f"kayenta: score {score.score:g} {score.classification} "
        f"(pass >= {judgement.pass_threshold:g}, marginal >= {judgement.marginal_threshold:g})"
    )
    parts = [
        f"{m.name} {m.classification}{' (critical)' if m.critical else ''}{' (muted)' if m.muted else ''}"
        for m in judgement.metrics
    ]
    groups = ", ".join(f"{g.name} {g.score:g} x {g.weight:g}%" for g in score.groups)
    reason = f"; {score.reason}" if score.reason else ""
    return f"{head}{reason}; groups: {groups}; metrics: {', '.join(parts)}"
