"""Release hooks (`spec.strategy.canary.webhooks`): which call is due, and what its answer means.

Pure like the rest of the engine. A call is asked for with a `RunHook` action whose key names the
hook, the revision (checksum), the step and the attempt; the hook runner makes it once and reports
its answer as `Observed.hook_results[key]`, which is recorded in `status.hooks` (so a restart
resumes where the status left off: an answered call is never made again, an unanswered one is).

Flagger's order and meanings:
- entering the first step: `confirm-rollout` gates, then `pre-rollout` hooks;
- entering a step that raises the canary's weight: `confirm-traffic-increase` gates;
- entering the promotion (after the last step): `confirm-promotion` gates;
- at every step: `rollout` hooks are called as the step starts and must have passed before it ends;
- while the release runs: `rollback` hooks are polled, and a 2xx answer aborts;
- once the release was promoted or aborted: `post-rollout` hooks, whose failure is only reported;
- every Event: `event` hooks, told as JSON.
A closed gate holds the release (`Progress.traffic_held`: traffic stays as the step before left it)
and is asked again after its interval. A failing pre-rollout or rollout hook holds it too and is
called again after its interval; once its failures exceed its failureLimit the release aborts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from canary.api.base import parse_duration
from canary.api.hooks import COUNTED, GATES, HookPhase, HookStatus, HookType, Webhook
from canary.api.rollout import Rollout, RolloutStatus
from canary.engine import steps as step_list
from canary.engine.actions import Action, EmitEvent, RunHook
from canary.engine.context import DecisionContext
from canary.engine.progress import Progress
from canary.engine.strategy import Waits

CONDITION = "WebhooksPassed"
"""The status condition that says how the revision's webhooks stand."""

_LATER = (HookType.POST_ROLLOUT, HookType.CONFIRM_PROMOTION)
"""Hooks recorded as the release starts and called later: the record marks a release that ran its
steps (a rollback within rollbackWindow skips them, and is neither gated nor reported)."""


@dataclass(frozen=True)
class Outcome:
    """The release after a group of hooks was looked at: the calls to make, when to look again, and
    whether every hook of the group has passed."""

    progress: Progress
    actions: list[Action]
    waits: Waits
    passed: bool


def hooks_of(rollout: Rollout, kind: HookType) -> list[Webhook]:
    return [hook for hook in rollout.spec.strategy.webhooks if hook.type == kind]


def entering(context: DecisionContext, progress: Progress) -> Outcome:
    """The gates and tests before the step at `progress.step_index` starts; until they pass the
    release is held there (an abort when a pre-rollout hook fails too often)."""
    index, last = progress.step_index, len(context.steps)
    groups: list[_Group] = []
    if index == 0:
        progress = _mark_release(context, progress)
        groups += _START
    if _raises_weight(context, index):
        groups.append((HookType.CONFIRM_TRAFFIC_INCREASE, index, index == last))
    if index == last:
        groups.append((HookType.CONFIRM_PROMOTION, None, True))
    return _in_order(context, progress, groups)


def before_start(context: DecisionContext, progress: Progress) -> Outcome:
    """Blue-green: `confirm-rollout` gates, then `pre-rollout` hooks, before the pre-promotion analysis."""
    return _in_order(context, _mark_release(context, progress), _START)


def before_switch(context: DecisionContext, progress: Progress) -> Outcome:
    """Blue-green: `confirm-traffic-increase`, then `confirm-promotion` gates, before the active
    Service is switched (a strategy without steps: the promotion is the one raise of traffic)."""
    groups: list[_Group] = [
        (HookType.CONFIRM_TRAFFIC_INCREASE, 0, True),
        (HookType.CONFIRM_PROMOTION, None, True),
    ]
    return _in_order(context, progress, groups)


_Group = tuple[HookType, int | None, bool]
"""Hooks of one type (for one step), and whether only those recorded as the release started count."""

_START: list[_Group] = [(HookType.CONFIRM_ROLLOUT, None, False), (HookType.PRE_ROLLOUT, None, False)]


def _in_order(context: DecisionContext, progress: Progress, groups: Sequence[_Group]) -> Outcome:
    """Each group once the one before passed; held (`traffic_held`) until all have."""
    actions: list[Action] = []
    for kind, step, marked_only in groups:
        outcome = _group(context, progress, kind, step, marked_only=marked_only)
        actions += outcome.actions
        if not outcome.passed:
            return replace(outcome, progress=replace(outcome.progress, traffic_held=True), actions=actions)
        progress = outcome.progress
    return Outcome(replace(progress, traffic_held=False), actions, [], True)


def during_step(context: DecisionContext, progress: Progress, index: int) -> Outcome:
    """The step's `rollout` hooks: called as it starts; passed once every one answered 2xx."""
    return _group(context, progress, HookType.ROLLOUT, index)


def rollback(context: DecisionContext, progress: Progress) -> Outcome:
    """`rollback` hooks, polled while the release runs: an answer of 2xx aborts it."""
    outcome = _group(context, progress, HookType.ROLLBACK, None)
    asked = [r for r in _records(outcome.progress, HookType.ROLLBACK) if r.phase == HookPhase.SUCCESSFUL]
    if asked:
        message = f"rollback webhook '{asked[0].name}' asked for a rollback" + _said(asked[0].message)
        return replace(outcome, progress=outcome.progress.aborted(context.now, message), passed=False)
    return outcome


