"""The judge provider's kind `kayenta`: a Kayenta canary config in an AnalysisTemplate, and its mistakes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from canary.api.analysis import AnalysisTemplate, JudgeProvider


def _metric(name: str = "errors", groups: list[str] | None = None, **canary: Any) -> dict[str, Any]:
    return {
        "name": name,
        "query": {"stable": "s", "canary": "c"},
        "groups": ["errors"] if groups is None else groups,
        "analysisConfigurations": {"canary": canary},
    }


def _judge(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "kayenta",
        "address": "http://prometheus:9090",
        "canaryConfig": {"metrics": [_metric()]},
        "thresholds": {"pass": 75, "marginal": 50},
        **fields,
    }


def _error(judge: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as error:
        JudgeProvider.model_validate(judge)
    return str(error.value)


def test_kayenta_canary_config_reads_kayentas_field_names() -> None:
    canary = {
        "direction": "increase",
        "nanStrategy": "replace",
        "critical": True,
        "mustHaveData": True,
        "effectSize": {"allowedIncrease": 1.1, "criticalIncrease": 2.0},
        "outliers": {"strategy": "remove", "outlierFactor": 2.5},
    }
    judge = JudgeProvider.model_validate(_judge(canaryConfig={"metrics": [_metric(**canary)]}))
    assert judge.canary_config is not None and judge.thresholds is not None
    parsed = judge.canary_config.metrics[0].analysis_configurations.canary
    assert (parsed.critical, parsed.effect_size.critical_increase, parsed.outliers.outlier_factor) == (
        True,
        2.0,
        2.5,
    )
    assert (judge.thresholds.pass_, judge.thresholds.marginal) == (75, 50)


def test_a_kayenta_template_round_trips_to_the_same_wire_form() -> None:
    wire = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "kayenta"},
        "spec": {"metrics": [{"name": "canary-score", "provider": {"judge": _judge()}}]},
    }
    judge = AnalysisTemplate.model_validate(wire).to_wire()["spec"]["metrics"][0]["provider"]["judge"]
    assert judge["thresholds"] == {"pass": 75.0, "marginal": 50.0}
    assert judge["canaryConfig"]["metrics"][0]["groups"] == ["errors"]


def test_kayenta_without_thresholds_names_both_fields() -> None:
    judge = _judge()
    del judge["thresholds"]
    assert "judge kind kayenta needs canaryConfig" in _error(judge)


def test_kayenta_refuses_queries_and_config_of_the_single_metric_kinds() -> None:
    assert "remove queries, config" in _error(
        _judge(queries={"stable": "s", "canary": "c"}, config={"tolerance": 0.1})
    )


def test_canary_config_on_another_kind_points_to_kind_kayenta() -> None:
    assert "belong to kind kayenta" in _error(
        _judge(kind="mann-whitney", queries={"stable": "s", "canary": "c"})
    )


def test_a_metric_without_a_group_is_refused() -> None:
    assert "groups" in _error(_judge(canaryConfig={"metrics": [_metric(groups=[])]}))


def test_group_weights_over_100_are_refused() -> None:
    config = {"metrics": [_metric()], "classifier": {"groupWeights": {"errors": 120}}}
    assert "add up to 120, more than 100" in _error(_judge(canaryConfig=config))


def test_a_weight_for_a_group_no_metric_is_in_is_refused() -> None:
    config = {"metrics": [_metric()], "classifier": {"groupWeights": {"latency": 30}}}
    assert "names latency, which no metric is in" in _error(_judge(canaryConfig=config))


def test_weights_that_leave_the_score_below_100_are_refused() -> None:
    config = {"metrics": [_metric()], "classifier": {"groupWeights": {"errors": 60}}}
    assert "could never reach 100" in _error(_judge(canaryConfig=config))


def test_marginal_above_pass_is_refused() -> None:
    assert "thresholds.marginal (80) must not be above thresholds.pass (70)" in _error(
        _judge(thresholds={"pass": 70, "marginal": 80})
    )


def test_an_unknown_analysis_configuration_key_is_refused() -> None:
    assert "nanStrategyy" in _error(_judge(canaryConfig={"metrics": [_metric(nanStrategyy="replace")]}))


def test_repeated_metric_names_are_refused() -> None:
    config = {"metrics": [_metric(), _metric()]}
    assert "repeated: errors" in _error(_judge(canaryConfig=config))
