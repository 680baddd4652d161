"""Kayenta's canary config inside a judge metric: several metrics judged together into one score.

The shape follows Kayenta's canary-config JSON (``metrics[].groups``,
``metrics[].analysisConfigurations.canary`` with direction, nanStrategy, critical, mustHaveData,
muted, effectSize and outliers; ``classifier.groupWeights``) and Argo's kayenta provider's
``thresholds`` (pass, marginal). One difference: Kayenta reads each metric through a metrics
service and a scope per arm; here each metric's ``query`` holds the two arms' PromQL directly
(``stable`` = Kayenta's control, ``canary`` = its experiment).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from canary.api.base import CRDModel


class ArmQuery(CRDModel):
    """One metric's samples for each arm over the same window (e.g. a per-pod, per-minute subquery)."""

    stable: str = Field(min_length=1)
    canary: str = Field(min_length=1)


class EffectSize(CRDModel):
    """How large a significant change must be to count (Kayenta's effectSize).

    Thresholds default to 1.0 for the mean ratio and 0.5 for CLES, Kayenta's defaults.
    """

    measure: Literal["meanRatio", "cles"] = "meanRatio"
    allowed_increase: float | None = Field(default=None, ge=0)
    allowed_decrease: float | None = Field(default=None, ge=0)
    critical_increase: float | None = Field(default=None, ge=0)
    critical_decrease: float | None = Field(default=None, ge=0)

    def threshold(self, value: float | None) -> float:
        return (0.5 if self.measure == "cles" else 1.0) if value is None else value


class Outliers(CRDModel):
    strategy: Literal["keep", "remove"] = "keep"
    outlier_factor: float = Field(default=3.0, ge=0)


class CanaryAnalysisConfiguration(CRDModel):
    """Kayenta's ``analysisConfigurations.canary`` of one metric."""

    direction: Literal["increase", "decrease", "either"] = "either"
    nan_strategy: Literal["remove", "replace"] = "remove"
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    effect_size: EffectSize = Field(default_factory=EffectSize)
    outliers: Outliers = Field(default_factory=Outliers)


class AnalysisConfigurations(CRDModel):
    canary: CanaryAnalysisConfiguration = Field(default_factory=CanaryAnalysisConfiguration)


class CanaryMetricConfig(CRDModel):
    name: str = Field(min_length=1)
    query: ArmQuery
    groups: list[str] = Field(min_length=1)
    analysis_configurations: AnalysisConfigurations = Field(default_factory=AnalysisConfigurations)


class CanaryClassifier(CRDModel):
    group_weights: dict[str, float] = Field(default_factory=dict)


class CanaryConfig(CRDModel):
    name: str | None = None
    description: str | None = None
    metrics: list[CanaryMetricConfig] = Field(min_length=1)
    classifier: CanaryClassifier = Field(default_factory=CanaryClassifier)

    @model_validator(mode="after")
    def _names_and_weights(self) -> CanaryConfig:
        names = [m.name for m in self.metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"canaryConfig metric names must be unique; repeated: {', '.join(repeated)}")
        weights = self.classifier.group_weights
        negative = sorted(g for g, w in weights.items() if w < 0)
        if negative:
            raise ValueError(f"classifier.groupWeights must be >= 0; negative: {', '.join(negative)}")
        total = sum(weights.values())
        if total > 100:
            raise ValueError(
                f"classifier.groupWeights add up to {total:g}, more than 100; they are percent of the score"
            )
        groups = {g for m in self.metrics for g in m.groups}
        unused = sorted(set(weights) - groups)
        if unused:
            raise ValueError(
                f"classifier.groupWeights names {', '.join(unused)}, which no metric is in; "
                f"groups of the metrics: {', '.join(sorted(groups))}"
            )
        if total < 100 and groups <= set(weights):
            raise ValueError(
                f"classifier.groupWeights add up to {total:g} and every group has a weight, so the score "
                "could never reach 100; make them add up to 100 or leave a group without a weight "
                "(groups without one share what is left)"
            )
        return self


class ScoreThresholds(CRDModel):
    """Argo's kayenta provider `thresholds`: a score >= pass is Successful, >= marginal Inconclusive."""

    pass_: float = Field(alias="pass", ge=0, le=100)
    marginal: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreThresholds:
        if self.marginal > self.pass_:
            raise ValueError(
                f"thresholds.marginal ({self.marginal:g}) must not be above thresholds.pass ({self.pass_:g})"
            )
        return self
