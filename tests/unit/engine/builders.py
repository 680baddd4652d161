"""What the engine's unit tests build by hand: revisions of the scenarios' Rollout, and the
ReplicaSets of an observed state."""

from __future__ import annotations

from typing import Any

from canary.engine.actions import PodHash
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import ReplicaSetView
from canary.sim import scenarios


def revision(image: str) -> PodHash:
    """The pod-template hash of `scenarios.rollout(image=...)`."""
    return pod_template_hash(scenarios.rollout(image=image).spec.template or {})


def replica_set(
    pod_hash: str, *, replicas: int, revision: int = 1, available: int | None = None, **fields: Any
) -> ReplicaSetView:
    """A ReplicaSet of the Rollout `web`: every pod ready and available unless `available` says
    how many are; `fields` sets the rest (deadlines, ephemeral metadata, creation time)."""
    ready = replicas if available is None else available
    return ReplicaSetView(
        name=f"web-{pod_hash}",
        pod_template_hash=PodHash(pod_hash),
        template={},
        revision=revision,
        replicas=replicas,
        ready=ready,
        available=ready,
        **fields,
    )