def after_release(context: DecisionContext, progress: Progress) -> Outcome:
    """`post-rollout` hooks of a release that ran its steps, once it was promoted or aborted."""
    return _group(context, progress, HookType.POST_ROLLOUT, None, retry=False, marked_only=True)


def event_calls(
    rollout: Rollout, status: RolloutStatus, events: Sequence[EmitEvent], now: datetime
) -> list[RunHook]:
    """One `event` hook call per Event (Flagger's event payload), keyed by the decision's time."""
    stamp = str(int(now.timestamp() * 1000))
    return [
        RunHook(
            key=f"{hook.name}/event/{stamp}/{position}/{_digest(event)}",
            hook=hook,
            payload=_payload(
                rollout,
                hook,
                status.current_pod_hash or "",
                status.phase or "",
                {
                    "eventMessage": event.message,
                    "eventType": event.type,
                    "eventReason": event.reason,
                    "timestamp": stamp,
                },
            ),
        )
        for position, event in enumerate(events)
        for hook in hooks_of(rollout, HookType.EVENT)
    ]


def retried(records: Sequence[HookStatus]) -> list[HookStatus]:
    """The records after `retry`: every hook is called again (as a new attempt, so no answer of the
    aborted release is read back) and its failures count from zero."""
    reset = {"phase": HookPhase.WAITING, "failures": 0, "message": "", "checked_at": None}
    return [record.model_copy(update=reset) for record in records]


def _digest(event: EmitEvent) -> str:
    # Two decisions in the same millisecond still tell different Events apart.
    return hashlib.sha256(f"{event.type}/{event.reason}/{event.message}".encode()).hexdigest()[:8]


def call_key(record: HookStatus, attempt: int) -> str:
    """The name of one call: hook, revision, step and attempt (the runner makes each once)."""
    step = "-" if record.step is None else str(record.step)
    return f"{record.name}/{record.checksum}/{step}/{attempt}"


def _raises_weight(context: DecisionContext, index: int) -> bool:
    """Whether entering step `index` (len(steps): the promotion) raises the canary's weight."""
    steps, top = context.steps, context.rollout.spec.strategy.max_weight
    before = 0 if index == 0 else step_list.desired_weight(steps, index - 1, top)
    return step_list.desired_weight(steps, index, top) > before


def _mark_release(context: DecisionContext, progress: Progress) -> Progress:
    """The hooks due after the last step, recorded as Waiting when the release starts."""
    last = len(context.steps)
    later: list[tuple[HookType, int | None]] = [(kind, None) for kind in _LATER]
    if _raises_weight(context, last):
        later.append((HookType.CONFIRM_TRAFFIC_INCREASE, last))
    for kind, step in later:
        for hook in hooks_of(context.rollout, kind):
            if _record(progress, hook, step) is None:
                progress = _with(progress, _fresh(progress, hook, step, HookPhase.WAITING))
    return progress


def _group(
    context: DecisionContext,
    progress: Progress,
    kind: HookType,
    step: int | None,
    *,
    retry: bool = True,
    marked_only: bool = False,
) -> Outcome:
    """`marked_only`: only the hooks recorded as the release started (`_mark_release`)."""
    actions: list[Action] = []
    waits: Waits = []
    passed = True
    for hook in hooks_of(context.rollout, kind):
        if marked_only and _record(progress, hook, step) is None:
            continue
        progress, record, action, wait = _call(context, progress, hook, step, retry=retry)
        actions += action
        waits += wait
        passed = passed and record.phase == HookPhase.SUCCESSFUL
        if kind in COUNTED and record.failures > hook.failure_limit:
            message = (
                f"{kind} webhook '{hook.name}' failed {record.failures} time(s), "
                f"more than its failureLimit {hook.failure_limit}" + _said(record.message)
            )
            return Outcome(progress.aborted(context.now, message), actions, [], False)
    return Outcome(progress, actions, waits, passed)


def _call(
    context: DecisionContext, progress: Progress, hook: Webhook, step: int | None, *, retry: bool
) -> tuple[Progress, HookStatus, list[Action], Waits]:
    """One hook's record moved on by its answer, and its next call if one is due."""
    record = _record(progress, hook, step) or _fresh(progress, hook, step, HookPhase.PENDING)
    if record.phase == HookPhase.SUCCESSFUL or (record.phase == HookPhase.FAILED and not retry):
        return progress, record, [], []
    result = context.observed.hook_results.get(call_key(record, record.attempts + 1))
    interval = parse_duration(hook.interval)
    if result is not None:
        failed = not result.succeeded
        record = record.model_copy(
            update={
                "phase": HookPhase.FAILED if failed else HookPhase.SUCCESSFUL,
                "attempts": record.attempts + 1,
                "failures": record.failures + (failed and hook.type in COUNTED),
                "message": result.message,
                "checked_at": result.finished_at,
            }
        )
        spent = hook.type in COUNTED and record.failures > hook.failure_limit
        if not (failed and retry) or spent:
            return _with(progress, record), record, [], []
        # A failed answer read back when its next call is already due is asked again in the same
        # decision: recorded Failed and left, the next decision would call it, not this one.
    if record.phase == HookPhase.FAILED and record.checked_at is not None:
        left = (record.checked_at + timedelta(seconds=interval) - context.now).total_seconds()
        if left > 0:
            return _with(progress, record), record, [], [left]
    record = record.model_copy(update={"phase": HookPhase.PENDING})
    phase = _phase_for(context, progress, hook)
    run = RunHook(
        call_key(record, record.attempts + 1), hook, _payload(context.rollout, hook, record.checksum, phase)
    )
    return _with(progress, record), record, [run], []


