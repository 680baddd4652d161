"""The two charts, rendered by the real `helm` (built from its Go module, scripts/build-helm.sh):
charts/canary (the controller) renders the same objects as `kubectl kustomize manifests/` and
`manifests/cluster-wide/` once Helm's own labels are set aside, so the two installs cannot drift; its
values are validated by values.schema.json; and examples/helm (an application) renders Rollouts and
AnalysisTemplates that canary's models and `canary lint` accept."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helmtool import APP_CHART, CONTROLLER_CHART, ROOT, Helm, set_args

from canary.api import crd
from canary.cli.main import build_parser, main

HELM_LABELS = {
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/part-of",
}
HELM_ANNOTATIONS = {"helm.sh/resource-policy"}
CANARY_KINDS = {"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"}

Key = tuple[str, str, str]


def kustomize(path: Path) -> list[dict[str, Any]]:
    """As tests/unit/test_manifests.py renders the kustomize installs."""
    out = subprocess.run(["kubectl", "kustomize", str(path)], check=True, capture_output=True, text=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _without(mapping: dict[str, Any], key: str, drop: set[str]) -> None:
    inner = mapping.get(key)
    if isinstance(inner, dict):
        for name in drop & inner.keys():
            del inner[name]
        if not inner:
            del mapping[key]


def normalised(docs: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Objects by (kind, namespace, name) with Helm's labels and annotations taken out (metadata,
    selectors, the pod template). The Namespace is left out: Helm does not template its release's
    namespace (`helm install --create-namespace` makes it), kustomize lists it."""
    out: dict[Key, dict[str, Any]] = {}
    for doc in copy.deepcopy(docs):
        if doc["kind"] == "Namespace":
            continue
        _without(doc["metadata"], "labels", HELM_LABELS)
        _without(doc["metadata"], "annotations", HELM_ANNOTATIONS)
        spec = doc.get("spec") or {}
        if doc["kind"] == "Service":
            _without(spec, "selector", HELM_LABELS)
        if isinstance(spec.get("selector"), dict):
            _without(spec["selector"], "matchLabels", HELM_LABELS)
        if "template" in spec and doc["kind"] == "Deployment":
            _without(spec["template"]["metadata"], "labels", HELM_LABELS)
        meta = doc["metadata"]
        out[(doc["kind"], meta.get("namespace", ""), meta["name"])] = doc
    return out


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def controller_args(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = by_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


# --------------------------------------------------------------------------------------------------
# helm lint


@pytest.mark.parametrize(
    ("chart", "values"),
    [
        (CONTROLLER_CHART, {}),
        (CONTROLLER_CHART, {"scope": "cluster-wide", "replicas": 1, "metrics.serviceMonitor.enabled": True}),
        (APP_CHART, {}),
        (APP_CHART, {"image.tag": "1.1.0", "analysis.templates": ["success-rate", "error-rate-sequential"]}),
    ],
    ids=["controller", "controller-cluster-wide", "app", "app-two-templates"],
)
def test_helm_lint_strict_passes(helm: Helm, chart: Path, values: dict[str, Any]) -> None:
    done = helm("lint", "--strict", str(chart), *set_args(values))
    assert "0 chart(s) failed" in done.stdout


# --------------------------------------------------------------------------------------------------
# the controller chart and manifests/ cannot drift


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")
@pytest.mark.parametrize(
    ("source", "values"),
    [(ROOT / "manifests", {}), (ROOT / "manifests" / "cluster-wide", {"scope": "cluster-wide"})],
    ids=["default", "cluster-wide"],
)
def test_the_chart_renders_the_same_objects_as_kustomize(
    helm: Helm, source: Path, values: dict[str, Any]
) -> None:
    chart = normalised(helm.template("canary", CONTROLLER_CHART, "-n", "canary-system", *set_args(values)))
    manifests = normalised(kustomize(source))
    assert sorted(chart) == sorted(manifests), "the two installs render different objects"
    for key in manifests:
        assert chart[key] == manifests[key], f"{key} differs between the chart and {source}"


def test_the_chart_labels_what_it_makes_as_helm_does(helm: Helm) -> None:
    for doc in helm.template("canary", CONTROLLER_CHART, "-n", "canary-system"):
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm", doc["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == "canary"


# --------------------------------------------------------------------------------------------------
# the controller chart's options


def test_the_chart_crds_are_manifests_crds_byte_for_byte() -> None:
    """`canary crds` writes both (tests/unit/api/test_crds.py ties manifests/crds/ to the models)."""
    names = sorted(crd.render_crds())
    chart = CONTROLLER_CHART / "files" / "crds"
    assert sorted(p.name for p in chart.glob("*.yaml")) == names
    for name in names:
        assert (chart / name).read_text() == (ROOT / "manifests" / "crds" / name).read_text(), (
            f"{name}: run `canary crds` (it writes manifests/crds/ and the chart's copy) and commit both"
        )


def test_crds_are_kept_on_uninstall_unless_told_otherwise(helm: Helm) -> None:
    def crds(**values: Any) -> list[dict[str, Any]]:
        return by_kind(
            helm.template("canary", CONTROLLER_CHART, *set_args(values)), "CustomResourceDefinition"
        )

    kept = crds()
    assert {d["metadata"]["name"] for d in kept} == {
        f"{plural}.canary.dev"
        for plural in ("rollouts", "analysistemplates", "clusteranalysistemplates", "analysisruns")
    }
    assert all(d["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"} for d in kept)
    assert all("annotations" not in d["metadata"] for d in crds(**{"crds.keep": False}))
    assert crds(**{"crds.install": False}) == []


def test_one_replica_runs_without_leader_election_or_a_disruption_budget(helm: Helm) -> None:
    docs = helm.template("canary", CONTROLLER_CHART, "-n", "ops", *set_args({"replicas": 1}))
    args = build_parser().parse_args(controller_args(docs))
    assert not args.leader_elect
    assert by_kind(docs, "PodDisruptionBudget") == []
    (role,) = by_kind(docs, "Role")  # notifications' ConfigMaps only
    assert [r["resources"] for r in role["rules"]] == [["configmaps"], ["secrets"]]
    quiet = helm.template(
        "canary", CONTROLLER_CHART, *set_args({"replicas": 1, "notifications.enabled": False})
    )
    assert (
        by_kind(quiet, "Role") == []
        and by_kind(quiet, "RoleBinding")[0]["metadata"]["namespace"] == "default"
    )
    assert build_parser().parse_args(controller_args(quiet)).no_notifications

    docs = helm.template("canary", CONTROLLER_CHART, "-n", "ops", *set_args({"replicas": 3}))
    args = build_parser().parse_args(controller_args(docs))
    assert args.leader_elect and args.lease_name == "canary-controller"
    (budget,) = by_kind(docs, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    (role,) = by_kind(docs, "Role")
    assert role["metadata"]["namespace"] == "ops" and role["rules"][0]["resources"] == ["leases"]
    assert {"configmaps", "secrets"} <= {r for rule in role["rules"] for r in rule["resources"]}

    always = helm.template(
        "canary", CONTROLLER_CHART, *set_args({"replicas": 1, "leaderElection.mode": "always"})
    )
    assert "--leader-elect" in controller_args(always)
    refused = helm(
        "template", "canary", str(CONTROLLER_CHART), "--set", "leaderElection.mode=never", check=False
    )
    assert refused.returncode != 0 and "replicas: 1" in refused.stderr


def test_a_namespaced_install_is_bound_only_in_the_namespaces_it_manages(helm: Helm) -> None:
    docs = helm.template(
        "shop-canary", CONTROLLER_CHART, "-n", "ops", *set_args({"namespaces": ["shop", "payments"]})
    )
    args = build_parser().parse_args(controller_args(docs))
    assert args.namespaced == ["shop,payments"]
    assert by_kind(docs, "ClusterRoleBinding") == []
    bindings = {
        (b["metadata"]["namespace"], b["roleRef"]["name"])
        for b in by_kind(docs, "RoleBinding")
        if b["roleRef"]["kind"] == "ClusterRole"
    }
    roles = {"shop-canary-controller", "shop-canary-controller-analysis-secrets"}
    assert bindings == {(ns, role) for ns in ("shop", "payments") for role in roles}
    for binding in by_kind(docs, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "shop-canary-controller", "namespace": "ops"}
        ]


def test_instance_id_secret_label_and_extra_args_reach_the_controller(helm: Helm) -> None:
    values = {
        "instanceId": "blue",
        "secretLabel": "team.example/analysis=yes",
        "extraArgs": ["--log-level=debug", "--resync-seconds=60"],
        "workers": 4,
    }
    docs = helm.template("canary", CONTROLLER_CHART, *set_args(values))
    args = build_parser().parse_args(controller_args(docs))
    assert (args.instance_id, args.secret_label, args.log_level, args.resync_seconds, args.workers) == (
        "blue",
        "team.example/analysis=yes",
        "debug",
        60.0,
        4,
    )
    empty = helm.template("canary", CONTROLLER_CHART, *set_args({"secretLabel": ""}))
    assert build_parser().parse_args(controller_args(empty)).secret_label is None


def test_the_service_monitor_scrapes_the_metrics_service(helm: Helm) -> None:
    assert by_kind(helm.template("canary", CONTROLLER_CHART), "ServiceMonitor") == []
    docs = helm.template(
        "canary",
        CONTROLLER_CHART,
        "-n",
        "ops",
        *set_args(
            {"metrics.serviceMonitor.enabled": True, "metrics.serviceMonitor.labels": {"release": "prom"}}
        ),
    )
    (monitor,) = by_kind(docs, "ServiceMonitor")
    (service,) = by_kind(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"scope": "everywhere"}, "/scope"),
        ({"replicaCount": 2}, "replicaCount"),
        ({"replicas": 0}, "/replicas"),
        ({"scope": "cluster-wide", "clusterWide.secretNames": []}, "/clusterWide/secretNames"),
        ({"secretLabel": "no-equals-sign"}, "/secretLabel"),
        ({"namespaces": ["Not_A_Namespace"]}, "/namespaces/0"),
        ({"crds.keep": "yes"}, "/crds/keep"),
        ({"extraArgs": ["oops"]}, "/extraArgs/0"),
    ],
)
def test_the_values_schema_refuses_what_would_not_work(helm: Helm, values: dict[str, Any], says: str) -> None:
    done = helm("template", "canary", str(CONTROLLER_CHART), *set_args(values), check=False)
    assert done.returncode != 0 and says in done.stderr, done.stderr


