"""One interface for every traffic router, and the one way they write.

A router owns a single resource of its provider (a TrafficSplit, a VirtualService, a canary Ingress,
an HTTPRoute). Each router module has a pure function from (current resource, weight) to the desired
resource, and `converge` writes the difference as one JSON merge patch carrying the
resourceVersion it was computed from, so a concurrent edit makes the apiserver answer 409 instead of
being overwritten. Nothing is written when the resource already says the right thing.

Routers read and write through `ObjectStore` (implemented by `canary.cluster.kube.KubeApi`), so
this package never imports the Kubernetes client itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from canary.api.rollout import Rollout

FIELD_MANAGER = "canary-controller"
POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"

Obj = dict[str, Any]


class RouterError(Exception):
    """The router's resource cannot be made to carry the weight (missing, or shaped unexpectedly)."""


class ObjectStore(Protocol):
    """Generic reads and JSON-merge-patch writes of one Kubernetes object, as plain dicts."""

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> Obj | None: ...

    def create(self, api_version: str, plural: str, namespace: str, body: Obj) -> Obj: ...

    def patch(self, api_version: str, plural: str, namespace: str, name: str, patch: Obj) -> Obj: ...


@dataclass(frozen=True)
class WeightChange:
    """What a router is asked to make true: `weight` to the canary revision, the rest to stable."""

    weight: int
    canary_hash: str
    stable_hash: str


class TrafficRouter(Protocol):
    """Moves a Rollout's traffic between its canary and stable pods; weights are of maxTrafficWeight."""

    def set_weight(self, rollout: Rollout, weight: int, *, canary_hash: str, stable_hash: str) -> None: ...

    def current_weight(self, rollout: Rollout) -> int | None: ...

    def verify_weight(self, rollout: Rollout, weight: int) -> bool: ...


@dataclass(frozen=True)
class Target:
    """Which object a router writes."""

    api_version: str
    kind: str
    plural: str
    namespace: str
    name: str

    def describe(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class RouterPlan(Protocol):
    """The pure half of a router: which object it writes, what that object should say, what it says.

    `sources` names objects the desired content is derived from (the stable Ingress for NGINX);
    they are read and passed to `desired` in the same order.
    """

    def target(self, rollout: Rollout) -> Target: ...

    def sources(self, rollout: Rollout) -> tuple[Target, ...]: ...

    def desired(
        self, rollout: Rollout, current: Obj | None, change: WeightChange, sources: tuple[Obj | None, ...]
    ) -> Obj: ...

    def weight_in(self, rollout: Rollout, current: Obj) -> int | None: ...


class PlannedRouter:
    """A `TrafficRouter` that converges the objects of its plans in order (the last carries the weight)."""

    def __init__(self, store: ObjectStore, *plans: RouterPlan) -> None:
        self._store = store
        self._plans = plans

    def set_weight(self, rollout: Rollout, weight: int, *, canary_hash: str, stable_hash: str) -> None:
        change = WeightChange(weight, canary_hash, stable_hash)
        for plan in self._plans:
            inputs = tuple(self._read(source) for source in plan.sources(rollout))
            converge(
                self._store,
                plan.target(rollout),
                partial(plan.desired, rollout, change=change, sources=inputs),
            )

    def current_weight(self, rollout: Rollout) -> int | None:
        plan = self._plans[-1]
        current = self._read(plan.target(rollout))
        return None if current is None else plan.weight_in(rollout, current)

    def verify_weight(self, rollout: Rollout, weight: int) -> bool:
        return self.current_weight(rollout) == weight

    def _read(self, target: Target) -> Obj | None:
        return self._store.get(target.api_version, target.plural, target.namespace, target.name)


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    CREATED = "created"
    UPDATED = "updated"


def merge_patch(current: Obj, desired: Obj) -> Obj:
    """The smallest RFC 7386 merge patch that turns `current` into `desired` (lists are replaced whole)."""
    patch: Obj = {}
    for key, value in desired.items():
        old = current.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            nested = merge_patch(old, value)
            if nested:
                patch[key] = nested
        elif old != value or key not in current:
            patch[key] = value
    for key in current.keys() - desired.keys():
        patch[key] = None
    return patch


def converge(store: ObjectStore, target: Target, desired_of: Callable[[Obj | None], Obj]) -> Outcome:
    """Make `target` equal `desired_of(current)`: create it, patch the difference, or do nothing."""
    current = store.get(target.api_version, target.plural, target.namespace, target.name)
    desired = desired_of(current)
    if current is None:
        store.create(target.api_version, target.plural, target.namespace, desired)
        return Outcome.CREATED
    patch = merge_patch(_without_server_fields(current), _without_server_fields(desired))
    if not patch:
        return Outcome.UNCHANGED
    patch.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
    store.patch(target.api_version, target.plural, target.namespace, target.name, patch)
    return Outcome.UPDATED


def _without_server_fields(obj: Obj) -> Obj:
    """The object minus what the apiserver and other controllers own (status, managedFields, ...)."""
    metadata = {
        key: value
        for key, value in (obj.get("metadata") or {}).items()
        if key in ("name", "namespace", "labels", "annotations", "ownerReferences")
    }
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": metadata}


def split(rollout: Rollout, weight: int) -> tuple[int, int]:
    """(canary, stable) weights of maxTrafficWeight; stable always gets the remainder."""
    total = rollout.spec.strategy.max_weight
    if not 0 <= weight <= total:
        raise RouterError(f"canary weight {weight} is outside 0..{total} (maxTrafficWeight)")
    return weight, total - weight


def services(rollout: Rollout) -> tuple[str, str]:
    """(canaryService, stableService): the model guarantees both are set when trafficRouting is."""
    canary = rollout.spec.strategy.canary
    if canary is None or not (canary.canary_service and canary.stable_service):
        raise RouterError("trafficRouting needs spec.strategy.canary.canaryService and stableService")
    return canary.canary_service, canary.stable_service


def namespace_of(rollout: Rollout) -> str:
    return rollout.metadata.namespace or "default"
