"""Kayenta's canary score: classified metrics, weighted by group, give a score 0-100 and a verdict.

Pure functions over the classifications of :func:`canary.analysis.judges.mann_whitney.classify`
(or any source of ``High`` / ``Low`` / ``Pass`` / ``Nodata`` / ``NodataFailMetric`` / ``Error``).

Rules, as Kayenta's weighted-sum scorer and threshold classifier apply them:

- Muted metrics are reported but not scored.
- A metric counts in every group it names. A group's score is
  ``Pass / (High + Low + Pass + NodataFailMetric) x 100``; ``Nodata`` and ``Error`` are not
  counted. A group with nothing counted reports 0 but counts as 100 in the summary (it has
  no evidence against the canary).
- The summary is the sum of group score x weight / 100, rounded to two decimals. Groups
  without a weight share equally what the configured weights leave of 100 (all configured
  weights count, even of groups no metric names).
- The summary is 0 when a critical result did not pass (a critical metric High or Low beyond
  its critical effect size, or without data), or when 50% or more of the scored results are
  ``Nodata``.
- ``Pass`` when the summary >= the pass threshold, ``Marginal`` when >= the marginal threshold,
  else ``Fail``.

References
----------
.. [1] spinnaker/kayenta, ``kayenta-judge``: ``scorers/WeightedSumScorer.scala``,
       ``scorers/ScoringHelper.scala``, ``classifiers/score/ThresholdScoreClassifier.scala``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

ScoreClassification = Literal["Pass", "Marginal", "Fail"]
COUNTED = ("High", "Low", "Pass", "NodataFailMetric")
"""The metric classifications a group's score counts."""
NODATA_THRESHOLD = 50.0
"""Percent of Nodata results at which the score is 0."""


@dataclass(frozen=True)
class ScoredMetric:
    """One metric's result as the scorer reads it."""

    name: str
    classification: str
    groups: tuple[str, ...] = ()
    critical: bool = False
    """The result's critical flag (set by the classifier), not the metric's configuration."""
    muted: bool = False
    reason: str = ""


@dataclass(frozen=True)
class GroupScore:
    name: str
    score: float
    no_data: bool
    weight: float
    """The group's share of the summary, in percent."""


@dataclass(frozen=True)
class CanaryScore:
    score: float
    classification: ScoreClassification
    groups: tuple[GroupScore, ...]
    reason: str = ""
    """Why the score was forced to 0 (a critical failure, too much Nodata), else ""."""


def group_scores(results: Sequence[ScoredMetric], weights: Mapping[str, float]) -> tuple[GroupScore, ...]:
    """Every group named by a scored result, in order of first appearance, with its score and weight."""
    labels: dict[str, list[str]] = {}
    for result in results:
        for group in result.groups:
            labels.setdefault(group, []).append(result.classification)
    unweighted = [g for g in labels if g not in weights]
    rest = (100.0 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    out = []
    for group, group_labels in labels.items():
        counted = [label for label in group_labels if label in COUNTED]
        passed = sum(label == "Pass" for label in counted)
        score = 100.0 * passed / len(counted) if counted else 0.0
        out.append(GroupScore(group, score, not counted, weights.get(group, rest)))
    return tuple(out)


def summary_score(groups: Sequence[GroupScore]) -> float:
    """The weighted sum of the group scores (a group without data counts as 100), two decimals."""
    total = sum((100.0 if g.no_data else g.score) * g.weight / 100.0 for g in groups)
    return round(total, 2)


def _forced_to_zero(results: Sequence[ScoredMetric]) -> str:
    failed = [r for r in results if r.critical and r.classification != "Pass"]
    if failed:
        reason = failed[0].reason or f"{failed[0].name} was classified as {failed[0].classification}"
        return f"Canary Failed: {reason}"
    nodata = sum(r.classification == "Nodata" for r in results)
    if results and 100.0 * nodata / len(results) >= NODATA_THRESHOLD:
        return f"Canary Failed: {NODATA_THRESHOLD:g}% or more metrics returned NODATA"
    return ""


def classify_score(score: float, pass_threshold: float, marginal_threshold: float) -> ScoreClassification:
    """Kayenta's threshold classifier (pass and marginal are Argo's kayenta provider `thresholds`)."""
    if score >= pass_threshold:
        return "Pass"
    if score >= marginal_threshold:
        return "Marginal"
    return "Fail"


def score(
    results: Sequence[ScoredMetric],
    weights: Mapping[str, float] | None = None,
    *,
    pass_threshold: float = 75.0,
    marginal_threshold: float = 50.0,
) -> CanaryScore:
    """Kayenta's summary score of `results` and its Pass / Marginal / Fail (see the module docstring).

    `weights` are percent per group (Kayenta's ``classifier.groupWeights``).
    """
    scored = [r for r in results if not r.muted]
    groups = group_scores(scored, dict(weights or {}))
    reason = _forced_to_zero(scored)
    value = 0.0 if reason else summary_score(groups)
    return CanaryScore(value, classify_score(value, pass_threshold, marginal_threshold), groups, reason)
