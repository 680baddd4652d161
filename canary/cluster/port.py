"""The port the engine's shell goes through: every read and write of cluster state.

Narrow protocols in controller-runtime's habit (a reader, a writer, a status writer), combined
into `ClusterPort`. Two adapters implement it: `canary.cluster.memory` (embedded, virtual clock)
and `canary.cluster.kube` (the Kubernetes API). One contract suite runs against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from canary.api.analysis import AnalysisRun
from canary.api.rollout import Rollout, RolloutStatus
from canary.engine.actions import Action
from canary.engine.commands import Patch
from canary.engine.observed import Observed


class NotFound(LookupError):  # noqa: N818 - the name kubectl users know
    """The object does not exist (any more)."""


class Conflict(RuntimeError):  # noqa: N818 - the name kubectl users know
    """The object changed since it was read (resourceVersion mismatch): read again and redo."""


@dataclass(frozen=True)
class RecordedEvent:
    """An Event as stored: on which Rollout, what happened, and when it last happened."""

    namespace: str
    rollout: str
    type: str
    reason: str
    message: str
    timestamp: datetime
    count: int = 1


class RolloutReader(Protocol):
    def get_rollout(self, namespace: str, name: str) -> Rollout:
        """The Rollout, or `NotFound`."""
        ...

    def list_rollouts(self, namespace: str | None = None) -> list[Rollout]:
        """Every Rollout, in one namespace or (None) in all."""
        ...

    def observe(self, rollout: Rollout) -> Observed:
        """What the engine needs to decide for this Rollout (its ReplicaSets, runs, templates, ...)."""
        ...


class RolloutWriter(Protocol):
    def adopt_orphans(self, rollout: Rollout) -> list[str]:
        """Make the Rollout the controller owner of the orphaned ReplicaSets `canary.engine.adoption`
        picks from the last read; the names picked. One that changed since that read is skipped (and
        picked again next time if it still qualifies)."""
        ...

    def apply(self, rollout: Rollout, actions: Sequence[Action]) -> None:
        """Make each action true in the fixed action order (`actions.ordered`), writing only where the cluster differs."""
        ...

    def patch_rollout(self, namespace: str, name: str, patch: Patch) -> Rollout:
        """Apply a verb's merge patch (`Conflict` if its resourceVersion is stale, `NotFound`)."""
        ...


class StatusWriter(Protocol):
    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout:
        """Replace the status if `rollout.metadata.resourceVersion` is current, else `Conflict`."""
        ...


class EventReader(Protocol):
    def list_events(self, namespace: str, name: str) -> list[RecordedEvent]:
        """The Events recorded on one Rollout, oldest first."""
        ...


class AnalysisRunStore(Protocol):
    def list_analysis_runs(self, namespace: str | None = None) -> list[AnalysisRun]:
        """Every AnalysisRun, in one namespace or (None) in all."""
        ...

    def update_analysis_run_status(self, run: AnalysisRun) -> AnalysisRun:
        """Replace the run's status if its resourceVersion is current, else `Conflict`."""
        ...


class ClusterPort(RolloutReader, RolloutWriter, StatusWriter, EventReader, AnalysisRunStore, Protocol):
    """Everything the reconciler, the CLI and the analysis runner need from a cluster."""
