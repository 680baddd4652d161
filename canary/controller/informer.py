"""Informers: one list+watch per resource kind, kept in a local cache the reconciler reads from.

Each informer lists (remembering the list's resourceVersion), then watches from that version,
moving its resourceVersion forward with every event and bookmark. When the apiserver answers 410
Gone (the version was compacted) it lists again; any other error waits with exponential backoff and
lists again. Every change calls the `on_change` handlers with the object, which map it to the keys
to reconcile (a ReplicaSet to its owning Rollout, ...). `Informers` implements the read side that
`canary.cluster.kube.KubeCluster` needs (`get`, `list`, `owned`: every informer indexes its objects
by the uid of each owner, so a Rollout's ReplicaSets are found without reading the namespace's; and
`orphans`: an informer whose resource asks for it keeps an index of the objects with no controller
owner, by namespace).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from canary.cluster.kube_actions import controller_uid, owned_by, owner_uids
from canary.cluster.kube_api import Gone, KubeApi, Obj
from canary.controller.queue import Backoff

log = structlog.get_logger(__name__)

Handler = Callable[[Obj], None]

RELIST_BACKOFF = Backoff(base_seconds=0.2, max_seconds=30.0)
"""Waits between failed list/watch attempts: fast on a blip, at most 30 s during an outage."""


@dataclass(frozen=True)
class Resource:
    api_version: str
    plural: str
    namespaced: bool = True
    selector: str | None = None
    """A label selector the cache is limited to, so the controller holds only objects it can own."""
    index_orphans: bool = False
    """Keep the keys of the objects with no controller owner by namespace, for `Informer.orphans`."""
    fields: tuple[str, ...] | None = None
    """The top-level fields the cache keeps (None: all), for a kind read only in part."""
    status_fields: tuple[str, ...] | None = None
    """The fields of `status` the cache keeps (None: all): an update of only the others changes
    nothing cached, so it notifies no one."""


class Informer:
    def __init__(
        self,
        api: KubeApi,
        resource: Resource,
        namespace: str | None,
        *,
        watch_timeout_seconds: int = 300,
        backoff: Backoff = RELIST_BACKOFF,
    ) -> None:
        self.resource = resource
        self._api = api
        self._namespace = namespace if resource.namespaced else None
        self._watch_timeout = watch_timeout_seconds
        self._backoff = backoff
        self._objects: dict[tuple[str, str], Obj] = {}
        self._orphans: dict[str, set[tuple[str, str]]] = {}  # by namespace, with index_orphans
        self._owned: dict[str, set[tuple[str, str]]] = {}  # by the uid of each owner reference
        self._lock = threading.Lock()
        self._handlers: list[Handler] = []
        self._synced = threading.Event()
        self._stop = threading.Event()
        self.resource_version = ""
        self.lists = 0

    def on_change(self, handler: Handler) -> None:
        self._handlers.append(handler)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def get(self, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get((namespace or "", name))

    def orphans(self, namespace: str | None = None) -> list[Obj]:
        """The cached objects (of `namespace`, or all) with no controller owner: with `index_orphans`
        read from the index (by namespace and name), without it filtered from `list`."""
        if not self.resource.index_orphans:
            return [obj for obj in self.list(namespace) if controller_uid(obj) is None]
        with self._lock:
            if namespace is not None:
                keys = self._orphans.get(namespace, set())
            else:
                keys = set().union(*self._orphans.values())
            return [self._objects[key] for key in sorted(keys)]

    def owned(self, namespace: str | None, uid: str) -> list[Obj]:
        """The cached objects (of `namespace`, or all) with an owner reference to `uid`."""
        with self._lock:
            keys = self._owned.get(uid, ())
            return [self._objects[key] for key in sorted(keys) if namespace is None or key[0] == namespace]

    def list(self, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            return [obj for (ns, _), obj in self._objects.items() if namespace is None or ns == namespace]

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """List and watch until `stop()`; never raises (errors are logged and retried)."""
        failures = 0
        while not self._stop.is_set():
            try:
                self._list()
                failures = 0
                self._watch_until_gone()
            except Gone:
                log.info("watch expired, listing again", resource=self.resource.plural)
            except (ApiException, HTTPError, OSError, ValueError) as error:
                delay = self._backoff.delay(failures)
                failures += 1
                log.warning(
                    "list/watch failed", resource=self.resource.plural, error=str(error), retry_in=delay
                )
                self._stop.wait(delay)

    def _list(self) -> None:
        listed = self._api.list(
            self.resource.api_version, self.resource.plural, self._namespace, selector=self.resource.selector
        )
        fresh = {_cache_key(obj): self._trimmed(obj) for obj in listed.items}
        with self._lock:
            gone = [obj for key, obj in self._objects.items() if key not in fresh]
            changed = [obj for key, obj in fresh.items() if self._objects.get(key) != obj]
            self._objects = fresh
            self._orphans, self._owned = {}, {}
            for key, obj in fresh.items():
                self._index(key, obj)
            self.resource_version = listed.resource_version
            self.lists += 1
        self._synced.set()
        for obj in gone + changed:
            self._notify(obj)

    def _watch_until_gone(self) -> None:
        while not self._stop.is_set():
            events = self._api.watch(
                self.resource.api_version,
                self.resource.plural,
                self._namespace,
                self.resource_version,
                self._watch_timeout,
                selector=self.resource.selector,
            )
            for event in events:
                self._apply(event.type, event.object)
                if self._stop.is_set():
                    return

    def _apply(self, kind: str, obj: Obj) -> None:
        version = obj.get("metadata", {}).get("resourceVersion")
        if kind != "BOOKMARK":
            obj = self._trimmed({"apiVersion": self.resource.api_version, **obj})
            with self._lock:
                key = _cache_key(obj)
                previous = self._objects.pop(key, None) if kind == "DELETED" else self._objects.get(key)
                if previous is not None:
                    self._unindex_owners(key, previous)
                if kind == "DELETED":
                    self._index(key, None)
                else:
                    self._objects[key] = obj
                    self._index(key, obj)
            if kind == "DELETED" or previous is None or not _same_but_version(previous, obj):
                self._notify(obj)
        if version:
            self.resource_version = version

    def _trimmed(self, obj: Obj) -> Obj:
        """The object as cached: without `metadata.managedFields` (the apiserver's bookkeeping of
        who set which field, often most of an object, read by nothing in canary) and with only the
        resource's `fields`. Memory held per object, for the life of the controller."""
        metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        kept, status = self.resource.fields, self.resource.status_fields
        trimmed = {
            **{k: v for k, v in obj.items() if kept is None or k in kept or k in ("apiVersion", "kind")},
            "metadata": metadata,
        }
        if status is not None and "status" in trimmed:
            trimmed["status"] = {k: v for k, v in (trimmed["status"] or {}).items() if k in status}
        return trimmed

    def _index(self, key: tuple[str, str], obj: Obj | None) -> None:
        """Record the owners of the object at `key` (None: deleted), and whether it is an orphan;
        under the lock."""
        for uid in owner_uids(obj) if obj is not None else ():
            self._owned.setdefault(uid, set()).add(key)
        if not self.resource.index_orphans:
            return
        if obj is not None and controller_uid(obj) is None:
            self._orphans.setdefault(key[0], set()).add(key)
        elif key in self._orphans.get(key[0], ()):
            self._orphans[key[0]].discard(key)
            if not self._orphans[key[0]]:
                del self._orphans[key[0]]

    def _unindex_owners(self, key: tuple[str, str], obj: Obj) -> None:
        for uid in owner_uids(obj):
            keys = self._owned.get(uid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._owned[uid]

    def _notify(self, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(obj)
            except Exception:  # a faulty handler must not stop the watch
                log.exception("informer handler failed", resource=self.resource.plural)


def _same_but_version(previous: Obj, obj: Obj) -> bool:
    """Whether `obj` is `previous` as cached but for its resourceVersion: a change of only what the
    cache leaves out (managedFields, fields the resource does not keep) is no change to anyone."""
    version = previous["metadata"].get("resourceVersion")
    return previous == {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}


def _cache_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace") or "", meta["name"]


class Informers:
    """The informers of one controller; reads of kinds without an informer go to the API.

    Implements `canary.cluster.kube.Reads`, so `KubeCluster` reads the cache instead of the apiserver.
    """

    def __init__(self, api: KubeApi, informers: list[Informer]) -> None:
        self._api = api
        self._by_resource = {(i.resource.api_version, i.resource.plural): i for i in informers}

    def all(self) -> list[Informer]:
        return list(self._by_resource.values())

    def informer(self, api_version: str, plural: str) -> Informer:
        return self._by_resource[(api_version, plural)]

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        informer = self._by_resource.get((api_version, plural))
        if informer is None:
            return self._api.get(api_version, plural, namespace, name)
        return informer.get(namespace, name)

    def orphans(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        informer = self._by_resource.get((api_version, plural))
        if informer is None:
            items = self._api.list(api_version, plural, namespace).items
            return [obj for obj in items if controller_uid(obj) is None]
        return informer.orphans(namespace)

    def owned(self, api_version: str, plural: str, namespace: str | None, uid: str) -> list[Obj]:
        informer = self._by_resource.get((api_version, plural))
        if informer is None:
            return [obj for obj in self._api.list(api_version, plural, namespace).items if owned_by(obj, uid)]
        return informer.owned(namespace, uid)

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        informer = self._by_resource.get((api_version, plural))
        if informer is None:
            return self._api.list(api_version, plural, namespace).items
        return informer.list(namespace)

    def has_synced(self) -> bool:
        return all(informer.has_synced for informer in self._by_resource.values())
