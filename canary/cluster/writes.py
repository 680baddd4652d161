"""The one order in which a decision is made true: the controller, the simulation (demo,
benchmarks) and the property tests all write through `write_decision`, so what is simulated is
what production runs.

1. The world: ReplicaSets, Services, traffic and AnalysisRuns, in `actions.ORDER`.
2. The status, once, and only when it changed. A `Conflict` (the Rollout changed since it was read)
   propagates: the caller reads again and decides again, never writing the stale decision.
3. The Events, only once the status recording their change is stored, so a status write that
   conflicts and is retried never leaves a duplicate Event behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine import actions as act
from canary.engine.rollout import Decision


class DecisionWriter(Protocol):
    def apply(self, rollout: Rollout, actions: Sequence[act.Action]) -> None: ...

    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout: ...


def write_decision(port: DecisionWriter, rollout: Rollout, decision: Decision) -> bool:
    """Make `decision` (taken on `rollout` as read) true; whether a new status was stored."""
    world = [a for a in decision.actions if not isinstance(a, act.EmitEvent)]
    events = [a for a in decision.actions if isinstance(a, act.EmitEvent)]
    port.apply(rollout, world)
    changed = decision.status != rollout.status
    if changed:
        port.update_status(rollout, decision.status)
    port.apply(rollout, events)
    return changed
