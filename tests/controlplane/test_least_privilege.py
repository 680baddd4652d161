"""Least privilege on the real control plane: each kustomize install, rendered by `kubectl kustomize`
and applied as a cluster admin would, grants its ServiceAccount exactly what docs/install.md lists
(the apiserver's SelfSubjectRulesReview, i.e. `kubectl auth can-i --list`), cannot read a Secret in
kube-system, the apiserver accepts its Deployment and PodDisruptionBudget, and with exactly the default
(namespaced) install's RBAC and args the controller runs a release end to end, reading its analysis
argument from a labelled Secret.

Each install is applied under a fresh controller namespace and suffixed ClusterRole names, so its
ServiceAccount holds nothing but what that install grants (the session's other tests use
`canary-system/canary-controller` with the cluster-wide RBAC)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from canarytier import (
    DATA,
    ROOT,
    ControllerProcess,
    analysis_runs,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    release,
    routing_for,
    status_of,
)
from health import HealthEndpoint
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from localcluster import LocalControlPlane

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")

DOCS = ROOT / "docs" / "install.md"
SECRET_LABEL = {"canary.dev/analysis-secret": "true"}

Rule = tuple[str, str, str, tuple[str, ...]]  # (API group, resource, verb, resourceNames)


@dataclass(frozen=True)
class Install:
    controller_namespace: str
    kubeconfig: Path
    args: list[str]
    """The controller Deployment's args, `--namespaced` pointed at the test's namespace."""
    docs: list[dict[str, Any]]


def _render(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], check=True, capture_output=True, text=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _isolated(
    docs: list[dict[str, Any]], controller_ns: str, managed_ns: str, suffix: str
) -> list[dict[str, Any]]:
    """The install with canary-system -> `controller_ns`, namespace default -> `managed_ns`, and
    ClusterRole(Binding) names suffixed; CRDs left out (the session installed them)."""
    out = []
    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        if kind == "CustomResourceDefinition":
            continue
        if kind == "Namespace":
            meta["name"] = controller_ns
        if meta.get("namespace") == "canary-system":
            meta["namespace"] = controller_ns
        elif meta.get("namespace") == "default":
            meta["namespace"] = managed_ns
        if kind in ("ClusterRole", "ClusterRoleBinding"):
            meta["name"] += suffix
        if doc.get("roleRef", {}).get("kind") == "ClusterRole":
            doc["roleRef"]["name"] += suffix
        for subject in doc.get("subjects") or []:
            subject["namespace"] = controller_ns
        if kind == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["args"] = [
                f"--namespaced={managed_ns}" if a.startswith("--namespaced=") else a
                for a in container["args"]
            ]
        out.append(doc)
    return out


@pytest.fixture
def installed(
    request: pytest.FixtureRequest, control_plane: LocalControlPlane, canary_installed: Path, namespace: str
) -> Iterator[Install]:
    """`request.param`: "default" (manifests/) or "cluster-wide" (manifests/cluster-wide/)."""
    suffix = f"-{uuid.uuid4().hex[:6]}"
    controller_ns = f"canary-system{suffix}"
    source = ROOT / "manifests" if request.param == "default" else ROOT / "manifests" / "cluster-wide"
    docs = _isolated(_render(source), controller_ns, namespace, suffix)
    applied = control_plane.apply_manifests(docs)  # the Deployment and PDB too: the apiserver accepts them
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    try:
        yield Install(
            controller_ns,
            control_plane.kubeconfig_for_service_account(controller_ns, "canary-controller", create=False),
            deployment["spec"]["template"]["spec"]["containers"][0]["args"],
            applied,
        )
    finally:
        rbac = client.RbacAuthorizationV1Api(control_plane.api_client())
        for doc in docs:
            if doc["kind"] == "ClusterRole":
                rbac.delete_cluster_role(doc["metadata"]["name"])
            elif doc["kind"] == "ClusterRoleBinding":
                rbac.delete_cluster_role_binding(doc["metadata"]["name"])
        control_plane.core_v1().delete_namespace(controller_ns)


# --------------------------------------------------------------------------------------------------
# what docs/install.md says


def documented() -> dict[str, set[Rule]]:
    """Every table of docs/install.md's "Exactly what each install grants", by its heading."""
    text = DOCS.read_text().split("## Exactly what each install grants", 1)[1]
    tables: dict[str, set[Rule]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("### "):
            heading = line[4:].strip()
            tables[heading] = set()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 3 or cells[0] in ("API group", "---"):
            continue
        group = "" if cells[0] == "core" else cells[0]
        named = re.match(r"(\w+) \(resourceNames: ([\w, -]+)\)", cells[1])
        names = tuple(sorted(n.strip() for n in named.group(2).split(","))) if named else ()
        resources = [named.group(1)] if named else [r.strip() for r in cells[1].split(",")]
        tables[heading] |= {(group, r, v.strip(), names) for r in resources for v in cells[2].split(",")}
    return tables


def test_the_docs_list_both_installs() -> None:
    tables = documented()
    assert len(tables["Default install, in each managed namespace"]) > 20
    assert tables["Default install, in `canary-system`"] == {
        ("coordination.k8s.io", "leases", v, ()) for v in ("get", "create", "update")
    } | {("", "configmaps", v, ()) for v in ("get", "create", "patch")} | {
        ("", "secrets", "get", ("canary-notification-secret",))
    }
    assert (
        tables["Default install, in any other namespace (kube-system included) and cluster-scoped"] == set()
    )


# --------------------------------------------------------------------------------------------------
# what the apiserver grants


def _api(kubeconfig: Path) -> Any:
    return config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]


