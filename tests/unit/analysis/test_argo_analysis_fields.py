"""Argo's remaining analysis fields (issue #18): consecutiveSuccessLimit, arguments in numeric
fields, dryRun patterns and dryRunSummary, count 0, measurementRetention patterns, ttlStrategy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from canary.analysis import judges
from canary.analysis import run as executor
from canary.analysis.args import ArgumentError, build_run_spec
from canary.analysis.run import MeasurementOutcome
from canary.api.analysis import AnalysisPhase, AnalysisRun, AnalysisTemplate, Metric
from canary.api.rollout import Rollout, RolloutAnalysis

NOW = datetime(2024, 1, 1, tzinfo=UTC)
S, F, INC = AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE
RUNNING = AnalysisPhase.RUNNING
PROVIDER = {"prometheus": {"address": "http://prom", "query": "q"}}
ROLLOUT = Rollout.model_validate(
    {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"workloadRef": {"name": "web"}, "strategy": {"canary": {}}},
    }
)


def metric(name: str = "m", **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": PROVIDER, **fields}


def run_of(*metrics: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any) -> AnalysisRun:
    return AnalysisRun.model_validate(
        {
            "metadata": {"name": "run", "namespace": "shop", "labels": labels or {}},
            "spec": {"metrics": list(metrics) or [metric()], **spec},
        }
    )


def template(*metrics: dict[str, Any], args: list[dict[str, Any]] | None = None) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {"metadata": {"name": "t"}, "spec": {"args": args or [], "metrics": list(metrics)}}
    )


def build(tpl: AnalysisTemplate, args: list[dict[str, Any]] | None = None) -> list[Metric]:
    analysis = RolloutAnalysis.model_validate({"templates": [{"templateName": "t"}], "args": args or []})
    return build_run_spec([tpl], analysis, ROLLOUT, stable_hash="s", canary_hash="c").metrics


def refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as error:
        Metric.model_validate(metric(**fields))
    return str(error.value)


# --- 1. consecutiveSuccessLimit: the combinations Argo validates ----------------------------------


def test_failure_limit_and_consecutive_success_limit_cannot_both_be_disabled() -> None:
    message = refused(interval="1m", failureLimit=-1)
    assert "failureLimit -1 and consecutiveSuccessLimit 0 disable both" in message
    assert "set consecutiveSuccessLimit above 0" in message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"interval": "1m", "count": 3, "failureLimit": 1, "consecutiveSuccessLimit": 3},
            "count (3) must be >= failureLimit + consecutiveSuccessLimit (1 + 3)",
        ),
        (
            {"interval": "1m", "count": 2, "failureLimit": -1, "consecutiveSuccessLimit": 3},
            "count (2) must be >= consecutiveSuccessLimit (3)",
        ),
        (
            {"interval": "1m", "count": 2, "inconclusiveLimit": 3},
            "count (2) must be >= inconclusiveLimit (3)",
        ),
        ({"consecutiveSuccessLimit": -1}, "must be at least 0"),
    ],
)
def test_counts_that_cannot_reach_the_limits_are_refused(fields: dict[str, Any], expected: str) -> None:
    assert expected in refused(**fields)


def test_only_consecutive_success_limit_waits_for_successes_in_a_row() -> None:
    run = run_of(metric(interval="1m", failureLimit=-1, consecutiveSuccessLimit=2))
    now = NOW
    for phase in (F, S, F, F, S):
        step = executor.step(run, now, {"m": MeasurementOutcome(phase)})
        run, now = step.run, step.requeue_at or now
        assert run.status.phase == RUNNING
    done = executor.step(run, now, {"m": MeasurementOutcome(S)}).run
    assert done.status.phase == S
    result = done.status.metric_results[0]
    assert (result.failed, result.consecutive_success) == (3, 2)
    assert "consecutiveSuccessLimit (2)" in result.message


# --- 2. arguments in count, interval, initialDelay and the limits ---------------------------------

TEMPLATED = metric(
    count="{{args.count}}",
    interval="{{args.interval}}",
    initialDelay="{{ args.delay }}",
    failureLimit="{{args.failures}}",
    inconclusiveLimit="{{args.unsure}}",
    consecutiveErrorLimit="{{args.errors}}",
)
TEMPLATE_ARGS = [
    {"name": "count", "value": "5"},
    {"name": "interval", "value": "30s"},
    {"name": "delay", "value": "1m"},
    {"name": "failures", "value": "2"},
    {"name": "unsure", "value": "1"},
    {"name": "errors"},
]


def test_a_template_accepts_arguments_in_numeric_fields_and_the_run_gets_numbers() -> None:
    [resolved] = build(template(TEMPLATED, args=TEMPLATE_ARGS), [{"name": "errors", "value": "0"}])
    assert (resolved.count, resolved.interval, resolved.initial_delay) == (5, "30s", "1m")
    assert (resolved.failure_limit, resolved.inconclusive_limit, resolved.consecutive_error_limit) == (
        2,
        1,
        0,
    )
    assert resolved.templated_fields() == {}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"name": "count", "value": "five"},
            "count is '{{args.count}}', and argument 'count' is 'five', which is not a whole number of at least 0",
        ),
        (
            {"name": "count", "value": "-1"},
            "argument 'count' is '-1', which is not a whole number of at least 0",
        ),
        (
            {"name": "interval", "value": "soon"},
            "argument 'interval' is 'soon', which is not a duration such as 30s",
        ),
        (
            {"name": "failures", "value": "-2"},
            "failureLimit is '{{args.failures}}', and argument 'failures' is '-2', which is not a whole number "
            "of at least -1",
        ),
    ],
)
def test_an_argument_that_is_not_a_valid_number_names_the_field_the_argument_and_the_fix(
    given: dict[str, str], expected: str
) -> None:
    with pytest.raises(ArgumentError) as error:
        build(template(TEMPLATED, args=TEMPLATE_ARGS), [{"name": "errors", "value": "0"}, given])
    assert expected in str(error.value)
    assert "template 't'" in str(error.value)
    assert f"pass such a value for '{given['name']}' in the Rollout's analysis args" in str(error.value)


def test_resolved_numbers_that_contradict_each_other_are_an_error() -> None:
    tpl = template(metric(interval="1m", count="{{args.count}}", failureLimit=3), args=[{"name": "count"}])
    with pytest.raises(
        ArgumentError, match=r"count \(2\) must be >= failureLimit \+ consecutiveSuccessLimit"
    ):
        build(tpl, [{"name": "count", "value": "2"}])


def test_a_secret_argument_cannot_give_a_number() -> None:
    secret = {"name": "count", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    tpl = template(metric(interval="1m", count="{{args.count}}"), args=[secret])
    with pytest.raises(ArgumentError, match="argument 'count' has no literal value when the run is created"):
        build(tpl)


def test_an_undeclared_argument_in_a_numeric_field_is_named() -> None:
    with pytest.raises(ArgumentError, match=r"uses \{\{args.count\}\} but declares no argument 'count'"):
        build(template(metric(interval="1m", count="{{args.count}}")))


def test_a_numeric_field_with_other_text_is_refused_at_lint_time() -> None:
    assert "is not an integer" in refused(interval="1m", count="{{args.count}} times")
    assert "is not a duration" in refused(interval="every {{args.interval}}")


def test_a_run_created_by_hand_resolves_its_numbers_from_its_own_args() -> None:
    run = run_of(
        metric(interval="{{args.every}}", count="{{args.n}}"),
        args=[
            {"name": "every", "value": "2m"},
            {"name": "n", "value": "2"},
        ],
    )
    first = executor.step(run, NOW, {"m": MeasurementOutcome(S)})
    assert first.requeue_at == NOW + timedelta(minutes=2)
    assert executor.step(first.run, first.requeue_at, {"m": MeasurementOutcome(S)}).run.status.phase == S


def test_a_run_created_by_hand_whose_numbers_cannot_resolve_is_an_error() -> None:
    run = run_of(metric(interval="1m", count="{{args.n}}"), args=[{"name": "n", "value": "lots"}])
    after = executor.step(run, NOW)
    assert after.run.status.phase == AnalysisPhase.ERROR
    assert after.run.status.message.startswith("InvalidSpec: metric 'm': count is '{{args.n}}'")
    assert (after.due, after.requeue_at) == ((), None)


# --- 3. dryRun patterns, dryRunSummary and the run's message --------------------------------------


@pytest.mark.parametrize(
    ("pattern", "dry"),
    [
        (".*", {"errors-5xx", "errors-4xx", "latency"}),
        ("errors-.*", {"errors-5xx", "errors-4xx"}),
        ("4xx", {"errors-4xx"}),
    ],
)
def test_dry_run_entries_are_regular_expressions(pattern: str, dry: set[str]) -> None:
    run = run_of(
        metric("errors-5xx"), metric("errors-4xx"), metric("latency"), dryRun=[{"metricName": pattern}]
    )
    results = executor.step(run, NOW).run.status.metric_results
    assert {r.name for r in results if r.dry_run} == dry


def test_a_dry_run_pattern_that_matches_nothing_or_does_not_compile_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"dryRun metricName 'lat\.\*' names no metric"):
        run_of(metric("errors"), dryRun=[{"metricName": "lat.*"}])
    with pytest.raises(ValidationError, match="is not a regular expression"):
        run_of(metric("errors"), dryRun=[{"metricName": "(errors"}])


def test_the_dry_run_summary_and_message_report_the_dry_run_outcome() -> None:
    run = run_of(
        metric("total-5xx"), metric("total-4xx"), metric("decides"), dryRun=[{"metricName": "total-.*"}]
    )
    outcomes = {
        "total-5xx": MeasurementOutcome(S),
        "total-4xx": MeasurementOutcome(F, message="4xx above 10"),
        "decides": MeasurementOutcome(S),
    }
    status = executor.step(run, NOW, outcomes).run.status
    assert status.phase == S
    assert status.run_summary.model_dump() == {
        "count": 1,
        "successful": 1,
        "failed": 0,
        "inconclusive": 0,
        "error": 0,
    }
    assert status.dry_run_summary is not None
    assert status.dry_run_summary.model_dump() == {
        "count": 2,
        "successful": 1,
        "failed": 1,
        "inconclusive": 0,
        "error": 0,
    }
    assert status.message == (
        "dry-run (does not decide): metric 'total-5xx' Successful; "
        "metric 'total-4xx' Failed: failed (1) > failureLimit (0): 4xx above 10"
    )
    assert "dryRunSummary" in run.model_copy(update={"status": status}).to_wire()["status"]


def test_a_run_without_dry_run_metrics_has_no_dry_run_summary() -> None:
    status = executor.step(run_of(), NOW, {"m": MeasurementOutcome(S)}).run.status
    assert (status.dry_run_summary, status.message) == (None, "")


# --- 4. count 0 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["step", "pre", "post"])
def test_count_0_in_an_inline_analysis_is_not_measured_and_passes(kind: str) -> None:
    run = run_of(metric(interval="1m", count=0), labels={"canary.dev/analysis": kind})
    after = executor.step(run, NOW)
    assert (after.run.status.phase, after.due, after.requeue_at) == (S, (), None)
    [result] = after.run.status.metric_results
    assert (result.phase, result.measurements, result.count) == (S, [], 0)
    assert "not measured: count 0 in an inline analysis" in result.message


def test_count_0_beside_a_measured_metric_in_a_step_waits_only_for_the_other() -> None:
    run = run_of(metric("skip", count=0), metric("m"), labels={"canary.dev/analysis": "step"})
    first = executor.step(run, NOW)
    assert [d.metric.name for d in first.due] == ["m"]
    assert executor.step(first.run, NOW, {"m": MeasurementOutcome(S)}).run.status.phase == S


@pytest.mark.parametrize("labels", [{"canary.dev/analysis": "background"}, {}])
def test_count_0_in_a_background_analysis_measures_until_terminated(labels: dict[str, str]) -> None:
    run = run_of(metric(interval="1m", count=0), labels=labels)
    now = NOW
    for _ in range(20):
        step = executor.step(run, now, {"m": MeasurementOutcome(S)})
        run, now = step.run, step.requeue_at or now
    assert (run.status.phase, run.status.metric_results[0].count) == (RUNNING, 20)
    terminated = run.model_copy(update={"spec": run.spec.model_copy(update={"terminate": True})})
    assert executor.step(terminated, now).run.status.phase == S


# --- 6. measurementRetention patterns and ttlStrategy ---------------------------------------------


def test_measurement_retention_entries_are_regular_expressions_and_the_last_match_wins() -> None:
    retention = [{"metricName": "test.*", "limit": 3}, {"metricName": ".*-b", "limit": 2}]
    run = run_of(
        metric("test-a", interval="1m"), metric("test-b", interval="1m"), measurementRetention=retention
    )
    now = NOW
    for _ in range(5):
        step = executor.step(run, now, {"test-a": MeasurementOutcome(S), "test-b": MeasurementOutcome(S)})
        run, now = step.run, step.requeue_at or now
    assert [len(r.measurements) for r in run.status.metric_results] == [3, 2]


@pytest.mark.parametrize(
    ("ttl", "phase", "seconds"),
    [
        ({"secondsAfterCompletion": 60}, S, 60),
        ({"secondsAfterCompletion": 60, "secondsAfterSuccess": 10}, S, 10),
        ({"secondsAfterCompletion": 60, "secondsAfterSuccess": 10}, F, 60),
        ({"secondsAfterCompletion": 60, "secondsAfterFailure": 5}, F, 5),
        ({"secondsAfterFailure": 5}, INC, None),  # Inconclusive takes secondsAfterCompletion only
        ({"secondsAfterSuccess": 0}, S, 0),
    ],
)
def test_ttl_strategy_picks_the_phase_s_own_field_then_seconds_after_completion(
    ttl: dict[str, int], phase: AnalysisPhase, seconds: int | None
) -> None:
    done = executor.step(run_of(ttlStrategy=ttl), NOW, {"m": MeasurementOutcome(phase)}).run
    assert done.status.completed_at == NOW
    expected = None if seconds is None else NOW + timedelta(seconds=seconds)
    assert executor.expires_at(done) == expected


def test_a_run_without_ttl_strategy_or_still_running_never_expires() -> None:
    assert executor.expires_at(executor.step(run_of(), NOW, {"m": MeasurementOutcome(S)}).run) is None
    running = executor.step(run_of(metric(interval="1m"), ttlStrategy={"secondsAfterCompletion": 1}), NOW).run
    assert executor.expires_at(running) is None


def test_a_negative_ttl_is_refused() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        run_of(ttlStrategy={"secondsAfterFailure": -1})


# --- 7. judge config keys -------------------------------------------------------------------------


def test_an_unknown_mann_whitney_key_is_refused_as_unknown_naming_the_allowed_keys() -> None:
    with pytest.raises(judges.JudgeConfigError) as error:
        judges.validate_config("mann-whitney", {"critical": True})
    message = str(error.value)
    assert message.startswith("unknown config key 'critical' for kind 'mann-whitney'; allowed keys: [")
    assert "'tolerance'" in message and "'must_have_data'" in message
    assert "must be a number" not in message


@pytest.mark.parametrize("kind", ["sequential-counts", "sequential-location", "sequential-tail"])
def test_an_unknown_key_of_any_judge_is_refused_before_its_value_is_checked(kind: str) -> None:
    with pytest.raises(judges.JudgeConfigError, match=f"unknown config key 'critical' for kind '{kind}'"):
        judges.validate_config(kind, {"critical": "yes"})


def test_must_have_data_must_be_a_boolean() -> None:
    with pytest.raises(judges.JudgeConfigError, match="must_have_data must be true or false, got 'yes'"):
        judges.validate_config("mann-whitney", {"must_have_data": "yes"})


def test_lint_accepts_arguments_in_numeric_fields(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from canary.cli.main import main

    path = tmp_path / "templated.yaml"
    path.write_text(
        """
