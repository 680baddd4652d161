"""Where deliveries are recorded, so a restarted controller sends what was not delivered and
nothing that was: per Rollout, the `Watermark` of each subscription (`canary.engine.notifications`).

`ConfigMapStore` keeps them in one ConfigMap in the controller's namespace (`canary-notification-state`,
one data key per Rollout, `<namespace>.<name>`), so the controller never writes a Rollout's metadata
(which people and GitOps tools own). Only the leader's notifier writes it; a merge patch per change.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from canary.cluster.kube_api import KubeApi
from canary.cluster.port import NotFound
from canary.engine.notifications import Watermark, read_record, write_record

CONFIG_MAPS = ("v1", "configmaps")
STATE_NAME = "canary-notification-state"


class DeliveryStore(Protocol):
    def load(self, namespace: str, name: str) -> dict[str, Watermark]: ...

    def save(self, namespace: str, name: str, record: Mapping[str, Watermark]) -> None: ...

    def rollouts(self) -> list[tuple[str, str]]:
        """The Rollouts with a record."""
        ...


def _key(namespace: str, name: str) -> str:
    return f"{namespace}.{name}"


class MemoryStore:
    """For the embedded cluster and tests; outlives a notifier like the ConfigMap does."""

    def __init__(self) -> None:
        self._records: dict[str, str] = {}
        self._lock = threading.Lock()

    def load(self, namespace: str, name: str) -> dict[str, Watermark]:
        with self._lock:
            return read_record(self._records.get(_key(namespace, name)))

    def save(self, namespace: str, name: str, record: Mapping[str, Watermark]) -> None:
        with self._lock:
            if record:
                self._records[_key(namespace, name)] = write_record(record)
            else:
                self._records.pop(_key(namespace, name), None)

    def rollouts(self) -> list[tuple[str, str]]:
        with self._lock:
            return [_split(key) for key in self._records]


class ConfigMapStore:
    def __init__(self, api: KubeApi, namespace: str, name: str = STATE_NAME) -> None:
        self._api, self._namespace, self._name = api, namespace, name
        self._lock = threading.Lock()
        self._cache: dict[str, str] | None = None

    def _data(self) -> dict[str, str]:
        if self._cache is None:
            obj = self._api.get(*CONFIG_MAPS, self._namespace, self._name)
            self._cache = dict((obj or {}).get("data") or {})
        return self._cache

    def load(self, namespace: str, name: str) -> dict[str, Watermark]:
        with self._lock:
            return read_record(self._data().get(_key(namespace, name)))

    def save(self, namespace: str, name: str, record: Mapping[str, Watermark]) -> None:
        key = _key(namespace, name)
        text = write_record(record) if record else None
        with self._lock:
            data = self._data()
            if data.get(key) == text:
                return
            try:
                self._api.patch(*CONFIG_MAPS, self._namespace, self._name, {"data": {key: text}})
            except NotFound:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": self._name, "namespace": self._namespace},
                    "data": {key: text} if text else {},
                }
                self._api.create(*CONFIG_MAPS, self._namespace, body)
            if text is None:
                data.pop(key, None)
            else:
                data[key] = text

    def rollouts(self) -> list[tuple[str, str]]:
        with self._lock:
            return [_split(key) for key in self._data()]


def _split(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition(".")
    return namespace, name
