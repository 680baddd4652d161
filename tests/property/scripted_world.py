"""A Rollout on the embedded cluster driven by a random script, for the availability properties:
verbs (promote, promote --full, abort, retry, undo, restart), releases (some whose pods never
become ready), scaling, pod failures and clock jumps, with every decision checked, and checked to be
its own fixed point, before it is written (in the controller's order, `canary.cluster.writes`).
Traffic is served by a simulated workload, so analyses of the `error-rate` template measure it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from fixed_point import check_fixed_point
from hypothesis import strategies as st

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster
from canary.cluster.writes import write_decision
from canary.controller.queue import Key
from canary.controller.status_pacing import StatusPacing
from canary.engine import commands
from canary.engine.actions import RestartPods, ScaleReplicaSet
from canary.engine.clock import ManualClock
from canary.engine.commands import CommandError, Patch
from canary.engine.hashing import pod_template_hash
from canary.engine.observed import Observed
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios
from canary.sim.workload import SimulatedPrometheus, Workload

NS, NAME = "default", "web"
POD_START_SECONDS = 2.0

Check = Callable[[Rollout, Observed, Decision], None]

verbs = st.sampled_from(["promote", "promote-full", "abort", "retry", "undo", "restart"])
scripts = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.floats(0.5, 40)),
        st.tuples(st.just("verb"), verbs),
        st.tuples(st.just("scale"), st.integers(1, 6)),
        st.tuples(st.just("release"), st.booleans()),
        st.tuples(st.just("fail"), st.tuples(st.booleans(), st.integers(1, 3))),
    ),
    min_size=1,
    max_size=20,
)


class ScriptedWorld:
    def __init__(
        self,
        rollout: Rollout,
        services: Sequence[str],
        checks: Sequence[Check],
        endpoints_after: float = 0.0,
        *,
        paced: bool = False,
    ) -> None:
        """`endpoints_after`: seconds from a pod's readiness to its Services' ready endpoints.
        `paced`: progress-only status writes are held as the controller holds them
        (`canary.controller.status_pacing`), so decisions see a status whose pod counts are old."""
        self.pacing = StatusPacing() if paced else None
        self.clock = ManualClock()
        self.crashing: set[str] = set()
        self.workload = Workload(request_rate=100, seed=3)
        self.cluster = MemoryCluster(
            self.clock,
            pods=lambda h: None if h in self.crashing else POD_START_SECONDS,
            endpoints_after=endpoints_after,
            providers={"prometheus": SimulatedPrometheus(self.workload)},
        )
        self.cluster.create(scenarios.error_rate_template(namespace=NS, count=2))
        for service in services:
            self.cluster.create_service(NS, service)
        self.cluster.create(rollout)
        self.checks = checks
        self.version = 1

    def rollout(self) -> Rollout:
        return self.cluster.get_rollout(NS, NAME)

    def patch(self, patches: tuple[Patch, ...]) -> None:
        for patch in patches:
            self.cluster.patch_rollout(NS, NAME, patch)

    def verb(self, name: str) -> None:
        rollout, now = self.rollout(), self.clock.now()
        observed = self.cluster.observe(rollout)
        actions: dict[str, Any] = {
            "promote": lambda: commands.promote(rollout),
            "promote-full": lambda: commands.promote_full(rollout),
            "abort": lambda: commands.abort(rollout, now),
            "retry": lambda: commands.retry(rollout),
            "undo": lambda: commands.undo(rollout, observed.replica_sets),
            "restart": lambda: commands.restart(rollout, now),
        }
        try:
            self.patch(actions[name]())
        except CommandError:
            return

    def release(self, crash: bool) -> None:
        self.version += 1
        self.patch(commands.set_image(self.rollout(), NAME, f"web:{self.version}"))
        if crash:
            self.crashing.add(pod_template_hash(self.rollout().spec.template or {}))

    def fail(self, stable: bool, count: int) -> None:
        status = self.rollout().status
        side = status.stable_rs if stable else status.current_pod_hash
        if side:
            self.cluster.fail_pods(NS, side, count, back_after=5.0)

    def reconcile(self) -> None:
        for _ in range(5):
            self.cluster.advance_analysis_runs()
            rollout = self.rollout()
            observed = self.cluster.observe(rollout)
            decision = decide(rollout, observed, self.clock.now())
            for check in self.checks:
                check(rollout, observed, decision)
            check_fixed_point(rollout, observed, decision, self.clock.now())
            if self.pacing is not None:
                decision = self.pacing.paced(Key(f"{NS}/{NAME}"), rollout, decision, self.clock.now())
            if write_decision(self.cluster, rollout, decision) and self.pacing is not None:
                self.pacing.written(Key(f"{NS}/{NAME}"), self.clock.now())
            if decision.status == rollout.status:
                break

    def tick(self, seconds: float) -> None:
        for _ in range(max(1, math.ceil(seconds / 2))):
            step = min(seconds, 2.0)
            self.workload.serve(self.cluster.traffic(self.rollout()), step)
            self.clock.advance(step)
            self.reconcile()

    def play(self, script: Sequence[tuple[str, Any]]) -> None:
        """Deploy the first revision, then each move of the script, reconciling after each."""
        self.reconcile()
        self.tick(4)
        for kind, value in script:
            if kind == "tick":
                self.tick(value)
            elif kind == "verb":
                self.verb(value)
            elif kind == "scale":
                self.patch((Patch("spec", {"replicas": value}),))
            elif kind == "release":
                self.release(value)
            else:
                self.fail(*value)
            self.reconcile()


def scaled(observed: Observed, decision: Decision) -> dict[str, tuple[int, int]]:
    """(pods asked for, pods available) per revision once the decision's scaling is applied:
    scaling down removes unavailable pods first; a restart takes one available pod away."""
    scaled = {a.pod_template_hash: a.replicas for a in decision.actions if isinstance(a, ScaleReplicaSet)}
    restarted = {a.pod_template_hash for a in decision.actions if isinstance(a, RestartPods)}
    counts = {}
    for rs in observed.replica_sets:
        count = scaled.get(rs.pod_template_hash, rs.replicas)
        available = min(rs.available, count) - (1 if rs.pod_template_hash in restarted else 0)
        counts[rs.pod_template_hash] = (count, max(available, 0))
    return counts
