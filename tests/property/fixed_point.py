"""The fixed-point property every decision keeps, whatever the strategy: deciding again on the
status a decision stores, with the cluster as it was observed, asks for the same status, no Event a
status change did not cause, and no write the decision did not already ask for.

The controller relies on it: the watch event of its own status write is not reconciled
(`canary.controller.own_writes`), so a decision that is not its own fixed point would leave work
undone until the next unrelated event.
"""

from __future__ import annotations

from datetime import datetime

from canary.api.hooks import HookType
from canary.api.rollout import Rollout
from canary.engine.actions import Action, EmitEvent, RunHook
from canary.engine.observed import Observed
from canary.engine.rollout import Decision, decide
from canary.engine.scaling_events import WRITE_EVENTS


def check_fixed_point(rollout: Rollout, observed: Observed, decision: Decision, now: datetime) -> None:
    again = decide(rollout.model_copy(update={"status": decision.status}), observed, now)
    assert again.status == decision.status, "a decision is a fixed point of itself"
    # Events follow status changes, except those naming a write still asked for (the cluster is
    # unchanged here, so the same writes are asked for again).
    repeated = [a for a in again.actions if isinstance(a, EmitEvent) and a.reason not in WRITE_EVENTS]
    assert not repeated, f"no new events on own output: {repeated}"
    fresh = [a for a in again.actions if a not in decision.actions and not _follows_an_event(a)]
    assert not fresh, f"no new writes on own output: {fresh}"


def _follows_an_event(action: Action) -> bool:
    """Events, and the `event` hook call made for each, which are checked as Events."""
    return isinstance(action, EmitEvent) or (
        isinstance(action, RunHook) and action.hook.type == HookType.EVENT
    )
