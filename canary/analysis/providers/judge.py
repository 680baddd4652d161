"""The `judge` provider: canary against stable, judged statistically by canary.analysis.judges.

Each measurement queries both arms (`queries.stable`, `queries.canary`, same Prometheus, same
instant) for *this interval's* data and hands it to `judges.judge` together with the state the judge
kept from the previous measurement (`MetricResult.judgeState`), so a sequential test survives a
controller restart. The judge's verdict becomes the measurement's phase (pass: Successful, fail:
Failed, inconclusive and nodata: Inconclusive), its evidence the measurement's value (JSON).

What each arm's query returns, by judge kind:

- `sequential-counts`: two series told apart by a `count` label, `count="events"` (e.g. errors)
  and `count="total"` (requests) over the interval, e.g.
  `label_replace(sum(increase(http_requests_total{code=~"5..", ...}[1m])), "count", "events", "", "")
  or label_replace(sum(increase(http_requests_total{...}[1m])), "count", "total", "", "")`;
- the sample kinds (`mann-whitney`, `sequential-location`, `sequential-tail`): samples, as a scalar,
  a vector (one sample per series) or a range vector (every sample of every series).

An arm with no data is Inconclusive without asking the judge: nothing was measured.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Protocol

from canary.analysis import judges
from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Verdict
from canary.analysis.providers.prometheus import query
from canary.api.analysis import AnalysisPhase, JudgeProvider, Metric, PrometheusProvider

COUNT_LABEL = "count"
COUNT_KINDS = frozenset({"sequential-counts"})


class JudgeFunction(Protocol):
    """The shape of `canary.analysis.judges.judge`, injectable for simulations."""

    def __call__(
        self,
        kind: str,
        config: Mapping[str, Any],
        observation: judges.ArmObservation,
        state: Mapping[str, Any] | None = None,
    ) -> judges.JudgeResult: ...


VERDICT_PHASES: Mapping[str, AnalysisPhase] = {
    "pass": AnalysisPhase.SUCCESSFUL,
    "fail": AnalysisPhase.FAILED,
    "inconclusive": AnalysisPhase.INCONCLUSIVE,
    "nodata": AnalysisPhase.INCONCLUSIVE,
}


class JudgeMetricProvider:
    def __init__(self, judge: JudgeFunction = judges.judge) -> None:
        self._judge = judge

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.judge
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no judge provider")
        at = context.now.timestamp()
        stable = query(_arm(config, config.queries.stable), config.queries.stable, at=at)
        canary = query(_arm(config, config.queries.canary), config.queries.canary, at=at)
        empty = [arm for arm, result in (("stable", stable), ("canary", canary)) if not result]
        if empty:
            return Verdict(
                AnalysisPhase.INCONCLUSIVE,
                f"no data for the {' and '.join(empty)} arm; check queries.{empty[0]}",
                judge_state=context.judge_state,
            )
        observation = observe(config.kind, stable, canary)
        try:
            outcome = self._judge(config.kind, config.config, observation, context.judge_state)
        except judges.JudgeConfigError as error:
            raise MeasurementError(f"judge {config.kind}: config: {error}") from None
        return Verdict(
            VERDICT_PHASES[outcome.verdict],
            f"{config.kind}: {outcome.verdict}{_summary(outcome.evidence)}",
            value=json.dumps(outcome.evidence, sort_keys=True),
            judge_state=outcome.state,
        )


def _arm(config: JudgeProvider, promql: str) -> PrometheusProvider:
    return PrometheusProvider(address=config.address, query=promql, timeout=config.timeout)


def observe(kind: str, stable: list[Any], canary: list[Any]) -> judges.ArmObservation:
    """Both arms' query results as the judge of `kind` reads them (see the module docstring)."""
    if kind in COUNT_KINDS:
        stable_events, stable_total = counts(stable, "stable")
        canary_events, canary_total = counts(canary, "canary")
        return judges.ArmObservation(
            stable_events=stable_events,
            stable_total=stable_total,
            canary_events=canary_events,
            canary_total=canary_total,
        )
    return judges.ArmObservation(stable=samples(stable), canary=samples(canary))


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


def counts(result: list[Any], arm: str) -> tuple[int, int]:
    """(events, total) from the two series labelled count="events" and count="total"."""
    found: dict[str, float] = {}
    for series in result:
        label = series.get("metric", {}).get(COUNT_LABEL) if isinstance(series, dict) else None
        if label in ("events", "total") and "value" in series:
            found[label] = float(series["value"][1])
    if set(found) != {"events", "total"} or not all(math.isfinite(v) and v >= 0 for v in found.values()):
        raise MeasurementError(
            f'the {arm} query must return two finite series labelled {COUNT_LABEL}="events" and '
            f'{COUNT_LABEL}="total" (use label_replace); got {sorted(found) or "none"}'
        )
    # increase() extrapolates to fractions; the counts test needs whole events and requests.
    return round(found["events"]), round(found["total"])


def _summary(evidence: Mapping[str, float]) -> str:
    shown = [
        f"{key}={evidence[key]:.4g}"
        for key in ("p_value", "estimate", "ci_low", "ci_high")
        if key in evidence
    ]
    return f" ({', '.join(shown)})" if shown else ""
