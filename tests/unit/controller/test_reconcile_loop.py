"""The reconcile loop against the API: converges, is idempotent, and survives 409s, 500s and bad specs."""

from __future__ import annotations

from datetime import UTC, datetime

from fake_apiserver import FakeApiServer
from objects import (
    ANALYSIS_STEPS,
    EVENTS,
    REPLICA_SETS,
    ROLLOUTS,
    analysis_template,
    install,
    orphaned_replica_set,
)

from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.hooks.runner import HookRunner, caller
from canary.controller.queue import Backoff, Key, WorkQueue
from canary.controller.reconciler import AnalysisRunReconciler, RolloutReconciler
from canary.controller.workers import process_one
from canary.engine.scaling_events import WRITE_EVENTS

NOW = datetime(2024, 1, 1, tzinfo=UTC)
KEY = Key("ns/web")
CANARY = {"canaryService": "web-canary", "stableService": "web-stable"}


def _loop(api: KubeApi) -> tuple[WorkQueue, RolloutReconciler]:
    queue = WorkQueue(backoff=Backoff(base_seconds=0.001, max_seconds=0.01))
    return queue, RolloutReconciler(KubeCluster(api, clock=lambda: NOW), lambda: NOW)


def _writes(apiserver: FakeApiServer) -> int:
    return sum(1 for method, _, status in apiserver.store.requests if method != "GET" and status < 300)


def test_a_new_rollout_gets_its_replica_set_status_and_event(apiserver: FakeApiServer, api: KubeApi) -> None:
    install(apiserver)
    _, reconciler = _loop(api)
    reconciler.reconcile(KEY)
    (replica_set,) = apiserver.all(*REPLICA_SETS)
    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert status["currentPodHash"] == replica_set["metadata"]["labels"]["rollouts-pod-template-hash"]
    assert status["observedGeneration"] == 1
    reasons = [event["reason"] for event in apiserver.all(*EVENTS)]
    assert [r for r in reasons if r.startswith("Rollout")] == ["RolloutUpdated", "RolloutCompleted"]


def test_reconciling_a_converged_rollout_writes_nothing(apiserver: FakeApiServer, api: KubeApi) -> None:
    install(apiserver)
    _, reconciler = _loop(api)
    for _ in range(2):
        reconciler.reconcile(KEY)
    before = _writes(apiserver)
    reconciler.reconcile(KEY)
    assert _writes(apiserver) == before


def test_a_status_conflict_is_retried_by_reading_again(apiserver: FakeApiServer, api: KubeApi) -> None:
    install(apiserver)
    queue, reconciler = _loop(api)
    apiserver.fail("PATCH", "/rollouts/web/status", 409)
    queue.add(KEY)
    process_one(queue, reconciler.reconcile, name="rollout")
    assert queue.failures(KEY) == 1
    process_one(queue, reconciler.reconcile, name="rollout")
    assert queue.failures(KEY) == 0
    assert apiserver.read(*ROLLOUTS, "web")["status"]["observedGeneration"] == 1  # type: ignore[index]
    reasons = [event["reason"] for event in apiserver.all(*EVENTS)]
    # no duplicate
    assert [r for r in reasons if r.startswith("Rollout")] == ["RolloutUpdated", "RolloutCompleted"]


def test_api_errors_back_off_and_retry_until_the_api_recovers(apiserver: FakeApiServer, api: KubeApi) -> None:
    install(apiserver)
    queue, reconciler = _loop(api)
    apiserver.fail("POST", "/replicasets", 500, times=3)
    queue.add(KEY)
    for expected_failures in (1, 2, 3, 0):
        process_one(queue, reconciler.reconcile, name="rollout")
        assert queue.failures(KEY) == expected_failures
    assert len(apiserver.all(*REPLICA_SETS)) == 1


