"""Release hooks, Flagger's webhooks as an extension of the canary strategy
(`spec.strategy.canary.webhooks[]`), and the status record of each call.

The field names and hook types are Flagger's (`name`, `type`, `url`, `timeout`, `retries`,
`metadata`); what Flagger leaves to its analysis threshold is `failureLimit` per hook here (Argo's
word for the same count), and a hook may run a Kubernetes Job (`job`, the shape of the analysis
`job` provider) or drive load at the canary Service (`loadTest`) instead of calling a URL.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from canary.api.base import CRDModel, Duration


class HookType(StrEnum):
    """When a hook runs (Flagger's webhook types)."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    """A gate before the release starts: polled until it answers 2xx."""
    PRE_ROLLOUT = "pre-rollout"
    """Before any traffic reaches the canary; failures beyond failureLimit abort."""
    ROLLOUT = "rollout"
    """At every step, before the step is passed; failures beyond failureLimit abort."""
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    """A gate before each step that raises the canary's weight."""
    CONFIRM_PROMOTION = "confirm-promotion"
    """A gate before the final promotion."""
    POST_ROLLOUT = "post-rollout"
    """Once, after the release was promoted or aborted; a failure is only reported."""
    ROLLBACK = "rollback"
    """Polled while the release runs: a 2xx answer aborts it."""
    EVENT = "event"
    """Every Event of the Rollout, as JSON."""


GATES = frozenset({HookType.CONFIRM_ROLLOUT, HookType.CONFIRM_TRAFFIC_INCREASE, HookType.CONFIRM_PROMOTION})
COUNTED = frozenset({HookType.PRE_ROLLOUT, HookType.ROLLOUT})
"""The hooks whose failures count toward failureLimit."""


class JobHook(CRDModel):
    """A Job run as the hook (the analysis `job` provider's fields): it passes when the Job completes."""

    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any]


class LoadTest(CRDModel):
    """Load driven at the canary Service by a Job running `hey` (rakyll/hey, the tool Flagger's
    loadtester runs) for `duration`: a rollout hook, started as each step starts, so the step's
    analysis has samples while it measures."""

    rate: int = Field(ge=1)
    """Requests per second, across all workers."""
    duration: Duration = "1m"
    concurrency: int = Field(default=1, ge=1)
    port: int = Field(default=80, ge=1, le=65535)
    path: str = "/"
    method: str = "GET"
    image: str = "williamyeh/hey:latest"


class Webhook(CRDModel):
    name: str = Field(min_length=1)
    type: HookType = HookType.ROLLOUT
    url: str | None = None
    job: JobHook | None = None
    load_test: LoadTest | None = None
    timeout: Duration = "10s"
    """How long one call may take (a Job: how long it may run)."""
    retries: int = Field(default=0, ge=0)
    """Calls made again at once after a failure, before it counts."""
    interval: Duration = "10s"
    """How often a closed gate is asked again, and how soon a failed hook is called again."""
    failure_limit: int = Field(default=0, ge=0)
    """pre-rollout and rollout: the failures tolerated; one more aborts the release."""
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_action(self) -> Webhook:
        given = [f for f, v in (("url", self.url), ("job", self.job), ("loadTest", self.load_test)) if v]
        if len(given) != 1:
            raise ValueError(
                f"webhook '{self.name}' needs exactly one of url, job or loadTest (has {', '.join(given) or 'none'})"
            )
        if self.load_test is not None and self.type != HookType.ROLLOUT:
            raise ValueError(f"webhook '{self.name}': loadTest runs during each step; give it type rollout")
        if self.url is None and self.type in (HookType.EVENT, *GATES, HookType.ROLLBACK):
            raise ValueError(
                f"webhook '{self.name}': a {self.type} hook is polled or posted to; give it a url"
            )
        return self


def check_webhooks(webhooks: list[Webhook], *, with_steps: bool) -> None:
    """Every webhook has its own name; a strategy without steps has no `rollout` hooks."""
    names = [hook.name for hook in webhooks]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"webhooks: the name {repeated[0]!r} is used twice; give every webhook its own name")
    stepwise = [hook.name for hook in webhooks if hook.type == HookType.ROLLOUT]
    if stepwise and not with_steps:
        raise ValueError(
            f"webhooks: '{stepwise[0]}' is a rollout hook, called at each step, and blueGreen has no steps; "
            "use pre-rollout (before the switch) instead"
        )


class HookPhase(StrEnum):
    WAITING = "Waiting"
    """Not called yet: it runs later in the release (post-rollout, confirm-promotion)."""
    PENDING = "Pending"
    """Called, no answer yet."""
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    """The last call failed (a gate: closed); called again after its interval unless it aborted."""


class HookStatus(CRDModel):
    """One hook's calls for one revision (`checksum`, the canary's pod-template hash) and, for a
    hook that runs per step, one step."""

    name: str
    type: HookType
    checksum: str
    step: int | None = None
    phase: HookPhase = HookPhase.PENDING
    attempts: int = 0
    """Calls answered so far."""
    failures: int = 0
    message: str = ""
    checked_at: datetime | None = None
