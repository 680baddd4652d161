"""decide(): given a Rollout and what is observed, the new status and the actions that make it true."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine.actions import Action
from canary.engine.observed import Observed


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None


def decide(rollout: Rollout, observed: Observed, now: datetime) -> Decision:
    return Decision(rollout.status, (), None)