apiVersion: canary.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args:
    - {name: checks, value: "5"}
    - {name: every, value: 30s}
    - {name: tolerated}
  metrics:
    - name: success
      count: "{{args.checks}}"
      interval: "{{args.every}}"
      failureLimit: "{{args.tolerated}}"
      successCondition: result == true
      provider: {web: {url: "http://health.example/ready"}}
---
apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: "nginx:1"}]}}
  strategy:
    canary:
      steps:
        - analysis:
            templates: [{templateName: success-rate}]
            args: [{name: tolerated, value: "1"}]
"""
    )
    assert main(["lint", str(path)]) == 0, capsys.readouterr().out


def test_the_embedded_analysis_controller_deletes_a_run_once_its_ttl_runs_out() -> None:
    from canary.analysis.providers.base import MeasureContext, ProviderResult, Verdict
    from canary.cluster.memory import MemoryCluster
    from canary.engine.clock import ManualClock

    class Fails:
        def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
            return Verdict(F)

    clock = ManualClock(NOW)
    cluster = MemoryCluster(clock)
    cluster.providers = {"prometheus": Fails()}
    cluster.create(run_of(ttlStrategy={"secondsAfterFailure": 30, "secondsAfterCompletion": 300}))
    cluster.advance_analysis_runs()
    [run] = cluster.list_analysis_runs("shop")
    assert (run.status.phase, run.status.completed_at) == (F, NOW)
    clock.advance(29)
    cluster.advance_analysis_runs()
    assert len(cluster.list_analysis_runs("shop")) == 1
    assert cluster.next_due() == NOW + timedelta(seconds=30)
    clock.advance(1)
    cluster.advance_analysis_runs()
    assert cluster.list_analysis_runs("shop") == []
