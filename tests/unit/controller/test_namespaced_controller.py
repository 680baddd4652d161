"""`canary controller --namespaced a,b`: it watches and acts in those namespaces only, never asks the
API for anything cluster-wide (so RoleBindings there are all the RBAC it needs), and reports what a
namespaced install cannot do (ClusterAnalysisTemplates) instead of failing on it. `--secret-label`:
a Secret without the label, or one RBAC forbids, fails the measurement with the fix."""

from __future__ import annotations

import base64
import copy
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fake_apiserver import FakeApiServer
from kubernetes.client.exceptions import ApiException
from objects import rollout

from canary.analysis.args import SecretUnavailableError
from canary.cli.main import main
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.manager import Controller, Settings

ROLLOUTS = ("canary.dev/v1alpha1", "rollouts")


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _in(namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    return obj


def _install(apiserver: FakeApiServer, namespace: str, **spec: Any) -> None:
    for service in ("web-canary", "web-stable"):
        apiserver.put(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service, "namespace": namespace},
                "spec": {"selector": {"app": "web"}},
            }
        )
    apiserver.put(_in(namespace, rollout(**spec)))


def _status(apiserver: FakeApiServer, namespace: str) -> dict[str, Any]:
    return (apiserver.read(*ROLLOUTS, namespace, "web") or {}).get("status") or {}


def test_a_namespaced_controller_acts_in_its_namespaces_only_and_reads_nothing_cluster_wide(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    for namespace in ("shop", "payments", "kube-system"):
        _install(apiserver, namespace)
    settings = Settings(
        namespaces=("shop", "payments"), workers=2, resync_seconds=60, watch_timeout_seconds=1
    )
    controller = Controller(api, settings)
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    runner.start()
    try:
        _eventually(lambda: all(_status(apiserver, ns).get("phase") for ns in ("shop", "payments")))
        time.sleep(0.3)
    finally:
        stop.set()
        runner.join(5)
    assert _status(apiserver, "kube-system") == {}
    paths = [path for _, path, _ in apiserver.store.requests]
    assert paths, "the fake apiserver records every request"
    outside = [p for p in paths if "/namespaces/shop/" not in p and "/namespaces/payments/" not in p]
    assert outside == [], "a namespaced controller asked for something outside its namespaces"


def test_a_namespaced_controller_reports_a_cluster_template_reference_as_invalid(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    background = {"templates": [{"templateName": "global", "clusterScope": True}]}
    canary = {"canaryService": "web-canary", "stableService": "web-stable", "analysis": background}
    _install(apiserver, "shop", strategy={"canary": canary})
    cluster = KubeCluster(api, cluster_templates=False)
    observed = cluster.observe(cluster.get_rollout("shop", "web"))
    (reason,) = observed.invalid_cluster_templates.values()
    assert "--namespaced" in reason and "AnalysisTemplate in namespace shop" in reason


def _secret(apiserver: FakeApiServer, labels: dict[str, str]) -> None:
    apiserver.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "prom", "namespace": "shop", "labels": labels},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        }
    )


def test_with_a_secret_label_only_labelled_secrets_are_read(apiserver: FakeApiServer, api: KubeApi) -> None:
    cluster = KubeCluster(api, secret_label=("canary.dev/analysis-secret", "true"))
    _secret(apiserver, {})
    with pytest.raises(SecretUnavailableError) as refused:
        cluster.read_secret("shop", "prom", "token")
    assert str(refused.value) == (
        "Secret shop/prom is not labelled canary.dev/analysis-secret=true, and this controller reads only "
        "Secrets with that label (--secret-label); label it: kubectl label secret -n shop prom "
        "canary.dev/analysis-secret=true"
    )
    _secret(apiserver, {"canary.dev/analysis-secret": "true"})
    assert cluster.read_secret("shop", "prom", "token") == "s3cret"
    assert KubeCluster(api).read_secret("shop", "prom", "token") == "s3cret"


def test_a_secret_rbac_forbids_fails_with_the_rbac_fix(api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: object) -> None:
        raise ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr(api, "get", forbidden)
    with pytest.raises(SecretUnavailableError, match=r"may not read Secret kube-system/prom \(RBAC\)"):
        KubeCluster(api).read_secret("kube-system", "prom", "token")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--namespaced", ","], "--namespaced needs at least one namespace"),
        (["--namespaced", "a", "-n", "b"], "either -n/--namespace or --namespaced"),
        (["--secret-label", "nolabel"], "--secret-label must be KEY=VALUE"),
    ],
)
def test_controller_flags_are_checked(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["controller", "--kubeconfig", "/nonexistent", *args])
    assert code != 0
    assert error in capsys.readouterr().err
