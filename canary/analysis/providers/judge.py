"""The `judge` provider: canary against stable, judged statistically by canary.analysis.judges.

Each measurement queries both arms (`queries.stable`, `queries.canary`, same Prometheus, same
instant) and hands their samples to a judge together with the state the judge kept from the previous
measurement (`MetricResult.judgeState`), so a sequential test survives a controller restart. The
judge's verdict becomes the measurement's phase, its evidence the measurement's value.

A query may return a scalar, a vector (one sample per series) or a range vector (every sample of
every series). An arm with no samples is Inconclusive without asking the judge: nothing was measured.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Verdict
from canary.analysis.providers.prometheus import query
from canary.api.analysis import AnalysisPhase, JudgeProvider, Metric, PrometheusProvider


@dataclass(frozen=True)
class ArmSamples:
    """One observation for a judge: the samples each arm produced at this measurement."""

    stable: tuple[float, ...]
    canary: tuple[float, ...]


class JudgeOutcome(Protocol):
    @property
    def verdict(self) -> str: ...
    @property
    def evidence(self) -> Mapping[str, Any]: ...
    @property
    def state(self) -> dict[str, Any] | None: ...


class JudgeFunction(Protocol):
    """canary.analysis.judges' entry point: `judge(kind, config, observation, state)`."""

    def __call__(
        self, kind: str, config: Mapping[str, Any], observation: ArmSamples, state: dict[str, Any] | None
    ) -> JudgeOutcome: ...


VERDICT_PHASES: Mapping[str, AnalysisPhase] = {
    "pass": AnalysisPhase.SUCCESSFUL,
    # A sequential test that has not decided yet has seen no regression so far.
    "continue": AnalysisPhase.SUCCESSFUL,
    "marginal": AnalysisPhase.INCONCLUSIVE,
    "inconclusive": AnalysisPhase.INCONCLUSIVE,
    "nodata": AnalysisPhase.INCONCLUSIVE,
    "fail": AnalysisPhase.FAILED,
}
"""A judge's verdict (case-insensitive) as a measurement phase; any other verdict is an Error."""


class JudgeMetricProvider:
    def __init__(self, judge: JudgeFunction) -> None:
        self._judge = judge

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.judge
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no judge provider")
        at = context.now.timestamp()
        observation = ArmSamples(
            stable=samples(query(_arm(config, config.queries.stable), config.queries.stable, at=at)),
            canary=samples(query(_arm(config, config.queries.canary), config.queries.canary, at=at)),
        )
        empty = [arm for arm in ("stable", "canary") if not getattr(observation, arm)]
        if empty:
            return Verdict(
                AnalysisPhase.INCONCLUSIVE,
                f"no samples for the {' and '.join(empty)} arm; check queries.{empty[0]}",
                judge_state=context.judge_state,
            )
        outcome = self._judge(config.kind, config.config, observation, context.judge_state)
        phase = VERDICT_PHASES.get(outcome.verdict.lower())
        if phase is None:
            raise MeasurementError(f"judge {config.kind} gave an unknown verdict '{outcome.verdict}'")
        return Verdict(
            phase,
            f"{config.kind}: {outcome.verdict}",
            value=json.dumps(dict(outcome.evidence), sort_keys=True, default=str),
            judge_state=outcome.state,
        )


def _arm(config: JudgeProvider, promql: str) -> PrometheusProvider:
    return PrometheusProvider(address=config.address, query=promql, timeout=config.timeout)


def samples(result: list[Any]) -> tuple[float, ...]:
    """Every finite sample in a query result (scalar, vector or range vector)."""
    if result and not isinstance(result[0], dict):
        raw: list[Any] = [result]
    else:
        raw = [s["value"] for s in result if "value" in s] + [v for s in result for v in s.get("values", [])]
    try:
        numbers = [float(text) for _, text in raw]
    except (TypeError, ValueError):
        raise MeasurementError("a judge query returned samples that are not numbers") from None
    return tuple(n for n in numbers if math.isfinite(n))
