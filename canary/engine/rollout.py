"""decide(): given a Rollout and what is observed, the new status and the actions that make it true.

Pure and deterministic: the same Rollout, Observed and `now` always give the same Decision, and a
decision is a fixed point of itself (deciding again on the status it returns, with the cluster
unchanged, gives the same status, the same actions and no new events).

`decide` does what every release shares (the revisions by pod-template hash, the spec's problems,
the progress deadline, the status and its Events) and dispatches once, here, to the Rollout's
strategy (`STRATEGIES`, see `canary.engine.strategy`): the strategy moves the release as far as the
observed cluster allows, then says what the cluster must look like for the point it stopped at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canary.api.rollout import Rollout, RolloutStatus
from canary.engine import analysis_runs, hooks, recovery
from canary.engine import status as status_of
from canary.engine.actions import Action, PodHash, SetServiceSelector, ordered
from canary.engine.bluegreen_strategy import BLUE_GREEN
from canary.engine.canary_strategy import CANARY
from canary.engine.context import DecisionContext
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import Observed
from canary.engine.strategy import ReleaseStrategy

STRATEGIES: dict[str, ReleaseStrategy] = {"canary": CANARY, "blueGreen": BLUE_GREEN}
"""Each `spec.strategy` kind and the module that decides it."""


def strategy_of(rollout: Rollout) -> ReleaseStrategy:
    """The strategy that decides `rollout` (the one place that tells them apart)."""
    return STRATEGIES[rollout.spec.strategy.kind]


@dataclass(frozen=True)
class Decision:
    """The Rollout's new status, the actions that make the cluster match it, and when to look again.

    `requeue_after` is the number of seconds until something time-based is due (a timed pause ends,
    a scale-down delay passes, the progress deadline expires), None when only a change in the
    cluster can move the rollout on.
    """

    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None


def decide(rollout: Rollout, observed: Observed, now: datetime) -> Decision:
    """The next status and actions for `rollout` (see the module docstring)."""
    strategy = strategy_of(rollout)
    template = rollout.spec.template if rollout.spec.template is not None else observed.workload_template
    if template is None:
        ref = rollout.spec.workload_ref.name if rollout.spec.workload_ref else ""
        return _invalid(
            rollout,
            strategy,
            now,
            [f"spec.workloadRef: Deployment '{ref}' not found; create it or fix the name"],
        )
    stable, canary = _hashes(rollout, observed, template)
    problems = strategy.problems(rollout, observed) + analysis_runs.analysis_problems(
        rollout, observed, stable, canary
    )
    context = DecisionContext(rollout, observed, now, template)
    if problems:
        return _invalid(rollout, strategy, now, problems, converging=context)
    progress = strategy.start(rollout, observed, stable, canary)
    progress, run_actions, waits = strategy.advance(context, progress)
    progress, deadline = status_of.progress_deadline(
        rollout, observed, progress, context.sides(progress), now, strategy=strategy
    )
    actions, converge_waits, weight = strategy.converge(context, progress)
    status = status_of.build(
        rollout,
        observed,
        progress,
        sides=context.sides(progress),
        weight=weight,
        deadline=deadline,
        now=now,
        strategy=strategy,
    )
    events = list(
        status_of.events_between(
            rollout, rollout.status, status, observed=observed, actions=actions, strategy=strategy
        )
    )
    told = hooks.event_calls(rollout, status, events, now)
    due = [w for w in (*waits, *converge_waits, deadline.wait) if w is not None]
    return Decision(status, ordered([*run_actions, *actions, *told, *events]), min(due) if due else None)


def _invalid(
    rollout: Rollout,
    strategy: ReleaseStrategy,
    now: datetime,
    problems: list[str],
    *,
    converging: DecisionContext | None = None,
) -> Decision:
    """InvalidSpec: nothing moves forward. An abort still takes effect (traffic back to stable,
    through the Services that exist), whatever else is wrong with the spec."""
    status = status_of.invalid(rollout, problems, now)
    events = list(status_of.events_between(rollout, rollout.status, status, strategy=strategy))
    if converging is None:
        return Decision(status, ordered(events), None)
    progress = strategy.start(
        rollout, converging.observed, *_hashes(rollout, converging.observed, converging.template)
    )
    if not progress.abort or progress.complete:
        return Decision(status, ordered(events), None)
    actions, waits, weight = strategy.converge(converging, progress)
    existing = converging.observed.service_selectors
    kept = [a for a in actions if not (isinstance(a, SetServiceSelector) and a.service not in existing)]
    due = [w for w in waits if w is not None]
    status = strategy.with_routing(rollout, status, progress, weight)
    return Decision(status, ordered([*kept, *events]), min(due) if due else None)


def _hashes(rollout: Rollout, observed: Observed, template: Mapping[str, Any]) -> tuple[PodHash, PodHash]:
    """(stable, canary): the canary is the current template; stable is the status's (unless it
    serves nothing, `recovery.stable_serves_nothing`), else the revision that still serves, else
    (a first deploy) the canary."""
    canary = pod_template_hash(template)
    if rollout.status.stable_rs:
        stable = PodHash(rollout.status.stable_rs)
        if recovery.stable_serves_nothing(rollout, observed, stable, canary):
            return canary, canary
        return stable, canary
    return recovery.stable_without_status(rollout, observed, canary), canary
