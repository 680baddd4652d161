"""The seam between what every release shares and what one strategy decides.

`decide` (`canary.engine.rollout`) picks the Rollout's strategy once, at the top, and asks it the
questions below; everything else stays shared: revisions by pod-template hash, ReplicaSet creation
and scale-down (`canary.engine.converge`), the progress deadline, status conditions and Events
(`canary.engine.status`), analysis runs (`canary.engine.analysis_runs`), adoption and recovery.
A strategy is one module that implements this protocol: `canary.engine.canary_strategy` (steps,
weights) and `canary.engine.bluegreen_strategy` (a preview stack, then a Service switch).
"""

from __future__ import annotations

from typing import Any, Protocol

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine.actions import Action, PodHash
from canary.engine.context import DecisionContext
from canary.engine.observed import Observed
from canary.engine.progress import Progress

Waits = list[float | None]
"""Seconds until something time-based is due, per pending wait (None: nothing)."""


class ReleaseStrategy(Protocol):
    """What one strategy decides; pure, like the rest of the engine."""

    def problems(self, rollout: Rollout, observed: Observed) -> list[str]:
        """Why the spec cannot be acted on in this cluster (a Service it names is missing, ...),
        each with its field path and fix."""
        ...

    def start(self, rollout: Rollout, observed: Observed, stable: PodHash, canary: PodHash) -> Progress:
        """The release as the status left it, or fresh for a new revision."""
        ...

    def advance(self, context: DecisionContext, progress: Progress) -> tuple[Progress, list[Action], Waits]:
        """Move the release as far as the observed cluster allows (promote at the end), with the
        AnalysisRuns to create and the time-based waits."""
        ...

    def converge(self, context: DecisionContext, progress: Progress) -> tuple[list[Action], Waits, int]:
        """The actions that make pods, Services, traffic and runs match `progress`, the waits, and
        the canary weight routed (0 for a strategy without weights)."""
        ...

    def in_analysis(self, rollout: Rollout, progress: Progress) -> bool:
        """Whether the release waits on an analysis (the progress deadline does not run then)."""
        ...

    def waiting_message(self, rollout: Rollout, progress: Progress, replicas: int, updated: int) -> str:
        """Argo's status.message while every pod is updated and available but the release is not
        done (`replicas`/`updated`: the status's counts)."""
        ...

    def completion_reason(self, rollout: Rollout) -> str:
        """Argo's reason for a revision that became stable by finishing the strategy."""
        ...

    def status_fields(
        self, rollout: Rollout, observed: Observed, progress: Progress, weight: int
    ) -> dict[str, Any]:
        """The status fields only this strategy writes (RolloutStatus field names)."""
        ...

    def with_routing(
        self, rollout: Rollout, status: RolloutStatus, progress: Progress, weight: int
    ) -> RolloutStatus:
        """`status` recording where traffic was sent, for an abort that still converges while the
        spec is invalid (the status never claims a split or a selector the cluster no longer has)."""
        ...