def _phase_for(context: DecisionContext, progress: Progress, hook: Webhook) -> str:
    # Flagger's phase names where the hook's moment has one.
    if hook.type == HookType.POST_ROLLOUT:
        return "Failed" if progress.abort else "Succeeded"
    if hook.type in GATES:
        return "Waiting"
    return "Progressing"


def _payload(
    rollout: Rollout, hook: Webhook, checksum: str, phase: str, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Flagger's webhook body: name, namespace, phase, type, checksum and the hook's metadata."""
    return {
        "name": rollout.metadata.name,
        "namespace": rollout.metadata.namespace or "default",
        "phase": phase,
        "type": str(hook.type),
        "checksum": checksum,
        "metadata": {**hook.metadata, **(extra or {})},
    }


def _fresh(progress: Progress, hook: Webhook, step: int | None, phase: HookPhase) -> HookStatus:
    return HookStatus(name=hook.name, type=hook.type, checksum=progress.canary, step=step, phase=phase)


def _record(progress: Progress, hook: Webhook, step: int | None) -> HookStatus | None:
    return next(
        (
            r
            for r in progress.hooks
            if r.name == hook.name
            and r.type == hook.type
            and r.checksum == progress.canary
            and r.step == step
        ),
        None,
    )


def _records(progress: Progress, kind: HookType) -> list[HookStatus]:
    return [r for r in progress.hooks if r.type == kind and r.checksum == progress.canary]


def _with(progress: Progress, record: HookStatus) -> Progress:
    """`progress` with `record` in place of its earlier self, or added last (records of other
    revisions dropped); the order stays, so deciding again writes the same status."""
    same = (record.name, record.type, record.step)
    kept = [r for r in progress.hooks if r.checksum == progress.canary]
    replaced = [record if (r.name, r.type, r.step) == same else r for r in kept]
    return replace(progress, hooks=tuple(replaced if record in replaced else [*kept, record]))


def _said(message: str) -> str:
    return f": {message}" if message else ""


def condition(hooks: Sequence[HookStatus]) -> tuple[bool, str, str] | None:
    """The WebhooksPassed condition: (status, reason, message), None without a called hook."""
    called = [r for r in hooks if r.phase != HookPhase.WAITING]
    if not called:
        return None
    failing = next((r for r in called if r.phase == HookPhase.FAILED), None)
    if failing is not None:
        reason = "WebhookGateClosed" if failing.type in GATES else "WebhookFailed"
        return False, reason, f"{_describe(failing)} answered no" + _said(failing.message)
    pending = next((r for r in called if r.phase == HookPhase.PENDING), None)
    if pending is not None:
        return False, "WebhookPending", f"{_describe(pending)} was called and has not answered yet"
    return True, "WebhooksSucceeded", f"{len(called)} webhook call(s) succeeded"


def events_between(old: Sequence[HookStatus], new: Sequence[HookStatus]) -> Iterator[EmitEvent]:
    """An Event when a hook passes, when a counted hook fails, and when a gate is first found closed
    (not on every poll of a gate that stays closed)."""
    before = {(r.name, r.type, r.checksum, r.step): r for r in old}
    for record in new:
        previous = before.get((record.name, record.type, record.checksum, record.step))
        if previous is not None and previous.attempts == record.attempts:
            continue
        # Pending with a new answer: that answer failed and the hook was asked again at once.
        answered_no = record.phase == HookPhase.FAILED or (record.phase == HookPhase.PENDING and previous is not None)
        if record.phase == HookPhase.SUCCESSFUL and record.type != HookType.ROLLBACK:
            yield EmitEvent(
                "Normal", "WebhookSucceeded", f"{_describe(record)} succeeded" + _said(record.message)
            )
        elif answered_no and record.type in GATES and record.attempts == 1:
            yield EmitEvent(
                "Normal",
                "WebhookGateClosed",
                f"{_describe(record)} is closed; asking again" + _said(record.message),
            )
        elif answered_no and record.type in (*COUNTED, HookType.POST_ROLLOUT):
            yield EmitEvent("Warning", "WebhookFailed", f"{_describe(record)} failed" + _said(record.message))


def _describe(record: HookStatus) -> str:
    where = "" if record.step is None else f", step {record.step}"
    return f"Webhook '{record.name}' ({record.type}{where})"
