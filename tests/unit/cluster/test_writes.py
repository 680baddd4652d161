"""The one write order every loop uses (controller, simulation, property tests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from canary.api.rollout import Rollout, RolloutStatus
from canary.cluster.port import Conflict
from canary.cluster.writes import write_decision
from canary.engine import actions as act
from canary.engine.rollout import Decision
from canary.sim import scenarios

EVENT = act.EmitEvent("Normal", "RolloutUpdated", "Rollout updated to revision 2")
SCALE = act.ScaleReplicaSet(act.PodHash("abc"), 2)


class RecordingPort:
    def __init__(self, *, conflict: bool = False) -> None:
        self.conflict = conflict
        self.writes: list[str] = []

    def apply(self, rollout: Rollout, actions: Sequence[act.Action]) -> None:
        self.writes += [type(a).__name__ for a in actions]

    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout:
        if self.conflict:
            raise Conflict("changed since it was read")
        self.writes.append("status")
        return rollout


def decision(status: RolloutStatus) -> Decision:
    return Decision(status, (SCALE, EVENT), None)


def changed_status() -> RolloutStatus:
    return RolloutStatus(phase="Progressing", aborted_at=datetime(2024, 1, 1, tzinfo=UTC))


def test_the_world_is_written_before_the_status_and_events_after_it() -> None:
    port = RecordingPort()
    write_decision(port, scenarios.rollout(), decision(changed_status()))
    assert port.writes == ["ScaleReplicaSet", "status", "EmitEvent"]


def test_a_conflicting_status_write_leaves_no_event_behind() -> None:
    port = RecordingPort(conflict=True)
    with pytest.raises(Conflict):
        write_decision(port, scenarios.rollout(), decision(changed_status()))
    assert "EmitEvent" not in port.writes


def test_an_unchanged_status_is_not_written_again() -> None:
    port = RecordingPort()
    rollout = scenarios.rollout()
    assert not write_decision(port, rollout, decision(rollout.status))
    assert "status" not in port.writes
