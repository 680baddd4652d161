"""The one interface every metric provider implements, and what a provider can report.

A provider takes one measurement of a metric whose arguments are already substituted and whose
header secrets are already read (see canary.analysis.args.resolve_metric). It reports one of:

- `Reading`: a value for the metric's conditions to judge (Prometheus, web);
- `Verdict`: a phase the provider decided itself (a Job that succeeded or failed, a judge's verdict,
  an empty query result with its configured outcome);
- `InFlight`: not finished yet; the runner resumes it after `resume_after` seconds (a running Job).

A provider raises `MeasurementError` when it could not measure (unreachable, timeout, an error
response, a malformed answer); the runner records an Error measurement carrying the message.
`InvalidSpecError` says the spec itself is wrong; the runner then ends the metric (InvalidSpec).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from canary.analysis.conditions import MeasuredValue
from canary.api.analysis import AnalysisPhase, Measurement, Metric


class MeasurementError(Exception):
    """The provider could not measure; the message says what happened and, where it can, what to check."""


class InvalidSpecError(MeasurementError):
    """The metric's spec is wrong (e.g. a misspelt judge config key): retrying cannot help, so the
    runner ends the metric at once with an `InvalidSpec:` message."""


@dataclass(frozen=True)
class Reading:
    """A measured value the metric's conditions will judge (a judge's evidence carries its state)."""

    value: MeasuredValue
    metadata: Mapping[str, str] = field(default_factory=dict)
    judge_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class Verdict:
    phase: AnalysisPhase
    message: str = ""
    value: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    judge_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class InFlight:
    resume_after: float
    message: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


ProviderResult = Reading | Verdict | InFlight


@dataclass(frozen=True)
class MeasureContext:
    """Where a measurement belongs: enough for a provider to name what it creates and to resume it."""

    run_name: str
    namespace: str
    now: datetime
    index: int
    """How many measurements of this metric completed before this one."""
    in_flight: Measurement | None = None
    """The measurement to resume (its metadata holds what the provider stored when starting it)."""
    judge_state: dict[str, Any] | None = None


class Provider(Protocol):
    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        """Take (or resume) one measurement of `metric`; raise MeasurementError when it cannot."""
        ...


ProviderRegistry = Mapping[str, Provider]
"""Providers keyed by provider kind: the field set under `metric.provider` (prometheus, web, job, judge)."""


def unreachable_reason(error: Exception) -> str:
    """Why a request found no server, e.g. "Connection refused"."""
    # urllib3 nests the useful part deep inside its MaxRetryError text.
    text = str(error)
    refused = re.search(r"\[Errno \d+\] ([^')\]]+)", text)
    return refused.group(1) if refused else text