def rules(api: Any, namespace: str) -> set[Rule]:
    """`kubectl auth can-i --list -n namespace` as `api`'s user."""
    review = client.AuthorizationV1Api(api).create_self_subject_rules_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        }
    )
    assert not review.status.incomplete, review.status.evaluation_error
    return {
        (group, resource, verb, tuple(sorted(rule.resource_names or [])))
        for rule in review.status.resource_rules
        for group in rule.api_groups or [""]
        for resource in rule.resources or []
        for verb in rule.verbs
    }


@pytest.fixture
def baseline(control_plane: LocalControlPlane, namespace: str) -> set[Rule]:
    """What any ServiceAccount may do with no binding of its own (self-reviews, discovery, cluster
    trust bundles, ...): not part of what an install grants."""
    nobody = control_plane.kubeconfig_for_service_account(namespace, f"nobody-{uuid.uuid4().hex[:6]}")
    return rules(_api(nobody), namespace)


def _secret(
    api: Any, namespace: str, name: str, data: dict[str, str], labels: dict[str, str] | None = None
) -> None:
    body = {
        "metadata": {"name": name, "labels": labels or {}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    client.CoreV1Api(api).create_namespaced_secret(namespace, body)


def _forbidden(call: Any) -> bool:
    try:
        call()
    except ApiException as error:
        return error.status == 403
    return False


@pytest.mark.parametrize("installed", ["default"], indirect=True)
def test_the_namespaced_install_grants_exactly_what_the_docs_say(
    installed: Install, namespace: str, admin_api: Any, baseline: set[Rule]
) -> None:
    def granted(api: Any, namespace: str) -> set[Rule]:
        return rules(api, namespace) - baseline

    tables = documented()
    sa = _api(installed.kubeconfig)
    managed = tables["Default install, in each managed namespace"]
    eventually(
        "the RoleBindings to take effect",
        lambda: granted(sa, namespace) == managed or None,
        timeout=15,
        explain=lambda: f"granted {sorted(granted(sa, namespace) ^ managed)} differ",
    )
    assert granted(sa, installed.controller_namespace) == tables["Default install, in `canary-system`"]
    assert granted(sa, "kube-system") == set()
    assert granted(sa, "default") == set()

    name = f"not-for-canary-{uuid.uuid4().hex[:6]}"
    _secret(admin_api, "kube-system", name, {"token": "x"})
    try:
        assert _forbidden(lambda: client.CoreV1Api(sa).read_namespaced_secret(name, "kube-system"))
    finally:
        client.CoreV1Api(admin_api).delete_namespaced_secret(name, "kube-system")
    assert _forbidden(lambda: client.AppsV1Api(sa).list_replica_set_for_all_namespaces())
    assert _forbidden(lambda: client.CoreV1Api(sa).delete_collection_namespaced_pod("kube-system"))
    assert not _forbidden(lambda: client.AppsV1Api(sa).list_namespaced_replica_set(namespace))
    applied = {(d["kind"], d["metadata"]["name"]) for d in installed.docs}
    assert {("Deployment", "canary-controller"), ("PodDisruptionBudget", "canary-controller")} <= applied


@pytest.mark.parametrize("installed", ["cluster-wide"], indirect=True)
def test_the_cluster_wide_install_grants_exactly_what_the_docs_say(
    installed: Install, namespace: str, admin_api: Any, baseline: set[Rule]
) -> None:
    def granted(api: Any, namespace: str) -> set[Rule]:
        return rules(api, namespace) - baseline

    tables = documented()
    rows = tables["Cluster-wide install, in every namespace"]
    expected = {
        rule for rule in tables["Default install, in each managed namespace"] if rule[1] != "secrets"
    } | rows
    assert any(rule[1] == "secrets" and rule[3] for rule in rows), "Secrets only by name"
    sa = _api(installed.kubeconfig)
    eventually(
        "the ClusterRoleBindings to take effect",
        lambda: granted(sa, namespace) == expected or None,
        timeout=15,
        explain=lambda: f"granted {sorted(granted(sa, namespace) ^ expected)} differ",
    )
    assert granted(sa, "kube-system") == expected
    leases = tables["Default install, in `canary-system`"]
    assert granted(sa, installed.controller_namespace) == expected | leases

    name = f"not-for-canary-{uuid.uuid4().hex[:6]}"
    _secret(admin_api, "kube-system", name, {"token": "x"})
    try:
        assert _forbidden(lambda: client.CoreV1Api(sa).read_namespaced_secret(name, "kube-system"))
    finally:
        client.CoreV1Api(admin_api).delete_namespaced_secret(name, "kube-system")


NAME = "search"


@pytest.mark.parametrize("installed", ["default"], indirect=True)
def test_a_release_runs_end_to_end_with_exactly_the_namespaced_install(
    installed: Install,
    namespace: str,
    admin_api: Any,
    control_plane: LocalControlPlane,
    health_endpoint: HealthEndpoint,
) -> None:
    """test_rollout_end_to_end's healthy release, with the default install's RBAC and args (its
    --namespaced pointed here, its --secret-label kept) and the analysis URL read from a Secret."""
    check = f"good-{namespace}"
    (template,) = yaml.safe_load_all((DATA / "web-analysis-template.yaml").read_text())
    template["metadata"]["name"] = "web-health-secret"
    template["spec"]["args"] = [
        {"name": "url", "valueFrom": {"secretKeyRef": {"name": "canary-analysis", "key": "url"}}}
    ]
    control_plane.apply_manifests([*routing_for(NAME), template], namespace=namespace)
    _secret(admin_api, namespace, "canary-analysis", {"url": health_endpoint.url(check)}, SECRET_LABEL)
    rollout = example_rollout(NAME, analysis_url="unused")
    rollout["spec"]["strategy"]["canary"]["analysis"] = {"templates": [{"templateName": "web-health-secret"}]}

    args = [a for a in installed.args if not a.startswith(("--metrics-port", "--workers"))]
    assert args[0] == "controller" and f"--namespaced={namespace}" in args
    log_dir = control_plane.work_dir / "controllers"
    log_dir.mkdir(exist_ok=True)
    proc = ControllerProcess(
        installed.kubeconfig,
        log_dir=log_dir,
        name=f"namespaced-{uuid.uuid4().hex[:6]}",
        # In a pod both default to the pod's namespace; run outside, the controller is told it.
        extra_args=[
            *args[1:],
            f"--lease-namespace={installed.controller_namespace}",
            f"--notifications-namespace={installed.controller_namespace}",
        ],
    )
    with proc:
        proc.wait_ready(timeout=60)
        stable = deploy_stable(admin_api, namespace, rollout, proc)
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.1.0")
        status = eventually(
            "the new revision to be promoted",
            lambda: (
                (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy"
                and s["stableRS"] != stable
                and s
            ),
            timeout=90,
            explain=lambda: diagnose(admin_api, namespace, [NAME], proc),
        )
        # A whole-word 403: a timestamp such as 13:26:16.044031Z holds the digits too.
        forbidden = [line for line in proc.log_lines() if re.search(r"\b403\b|forbidden", line, re.IGNORECASE)]
    assert status["observedGeneration"] == 2
    (run,) = analysis_runs(admin_api, namespace, NAME)
    assert run["status"]["phase"] == "Successful"
    assert check in health_endpoint.requests, "the URL came from the labelled Secret"
    assert forbidden == [], "the controller asked for something its install does not grant"
