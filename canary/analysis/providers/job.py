"""The `job` provider: a Kubernetes Job per measurement; the measurement succeeds or fails with it.

The first call creates the Job (through an injected `JobPort`, so this module never touches the
Kubernetes client) and reports the measurement in flight; each later call reads the Job's status
until it has succeeded (Successful) or failed (Failed). The Job's name is kept in the measurement's
metadata, so a controller restart resumes the same Job instead of starting another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from canary.analysis.providers.base import (
    InFlight,
    MeasureContext,
    MeasurementError,
    ProviderResult,
    Verdict,
)
from canary.api.analysis import AnalysisPhase, Metric

JOB_NAME_KEY = "job-name"
POLL_SECONDS = 10.0
"""How often a running Job is looked at again."""
_MAX_NAME = 63


@dataclass(frozen=True)
class JobState:
    """What a Job's status says: at most one of succeeded/failed; `message` explains a failure."""

    succeeded: bool = False
    failed: bool = False
    message: str = ""


class JobPort(Protocol):
    """The two Job operations this provider needs; the cluster adapter implements them."""

    def create_job(
        self, namespace: str, name: str, metadata: dict[str, Any], spec: dict[str, Any], *, owner_run: str
    ) -> None:
        """Create the Job owned by AnalysisRun `owner_run` (so it goes when the run does), doing
        nothing if it exists already; raise MeasurementError when refused."""
        ...

    def job_state(self, namespace: str, name: str) -> JobState:
        """The Job's state; raise MeasurementError when it cannot be read (e.g. it was deleted)."""
        ...


def job_name(run_name: str, metric_name: str, index: int) -> str:
    """A DNS-1123 name unique per run, metric and measurement: `<run>-<metric>-<index>`."""
    suffix = f"-{index}"
    base = re.sub(r"[^a-z0-9-]+", "-", f"{run_name}-{metric_name}".lower()).strip("-")
    return base[: _MAX_NAME - len(suffix)].rstrip("-") + suffix


class JobMetricProvider:
    def __init__(self, port: JobPort) -> None:
        self._port = port

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.job
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no job provider")
        in_flight = context.in_flight
        name = in_flight.metadata.get(JOB_NAME_KEY) if in_flight is not None else None
        if name is None:
            name = job_name(context.run_name, metric.name, context.index)
            self._port.create_job(
                context.namespace, name, dict(config.metadata), dict(config.spec), owner_run=context.run_name
            )
            return InFlight(POLL_SECONDS, f"job {name} started", {JOB_NAME_KEY: name})
        state = self._port.job_state(context.namespace, name)
        if state.failed:
            return Verdict(
                AnalysisPhase.FAILED,
                f"job {name} failed" + (f": {state.message}" if state.message else ""),
                metadata={JOB_NAME_KEY: name},
            )
        if state.succeeded:
            return Verdict(AnalysisPhase.SUCCESSFUL, f"job {name} succeeded", metadata={JOB_NAME_KEY: name})
        return InFlight(POLL_SECONDS, f"job {name} running", {JOB_NAME_KEY: name})
