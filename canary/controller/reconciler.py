"""Reconcile one key: read the world through the port, let the pure engine decide, make it so.

In controller-runtime's shape: `reconcile(key) -> Result`, where the key is only namespace/name.
The result rules, applied by `canary.controller.workers`:

- raises: a transient problem (API error, 409 Conflict, lost lease); the key is retried with
  exponential backoff and the Result is ignored. A 409 means the object changed since it was read:
  the retry reads it again and decides again, never writing the stale decision.
- raises `TerminalError`: retrying cannot help (logged and counted, not retried).
- `Result(requeue_after=s)`: look again after `s` seconds (a timed pause ends, a measurement is
  due); None waits for the next change in the cluster.

Before deciding, the Rollout adopts orphaned ReplicaSets it selects (`canary.engine.adoption`), and
decides only once none is left to adopt.

Writes follow `canary.cluster.writes.write_decision`, the order the simulation and the property
tests use too: the world (in `actions.ORDER`), then the status (one patch), then the Events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, runtime_checkable

import structlog
from pydantic import ValidationError

from canary.analysis import run as executor
from canary.analysis import runner
from canary.analysis.args import SecretReader
from canary.analysis.providers.base import ProviderRegistry
from canary.api.analysis import AnalysisPhase, AnalysisRun
from canary.api.problems import problems_from_validation_error
from canary.api.rollout import Rollout, RolloutStatus
from canary.cluster import writes
from canary.cluster.port import ClusterPort, NotFound
from canary.controller.metrics import Metrics
from canary.controller.own_writes import OwnWrites
from canary.controller.queue import Key, split_key
from canary.controller.status_pacing import StatusPacing
from canary.engine import actions as act
from canary.engine import rollout as engine
from canary.engine import status
from canary.engine.observed import HookResult, Observed

log = structlog.get_logger(__name__)

Now = Callable[[], datetime]

CACHE_CATCH_UP_SECONDS = 0.1
"""How soon to look again when the read cache lags the controller's own writes (the watch event
that delivers them requeues the key too)."""


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None


class TerminalError(Exception):
    """Retrying will not help; the reconcile is recorded as terminal."""


@runtime_checkable
class InvalidSpecReporter(Protocol):
    def report_invalid_spec(self, namespace: str, name: str, message: str) -> None: ...


class HookCalls(Protocol):
    def results(self, namespace: str, name: str) -> Mapping[str, HookResult]: ...

    def request(self, rollout: Rollout, runs: Sequence[act.RunHook]) -> None: ...

    def forget(self, namespace: str, name: str) -> None: ...


@runtime_checkable
class AnalysisRunReader(Protocol):
    def get_analysis_run(self, namespace: str, name: str) -> AnalysisRun: ...


@runtime_checkable
class AnalysisRunDeleter(Protocol):
    def delete_analysis_run(self, namespace: str, name: str) -> None: ...


class RolloutReconciler:
    def __init__(
        self,
        port: ClusterPort,
        now: Now,
        metrics: Metrics | None = None,
        *,
        on_events: Callable[[Key], None] | None = None,
        hooks: HookCalls | None = None,
        own_writes: OwnWrites | None = None,
        pacing: StatusPacing | None = None,
    ) -> None:
        """`on_events(key)`: called, without waiting on anything, after a decision's Events are
        written (the notifier queues the key). `hooks`: makes the webhook calls a decision asks for
        and reports their answers (`canary.controller.hooks.runner`). `own_writes`: told of every
        status write, so that its watch event queues no reconcile. `pacing`: holds status writes
        that only report progress (`canary.controller.status_pacing`)."""
        self._port = port
        self._now = now
        self._metrics = metrics
        self._on_events = on_events
        self._hooks = hooks
        self._superseded: dict[Key, str] = {}
        self._own_writes = own_writes
        self._pacing = pacing

    def reconcile(self, key: Key) -> Result:
        namespace, name = split_key(key)
        try:
            rollout = self._port.get_rollout(namespace, name)
        except NotFound:
            self._superseded.pop(key, None)
            if self._own_writes is not None:
                self._own_writes.forget(key)
            if self._pacing is not None:
                self._pacing.forget(key)
            if self._metrics:
                self._metrics.forget_rollout(namespace, name)
            if self._hooks is not None:
                self._hooks.forget(namespace, name)
            return Result()
        except ValueError as error:  # the spec does not parse: InvalidSpec, and no retry
            problems = spec_problems(error)
            self._report_invalid(namespace, name, status.invalid_message(name, problems))
            raise TerminalError(f"Rollout {key} has an invalid spec: {'; '.join(problems)}") from error
        if rollout.metadata.resource_version == self._superseded.get(key):
            # The cache still shows the version our last status write replaced; deciding on it
            # would repeat that step. Look again once the watch has delivered our own write.
            return Result(requeue_after=CACHE_CATCH_UP_SECONDS)
        adopting = self._port.adopt_orphans(rollout)
        if adopting:
            log.info("adopting orphaned ReplicaSets", rollout=key, replica_sets=adopting)
            # Until the cache shows them owned, a decision would miss the revision still serving
            # and deploy the template as a first deploy.
            return Result(requeue_after=CACHE_CATCH_UP_SECONDS)
        observed = self._port.observe(rollout)
        if self._hooks is not None:
            observed = replace(observed, hook_results=self._hooks.results(namespace, name))
        now = self._now()
        decision = engine.decide(rollout, observed, now)
        if self._pacing is not None:
            decision = self._pacing.paced(key, rollout, decision, now)
        if self._hooks is not None:
            self._hooks.request(rollout, [a for a in decision.actions if isinstance(a, act.RunHook)])
        port: writes.DecisionWriter = self._port
        if self._own_writes is not None:
            port = _Announcing(
                self._port, self._own_writes, key, settles=not _moves_traffic(decision, observed)
            )
        if writes.write_decision(port, rollout, decision):
            self._superseded[key] = rollout.metadata.resource_version or ""
            if self._pacing is not None:
                self._pacing.written(key, now)
        emitted = [a for a in decision.actions if isinstance(a, act.EmitEvent)]
        for event in emitted:
            log.info(
                "rollout event", rollout=key, reason=event.reason, message=event.message, type=event.type
            )
        if emitted and self._on_events is not None:
            self._on_events(key)
        if self._metrics:
            self._metrics.set_phase(namespace, name, decision.status.phase)
        return Result(decision.requeue_after)

    def _report_invalid(self, namespace: str, name: str, message: str) -> None:
        if isinstance(self._port, InvalidSpecReporter):
            self._port.report_invalid_spec(namespace, name, message)


class AnalysisRunReconciler:
    """Advances one AnalysisRun with the analysis runner and stores its status."""

    def __init__(
        self,
        port: ClusterPort,
        now: Now,
        *,
        providers: ProviderRegistry,
        read_secret: SecretReader,
        metrics: Metrics | None = None,
    ) -> None:
        self._port = port
        self._now = now
        self._providers = providers
        self._read_secret = read_secret
        self._metrics = metrics

    def reconcile(self, key: Key) -> Result:
        namespace, name = split_key(key)
        run = self._get(namespace, name)
        if run is None:
            return Result()
        if AnalysisPhase(run.status.phase).completed:
            return self._expire(run)
        now = self._now()
        advanced = runner.advance(run, now=now, providers=self._providers, read_secret=self._read_secret)
        if advanced.run.status != run.status:
            self._port.update_analysis_run_status(advanced.run)
            verdict = advanced.run.status.phase
            if AnalysisPhase(verdict).completed:
                log.info("analysis verdict", run=key, phase=verdict, message=advanced.run.status.message)
                if self._metrics:
                    self._metrics.analysis_verdicts.labels(namespace, verdict).inc()
                return self._expire(advanced.run)
        return Result(advanced.requeue_after)

    def _expire(self, run: AnalysisRun) -> Result:
        """A completed run's ttlStrategy: delete it once its time is up, else come back then."""
        expires = executor.expires_at(run)
        if expires is None or not isinstance(self._port, AnalysisRunDeleter):
            return Result()
        left = (expires - self._now()).total_seconds()
        if left > 0:
            return Result(requeue_after=left)
        namespace = run.metadata.namespace or "default"
        log.info("analysis run expired", run=f"{namespace}/{run.metadata.name}", phase=run.status.phase)
        self._port.delete_analysis_run(namespace, run.metadata.name)  # a run already gone is no error
        return Result()

    def _get(self, namespace: str, name: str) -> AnalysisRun | None:
        if isinstance(self._port, AnalysisRunReader):
            try:
                return self._port.get_analysis_run(namespace, name)
            except NotFound:
                return None
            except ValueError as error:  # edited into a run the models reject: no retry can fix it
                raise TerminalError(
                    f"AnalysisRun {namespace}/{name} is invalid: {_first_line(error)}"
                ) from error
        return next((r for r in self._port.list_analysis_runs(namespace) if r.metadata.name == name), None)


