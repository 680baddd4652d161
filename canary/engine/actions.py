"""Declarative actions: each says what must be true in the cluster, never how to get there.

The engine returns them; adapters (`canary.cluster.memory`, `canary.cluster.kube`, the traffic
routers) make them true and write only on a difference, so applying the same decision twice does
nothing. The shell applies a decision's actions in the order given; `decide` orders them so a
Service selects its new pods before the weight sends traffic through it, and traffic moves away
from a ReplicaSet before that ReplicaSet shrinks (see `ORDER`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NewType

from canary.api.analysis import AnalysisRun
from canary.api.hooks import Webhook

PodHash = NewType("PodHash", str)
"""A pod-template hash (`rollouts-pod-template-hash` label): the identity of one revision."""


@dataclass(frozen=True)
class CreateReplicaSet:
    """A ReplicaSet for this revision exists with this template (created with `replicas` if absent)."""

    pod_template_hash: PodHash
    template: Mapping[str, Any]
    replicas: int
    revision: int


@dataclass(frozen=True)
class ScaleReplicaSet:
    """The ReplicaSet of this revision asks for exactly `replicas` pods."""

    pod_template_hash: PodHash
    replicas: int


@dataclass(frozen=True)
class SetScaleDownDeadline:
    """The ReplicaSet carries this scale-down deadline (None removes it); the engine scales it after."""

    pod_template_hash: PodHash
    deadline: datetime | None


@dataclass(frozen=True)
class DeleteReplicaSet:
    """The ReplicaSet of this revision no longer exists (history beyond revisionHistoryLimit)."""

    pod_template_hash: PodHash


@dataclass(frozen=True)
class RestartPods:
    """One pod of the ReplicaSet started before `restart_at` (spec.restartAt) is replaced; with none
    left, the ReplicaSet is marked restarted at `restart_at`. The engine paces it (`engine.restarts`)."""

    pod_template_hash: PodHash
    restart_at: datetime


@dataclass(frozen=True)
class EphemeralMetadata:
    """Labels and annotations canary puts on a revision's pods for the role it has now
    (`strategy.canary.canaryMetadata` / `stableMetadata`); empty: none."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SetEphemeralMetadata:
    """The ReplicaSet's pod template and every pod it has carry exactly `metadata` as the labels and
    annotations canary adds: those canary added before and no longer wants are removed, everything
    else is left alone. The pod-template hash does not change and no pod is replaced."""

    pod_template_hash: PodHash
    metadata: EphemeralMetadata


@dataclass(frozen=True)
class SetServiceSelector:
    """The Service selects the pods of this revision (its selector carries the hash)."""

    service: str
    pod_template_hash: PodHash


@dataclass(frozen=True)
class SetTrafficWeight:
    """The router sends `canary_weight` (of maxTrafficWeight) to the canary, the rest to stable."""

    canary_weight: int
    stable_hash: PodHash
    canary_hash: PodHash


@dataclass(frozen=True)
class CreateAnalysisRun:
    """This AnalysisRun exists (created if absent, never overwritten)."""

    run: AnalysisRun = field(compare=True)


@dataclass(frozen=True)
class TerminateAnalysisRun:
    """The named AnalysisRun is asked to stop (spec.terminate = true)."""

    name: str


@dataclass(frozen=True)
class DeleteAnalysisRun:
    """The named AnalysisRun is gone (history beyond the run history limits)."""

    name: str


@dataclass(frozen=True)
class RunHook:
    """The webhook call `key` is made once with `payload` (Flagger's JSON body); a call already made
    or under way is not made again. Its answer comes back as `Observed.hook_results[key]`."""

    key: str
    hook: Webhook
    payload: Mapping[str, Any]


EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event on the Rollout; emitted once per state change, never on a quiet reconcile."""

    type: EventType
    reason: str
    message: str


Action = (
    CreateReplicaSet
    | ScaleReplicaSet
    | SetScaleDownDeadline
    | DeleteReplicaSet
    | RestartPods
    | SetEphemeralMetadata
    | SetServiceSelector
    | SetTrafficWeight
    | CreateAnalysisRun
    | TerminateAnalysisRun
    | DeleteAnalysisRun
    | RunHook
    | EmitEvent
)

ORDER: tuple[type, ...] = (
    CreateReplicaSet,
    SetEphemeralMetadata,
    SetServiceSelector,
    SetTrafficWeight,
    ScaleReplicaSet,
    SetScaleDownDeadline,
    RestartPods,
    TerminateAnalysisRun,
    CreateAnalysisRun,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    RunHook,
    EmitEvent,
)
"""The order the shell applies actions in. Traffic and selectors move before any ReplicaSet shrinks,
so stable traffic is never sent to pods that are going away; scale-ups come with the creations.
Pods carry the metadata of their role before traffic reaches them in that role."""


def ordered(actions: Sequence[Action]) -> tuple[Action, ...]:
    """`actions` in `ORDER`, keeping the engine's order within a kind (a stable sort)."""
    return tuple(sorted(actions, key=lambda action: ORDER.index(type(action))))
