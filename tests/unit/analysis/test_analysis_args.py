"""Arguments: from a Rollout's analysis step into the run, and from the run into queries."""

from __future__ import annotations

from typing import Any

import pytest

from canary.analysis.args import (
    MASK,
    ArgumentError,
    ResolvedArgs,
    SecretUnavailableError,
    build_run_spec,
    mask,
    resolve_metric,
    resolve_values,
    substitute,
)
from canary.api.analysis import AnalysisTemplate, Argument, Metric
from canary.api.rollout import Rollout, RolloutAnalysis

ROLLOUT = Rollout.model_validate(
    {
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web-app"}},
        "spec": {"workloadRef": {"name": "web"}, "strategy": {"canary": {}}},
    }
)
PROVIDER = {"prometheus": {"address": "http://prom", "query": "rate(x{svc='{{args.service}}'}[1m])"}}


def template(name: str = "t", args: list[dict[str, Any]] | None = None, **spec: Any) -> AnalysisTemplate:
    metrics = spec.pop("metrics", [{"name": f"{name}-m", "provider": PROVIDER}])
    return AnalysisTemplate.model_validate(
        {"metadata": {"name": name}, "spec": {"args": args or [], "metrics": metrics, **spec}}
    )


def analysis(args: list[dict[str, Any]] | None = None, **fields: Any) -> RolloutAnalysis:
    return RolloutAnalysis.model_validate(
        {"templates": [{"templateName": "t"}], "args": args or [], **fields}
    )


def run_args(*templates: AnalysisTemplate, given: RolloutAnalysis | None = None) -> dict[str, Argument]:
    spec = build_run_spec(templates, given or analysis(), ROLLOUT, stable_hash="s1", canary_hash="c2")
    return {a.name: a for a in spec.args}


def secrets(namespace: str, name: str, key: str) -> str:
    stored = {("shop", "prom", "token"): "s3cr3t-token", ("shop", "svc", "name"): "checkout"}
    if (namespace, name, key) not in stored:
        raise KeyError(key)
    return stored[(namespace, name, key)]


@pytest.mark.parametrize(
    ("declared", "given", "value"),
    [
        ({"name": "service", "value": "default-svc"}, [], "default-svc"),
        ({"name": "service", "value": "default-svc"}, [{"name": "service", "value": "cart"}], "cart"),
        ({"name": "service"}, [{"name": "service", "value": "cart"}], "cart"),
        ({"name": "service"}, [{"name": "service", "valueFrom": {"podTemplateHashValue": "Stable"}}], "s1"),
        ({"name": "service"}, [{"name": "service", "valueFrom": {"podTemplateHashValue": "Latest"}}], "c2"),
        (
            {"name": "service"},
            [{"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
            "web-app",
        ),
        ({"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, [], "web"),
    ],
)
def test_an_argument_takes_the_rollouts_value_then_the_templates(
    declared: dict[str, Any], given: list[dict[str, Any]], value: str
) -> None:
    assert run_args(template(args=[declared]), given=analysis(given))["service"].value == value


@pytest.mark.parametrize(
    ("name", "value"),
    [("stable-hash", "s1"), ("canary-hash", "c2"), ("rollout-name", "web"), ("namespace", "shop")],
)
def test_every_run_gets_the_built_in_arguments(name: str, value: str) -> None:
    assert run_args(template(args=[{"name": "service", "value": "x"}]))[name].value == value


def test_a_declared_built_in_is_filled_by_canary() -> None:
    assert (
        run_args(template(args=[{"name": "service", "value": "x"}, {"name": "canary-hash"}]))[
            "canary-hash"
        ].value
        == "c2"
    )


def test_a_secret_argument_stays_a_reference_in_the_run() -> None:
    declared = {"name": "service", "valueFrom": {"secretKeyRef": {"name": "svc", "key": "name"}}}
    argument = run_args(template(args=[declared]))["service"]
    assert argument.value is None
    assert argument.value_from is not None
    assert argument.value_from.secret_key_ref is not None


def test_a_missing_required_argument_names_the_argument_and_the_template() -> None:
    with pytest.raises(ArgumentError, match=r"template 't' requires argument 'service'.*analysis args"):
        run_args(template(args=[{"name": "service"}]))


def test_a_reference_to_an_undeclared_argument_is_an_error() -> None:
    with pytest.raises(ArgumentError, match=r"\{\{args.service\}\} but declares no argument 'service'"):
        run_args(template())


def test_a_field_ref_to_nothing_is_an_error_naming_the_argument() -> None:
    declared = {"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['nope']"}}}
    with pytest.raises(ArgumentError, match="argument 'service': fieldRef"):
        run_args(template(args=[declared]))


def test_templates_combine_metrics_dry_run_and_retention() -> None:
    first = template("a", [{"name": "service", "value": "x"}], dryRun=[{"metricName": "a-m"}])
    second = template(
        "b", [{"name": "service", "value": "x"}], measurementRetention=[{"metricName": "b-m", "limit": 2}]
    )
    spec = build_run_spec(
        [first, second], analysis(dryRun=[{"metricName": "b-m"}]), ROLLOUT, stable_hash="s", canary_hash="c"
    )
    assert [m.name for m in spec.metrics] == ["a-m", "b-m"]
    assert sorted(d.metric_name for d in spec.dry_run) == ["a-m", "b-m"]
    assert [(r.metric_name, r.limit) for r in spec.measurement_retention] == [("b-m", 2)]


def test_templates_that_disagree_on_an_argument_are_an_error() -> None:
    first, second = (
        template("a", [{"name": "service", "value": "x"}]),
        template("b", [{"name": "service", "value": "y"}]),
    )
    with pytest.raises(ArgumentError, match="declared by templates 'a' and 'b'"):
        build_run_spec([first, second], analysis(), ROLLOUT, stable_hash="s", canary_hash="c")


def test_templates_with_the_same_metric_name_are_an_error() -> None:
    same = template("a", [{"name": "service", "value": "x"}])
    with pytest.raises(ArgumentError, match="unique"):
        build_run_spec([same, same], analysis(), ROLLOUT, stable_hash="s", canary_hash="c")


def test_secret_arguments_are_read_and_remembered_as_secret() -> None:
    declared = [
        Argument(name="plain", value="p"),
        Argument.model_validate(
            {"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "token"}}}
        ),
    ]
    resolved = resolve_values(declared, "shop", secrets)
    assert resolved.values == {"plain": "p", "token": "s3cr3t-token"}
    assert (resolved.secret_names, resolved.secrets) == (frozenset({"token"}), frozenset({"s3cr3t-token"}))


def test_a_missing_secret_is_a_secret_unavailable_error_naming_it() -> None:
    declared = [
        Argument.model_validate({"name": "t", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}})
    ]
    with pytest.raises(SecretUnavailableError, match="key 'k' of Secret 'gone' in namespace 'shop'"):
        resolve_values(declared, "shop", secrets)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{args.a}}", "1"),
        ("x{{ args.a }}y{{args.b-c}}", "x1y2"),
        ("no args", "no args"),
        ("{{args.a}}{{args.a}}", "11"),
    ],
)
def test_substitution_replaces_every_reference(text: str, expected: str) -> None:
    assert substitute(text, {"a": "1", "b-c": "2"}) == expected


