"""The assembled controller on the fake apiserver: watch events reach the reconciler, which converges."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fake_apiserver import FakeApiServer
from objects import REPLICA_SETS, ROLLOUTS, install, orphaned_replica_set

from canary.cluster.kube_api import KubeApi
from canary.controller.manager import Controller, Settings


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