class _Announcing:
    """The port as a `DecisionWriter` that tells `OwnWrites` of its status write."""

    def __init__(self, port: ClusterPort, own_writes: OwnWrites, key: Key, *, settles: bool) -> None:
        """`settles`: whether the write's watch event needs no reconcile. A decision is a fixed point
        of itself (the property tests check it for every strategy: `tests/property/fixed_point.py`),
        so deciding again on the status it stored asks for nothing new, unless it set a router
        weight: routers are not watched, and only a reconcile after the write sees that weight."""
        self._port = port
        self._own_writes = own_writes
        self._key = key
        self._settles = settles

    def apply(self, rollout: Rollout, actions: Sequence[act.Action]) -> None:
        self._port.apply(rollout, actions)

    def update_status(self, rollout: Rollout, status: RolloutStatus) -> Rollout:
        self._own_writes.writing(self._key)
        version = None
        try:
            stored = self._port.update_status(rollout, status)
            version = stored.metadata.resource_version if self._settles else None
            return stored
        finally:
            self._own_writes.written(self._key, version)


def _moves_traffic(decision: engine.Decision, observed: Observed) -> bool:
    """Whether the decision sets a router weight other than the one observed: routers are not
    watched, so only a reconcile after the write sees the weight it set."""
    return any(
        isinstance(action, act.SetTrafficWeight) and action.canary_weight != observed.router_weight
        for action in decision.actions
    )


def spec_problems(error: ValueError) -> list[str]:
    """A Rollout's parse failure as `canary lint` words it: one `path: message` per problem."""
    if isinstance(error, ValidationError):
        return [str(problem) for problem in problems_from_validation_error(error, Rollout)]
    return [_first_line(error)]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return " ".join(text.splitlines()[:3]) if text else type(error).__name__
