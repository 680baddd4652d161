"""The assembled controller on the fake apiserver: watch events reach the reconciler, which converges."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fake_apiserver import FakeApiServer
from objects import REPLICA_SETS, ROLLOUTS, install, orphaned_replica_set

from canary.cluster.kube_api import KubeApi
from canary.controller.manager import Controller, Settings
from canary.controller.queue import key_of


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _phase(apiserver: FakeApiServer, name: str) -> str | None:
    stored = apiserver.read(*ROLLOUTS, name) or {}
    return (stored.get("status") or {}).get("phase")


def _owners(apiserver: FakeApiServer, replica_set: str) -> list[str]:
    stored = apiserver.read(*REPLICA_SETS, replica_set) or {"metadata": {}}
    return [owner["uid"] for owner in stored["metadata"].get("ownerReferences") or []]


@contextmanager
def _running(api: KubeApi, settings: Settings) -> Iterator[Controller]:
    """A controller running in a thread, ready, and stopped afterwards."""
    controller = Controller(api, settings)
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    runner.start()
    try:
        _eventually(controller.ready)
        yield controller
    finally:
        stop.set()
        runner.join(5)


def test_a_rollout_created_while_running_is_reconciled_from_its_watch_event(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    with _running(api, Settings(workers=2, resync_seconds=60, watch_timeout_seconds=1)) as controller:
        install(apiserver, "web")
        _eventually(lambda: _phase(apiserver, "web") is not None)
        assert [rs["metadata"]["name"].split("-")[0] for rs in apiserver.all(*REPLICA_SETS)] == ["web"]
        assert controller.healthy()


def test_an_orphan_that_appears_while_running_is_adopted_by_the_rollout_selecting_it(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    with _running(api, Settings(workers=1, resync_seconds=60, watch_timeout_seconds=1)):
        uid = install(apiserver, "web")["metadata"]["uid"]
        _eventually(lambda: _phase(apiserver, "web") is not None)
        apiserver.put(orphaned_replica_set("web-old", "old", replicas=0))
        _eventually(lambda: _owners(apiserver, "web-old") == [uid])


def test_sharded_controllers_handle_only_their_labelled_rollouts(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    settings = Settings(workers=1, instance_id="blue", resync_seconds=60, watch_timeout_seconds=1)
    with _running(api, settings):
        install(apiserver, "other")
        ours = install(apiserver, "mine")
        ours["metadata"]["labels"] = {"canary.dev/controller-instance-id": "blue"}
        apiserver.put({**ours, "kind": "Rollout"})
        _eventually(lambda: _phase(apiserver, "mine") is not None)
        assert _phase(apiserver, "other") is None


def _owned_replica_set(apiserver: FakeApiServer, rollout: dict[str, Any]) -> dict[str, object]:
    """A ReplicaSet of one pod controlled by `rollout`, stored in the apiserver."""
    owner = {
        "apiVersion": rollout["apiVersion"],
        "kind": "Rollout",
        "name": "web",
        "uid": rollout["metadata"]["uid"],
    }
    replica_set = orphaned_replica_set("web-abc", "abc", replicas=1)
    replica_set["metadata"]["ownerReferences"] = [{**owner, "controller": True}]
    return apiserver.put(replica_set)


def _pod(replica_set: dict[str, object], name: str, ready: str) -> dict[str, object]:
    meta: dict[str, Any] = replica_set["metadata"]  # type: ignore[assignment]
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": meta["name"], "uid": meta["uid"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "labels": meta["labels"], "ownerReferences": [owner]},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def _queued_after(controller: Controller, change: Callable[[], None]) -> bool:
    """Whether `change` queued a Rollout, once every key queued so far is drained."""
    while (key := controller.rollouts.get(timeout=0.3)) is not None:
        controller.rollouts.done(key)
    change()
    return controller.rollouts.get(timeout=1.0) is not None


@pytest.mark.parametrize("restart_at", [None, "2024-01-01T00:00:00Z"])
def test_a_pod_change_queues_its_rollout_only_while_the_rollout_restarts(
    apiserver: FakeApiServer, api: KubeApi, restart_at: str | None
) -> None:
    # The other decisions read the ReplicaSets, whose status follows the same pod changes.
    controller = Controller(api, Settings(workers=1, watch_timeout_seconds=1, notifications_namespace=None))
    rollout = install(apiserver, "web", **({"restartAt": restart_at} if restart_at else {}))
    replica_set = _owned_replica_set(apiserver, rollout)
    with _informing(controller):
        apiserver.put(_pod(replica_set, "web-abc-1", "False"))
        _eventually(lambda: controller.informers.get("v1", "pods", "ns", "web-abc-1") is not None)
        queued = _queued_after(controller, lambda: apiserver.put(_pod(replica_set, "web-abc-1", "True")))
        assert queued == (restart_at is not None)


def test_an_endpoint_slice_change_queues_the_rollout_owning_the_pods_it_lists(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    # A weight held until the canary's pods are ready endpoints rises on the slice's change.
    controller = Controller(api, Settings(workers=1, watch_timeout_seconds=1, notifications_namespace=None))
    rollout = install(apiserver, "web")
    replica_set = _owned_replica_set(apiserver, rollout)
    apiserver.put(_pod(replica_set, "web-abc-1", "True"))
    endpoint = {
        "addresses": ["10.0.0.1"],
        "conditions": {"ready": True},
        "targetRef": {"kind": "Pod", "name": "web-abc-1"},
    }
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-canary-x", "namespace": "ns"},
        "endpoints": [endpoint],
    }
    with _informing(controller):
        _eventually(lambda: controller.informers.get("v1", "pods", "ns", "web-abc-1") is not None)
        assert _queued_after(controller, lambda: apiserver.put(endpoint_slice))


@contextmanager
def _informing(controller: Controller) -> Iterator[None]:
    """The controller's informers running and synced, its workers not: tests reconcile by hand."""
    for informer in controller.informers.all():
        threading.Thread(target=informer.run, daemon=True).start()
    try:
        _eventually(controller.informers.has_synced)
        yield
    finally:
        for informer in controller.informers.all():
            informer.stop()


