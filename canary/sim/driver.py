"""The simulation loop: reconcile -> apply -> advance the virtual clock to the next due time.

The same loop shape as the controller's (read, decide, apply, write status), over the in-memory
cluster, so the demo, the tests and the benchmarks exercise the engine exactly as production does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster
from canary.cluster.port import Conflict
from canary.cluster.writes import write_decision
from canary.engine.actions import EmitEvent
from canary.engine.clock import ManualClock
from canary.engine.rollout import Decision, decide
from canary.sim.workload import Workload

MAX_SETTLE_ROUNDS = 10
"""Reconciles in a row without time passing, as watch events would trigger them; a decision is a
fixed point of itself, so this is only reached if the cluster keeps changing under the engine."""


def reconcile(cluster: MemoryCluster, namespace: str, name: str) -> Decision:
    """One reconcile: read, adopt orphaned ReplicaSets, decide, and write the decision in the
    controller's order (`canary.cluster.writes`)."""
    rollout = cluster.get_rollout(namespace, name)
    # Unlike the controller's informer cache, the in-memory cluster shows an adoption at once, so
    # the same round can decide.
    cluster.adopt_orphans(rollout)
    decision = decide(rollout, cluster.observe(rollout), cluster.clock.now())
    with contextlib.suppress(Conflict):  # a verb patched the Rollout meanwhile: decide again next round
        write_decision(cluster, rollout, decision)
    return decision


@dataclass
class Simulation:
    """A cluster, its virtual clock and the workload its revisions serve."""

    cluster: MemoryCluster
    clock: ManualClock
    workload: Workload
    max_step_seconds: float = 10.0

    def settle(self) -> dict[tuple[str, str], Decision]:
        """Reconcile every Rollout until nothing changes (without time passing)."""
        decisions: dict[tuple[str, str], Decision] = {}
        for _ in range(MAX_SETTLE_ROUNDS):
            self.cluster.advance_analysis_runs()
            changed = False
            for rollout in self.cluster.list_rollouts():
                key = (rollout.metadata.namespace or "default", rollout.metadata.name)
                decision = reconcile(self.cluster, *key)
                changed |= decision.status != rollout.status or _writes(decision)
                decisions[key] = decision
            if not changed:
                break
        return decisions

    def tick(self) -> dict[tuple[str, str], Decision]:
        """Settle, then move the clock to the next due time (at most `max_step_seconds`), serving traffic."""
        decisions = self.settle()
        now = self.clock.now()
        due = [now + timedelta(seconds=self.max_step_seconds)]
        due += [
            now + timedelta(seconds=d.requeue_after)
            for d in decisions.values()
            if d.requeue_after is not None
        ]
        next_change = self.cluster.next_due()
        if next_change is not None:
            due.append(next_change)
        step = max((min(due) - now).total_seconds(), 0.001)
        self.serve(step)
        self.clock.advance(step)
        return decisions

    def serve(self, seconds: float) -> None:
        shares: dict[str, float] = {}
        for rollout in self.cluster.list_rollouts():
            for pod_hash, share in self.cluster.traffic(rollout).items():
                shares[pod_hash] = shares.get(pod_hash, 0.0) + share
        self.workload.serve(shares, seconds)

    def run_until(
        self, done: Callable[[Rollout], bool], namespace: str, name: str, max_seconds: float
    ) -> Rollout:
        """Tick until `done(rollout)` holds or `max_seconds` of virtual time pass; the Rollout then."""
        deadline = self.clock.now() + timedelta(seconds=max_seconds)
        while self.clock.now() < deadline:
            self.tick()
            rollout = self.cluster.get_rollout(namespace, name)
            if done(rollout):
                return rollout
        return self.cluster.get_rollout(namespace, name)


def _writes(decision: Decision) -> bool:
    return any(isinstance(action, EmitEvent) for action in decision.actions)
