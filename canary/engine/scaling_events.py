"""The Events Argo Rollouts records for the writes a decision asks for: a ReplicaSet created, a
ReplicaSet scaled, a Service switched to another revision.

Argo emits these from the code that writes; canary's engine never writes, but it knows what each
action asks for and what the cluster holds (`Observed`), so it names every action that changes
something, with Argo's reason and message (see docs/argo-strings.md). An action that asks for what
is already there (the adapters then write nothing) gets no Event.

These Events follow the actions, not the status: deciding again on an unchanged cluster asks for the
same writes and names them again. The shell applies actions before Events, so an Event is recorded
only after its write went through.
"""

from __future__ import annotations

from collections.abc import Iterable

from canary.api.rollout import Rollout
from canary.engine.actions import Action, CreateReplicaSet, EmitEvent, ScaleReplicaSet, SetServiceSelector
from canary.engine.hashing import replica_set_name
from canary.engine.observed import Observed

NEW_REPLICA_SET_CREATED = "NewReplicaSetCreated"
SCALING_REPLICA_SET = "ScalingReplicaSet"
SWITCH_SERVICE = "SwitchService"
WRITE_EVENTS = frozenset({NEW_REPLICA_SET_CREATED, SCALING_REPLICA_SET, SWITCH_SERVICE})
"""The reasons that name a write rather than a change of status."""


def scaling_events(rollout: Rollout, observed: Observed, actions: Iterable[Action]) -> list[EmitEvent]:
    """`NewReplicaSetCreated`, `ScalingReplicaSet` and `SwitchService` Events for the actions that
    change the cluster, in the order of the actions.

    A created ReplicaSet is named like Argo's: created (at 0 pods), then scaled up to its count.
    """
    events: list[EmitEvent] = []
    for action in actions:
        match action:
            case CreateReplicaSet(pod_template_hash=pod_hash, replicas=replicas, revision=revision):
                if observed.replica_set(pod_hash) is not None:
                    continue
                name = replica_set_name(rollout.metadata.name, pod_hash)
                events.append(
                    EmitEvent("Normal", NEW_REPLICA_SET_CREATED, f"Created ReplicaSet {name} (revision {revision})")
                )
                if replicas > 0:
                    events.append(_scaled(name, revision, 0, replicas))
            case ScaleReplicaSet(pod_template_hash=pod_hash, replicas=replicas):
                seen = observed.replica_set(pod_hash)
                if seen is not None and seen.replicas != replicas:
                    events.append(_scaled(seen.name, seen.revision, seen.replicas, replicas))
            case SetServiceSelector(service=service, pod_template_hash=pod_hash):
                before = observed.service_selectors.get(service)
                if service in observed.service_selectors and before != pod_hash:
                    events.append(
                        EmitEvent(
                            "Normal",
                            SWITCH_SERVICE,
                            f"Switched selector for service '{service}' from '{before or ''}' to '{pod_hash}'",
                        )
                    )
    return events


def _scaled(name: str, revision: int, before: int, after: int) -> EmitEvent:
    direction = "up" if after > before else "down"
    return EmitEvent(
        "Normal",
        SCALING_REPLICA_SET,
        f"Scaled {direction} ReplicaSet {name} (revision {revision}) from {before} to {after}",
    )
