"""Informers against the API: list, then watch; re-list on 410 Gone; back off on errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fake_apiserver import FakeApiServer

from canary.cluster.kube_api import KubeApi
from canary.controller.informer import Informer, Resource
from canary.controller.queue import Backoff

SERVICES = Resource("v1", "services")


def _service(name: str, selector: str = "a") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"selector": {"app": selector}},
    }


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def informer(api: KubeApi) -> Iterator[Informer]:
    informer = Informer(api, SERVICES, "ns", watch_timeout_seconds=1, backoff=Backoff(0.01, 0.05))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    yield informer
    informer.stop()
    thread.join(3)


def test_the_cache_holds_listed_and_watched_objects(apiserver: FakeApiServer, api: KubeApi) -> None:
    apiserver.put(_service("listed"))
    informer = Informer(api, SERVICES, "ns", watch_timeout_seconds=1)
    seen: list[str] = []
    informer.on_change(lambda obj: seen.append(obj["metadata"]["name"]))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.wait_synced(5)
    apiserver.put(_service("watched"))
    _eventually(lambda: informer.get("ns", "watched") is not None)
    assert informer.get("ns", "listed") is not None
    assert seen == ["listed", "watched"]
    informer.stop()
    thread.join(3)


def test_the_resource_version_follows_the_watch(apiserver: FakeApiServer, informer: Informer) -> None:
    assert informer.wait_synced(5)
    written = apiserver.put(_service("x"))
    _eventually(lambda: informer.resource_version == written["metadata"]["resourceVersion"])


def test_a_compacted_watch_lists_again_and_misses_nothing(
    apiserver: FakeApiServer, informer: Informer
) -> None:
    assert informer.wait_synced(5)
    apiserver.compact()
    apiserver.put(_service("after-compaction"))
    _eventually(lambda: informer.get("ns", "after-compaction") is not None)
    _eventually(lambda: informer.lists >= 2)
    assert apiserver.count("GET", "/services", status=200) >= 2


def test_a_deleted_object_leaves_the_cache_even_across_a_relist(
    apiserver: FakeApiServer, api: KubeApi, informer: Informer
) -> None:
    apiserver.put(_service("doomed"))
    _eventually(lambda: informer.get("ns", "doomed") is not None)
    api.delete("v1", "services", "ns", "doomed")
    _eventually(lambda: informer.get("ns", "doomed") is None)


def test_list_errors_are_retried_with_backoff(apiserver: FakeApiServer, api: KubeApi) -> None:
    apiserver.fail("GET", "/services", 500, times=3)
    apiserver.put(_service("eventually"))
    informer = Informer(api, SERVICES, "ns", watch_timeout_seconds=1, backoff=Backoff(0.01, 0.05))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.wait_synced(5)
    assert informer.get("ns", "eventually") is not None
    assert apiserver.count("GET", "/services", status=500) == 3
    informer.stop()
    thread.join(3)


def test_a_selector_limits_the_cache_to_matching_objects_listed_and_watched(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    # The controller caches only the pods and ReplicaSets of Rollouts (those with the hash label),
    # so its memory grows with the Rollouts, not with the whole cluster.
    labelled = _service("ours")
    labelled["metadata"]["labels"] = {"rollouts-pod-template-hash": "abc"}  # type: ignore[index]
    apiserver.put(labelled)
    apiserver.put(_service("theirs"))
    informer = Informer(api, Resource("v1", "services", selector="rollouts-pod-template-hash"), "ns")
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.wait_synced(5)
    watched = _service("ours-later")
    watched["metadata"]["labels"] = {"rollouts-pod-template-hash": "def"}  # type: ignore[index]
    apiserver.put(_service("theirs-later"))
    apiserver.put(watched)
    _eventually(lambda: informer.get("ns", "ours-later") is not None)
    assert sorted(obj["metadata"]["name"] for obj in informer.list("ns")) == ["ours", "ours-later"]
    informer.stop()
    thread.join(3)


def _orphans(informer: Informer, namespace: str | None = "ns") -> list[str]:
    return [obj["metadata"]["name"] for obj in informer.orphans(namespace)]


def test_the_orphan_index_follows_owners_through_list_watch_and_relist(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    # Adoption reads only the objects with no controller owner, from this index, instead of every
    # ReplicaSet of the namespace on every reconcile.
    owner = {"apiVersion": "v1", "kind": "Thing", "name": "t", "uid": "u1", "controller": True}
    owned = _service("owned")
    owned["metadata"]["ownerReferences"] = [owner]  # type: ignore[index]
    apiserver.put(owned)
    apiserver.put(_service("listed-orphan"))
    informer = Informer(api, Resource("v1", "services", index_orphans=True), "ns", watch_timeout_seconds=1)
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.wait_synced(5)
    assert _orphans(informer) == ["listed-orphan"]
    apiserver.put(_service("watched-orphan"))
    _eventually(lambda: _orphans(informer) == ["listed-orphan", "watched-orphan"])
    adopted = _service("listed-orphan")
    adopted["metadata"]["ownerReferences"] = [owner]  # type: ignore[index]
    apiserver.put(adopted)
    _eventually(lambda: _orphans(informer) == ["watched-orphan"])
    released = _service("owned")  # its owner deleted with --cascade=orphan: the reference is gone
    apiserver.put(released)
    _eventually(lambda: _orphans(informer) == ["owned", "watched-orphan"])
    api.delete("v1", "services", "ns", "watched-orphan")
    _eventually(lambda: _orphans(informer) == ["owned"])
    assert _orphans(informer, "other") == []
    assert _orphans(informer, None) == ["owned"]
    apiserver.compact()
    apiserver.put(_service("after-relist"))
    _eventually(lambda: informer.lists >= 2 and _orphans(informer) == ["after-relist", "owned"])
    informer.stop()
    thread.join(3)


def test_without_the_index_orphans_are_filtered_from_the_cache(
    apiserver: FakeApiServer, informer: Informer
) -> None:
    owned = _service("owned")
    owned["metadata"]["ownerReferences"] = [{"uid": "u1", "controller": True}]  # type: ignore[index]
    apiserver.put(owned)
    apiserver.put(_service("orphan"))
    _eventually(lambda: informer.get("ns", "orphan") is not None and informer.get("ns", "owned") is not None)
    assert _orphans(informer) == ["orphan"]


def _owned(informer: Informer, uid: str, namespace: str | None = "ns") -> list[str]:
    return [obj["metadata"]["name"] for obj in informer.owned(namespace, uid)]


def _owned_by(name: str, *uids: str) -> dict[str, object]:
    service = _service(name)
    service["metadata"]["ownerReferences"] = [{"uid": uid} for uid in uids]  # type: ignore[index]
    return service


def test_the_owner_index_follows_owner_references_through_watch_and_delete(
    apiserver: FakeApiServer, api: KubeApi, informer: Informer
) -> None:
    # A reconcile reads its Rollout's ReplicaSets from this index, not by filtering the namespace's.
    apiserver.put(_owned_by("a", "u1"))
    apiserver.put(_owned_by("b", "u1", "u2"))
    apiserver.put(_service("orphan"))
    _eventually(lambda: _owned(informer, "u1") == ["a", "b"])
    assert _owned(informer, "u2") == ["b"]
    apiserver.put(_owned_by("a", "u2"))  # its owner changed
    _eventually(lambda: _owned(informer, "u1") == ["b"])
    assert _owned(informer, "u2") == ["a", "b"]
    api.delete("v1", "services", "ns", "b")
    _eventually(lambda: _owned(informer, "u2") == ["a"])
    assert _owned(informer, "u1") == []
    assert _owned(informer, "u2", "other") == []


def test_the_cache_keeps_neither_managed_fields_nor_the_fields_its_resource_leaves_out(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    service = _service("web")
    service["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply"}]  # type: ignore[index]
    service["status"] = {"loadBalancer": {}}
    apiserver.put(service)
    informer = Informer(api, Resource("v1", "services", fields=("metadata",)), "ns", watch_timeout_seconds=1)
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.wait_synced(5)
    apiserver.put({**service, "metadata": {**service["metadata"], "labels": {"watched": "yes"}}})
    _eventually(
        lambda: (informer.get("ns", "web") or {}).get("metadata", {}).get("labels") == {"watched": "yes"}
    )
    cached = informer.get("ns", "web")
    assert cached is not None
    assert set(cached) == {"apiVersion", "kind", "metadata"}
    assert "managedFields" not in cached["metadata"]
    informer.stop()
    thread.join(3)


def test_an_update_of_only_what_the_cache_leaves_out_notifies_no_one(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    stored = apiserver.put({**_service("web"), "status": {"kept": 1, "dropped": 1}})
    informer = Informer(
        api, Resource("v1", "services", status_fields=("kept",)), "ns", watch_timeout_seconds=1
    )
    seen: list[object] = []
    informer.on_change(lambda obj: seen.append(obj["status"]))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    assert informer.wait_synced(5)
    dropped = apiserver.put({**stored, "kind": "Service", "status": {"kept": 1, "dropped": 2}})
    _eventually(lambda: informer.resource_version == dropped["metadata"]["resourceVersion"])
    apiserver.put({**dropped, "kind": "Service", "status": {"kept": 2, "dropped": 2}})
    _eventually(lambda: len(seen) == 2)
    assert seen == [{"kept": 1}, {"kept": 2}]
    informer.stop()
    thread.join(3)