def _deployed(apiserver: FakeApiServer, controller: Controller) -> Callable[[], None]:
    """A Rollout (without Services) deployed by one reconcile, its ReplicaSet then reporting every
    pod available, so that the next reconcile (returned) writes only its status."""
    install(apiserver, "web", strategy={"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}})
    _eventually(lambda: controller.informers.get(*ROLLOUTS[:2], "ns", "web") is not None)
    reconcile = lambda: controller.rollout_reconciler.reconcile(key_of("ns", "web"))  # noqa: E731
    reconcile()
    _eventually(lambda: _cached_phase(controller) is not None)
    (replica_set,) = apiserver.all(*REPLICA_SETS)
    replicas = replica_set["spec"]["replicas"]
    counts = {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
    apiserver.put({**replica_set, "kind": "ReplicaSet", "status": counts})
    _eventually(
        lambda: [rs.get("availableReplicas") for rs in _cached_replica_sets(controller)] == [replicas]
    )
    return reconcile


def _cached_phase(controller: Controller) -> str | None:
    cached = controller.informers.get(*ROLLOUTS[:2], "ns", "web") or {}
    return (cached.get("status") or {}).get("phase")


def _cached_replica_sets(controller: Controller) -> list[dict[str, object]]:
    return [rs.get("status") or {} for rs in controller.informers.list(*REPLICA_SETS)]


def test_the_watch_event_of_the_controllers_own_status_write_queues_nothing(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    # Deciding on its own output gives the same decision (a decision is a fixed point of itself).
    controller = Controller(api, Settings(workers=1, watch_timeout_seconds=1, notifications_namespace=None))
    with _informing(controller):
        reconcile = _deployed(apiserver, controller)
        before = _cached_phase(controller)
        assert not _queued_after(controller, reconcile)
        assert _cached_phase(controller) != before  # the status was written, and its event seen


def test_a_status_written_by_another_client_queues_its_rollout(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    controller = Controller(api, Settings(workers=1, watch_timeout_seconds=1, notifications_namespace=None))
    with _informing(controller):
        _deployed(apiserver, controller)
        stored = apiserver.read(*ROLLOUTS, "web") or {}
        edited = {**stored, "kind": "Rollout", "status": {**stored["status"], "message": "edited"}}
        assert _queued_after(controller, lambda: apiserver.put(edited))
