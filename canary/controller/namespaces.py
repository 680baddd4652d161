"""A namespaced controller (`--namespaced a,b`): every resource is watched in each of its namespaces
and nowhere else, so it needs RBAC only there (Roles or RoleBindings, never a ClusterRoleBinding).

`informer_for` gives one `Informer` per resource: a plain one for a single namespace (or all), and
for several namespaces a `NamespacesInformer`, which runs one informer per namespace behind the same
interface, so `Informers`, the event routing and `KubeCluster` do not change.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from canary.cluster.kube_actions import controller_uid
from canary.cluster.kube_api import KubeApi, Obj
from canary.controller.informer import Handler, Informer, Resource


def informer_for(
    api: KubeApi,
    resource: Resource,
    namespaces: Sequence[str],
    *,
    namespace: str | None = None,
    watch_timeout_seconds: int = 300,
) -> Informer:
    """The informer of `resource` in `namespaces` (several: a `NamespacesInformer`), or else in
    `namespace` (None: every namespace)."""
    if len(namespaces) > 1 and resource.namespaced:
        return NamespacesInformer(api, resource, namespaces, watch_timeout_seconds=watch_timeout_seconds)
    only = namespaces[0] if namespaces else namespace
    return Informer(api, resource, only, watch_timeout_seconds=watch_timeout_seconds)


class NamespacesInformer(Informer):
    """One resource in several namespaces: an informer (list + watch) per namespace."""

    def __init__(
        self, api: KubeApi, resource: Resource, namespaces: Sequence[str], *, watch_timeout_seconds: int
    ) -> None:
        super().__init__(api, resource, None, watch_timeout_seconds=watch_timeout_seconds)
        self.parts = {
            ns: Informer(api, resource, ns, watch_timeout_seconds=watch_timeout_seconds) for ns in namespaces
        }

    def on_change(self, handler: Handler) -> None:
        for part in self.parts.values():
            part.on_change(handler)

    @property
    def has_synced(self) -> bool:
        return all(part.has_synced for part in self.parts.values())

    def wait_synced(self, timeout: float) -> bool:
        return all(part.wait_synced(timeout) for part in self.parts.values())

    def get(self, namespace: str | None, name: str) -> Obj | None:
        part = self.parts.get(namespace or "")
        return None if part is None else part.get(namespace, name)

    def orphans(self, namespace: str | None = None) -> list[Obj]:
        return [obj for obj in self.list(namespace) if controller_uid(obj) is None]

    def owned(self, namespace: str | None, uid: str) -> list[Obj]:
        parts = [part for ns, part in self.parts.items() if namespace is None or ns == namespace]
        return [obj for part in parts for obj in part.owned(namespace, uid)]

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is not None:
            part = self.parts.get(namespace)
            return [] if part is None else part.list(namespace)
        return [obj for part in self.parts.values() for obj in part.list()]

    def stop(self) -> None:
        for part in self.parts.values():
            part.stop()

    def run(self) -> None:
        threads = [
            threading.Thread(target=part.run, name=f"informer-{self.resource.plural}-{ns}", daemon=True)
            for ns, part in self.parts.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
