"""The kustomize installs as `kubectl apply -k` renders them: a namespaced default with no cluster-wide
grant, a cluster-wide variant that reads Secrets only by name, and in both a controller Deployment with
a CPU request, a PodDisruptionBudget, and args the controller accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEFAULT, CLUSTER_WIDE = ROOT / "manifests", ROOT / "manifests" / "cluster-wide"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")


def render(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], check=True, capture_output=True, text=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("install", [DEFAULT, CLUSTER_WIDE], ids=["default", "cluster-wide"])
def test_the_controller_has_a_cpu_request_a_disruption_budget_and_args_it_accepts(install: Path) -> None:
    docs = render(install)
    deployment = one(docs, "Deployment", "canary-controller")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"]
    budget = one(docs, "PodDisruptionBudget", "canary-controller")
    assert budget["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert 0 < budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    args = build_parser().parse_args(container["args"])
    assert args.secret_label == "canary.dev/analysis-secret=true"
    assert args.leader_elect


def test_the_default_install_is_namespaced_and_binds_nothing_cluster_wide() -> None:
    docs = render(DEFAULT)
    deployment = one(docs, "Deployment", "canary-controller")
    args = build_parser().parse_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert args.namespaced == ["default"]
    assert [d for d in docs if d["kind"] == "ClusterRoleBinding"] == []
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    managed = {b["metadata"]["namespace"] for b in bindings if b["roleRef"]["kind"] == "ClusterRole"}
    assert managed == {"default"}
    for binding in bindings:
        (subject,) = binding["subjects"]
        assert (subject["namespace"], subject["name"]) == ("canary-system", "canary-controller")


def test_the_cluster_wide_install_reads_secrets_only_by_name() -> None:
    docs = render(CLUSTER_WIDE)
    deployment = one(docs, "Deployment", "canary-controller")
    args = build_parser().parse_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert args.namespaced is None
    assert [
        d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] != "canary-system"
    ] == []
    bound = {d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    rules = [rule for d in docs if d["kind"] == "ClusterRole" for rule in d["rules"]]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"} == bound
    secret_rules = [rule for rule in rules if "secrets" in rule["resources"]]
    assert secret_rules and all(rule.get("resourceNames") for rule in secret_rules)
