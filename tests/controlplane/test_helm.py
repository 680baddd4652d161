"""Helm end to end on the real control plane, with the real `helm` client (built from its Go module by
scripts/build-helm.sh): `helm install` of charts/canary in its default, namespaced mode; the controller
acting is the chart's own, run as a subprocess with the kubeconfig of the ServiceAccount the chart
created and the args of the Deployment it rendered; `helm install` then `helm upgrade` of examples/helm
(an app packaged as a Rollout with analysis-templates/success-rate.yaml), a new image that promotes and
a bad one that aborts; then `helm uninstall` of both leaves no controller object behind but the kept
CRDs.

The chart is installed under its own release name and namespace (so its ClusterRoles do not meet the
session's `canary-system/canary-controller`), with `--take-ownership`: the session's other tests may
already have applied manifests/crds/ with kubectl-style server-side apply, as a cluster moving from
`kubectl apply -k manifests/` to Helm has. The success-rate template's Prometheus is a loopback
stand-in for the `/api/v1/query` endpoint (no real Prometheus runs in this tier): it answers each
query with the success rate of the image behind the queried pod-template hash."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from canarytier import (
    HASH_LABEL,
    ControllerProcess,
    analysis_runs,
    diagnose,
    eventually,
    get_rollout,
    status_of,
)
from helmtool import APP_CHART, CONTROLLER_CHART, Helm, helm_binary
from kubernetes import client, config
from localcluster import LocalControlPlane
from test_least_privilege import documented, rules

from canary.cli.main import build_parser

APP = "shop-checkout"  # release `shop` of chart `checkout`
GOOD, BAD = "1.1.0", "1.2.0-broken"
SUCCESS_RATE = {BAD: 0.5}  # any other image: 1.0


class PrometheusStandIn:
    """`GET /api/v1/query`: a one-sample vector, the success rate of the image whose ReplicaSet carries
    the query's rollouts_pod_template_hash; every query is kept."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.queries: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length).decode())

            def _answer(self, body: str = "") -> None:
                url = urllib.parse.urlsplit(self.path)
                params = urllib.parse.parse_qs(url.query) | urllib.parse.parse_qs(body)
                query = params.get("query", [""])[0]
                stand_in.queries.append(query)
                data = json.dumps(
                    {
                        "status": "success",
                        "data": {
                            "resultType": "vector",
                            "result": [{"metric": {}, "value": [0, str(stand_in.rate(query))]}],
                        },
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def rate(self, query: str) -> float:
        found = re.search(r'rollouts_pod_template_hash="([^"]+)"', query)
        if not found:
            return 1.0
        sets = client.AppsV1Api(self.api).list_namespaced_replica_set(
            self.namespace, label_selector=f"{HASH_LABEL}={found.group(1)}"
        )
        images = {c.image.rsplit(":", 1)[1] for rs in sets.items for c in rs.spec.template.spec.containers}
        return min((SUCCESS_RATE.get(image, 1.0) for image in images), default=1.0)

    def __enter__(self) -> PrometheusStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def helm(control_plane: LocalControlPlane, tmp_path: Path) -> Helm:
    return Helm(helm_binary(), tmp_path / "helm-home", kubeconfig=control_plane.kubeconfig)


def _released_objects(api: Any, release: str, namespaces: list[str]) -> list[str]:
    """Every object labelled as `release`'s, of the kinds the controller chart makes (and the pods its
    Deployment made), as kind/namespace/name."""
    selector = f"app.kubernetes.io/instance={release}"
    core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    policy, ext = client.PolicyV1Api(api), client.ApiextensionsV1Api(api)
    found = []
    for namespace in namespaces:
        for kind, lister in (
            ("ServiceAccount", core.list_namespaced_service_account),
            ("Service", core.list_namespaced_service),
            ("Pod", core.list_namespaced_pod),
            ("Deployment", apps.list_namespaced_deployment),
            ("ReplicaSet", apps.list_namespaced_replica_set),
            ("PodDisruptionBudget", policy.list_namespaced_pod_disruption_budget),
            ("Role", rbac.list_namespaced_role),
            ("RoleBinding", rbac.list_namespaced_role_binding),
        ):
            found += [
                f"{kind}/{namespace}/{o.metadata.name}"
                for o in lister(namespace, label_selector=selector).items
            ]
    for kind, lister in (
        ("ClusterRole", rbac.list_cluster_role),
        ("ClusterRoleBinding", rbac.list_cluster_role_binding),
        ("CustomResourceDefinition", ext.list_custom_resource_definition),
    ):
        found += [f"{kind}/{o.metadata.name}" for o in lister(label_selector=selector).items]
    return sorted(found)


def _pod_namespace_args(namespace: str) -> list[str]:
    """What a process outside a pod must be told of the namespace its pod would run in: the Lease's,
    and the notification ConfigMaps' where this controller has them."""
    args = [f"--lease-namespace={namespace}"]
    known, _ = build_parser().parse_known_args(["controller", f"--notifications-namespace={namespace}"])
    return (
        [*args, f"--notifications-namespace={namespace}"]
        if hasattr(known, "notifications_namespace")
        else args
    )


def test_helm_installs_the_controller_releases_an_app_through_it_and_uninstalls_cleanly(
    control_plane: LocalControlPlane, admin_api: Any, helm: Helm, namespace: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    release, release_ns = f"canary-{suffix}", f"canary-helm-{suffix}"
    fullname = f"{release}-controller"
    try:
        _play(
            control_plane=control_plane,
            admin_api=admin_api,
            helm=helm,
            namespace=namespace,
            tmp_path=tmp_path,
            release=release,
            release_ns=release_ns,
            fullname=fullname,
        )
    finally:
        helm("uninstall", "shop", "-n", namespace, "--wait", check=False)
        helm("uninstall", release, "-n", release_ns, "--wait", check=False)
        control_plane.core_v1().delete_namespace(release_ns)


def _play(
    *,
    control_plane: LocalControlPlane,
    admin_api: Any,
    helm: Helm,
    namespace: str,
    tmp_path: Path,
    release: str,
    release_ns: str,
    fullname: str,
) -> None:
    # -- the controller chart, default values but the managed namespace
    helm(
        "install", release, str(CONTROLLER_CHART), "-n", release_ns, "--create-namespace",
        "--set", f"namespaces={{{namespace}}}", "--take-ownership", "--wait", "--timeout", "2m",
    )  # fmt: skip
    ext = client.ApiextensionsV1Api(admin_api)
    for plural in ("rollouts", "analysistemplates", "clusteranalysistemplates", "analysisruns"):
        crd = ext.read_custom_resource_definition(f"{plural}.canary.dev")
        assert crd.metadata.annotations["helm.sh/resource-policy"] == "keep"
        assert crd.metadata.annotations["meta.helm.sh/release-name"] == release
    deployment = client.AppsV1Api(admin_api).read_namespaced_deployment(fullname, release_ns)
    assert deployment.status.ready_replicas == 2, "helm --wait saw the Deployment available"
    args = deployment.spec.template.spec.containers[0].args
    assert args[0] == "controller" and f"--namespaced={namespace}" in args and "--leader-elect" in args

    # its ServiceAccount is granted what docs/install.md lists for the default install, and no more
    sa_kubeconfig = control_plane.kubeconfig_for_service_account(release_ns, fullname, create=False)
    sa_api = config.new_client_from_config(config_file=str(sa_kubeconfig))  # type: ignore[no-untyped-call]
    nobody = control_plane.kubeconfig_for_service_account(namespace, f"nobody-{uuid.uuid4().hex[:6]}")
    baseline = rules(config.new_client_from_config(config_file=str(nobody)), namespace)  # type: ignore[no-untyped-call]
    tables = documented()
    managed = tables["Default install, in each managed namespace"]
    eventually(
        "the chart's RoleBindings to take effect",
        lambda: rules(sa_api, namespace) - baseline == managed or None,
        timeout=15,
        explain=lambda: f"differ: {sorted((rules(sa_api, namespace) - baseline) ^ managed)}",
    )
    assert rules(sa_api, release_ns) - baseline == tables["Default install, in `canary-system`"]
    assert rules(sa_api, "kube-system") - baseline == set()

    # -- the chart's controller, as its Deployment runs it, with its ServiceAccount's credentials
    own = [a for a in args[1:] if not a.startswith(("--metrics-port", "--workers"))]
    log_dir = control_plane.work_dir / "controllers"
    log_dir.mkdir(exist_ok=True)
    proc = ControllerProcess(
        sa_kubeconfig,
        log_dir=log_dir,
        name=f"helm-{release}",
        extra_args=[*own, *_pod_namespace_args(release_ns)],
    )
    values = tmp_path / "app-values.yaml"
    with PrometheusStandIn(admin_api, namespace) as prometheus, proc:
        proc.wait_ready(timeout=60)
        values.write_text(
            yaml.safe_dump(
                {
                    "replicas": 2,
                    "steps": [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"analysis": {}}],
                    "analysis": {
                        "args": {"prometheus-address": prometheus.url},
                        "interval": "1s",
                        "count": 2,
                    },
                }
            )
        )

        def explain() -> str:
            return diagnose(admin_api, namespace, [APP], proc)

        # -- the app: its first revision goes straight to stable
        helm(
            "install", "shop", str(APP_CHART), "-n", namespace, "-f", str(values), "--set", "image.tag=1.0.0"
        )
        first = eventually(
            "the first revision to become Healthy",
            lambda: (s := status_of(admin_api, namespace, APP)).get("phase") == "Healthy" and s,
            timeout=60,
            explain=explain,
        )

        # -- helm upgrade to a good image: analysed, promoted
        helm(
            "upgrade", "shop", str(APP_CHART), "-n", namespace, "--reuse-values", "--set", f"image.tag={GOOD}"
        )
        promoted = eventually(
            f"{GOOD} to be promoted",
            lambda: (
                (s := status_of(admin_api, namespace, APP)).get("phase") == "Healthy"
                and s["stableRS"] != first["stableRS"]
                and s
            ),
            timeout=120,
            explain=explain,
        )
        (run,) = analysis_runs(admin_api, namespace, APP)
        assert run["status"]["phase"] == "Successful"
        assert any(f'service="{APP}"' in q and f'namespace="{namespace}"' in q for q in prometheus.queries)

        # -- helm upgrade to a bad image: its success rate fails the analysis, the release aborts
        helm(
            "upgrade", "shop", str(APP_CHART), "-n", namespace, "--reuse-values", "--set", f"image.tag={BAD}"
        )
        aborted = eventually(
            f"{BAD} to be aborted",
            lambda: (s := status_of(admin_api, namespace, APP)).get("abort") and s,
            timeout=120,
            explain=explain,
        )
        forbidden = [line for line in proc.log_lines() if "(403)" in line or "forbidden" in line.lower()]
    assert aborted["stableRS"] == promoted["stableRS"], "stable is still the good release"
    assert aborted["phase"] == "Degraded"
    failed = [r for r in analysis_runs(admin_api, namespace, APP) if r["status"].get("phase") == "Failed"]
    assert len(failed) == 1
    spec = get_rollout(admin_api, namespace, APP)["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"].endswith(f":{BAD}"), "the release's values still say the bad one"
    assert forbidden == [], "the controller asked for something the chart does not grant"

    # -- helm uninstall: the app, then the controller; nothing of the controller's stays but the CRDs
    helm("uninstall", "shop", "-n", namespace, "--wait")
    helm("uninstall", release, "-n", release_ns, "--wait")
    crds = [f"CustomResourceDefinition/{p}.canary.dev" for p in (
        "analysisruns", "analysistemplates", "clusteranalysistemplates", "rollouts"
    )]  # fmt: skip
    eventually(
        "every object of the controller release but the kept CRDs to go",
        lambda: _released_objects(admin_api, release, [release_ns, namespace]) == crds or None,
        timeout=60,
        explain=lambda: f"left: {_released_objects(admin_api, release, [release_ns, namespace])}",
    )
    for plural in ("rollouts", "analysisruns"):
        ext.read_custom_resource_definition(f"{plural}.canary.dev")  # still served
