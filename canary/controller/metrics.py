"""The controller's Prometheus metrics, in one registry of its own (so tests and the benchmark can
make fresh ones): reconcile duration by result, work-queue depth, the phase of every Rollout,
AnalysisRun verdicts, and notifications sent and failed.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from canary.api.rollout import RolloutPhase


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reconcile_duration = Histogram(
            "canary_reconcile_duration_seconds",
            "Time to reconcile one object, by controller and result (success, requeue, error, terminal).",
            ["controller", "result"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.queue_depth = Gauge(
            "canary_workqueue_depth", "Keys ready to be reconciled.", ["controller"], registry=self.registry
        )
        self.rollout_phase = Gauge(
            "canary_rollout_phase",
            "1 for the phase each Rollout is in, 0 for the others.",
            ["namespace", "name", "phase"],
            registry=self.registry,
        )
        self.analysis_verdicts = Counter(
            "canary_analysis_run_verdicts",
            "AnalysisRuns that reached a final phase, by phase.",
            ["namespace", "phase"],
            registry=self.registry,
        )
        self.notifications_sent = Counter(
            "canary_notifications_sent",
            "Notifications delivered, by service, service type and trigger.",
            ["service", "type", "trigger"],
            registry=self.registry,
        )
        self.notifications_failed = Counter(
            "canary_notifications_failed",
            "Notification deliveries that failed (each is retried), by service, service type and trigger.",
            ["service", "type", "trigger"],
            registry=self.registry,
        )
        self.leader = Gauge("canary_leader", "1 while this replica holds the lease.", registry=self.registry)

    def set_phase(self, namespace: str, name: str, phase: str | None) -> None:
        for candidate in RolloutPhase:
            self.rollout_phase.labels(namespace, name, candidate.value).set(1 if candidate == phase else 0)

    def forget_rollout(self, namespace: str, name: str) -> None:
        for candidate in RolloutPhase:
            self.rollout_phase.remove(namespace, name, candidate.value)

    def track_queue(self, controller: str, depth: Callable[[], int]) -> None:
        self.queue_depth.labels(controller).set_function(depth)
