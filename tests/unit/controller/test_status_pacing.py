"""Status writes that only report progress (pod counts, the weights they make, the waiting message,
condition update times) wait until 3 s after the Rollout's last status write; every change of
state is written at once, and takes the held progress along."""

from __future__ import annotations

from datetime import UTC, datetime

from fake_apiserver import FakeApiServer
from objects import REPLICA_SETS, ROLLOUTS, install

from canary.api.rollout import RolloutStatus, TrafficWeights, WeightDestination
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.queue import Key
from canary.controller.reconciler import RolloutReconciler
from canary.controller.status_pacing import PROGRESS_WRITE_INTERVAL, StatusPacing, reports_progress_only
from canary.engine.clock import ManualClock
from canary.engine.status import RolloutPhase

START = datetime(2024, 1, 1, tzinfo=UTC)
KEY = Key("ns/web")
INTERVAL = PROGRESS_WRITE_INTERVAL.total_seconds()


def _weights(canary: int) -> TrafficWeights:
    return TrafficWeights(
        canary=WeightDestination(weight=canary), stable=WeightDestination(weight=100 - canary)
    )


def _pods_available(apiserver: FakeApiServer, available: int) -> None:
    (replica_set,) = apiserver.all(*REPLICA_SETS)
    replica_set["status"] = {"replicas": 3, "readyReplicas": available, "availableReplicas": available}
    apiserver.put({**replica_set, "kind": "ReplicaSet"})


def _deployed(apiserver: FakeApiServer, api: KubeApi) -> tuple[ManualClock, RolloutReconciler]:
    """A Rollout reconciled once at START (its first status write), with pacing."""
    install(apiserver)
    clock = ManualClock(START)
    reconciler = RolloutReconciler(KubeCluster(api, clock=clock.now), clock.now, pacing=StatusPacing())
    reconciler.reconcile(KEY)
    return clock, reconciler


def _status_writes(apiserver: FakeApiServer) -> int:
    return apiserver.count("PATCH", "/rollouts/web/status")


def test_pod_counts_and_the_waiting_message_are_progress() -> None:
    old = RolloutStatus(phase=RolloutPhase.PROGRESSING, available_replicas=1, message="a")
    new = old.model_copy(update={"available_replicas": 2, "ready_replicas": 2, "message": "b"})
    assert reports_progress_only(old, new, routed=False)


def test_a_new_phase_is_a_change_of_state() -> None:
    old = RolloutStatus(phase=RolloutPhase.PROGRESSING, available_replicas=1)
    new = old.model_copy(update={"available_replicas": 3, "phase": RolloutPhase.HEALTHY})
    assert not reports_progress_only(old, new, routed=False)


def test_weights_are_progress_without_a_router_and_state_with_one() -> None:
    old = RolloutStatus(canary={"weights": _weights(25)})
    new = RolloutStatus(canary={"weights": _weights(33)})
    assert reports_progress_only(old, new, routed=False)
    assert not reports_progress_only(old, new, routed=True)


def test_an_unchanged_status_is_no_write_at_all() -> None:
    pacing = StatusPacing()
    pacing.written(KEY, START)
    assert pacing.wait(KEY, RolloutStatus(), RolloutStatus(), routed=False, now=START) == 0.0


def test_progress_after_a_write_waits_out_the_interval() -> None:
    pacing = StatusPacing()
    pacing.written(KEY, START)
    old = RolloutStatus(available_replicas=1)
    assert pacing.wait(KEY, old, RolloutStatus(available_replicas=2), routed=False, now=START) == INTERVAL


def test_progress_soon_after_the_last_write_waits_for_the_interval(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    clock, reconciler = _deployed(apiserver, api)
    assert _status_writes(apiserver) == 1
    _pods_available(apiserver, 1)
    clock.advance(0.25)
    result = reconciler.reconcile(KEY)
    assert _status_writes(apiserver) == 1
    assert result.requeue_after == INTERVAL - 0.25
    clock.advance(INTERVAL - 0.25)
    reconciler.reconcile(KEY)
    assert _status_writes(apiserver) == 2
    assert apiserver.read(*ROLLOUTS, "web")["status"]["availableReplicas"] == 1  # type: ignore[index]


def test_a_change_of_state_is_written_at_once_with_the_progress_held(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    clock, reconciler = _deployed(apiserver, api)
    _pods_available(apiserver, 1)
    clock.advance(0.25)
    reconciler.reconcile(KEY)
    _pods_available(apiserver, 3)
    clock.advance(0.25)
    reconciler.reconcile(KEY)
    assert _status_writes(apiserver) == 2
    status = apiserver.read(*ROLLOUTS, "web")["status"]  # type: ignore[index]
    assert (status["phase"], status["availableReplicas"]) == ("Healthy", 3)