def test_substituting_an_unknown_argument_names_it() -> None:
    with pytest.raises(ArgumentError, match=r"\{\{args.zz\}\}"):
        substitute("{{args.zz}}", {"a": "1"})


def test_resolving_a_metric_substitutes_provider_and_conditions_and_reads_header_secrets() -> None:
    metric = Metric.model_validate(
        {
            "name": "m",
            "successCondition": "result < {{args.max}}",
            "provider": {
                "web": {
                    "url": "http://{{args.host}}/q",
                    "headers": [
                        {
                            "key": "Authorization",
                            "valueFrom": {"secretKeyRef": {"name": "prom", "key": "token"}},
                        }
                    ],
                    "body": '{"svc": "{{args.host}}"}',
                }
            },
        }
    )
    resolved, held = resolve_metric(
        metric, ResolvedArgs({"host": "h", "max": "0.5"}, frozenset()), "shop", secrets
    )
    assert resolved.success_condition == "result < 0.5"
    web = resolved.provider.web
    assert web is not None
    assert (web.url, web.body) == ("http://h/q", '{"svc": "h"}')
    assert [(h.key, h.value) for h in web.headers] == [("Authorization", "s3cr3t-token")]
    assert held == frozenset({"s3cr3t-token"})


def test_a_metric_broken_by_its_arguments_is_an_argument_error() -> None:
    metric = Metric.model_validate(
        {"name": "m", "successCondition": "result < {{args.max}}", "provider": PROVIDER}
    )
    with pytest.raises(ArgumentError, match="invalid once its arguments are substituted"):
        resolve_metric(metric, ResolvedArgs({"max": "(", "service": "s"}, frozenset()), "shop", secrets)


def test_masking_hides_every_secret_value() -> None:
    assert mask("token=abc and abcdef", frozenset({"abc", "abcdef"})) == f"token={MASK} and {MASK}"


def test_masking_hides_the_fragments_an_error_message_may_quote() -> None:
    assert mask('unexpected identifier "s3cr3t" in s3cr3t-token', frozenset({"s3cr3t-token"})) == (
        f'unexpected identifier "{MASK}" in {MASK}'
    )


def test_masking_hides_a_secret_spelled_percent_encoded_in_a_url() -> None:
    message = "Max retries exceeded with url: /pa%20ss%20w0rd?t=pa+ss+w0rd"
    assert mask(message, frozenset({"pa ss w0rd"})) == f"Max retries exceeded with url: /{MASK}?t={MASK}"


def test_a_condition_may_not_use_a_secret_argument() -> None:
    metric = Metric.model_validate(
        {"name": "m", "successCondition": "result < {{args.t}}", "provider": PROVIDER}
    )
    with pytest.raises(ArgumentError, match="conditions cannot use secret argument 't'"):
        resolve_metric(metric, ResolvedArgs({"t": "1", "service": "s"}, frozenset({"t"})), "shop", secrets)
