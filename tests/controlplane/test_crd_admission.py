"""What the real apiserver admits with canary's generated CRDs: every shipped example and template,
and which malformed files it rejects by schema. The rest of the invalid corpus is only wrong by
canary's semantics (lint's job, checked in tests/unit/api/test_lint_corpus.py and again here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from canarytier import GROUP, ROOT, VERSION
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from localcluster import LocalControlPlane

from canary.cli.main import main

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "analysis-templates").glob("*.yaml"))
INVALID = {p.stem: p for p in sorted((ROOT / "tests/data/invalid").glob("*.yaml"))}
PLURALS = {"Rollout": "rollouts", "AnalysisTemplate": "analysistemplates", "AnalysisRun": "analysisruns"}

# How the apiserver (fieldValidation=Strict, as kubectl sends) answers each malformed file.
SCHEMA_REJECTS = {  # 422 Invalid: the OpenAPI schema (types, ranges, required, patterns, enums)
    "analysis-without-templates": "should have at least 1 items",
    "missing-strategy": "spec.strategy: Required value",
    "negative-replicas": "spec.replicas",
    "restart-at-not-a-time": "must be of type date-time",
    "template-arg-bad-name": "spec.args[0].name in body should match",
    "template-bad-empty-result-policy": 'Unsupported value: "pass"',
    "template-no-metrics": "spec.metrics in body should have at least 1 items",
    "template-secret-without-key": "spec.args[0].valueFrom.secretKeyRef.key: Required value",
    "weight-negative": "should be greater than or equal to 0",
    "weight-not-integer": "must be of type integer",
    "weight-boolean": "must be of type integer",
    "replicas-beyond-int32": "spec.replicas",
    "blue-green-without-active-service": "spec.strategy.blueGreen.activeService: Required value",
    "canary-and-blue-green": "set exactly one of canary or blueGreen",
    "empty-strategy": "set exactly one of canary or blueGreen",
    "traefik-without-service-name": "spec.strategy.canary.trafficRouting.traefik.weightedTraefikServiceName: Required value",
    "webhook-unknown-type": 'Unsupported value: "pre-deploy"',
}
UNKNOWN_FIELDS = {  # 400 BadRequest: strict decoding refuses fields the schema does not declare
    "template-unknown-provider-field": 'unknown field "spec.metrics[0].provider.prometheus.qurey"',
    "template-kayenta-misspelt-nan-strategy": (
        'unknown field "spec.metrics[0].provider.judge.canaryConfig.metrics[0].analysisConfigurations.canary.nanStrategyy"'
    ),
    "unknown-canary-field": 'unknown field "spec.strategy.canary.canarySerivce"',
    "unknown-step-kind": 'unknown field "spec.strategy.canary.steps[0].setWieght"',
}
NOT_SERVED = {"argo-api-version", "unknown-kind"}  # 404: no such resource on this apiserver
NOT_AN_OBJECT = {"empty-file", "not-a-mapping", "yaml-syntax-error"}  # never leaves the client
SEMANTIC_ONLY = {  # the schema admits them; canary lint (and the controller's InvalidSpec) rejects them
    "webhook-duplicate-name",
    "webhook-gate-as-job",
    "webhook-load-test-without-canary-service",
    "webhook-url-without-scheme",
    "webhook-without-url",
    "analysis-step-arg-not-a-count",
    "template-both-limits-disabled",
    "template-dry-run-bad-pattern",
    "template-failure-limit-below-minus-one",  # the limits take "{{args.x}}" too, so the schema types them int-or-string
    "analysis-step-missing-template-arg",
    "template-judge-config-misspelt",
    "template-kayenta-weights-over-100",
    "template-kayenta-marginal-above-pass",  # each threshold's range is in the schema, their order is not
    "template-undeclared-arg",
    "duplicate-key",
    "template-address-without-scheme",
    "template-range-query-bad-start",
    "template-zero-timeout",
    "bad-max-surge",
    "blue-green-anti-affinity-both",
    "blue-green-preview-metadata-changes-selector",
    "blue-green-same-services",
    "bad-pause-duration",
    "empty-step",
    "ephemeral-hash-label",
    "ephemeral-label-changes-selector",
    "max-surge-and-unavailable-zero",
    "negative-pause-duration",
    "percent-over-100",
    "same-canary-and-stable-service",
    "selector-does-not-match",
    "set-canary-scale-two-fields",
    "set-canary-scale-without-router",
    "starting-step-past-end",
    "step-with-two-fields",
    "template-and-workload-ref",
    "template-bad-cel",
    "template-bad-interval",
    "template-count-without-interval",
    "template-counts-judge-without-totals",
    "template-datadog-formula-with-v1",
    "template-cloudwatch-bad-query-id",
    "template-influxql-without-database",
    "template-graphite-without-target",
    "template-judge-address-and-source",
    "template-expr-lambda-condition",
    "template-dry-run-unknown-metric",
    "template-duplicate-metric",
    "template-no-provider",
    "template-samples-judge-with-totals",
    "template-two-providers",
    "template-without-selector",
    "traffic-routing-without-services",
    "two-routers",
    "weight-above-100",  # a weight's maximum is maxTrafficWeight, which the schema cannot refer to
    "weight-above-max-traffic-weight",
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def dry_run_create(api: Any, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    """POST the document with dryRun=All and fieldValidation=Strict; ApiException if refused."""
    group, _, version = doc["apiVersion"].rpartition("/")
    plural = PLURALS.get(doc["kind"], doc["kind"].lower() + "s")
    body = dict(doc, metadata=dict(doc.get("metadata") or {}, namespace=namespace))
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        group, version, namespace, plural, body, dry_run="All", field_validation="Strict"
    )
    return created


def message(refusal: ApiException) -> str:
    return str(json.loads(refusal.body)["message"])


def first_refusal(api: Any, namespace: str, path: Path) -> ApiException | None:
    for doc in documents(path):
        try:
            dry_run_create(api, namespace, doc)
        except ApiException as refusal:
            return refusal
    return None


def test_the_generated_crds_are_established_and_structural(
    control_plane: LocalControlPlane, admin_api: Any, canary_installed: Path
) -> None:
    ext = client.ApiextensionsV1Api(admin_api)
    for plural in ("rollouts", "analysistemplates", "clusteranalysistemplates", "analysisruns"):
        crd = ext.read_custom_resource_definition(f"{plural}.{GROUP}")
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions.get("Established") == "True", plural
        assert conditions.get("NonStructuralSchema") is None, plural
        served = [v.name for v in crd.spec.versions if v.served]
        assert served == [VERSION], plural


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_apiserver_admits_every_example_and_template(
    admin_api: Any, canary_installed: Path, namespace: str, path: Path
) -> None:
    for doc in documents(path):
        created = dry_run_create(admin_api, namespace, doc)
        # Nothing was pruned: the schema describes every field the examples use.
        assert created["spec"] == doc["spec"]


def test_the_invalid_corpus_is_classified_completely() -> None:
    tables = [set(SCHEMA_REJECTS), set(UNKNOWN_FIELDS), NOT_SERVED, NOT_AN_OBJECT, SEMANTIC_ONLY]
    classified = set().union(*tables)
    assert sum(map(len, tables)) == len(classified), "a file is in two classes"
    assert classified == set(INVALID), "classify every file of tests/data/invalid here"


@pytest.mark.parametrize("stem", sorted(SCHEMA_REJECTS))
def test_the_schema_rejects(admin_api: Any, canary_installed: Path, namespace: str, stem: str) -> None:
    refusal = first_refusal(admin_api, namespace, INVALID[stem])
    assert refusal is not None, f"{stem} was admitted"
    assert refusal.status == 422
    assert SCHEMA_REJECTS[stem] in message(refusal)


@pytest.mark.parametrize("stem", sorted(UNKNOWN_FIELDS))
def test_strict_field_validation_rejects_unknown_fields(
    admin_api: Any, canary_installed: Path, namespace: str, stem: str
) -> None:
    refusal = first_refusal(admin_api, namespace, INVALID[stem])
    assert refusal is not None, f"{stem} was admitted"
    assert refusal.status == 400
    assert UNKNOWN_FIELDS[stem] in message(refusal)


@pytest.mark.parametrize("stem", sorted(NOT_SERVED))
def test_kinds_canary_does_not_serve_are_not_found(
    admin_api: Any, canary_installed: Path, namespace: str, stem: str
) -> None:
    refusal = first_refusal(admin_api, namespace, INVALID[stem])
    assert refusal is not None and refusal.status == 404


@pytest.mark.parametrize("stem", sorted(NOT_AN_OBJECT))
def test_files_that_hold_no_object_cannot_be_sent(stem: str) -> None:
    try:
        docs = documents(INVALID[stem])
    except yaml.YAMLError:
        return
    assert not any(isinstance(d, dict) and "apiVersion" in d for d in docs)


@pytest.mark.parametrize("stem", sorted(SEMANTIC_ONLY))
def test_semantic_errors_pass_the_schema_and_are_caught_by_lint(
    admin_api: Any, canary_installed: Path, namespace: str, stem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert first_refusal(admin_api, namespace, INVALID[stem]) is None
    assert main(["lint", str(INVALID[stem])]) == 1
    expected = INVALID[stem].read_text().splitlines()[0].removeprefix("# expect: ")
    assert expected in capsys.readouterr().out


def test_unknown_fields_are_pruned_when_not_validated_strictly(
    admin_api: Any, canary_installed: Path, namespace: str
) -> None:
    (rollout,) = documents(ROOT / "examples/basic-canary.yaml")
    rollout["metadata"] = {"name": "pruned"}
    rollout["spec"]["strategy"]["canary"]["canarySerivce"] = "typo"
    rollout["status"] = {"phase": "Healthy"}
    api = client.CustomObjectsApi(admin_api)
    api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "rollouts", rollout, field_validation="Ignore"
    )
    stored = api.get_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", "pruned")
    assert "canarySerivce" not in stored["spec"]["strategy"]["canary"]
    assert "status" not in stored  # status is written only through the status subresource
    assert stored["metadata"]["generation"] == 1
