"""Builders shared by the gitops unit tests: an aborted Rollout and the ReplicaSets it observes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine.actions import PodHash
from canary.engine.observed import Observed, ReplicaSetView
from canary.sim import scenarios

ABORTED, STABLE = "7c9f8d6b5", "5d4c3b2a1"


def pod_template(image: str) -> dict[str, Any]:
    return {
        "spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}, {"name": "app", "image": image}]}
    }


def replica_set(pod_hash: str, image: str) -> ReplicaSetView:
    return ReplicaSetView(
        name=f"web-{pod_hash}",
        pod_template_hash=PodHash(pod_hash),
        template=pod_template(image),
        revision=1,
        replicas=1,
    )


@pytest.fixture
def observed() -> Observed:
    return Observed(
        replica_sets=(
            replica_set(ABORTED, "ghcr.io/example/web:2"),
            replica_set(STABLE, "ghcr.io/example/web:1"),
        )
    )


@pytest.fixture
def aborted_rollout() -> Callable[..., Rollout]:
    """`aborted_rollout(**status fields)`: revision ABORTED aborted, STABLE serving."""

    def make(**status: Any) -> Rollout:
        rollout = scenarios.rollout(image="ghcr.io/example/web:2")
        fields = {
            "abort": True,
            "current_pod_hash": ABORTED,
            "stable_rs": STABLE,
            "message": "RolloutAborted: metric failed",
        }
        return rollout.model_copy(update={"status": RolloutStatus(**(fields | status))})

    return make
