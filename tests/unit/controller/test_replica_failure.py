"""A ReplicaSet whose pods a quota or an admission webhook refuses: the Rollout says why it is stuck
(Argo's ReplicaFailure condition and the status message), and `canary get` shows it on the ReplicaSet."""

from __future__ import annotations

from datetime import UTC, datetime

from fake_apiserver import FakeApiServer
from objects import REPLICA_SETS, ROLLOUTS, install
from rich.console import Console

from canary.cli import render_rollout
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.queue import Key
from canary.controller.reconciler import RolloutReconciler

NOW = datetime(2024, 1, 1, tzinfo=UTC)
KEY = Key("ns/web")
QUOTA = (
    'pods "web-abc-x1" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2'
)


def _refuse_pods(apiserver: FakeApiServer, message: str | None) -> str:
    (replica_set,) = apiserver.all(*REPLICA_SETS)
    conditions = (
        [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}]
        if message
        else []
    )
    replica_set["status"] = {
        "replicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "conditions": conditions,
    }
    apiserver.put({**replica_set, "kind": "ReplicaSet"})
    return str(replica_set["metadata"]["name"])


def test_a_quota_that_refuses_pods_is_in_the_rollouts_status_condition_and_get(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    install(apiserver)
    cluster = KubeCluster(api, clock=lambda: NOW)
    reconciler = RolloutReconciler(cluster, lambda: NOW)
    reconciler.reconcile(KEY)
    name = _refuse_pods(apiserver, QUOTA)
    reconciler.reconcile(KEY)

    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert status["phase"] == "Progressing"
    assert status["message"] == f'updated replicas are still becoming available: ReplicaSet "{name}": {QUOTA}'
    (failure,) = [c for c in status["conditions"] if c["type"] == "ReplicaFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    assert failure["message"] == f'ReplicaSet "{name}": {QUOTA}'

    rollout = cluster.get_rollout("ns", "web")
    console = Console(width=400, record=True)
    console.print(render_rollout.rollout_view(rollout, cluster.observe(rollout), NOW))
    shown = console.export_text()
    assert f"FailedCreate: {QUOTA}" in shown
    assert f'available: ReplicaSet "{name}": {QUOTA}' in shown

    _refuse_pods(apiserver, None)  # the quota was raised: the condition goes
    reconciler.reconcile(KEY)
    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert "ReplicaFailure" not in [c["type"] for c in status["conditions"]]
    assert "forbidden" not in status["message"]
