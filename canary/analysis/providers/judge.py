"""The `judge` provider: canary against stable, judged statistically by canary.analysis.judges.

Each measurement queries both arms (same Prometheus, same instant) for *this interval's* data and
hands it to `judges.judge` together with the state the judge kept from the previous measurement
(`MetricResult.judgeState`), so a sequential test survives a controller restart. The judge's verdict
becomes the measurement's phase (pass: Successful, fail: Failed, inconclusive and nodata:
Inconclusive), its evidence the measurement's value (JSON). A metric with a `successCondition` or
`failureCondition` is judged by those conditions instead, over `result` = the evidence plus
`result.verdict`, so a template can set its own tolerance on the judge's estimate.

What the queries return, by judge kind:

- `sequential-counts`: `queries.<arm>` one number, the arm's events over the interval (e.g. 5xx
  responses), and `totals.<arm>` one number, the requests those events are a share of, e.g.
  `sum(increase(http_requests_total{code=~"5..", ...}[1m])) or vector(0)` and
  `sum(increase(http_requests_total{...}[1m]))`. `increase()` extrapolates to fractions; the counts
  are rounded to whole events and requests.
- the sample kinds (`mann-whitney`, `sequential-location`, `sequential-tail`): `queries.<arm>`
  samples, as a scalar, a vector (one sample per series, e.g. per pod) or a range vector (every
  sample of every series, merged oldest first).

An arm with no data is Inconclusive without asking the judge: nothing was measured (except for
mann-whitney with nan_strategy replace, which Kayenta judges as zeros). A config the
judge rejects (unknown key, bad value) is an InvalidSpecError before anything is queried.
Kind `kayenta` (a whole canary config) is measured by canary.analysis.providers.kayenta.
With `source` instead of `address`, the arm queries run on Datadog, New Relic, CloudWatch, InfluxDB
or Graphite (canary.analysis.providers.arms says what they return).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from canary.analysis import judges
from canary.analysis.args import SecretReader
from canary.analysis.providers import arms, kayenta, prometheus
from canary.analysis.providers.base import (
    InvalidSpecError,
    MeasureContext,
    MeasurementError,
    ProviderResult,
    Reading,
    Verdict,
)
from canary.api.analysis import (
    COUNT_JUDGES,
    KAYENTA_JUDGE,
    AnalysisPhase,
    ArmQueries,
    JudgeProvider,
    Metric,
    PrometheusProvider,
)

QueryFunction = Callable[[PrometheusProvider, str, float], list[Any]]
"""`(provider, promql, at) -> data.result` of an instant query; injectable for simulations."""


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

SUMMARY_KEYS = ("e_value", "p_value", "estimate", "ci_low", "ci_high")
"""The evidence a measurement's message shows (all of it is in the measurement's value)."""


def _query_prometheus(config: PrometheusProvider, promql: str, at: float) -> list[Any]:
    return prometheus.query(config, promql, at=at)


class JudgeMetricProvider:
    def __init__(
        self,
        judge: JudgeFunction = judges.judge,
        query: QueryFunction = _query_prometheus,
        read_secret: SecretReader = arms.no_secrets,
    ) -> None:
        self._judge = judge
        self._query = query
        self._read_secret = read_secret  # for a `source` whose keys are in a Secret

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.judge
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no judge provider")
        if config.kind == KAYENTA_JUDGE or config.queries is None:
            return kayenta.measure(metric, config, context, self._query)
        self._check_config(metric.name, config)
        results = self._ask("queries", config, config.queries, context)
        if config.totals is not None:
            results |= self._ask("totals", config, config.totals, context)
        empty = [name for name, result in results.items() if not result]
        if empty and not judges_empty_arms(config):
            return Verdict(
                AnalysisPhase.INCONCLUSIVE,
                f"no data from {' and '.join(empty)}; check the queries (a query counting events may "
                "need `or vector(0)` while a revision has had none)",
                judge_state=context.judge_state,
            )
        observation = observe(config.kind, results)
        outcome = self._judge(config.kind, config.config, observation, context.judge_state)
        if metric.success_condition or metric.failure_condition:
            # The metric's own conditions decide, over the verdict and the evidence, e.g.
            # `result.verdict != "fail" || result.estimate < 1.2` to tolerate a small regression.
            return Reading({"verdict": outcome.verdict, **outcome.evidence}, judge_state=outcome.state)
        return Verdict(
            VERDICT_PHASES[outcome.verdict],
            f"{config.kind}: {outcome.verdict}{summary(outcome.evidence)}",
            value=json.dumps(outcome.evidence, sort_keys=True),
            judge_state=outcome.state,
        )

    def _check_config(self, metric: str, config: JudgeProvider) -> None:
        try:
            judges.validate_config(config.kind, config.config)
        except judges.JudgeConfigError as error:
            raise InvalidSpecError(f"metric '{metric}' judge {config.kind}: config: {error}") from None

    def _ask(
        self, field: str, config: JudgeProvider, queries: ArmQueries, context: MeasureContext
    ) -> dict[str, list[Any]]:
        """Both arms' results keyed by the field that holds the query, e.g. `totals.canary`."""
        results = {}
        for arm, query in (("stable", queries.stable), ("canary", queries.canary)):
            if config.source is not None:
                results[f"{field}.{arm}"] = arms.arm_result(
                    config.kind, config.source, query, context, self._read_secret
                )
            else:
                assert config.address is not None
                arm_config = PrometheusProvider(address=config.address, query=query, timeout=config.timeout)
                results[f"{field}.{arm}"] = self._query(arm_config, query, context.now.timestamp())
        return results


