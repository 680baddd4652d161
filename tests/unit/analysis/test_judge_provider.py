"""The `judge` provider: what its spec must hold, how it reads both arms' query results, and how the
runner records a judge whose config is wrong. Prometheus is a function of the query text here; the
real server is in tests/integration/test_judge_provider.py and test_sequential_templates.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from canary.analysis import runner
from canary.analysis.providers.base import InvalidSpecError, MeasureContext, MeasurementError, Verdict
from canary.analysis.providers.judge import JudgeMetricProvider, counts, observe, samples
from canary.api.analysis import AnalysisPhase, AnalysisRun, JudgeProvider, Metric, PrometheusProvider

NOW = datetime(2024, 1, 1, tzinfo=UTC)
ARMS = {"stable": "events{arm='s'}", "canary": "events{arm='c'}"}
TOTALS = {"stable": "total{arm='s'}", "canary": "total{arm='c'}"}


def series(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1704067200.0, value]}


def judge_spec(kind: str = "sequential-counts", **fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": kind, "address": "http://prom", "queries": ARMS}
    if kind == "sequential-counts":
        spec["totals"] = TOTALS
    return spec | fields


def metric(**fields: Any) -> Metric:
    return Metric.model_validate({"name": "errors", "provider": {"judge": judge_spec(**fields)}})


class Answers:
    """Prometheus as a table from query text to `data.result` (a test double of the query function)."""

    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, config: PrometheusProvider, promql: str, at: float) -> list[Any]:
        self.asked.append(promql)
        return self.answers.get(promql, [])


def counted(stable: tuple[str, str], canary: tuple[str, str]) -> Answers:
    return Answers(
        {
            ARMS["stable"]: [series(stable[0])],
            TOTALS["stable"]: [series(stable[1])],
            ARMS["canary"]: [series(canary[0])],
            TOTALS["canary"]: [series(canary[1])],
        }
    )


def context(judge_state: dict[str, Any] | None = None) -> MeasureContext:
    return MeasureContext(run_name="run", namespace="shop", now=NOW, index=0, judge_state=judge_state)


# The spec


def test_a_counts_judge_without_totals_is_rejected_naming_the_field_and_the_fix() -> None:
    spec = judge_spec()
    del spec["totals"]
    with pytest.raises(ValidationError, match=r"needs totals: set totals\.stable and totals\.canary"):
        JudgeProvider.model_validate(spec)


@pytest.mark.parametrize("kind", ["mann-whitney", "sequential-location", "sequential-tail"])
def test_a_sample_judge_with_totals_is_rejected(kind: str) -> None:
    with pytest.raises(ValidationError, match="no use for totals; remove totals"):
        JudgeProvider.model_validate(judge_spec(kind, totals=TOTALS))


def test_totals_round_trip_through_the_wire_form() -> None:
    provider = JudgeProvider.model_validate(judge_spec())
    assert JudgeProvider.model_validate(provider.to_wire()) == provider
    assert provider.to_wire()["totals"] == TOTALS


# Reading query results


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([1.0, "2"], (2.0,)),
        ([series("1"), series("NaN"), series("3")], (1.0, 3.0)),
        ([{"metric": {}, "values": [[1.0, "1"], [2.0, "2"]]}], (1.0, 2.0)),
        ([], ()),
    ],
)
def test_judge_samples_take_every_finite_sample(result: list[Any], expected: tuple[float, ...]) -> None:
    assert samples(result) == expected


def test_judge_samples_of_several_series_come_oldest_first() -> None:
    pod_a = {"metric": {"pod": "a"}, "values": [[10.0, "1"], [30.0, "3"]]}
    pod_b = {"metric": {"pod": "b"}, "values": [[20.0, "2"], [40.0, "4"]]}
    assert samples([pod_a, pod_b]) == (1.0, 2.0, 3.0, 4.0)


def test_counts_are_the_events_query_and_the_totals_query_rounded() -> None:
    results = {"queries.stable": [series("2.9")], "totals.stable": [series("600.4")]}
    assert counts(results, "stable") == (3, 600)


def test_a_scalar_count_is_read_too() -> None:
    assert counts({"queries.canary": [1.0, "0"], "totals.canary": [1.0, "10"]}, "canary") == (0, 10)


@pytest.mark.parametrize(
    ("events", "total", "message"),
    [
        (
            [series("1", pod="a"), series("2", pod="b")],
            [series("9")],
            "queries.canary returned 2 series.*sum",
        ),
        ([series("1")], [series("NaN")], "totals.canary must return a finite count"),
        ([series("-1")], [series("9")], "queries.canary must return a finite count >= 0"),
        ([series("10")], [series("9")], "counted 10 events but totals.canary only 9"),
    ],
)
def test_counts_that_cannot_be_events_of_requests_are_errors_naming_the_query(
    events: list[Any], total: list[Any], message: str
) -> None:
    with pytest.raises(MeasurementError, match=message):
        counts({"queries.canary": events, "totals.canary": total}, "canary")


def test_a_counts_judge_observes_counts_and_the_others_samples() -> None:
    results = {
        "queries.stable": [series("3")],
        "totals.stable": [series("600")],
        "queries.canary": [series("15")],
        "totals.canary": [series("600")],
    }
    by_counts = observe("sequential-counts", results)
    assert (by_counts.stable_events, by_counts.stable_total) == (3, 600)
    assert (by_counts.canary_events, by_counts.canary_total) == (15, 600)
    by_samples = observe(
        "mann-whitney", {"queries.stable": [series("1"), series("2")], "queries.canary": [series("3")]}
    )
    assert (tuple(by_samples.stable), tuple(by_samples.canary)) == ((1.0, 2.0), (3.0,))


# Measuring


def test_a_counts_measurement_asks_all_four_queries_and_keeps_the_judge_state() -> None:
    prometheus = counted(("3", "600"), ("4", "600"))
    verdict = JudgeMetricProvider(query=prometheus).measure(metric(), context())
    assert isinstance(verdict, Verdict)
    assert sorted(prometheus.asked) == sorted([*ARMS.values(), *TOTALS.values()])
    assert verdict.phase == AnalysisPhase.SUCCESSFUL
    assert verdict.judge_state is not None
    assert verdict.judge_state["errors_canary"] == 4


def test_the_message_shows_the_e_value_and_p_value_and_the_value_holds_all_evidence() -> None:
    verdict = JudgeMetricProvider(query=counted(("3", "600"), ("60", "600"))).measure(metric(), context())
    assert isinstance(verdict, Verdict)
    assert verdict.phase == AnalysisPhase.FAILED
    assert verdict.message.startswith("sequential-counts: fail (e_value=")
    assert "p_value=" in verdict.message
    assert {"e_value", "p_value", "estimate", "n_canary"} <= set(json.loads(verdict.value or "{}"))


def test_the_state_of_the_previous_measurement_is_carried_on() -> None:
    provider = JudgeMetricProvider(query=counted(("3", "600"), ("3", "600")))
    first = provider.measure(metric(), context())
    assert isinstance(first, Verdict)
    second = provider.measure(metric(), context(first.judge_state))
    assert isinstance(second, Verdict)
    assert second.judge_state is not None
    assert second.judge_state["requests_canary"] == 1200


def test_an_arm_without_data_is_inconclusive_and_names_the_query_field() -> None:
    prometheus = counted(("3", "600"), ("4", "600"))
    del prometheus.answers[ARMS["canary"]]
    verdict = JudgeMetricProvider(query=prometheus).measure(metric(), context({"kept": 1}))
    assert isinstance(verdict, Verdict)
    assert verdict.phase == AnalysisPhase.INCONCLUSIVE
    assert "no data from queries.canary" in verdict.message
    assert "or vector(0)" in verdict.message
    assert verdict.judge_state == {"kept": 1}


def test_a_misspelt_config_key_is_an_invalid_spec_naming_the_allowed_keys_before_any_query() -> None:
    prometheus = counted(("3", "600"), ("4", "600"))
    with pytest.raises(InvalidSpecError, match=r"unknown config key 'alpah'.*allowed keys: \['alpha'"):
        JudgeMetricProvider(query=prometheus).measure(metric(config={"alpah": 0.01}), context())
    assert prometheus.asked == []


def test_the_runner_ends_a_metric_with_a_bad_judge_config_as_invalid_spec() -> None:
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "run", "namespace": "shop"},
            "spec": {
                "metrics": [
                    {
                        "name": "errors",
                        "interval": "1m",
                        "count": 10,
                        "provider": {"judge": judge_spec(config={"alpah": 0.01})},
                    }
                ]
            },
        }
    )
    providers = {"judge": JudgeMetricProvider(query=counted(("3", "600"), ("4", "600")))}
    result = runner.advance(run, now=NOW, providers=providers, read_secret=lambda *_: "")
    metric_result = result.run.status.metric_results[0]
    assert metric_result.phase == AnalysisPhase.ERROR
    assert metric_result.message.startswith("InvalidSpec: metric 'errors' judge sequential-counts: config:")
    assert result.run.status.phase == AnalysisPhase.ERROR


def test_success_condition_judges_the_evidence_instead_of_the_verdict() -> None:
    # The counts judge fails a 20x error ratio; this metric tolerates anything under 50x.
    lenient = metric(config={}).model_copy(update={"success_condition": "result.estimate < 50.0"})
    run = AnalysisRun.model_validate(
        {"metadata": {"name": "run", "namespace": "shop"}, "spec": {"metrics": [lenient.to_wire()]}}
    )
    provider = JudgeMetricProvider(query=counted(("3", "600"), ("60", "600")))
    advanced = runner.advance(run, now=NOW, providers={"judge": provider}, read_secret=lambda *_: "")
    result = advanced.run.status.metric_results[0]
    assert result.measurements[-1].phase == AnalysisPhase.SUCCESSFUL
    assert '"verdict": "fail"' in (result.measurements[-1].value or "")
    assert result.judge_state is not None and result.judge_state["errors_canary"] == 60