# --------------------------------------------------------------------------------------------------
# the application chart


def lint_canary_objects(docs: list[dict[str, Any]], tmp_path: Path) -> int:
    """`canary lint` on the Rollouts and AnalysisTemplates of a render (the Services are not its kind)."""
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] in CANARY_KINDS]))
    return main(["lint", str(path)])


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"image.tag": "1.1.0", "analysis.interval": "5s", "analysis.count": 2},
        {
            "analysis.templates": ["success-rate", "latency-p99", "error-rate-sequential"],
            "analysis.args": {
                "prometheus-address": "http://prometheus.monitoring:9090",
                "min-success-rate": "0.995",
            },
        },
    ],
    ids=["defaults", "new-tag-quick-analysis", "three-templates"],
)
def test_the_app_chart_renders_what_canary_accepts(
    helm: Helm, values: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = helm.template("shop", APP_CHART, "-n", "shop", *set_args(values))
    assert lint_canary_objects(docs, tmp_path) == 0, capsys.readouterr().out
    (rollout,) = by_kind(docs, "Rollout")
    (container,) = rollout["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/example/checkout:{values.get('image.tag', '1.0.0')}"
    canary = rollout["spec"]["strategy"]["canary"]
    services = {d["metadata"]["name"] for d in by_kind(docs, "Service")}
    assert {canary["canaryService"], canary["stableService"]} <= services
    (step,) = [s["analysis"] for s in canary["steps"] if "analysis" in s]
    templates = {t["metadata"]["name"]: t for t in by_kind(docs, "AnalysisTemplate")}
    assert [t["templateName"] for t in step["templates"]] == sorted(
        templates,
        key=[f"shop-checkout-{n}" for n in values.get("analysis.templates", ["success-rate"])].index,
    )
    assert {"name": "service", "value": "shop-checkout"} in step["args"]
    for name, template in templates.items():
        (original,) = yaml.safe_load_all(
            (ROOT / "analysis-templates" / f"{name.removeprefix('shop-checkout-')}.yaml").read_text()
        )
        for metric, ours in zip(original["spec"]["metrics"], template["spec"]["metrics"], strict=True):
            metric["interval"] = values.get("analysis.interval", metric["interval"])
            metric["count"] = values.get("analysis.count", metric["count"])
            assert ours == metric
        assert template["spec"]["args"] == original["spec"]["args"]


def test_the_app_chart_carries_the_analysis_templates_verbatim() -> None:
    copies = sorted((APP_CHART / "analysis-templates").glob("*.yaml"))
    assert copies
    for copied in copies:
        assert copied.read_text() == (ROOT / "analysis-templates" / copied.name).read_text(), copied.name


def test_an_unknown_analysis_template_is_refused_with_its_name(helm: Helm) -> None:
    done = helm("template", "shop", str(APP_CHART), "--set", "analysis.templates={nope}", check=False)
    assert done.returncode != 0 and "nope is not one of this chart's analysis-templates/" in done.stderr


def test_canary_lint_of_examples_skips_the_chart_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(ROOT / "examples")]) == 0
    out, err = capsys.readouterr()
    assert f"{APP_CHART}: skipped, a Helm chart" in err
    assert "invalid" in out and " 0 invalid" in out


def _leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        if (
            isinstance(value, dict)
            and value
            and key not in ("resources", "podSecurityContext", "securityContext")
        ):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def test_every_value_of_the_controller_chart_is_documented_in_its_readme() -> None:
    readme = (CONTROLLER_CHART / "README.md").read_text()
    values = yaml.safe_load((CONTROLLER_CHART / "values.yaml").read_text())
    assert [key for key in _leaves(values) if f"| `{key}` |" not in readme] == []
