"""The step machine's part of the status, as one frozen value that `decide` moves forward."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from canary.api.hooks import HookStatus
from canary.api.rollout import PauseCondition, PauseReason, RolloutAnalysisRunStatus, RolloutStatus
from canary.engine.actions import PodHash


@dataclass(frozen=True)
class Progress:
    stable: PodHash
    canary: PodHash
    step_index: int
    pause_conditions: tuple[PauseCondition, ...] = ()
    controller_pause: bool = False
    abort: bool = False
    aborted_at: datetime | None = None
    abort_message: str = ""
    promote_full: bool = False
    step_run: RolloutAnalysisRunStatus | None = None
    background_run: RolloutAnalysisRunStatus | None = None
    pre_run: RolloutAnalysisRunStatus | None = None
    post_run: RolloutAnalysisRunStatus | None = None
    scale_up_preview: bool = False
    """Blue-green: the pause before the switch is over, so the preview scales past previewReplicaCount."""
    active: PodHash | None = None
    """Blue-green: the revision the active Service selects once this decision is applied."""
    hooks: tuple[HookStatus, ...] = ()
    """The webhook calls of this revision (`canary.engine.hooks`)."""
    traffic_held: bool = False
    """A webhook holds the release before the step at step_index: traffic stays as the step before
    left it (decided anew each time, never stored)."""

    @classmethod
    def from_status(cls, status: RolloutStatus, stable: PodHash, canary: PodHash) -> Progress:
        return cls(
            stable=stable,
            canary=canary,
            step_index=status.current_step_index or 0,
            pause_conditions=tuple(status.pause_conditions),
            controller_pause=status.controller_pause,
            abort=status.abort,
            aborted_at=status.aborted_at,
            abort_message=_abort_message(status),
            promote_full=status.promote_full,
            step_run=status.canary.current_step_analysis_run_status,
            background_run=status.canary.current_background_analysis_run_status,
            pre_run=status.blue_green.pre_promotion_analysis_run_status,
            post_run=status.blue_green.post_promotion_analysis_run_status,
            scale_up_preview=status.blue_green.scale_up_preview_check_point,
            hooks=tuple(status.hooks),
        )

    @property
    def complete(self) -> bool:
        return self.stable == self.canary

    def paused_for(self, reason: PauseReason) -> PauseCondition | None:
        return next((c for c in self.pause_conditions if c.reason == reason), None)

    def with_pause(self, reason: PauseReason, now: datetime) -> Progress:
        if self.paused_for(reason) is not None:
            return self
        condition = PauseCondition(reason=reason, start_time=now)
        return replace(self, pause_conditions=(*self.pause_conditions, condition), controller_pause=True)

    def without_pause(self, reason: PauseReason) -> Progress:
        kept = tuple(c for c in self.pause_conditions if c.reason != reason)
        return replace(self, pause_conditions=kept, controller_pause=bool(kept))

    def aborted(self, now: datetime, message: str) -> Progress:
        if self.abort and self.aborted_at is not None:
            return self
        return replace(
            self,
            abort=True,
            aborted_at=now,
            abort_message=message,
            pause_conditions=(),
            controller_pause=False,
            promote_full=False,
        )


ABORTED = "RolloutAborted: "
_ABORTED_UPDATE = re.compile(r"Rollout aborted update to revision \d+(: |$)")


def _abort_message(status: RolloutStatus) -> str:
    # The reason for an abort lives in the status message, after Argo's "RolloutAborted: Rollout
    # aborted update to revision N: "; an abort patched in by a user has none yet.
    if status.abort and status.message.startswith(ABORTED):
        text = status.message.removeprefix(ABORTED)
        return text[match.end() :] if (match := _ABORTED_UPDATE.match(text)) else text
    return ""