def test_an_invalid_spec_becomes_an_invalid_spec_condition_and_is_not_retried(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    install(apiserver, strategy={"canary": {"maxSurge": 0, "maxUnavailable": 0}})
    queue, reconciler = _loop(api)
    queue.add(KEY)
    process_one(queue, reconciler.reconcile, name="rollout")
    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert status["phase"] == "Degraded"
    assert "maxSurge and maxUnavailable cannot both be 0" in status["message"]
    assert [c["type"] for c in status["conditions"]] == ["InvalidSpec"]
    assert queue.get(0.05) is None
    assert apiserver.all(*REPLICA_SETS) == []


def test_a_deleted_rollout_is_forgotten(apiserver: FakeApiServer, api: KubeApi) -> None:
    _, reconciler = _loop(api)
    assert reconciler.reconcile(KEY).requeue_after is None


def test_a_deleted_rollouts_webhook_answers_are_forgotten(apiserver: FakeApiServer, api: KubeApi) -> None:
    hooks = HookRunner(caller(None), lambda: NOW)
    reconciler = RolloutReconciler(KubeCluster(api, clock=lambda: NOW), lambda: NOW, hooks=hooks)
    forgotten: list[tuple[str, str]] = []
    hooks.forget = lambda namespace, name: forgotten.append((namespace, name))  # type: ignore[method-assign]
    reconciler.reconcile(KEY)
    assert forgotten == [("ns", "web")]


def test_an_orphan_is_adopted_and_the_rollout_decides_only_once_it_is_seen_owned(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    stored = install(apiserver)
    apiserver.put(orphaned_replica_set("web-old", "old", replicas=3))
    _, reconciler = _loop(api)
    assert reconciler.reconcile(KEY).requeue_after is not None
    owners = apiserver.read(*REPLICA_SETS, "web-old")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [(o["uid"], o["controller"]) for o in owners] == [(stored["metadata"]["uid"], True)]
    assert "status" not in apiserver.read(*ROLLOUTS, "web")  # type: ignore[operator]
    reconciler.reconcile(KEY)
    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert status["stableRS"] == "old" and status["currentPodHash"] != "old"
    reasons = [event["reason"] for event in apiserver.all(*EVENTS)]
    assert [r for r in reasons if r not in WRITE_EVENTS] == ["StableRecovered"]


def test_a_template_that_does_not_validate_becomes_an_invalid_spec_condition_and_a_warning_not_a_retry(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    install(apiserver, strategy={"canary": {**CANARY, "steps": ANALYSIS_STEPS}})
    apiserver.put(analysis_template(success_condition="result == = true"))
    queue, reconciler = _loop(api)
    queue.add(KEY)
    process_one(queue, reconciler.reconcile, name="rollout")
    assert queue.failures(KEY) == 0
    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert condition["message"].startswith(
        'The Rollout "web" is invalid: '
        "spec.strategy.canary.steps[2].analysis.templates[0]: AnalysisTemplate 'error-rate' is invalid: "
        "spec.metrics[0].successCondition: 'result == = true' is not a valid CEL expression"
    )
    assert "fix the AnalysisTemplate and apply it again" in condition["message"]
    assert status["phase"] == "Degraded"
    assert [(e["type"], e["reason"]) for e in apiserver.all(*EVENTS)] == [("Warning", "InvalidSpec")]


def test_an_analysis_run_edited_into_one_the_models_reject_is_terminal_not_retried(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    apiserver.put(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": "web-run-1", "namespace": "ns"},
            "spec": {
                "metrics": [
                    {"name": "m", "successCondition": "result == = true", "provider": {"job": {"spec": {}}}}
                ]
            },
        }
    )
    queue = WorkQueue(backoff=Backoff(base_seconds=0.001, max_seconds=0.01))
    reconciler = AnalysisRunReconciler(
        KubeCluster(api, clock=lambda: NOW), lambda: NOW, providers={}, read_secret=lambda *_: ""
    )
    key = Key("ns/web-run-1")
    queue.add(key)
    process_one(queue, reconciler.reconcile, name="analysisrun")
    assert queue.failures(key) == 0
    assert queue.get(0.05) is None