def observe(kind: str, results: Mapping[str, list[Any]]) -> judges.ArmObservation:
    """The query results, keyed like `queries.stable`, as the judge of `kind` reads them."""
    if kind in COUNT_JUDGES:
        stable_events, stable_total = counts(results, "stable")
        canary_events, canary_total = counts(results, "canary")
        return judges.ArmObservation(
            stable_events=stable_events,
            stable_total=stable_total,
            canary_events=canary_events,
            canary_total=canary_total,
        )
    read = kayenta.samples_with_gaps if kind == "mann-whitney" else samples
    return judges.ArmObservation(
        stable=read(results["queries.stable"]), canary=read(results["queries.canary"])
    )


def judges_empty_arms(config: JudgeProvider) -> bool:
    """Whether the judge itself decides on an arm without data: Kayenta's classifier with NaN strategy
    replace judges it as zeros (mann-whitney); every other judge has nothing to judge."""
    return config.kind == "mann-whitney" and config.config.get("nan_strategy") == "replace"


def samples(result: list[Any]) -> tuple[float, ...]:
    """Every finite sample in a query result (scalar, vector or range vector), oldest first.

    The sequential judges read an interval's samples in arrival order (they judge it at several
    looks), so the samples of all series are merged by timestamp; equal timestamps keep the
    order of the series. Mann-whitney reads NaN too (:func:`kayenta.samples_with_gaps`), for its
    NaN strategy.
    """
    return tuple(n for n in kayenta.samples_with_gaps(result) if math.isfinite(n))


def counts(results: Mapping[str, list[Any]], arm: str) -> tuple[int, int]:
    """(events, total) of one arm, whole numbers, from its `queries` and `totals` results."""
    whole_events, whole_total = _count(results, f"queries.{arm}"), _count(results, f"totals.{arm}")
    if whole_events > whole_total:
        raise MeasurementError(
            f"queries.{arm} counted {whole_events} events but totals.{arm} only {whole_total} requests; "
            "the events must be a subset of the totals (same metric, same window)"
        )
    return whole_events, whole_total


def _count(results: Mapping[str, list[Any]], field: str) -> int:
    value = prometheus.value_of(results[field])
    if isinstance(value, list):
        raise MeasurementError(
            f"{field} returned {len(value)} series; a count judge needs one number: wrap it in sum(...)"
        )
    # increase() extrapolates to fractions (and a difference of two may be -1e-12): whole counts.
    if not isinstance(value, float | int) or not math.isfinite(value) or round(value) < 0:
        raise MeasurementError(f"{field} must return a finite count >= 0, got {value}")
    return round(value)


def summary(evidence: Mapping[str, float]) -> str:
    """The headline evidence, e.g. ` (e_value=25.1, p_value=0.0398, estimate=2.1, ...)`."""
    shown = [f"{key}={evidence[key]:.4g}" for key in SUMMARY_KEYS if key in evidence]
    return f" ({', '.join(shown)})" if shown else ""
