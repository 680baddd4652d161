"""Invariants of the rollout engine at every reconcile, over random steps, events and clocks.

Each example deploys a stable revision on the in-memory cluster, then applies a random sequence of
user verbs, template changes, pod failures, analysis outcomes, clock jumps and losses of the status,
reconciling after each.
"""

import math
from typing import Any

from fixed_point import check_fixed_point
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canary.api.rollout import Rollout, RolloutStatus
from canary.cluster.memory import MemoryCluster
from canary.cluster.writes import write_decision
from canary.engine import commands, targets
from canary.engine.actions import ScaleReplicaSet, SetTrafficWeight
from canary.engine.clock import ManualClock
from canary.engine.commands import CommandError
from canary.engine.hashing import pod_template_hash
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios
from canary.sim.workload import Behaviour, SimulatedPrometheus, Workload

steps = st.lists(
    st.one_of(
        st.builds(lambda w: {"setWeight": w}, st.integers(0, 100)),
        st.builds(lambda d: {"pause": {"duration": d}}, st.integers(0, 90)),
        st.just({"pause": {}}),
        st.just({"analysis": {"templates": [{"templateName": "error-rate"}]}}),
    ),
    min_size=1,
    max_size=6,
)
events = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.floats(0.5, 120)),
        st.tuples(
            st.sampled_from(["promote", "promote-full", "abort", "retry", "pause", "resume"]), st.none()
        ),
        st.tuples(st.just("release"), st.sampled_from(["good", "bad", "crash"])),
        st.tuples(st.just("lose-status"), st.none()),
    ),
    min_size=1,
    max_size=25,
)
background = st.one_of(
    st.none(),
    st.builds(
        lambda starting: (
            {"templates": [{"templateName": "error-rate"}]}
            | ({} if starting is None else {"startingStep": starting})
        ),
        st.one_of(st.none(), st.integers(1, 3)),
    ),
)

BEHAVIOURS = {"good": Behaviour(error_rate=0.0), "bad": Behaviour(error_rate=0.5), "crash": Behaviour()}


class World:
    def __init__(self, rollout: Rollout) -> None:
        self.clock = ManualClock()
        self.workload = Workload(request_rate=100, seed=3)
        self.crashing: set[str] = set()
        self.cluster = MemoryCluster(
            self.clock,
            pods=lambda h: None if h in self.crashing else 3.0,
            providers={"prometheus": SimulatedPrometheus(self.workload)},
        )
        self.cluster.create(scenarios.error_rate_template(count=2))
        self.cluster.create(rollout)
        for service in ("web-stable", "web-canary"):
            self.cluster.create_service("default", service)
        self.promoted_since_last = True
        self.stable_before_loss: str | None = None
        self.version = 1

    def rollout(self) -> Rollout:
        return self.cluster.get_rollout("default", "web")

    def verb(self, name: str) -> None:
        rollout = self.rollout()
        verbs: dict[str, Any] = {
            "promote": lambda: commands.promote(rollout),
            "promote-full": lambda: commands.promote_full(rollout),
            "abort": lambda: commands.abort(rollout, self.clock.now()),
            "retry": lambda: commands.retry(rollout),
            "pause": lambda: commands.pause(rollout),
            "resume": lambda: commands.resume(rollout),
        }
        try:
            patches = verbs[name]()
        except CommandError:
            return
        for patch in patches:
            self.cluster.patch_rollout("default", "web", patch)
        self.promoted_since_last = True

    def release(self, kind: str) -> None:
        self.version += 1
        rollout = self.rollout()
        patch = commands.set_image(rollout, "web", f"web:{self.version}")[0]
        rollout = self.cluster.patch_rollout("default", "web", patch)
        assert rollout.spec.template is not None
        pod_hash = pod_template_hash(rollout.spec.template)
        self.workload.behave(pod_hash, BEHAVIOURS[kind])
        if kind == "crash":
            self.crashing.add(pod_hash)

    def lose_status(self) -> None:
        """The status is wiped (a restore without status, a re-created Rollout); the pods keep serving."""
        rollout = self.rollout()
        self.stable_before_loss = rollout.status.stable_rs
        self.cluster.update_status(rollout, RolloutStatus())

    def reconcile(self) -> None:
        for _ in range(5):
            self.cluster.advance_analysis_runs()
            rollout = self.rollout()
            observed = self.cluster.observe(rollout)
            now = self.clock.now()
            decision = decide(rollout, observed, now)
            check_invariants(rollout, observed, decision, self.promoted_since_last)
            check_recovered_stable(rollout, observed, decision, self.stable_before_loss)
            self.stable_before_loss = None
            assert decide(rollout, observed, now) == decision, "same input, same output"
            check_fixed_point(rollout, observed, decision, now)
            write_decision(self.cluster, rollout, decision)
            self.promoted_since_last = False
            if decision.status == rollout.status:
                break

    def tick(self, seconds: float) -> None:
        for _ in range(max(1, math.ceil(seconds / 10))):
            step = min(seconds, 10.0)
            self.workload.serve(self.cluster.traffic(self.rollout()), step)
            self.clock.advance(step)
            self.reconcile()


def check_invariants(rollout: Rollout, observed: Any, decision: Decision, promoted: bool) -> None:
    status = decision.status
    weights = status.canary.weights
    max_weight = rollout.spec.strategy.canary.max_weight
    if weights is not None:
        assert 0 <= weights.canary.weight <= max_weight, "weights stay in 0..maxTrafficWeight"
        assert weights.canary.weight + weights.stable.weight == max_weight
    canary_rs = observed.replica_set(status.current_pod_hash)
    for action in decision.actions:
        if isinstance(action, SetTrafficWeight):
            assert 0 <= action.canary_weight <= max_weight, "the router gets weights in 0..maxTrafficWeight"
        if isinstance(action, SetTrafficWeight) and action.canary_weight > 0:
            assert canary_rs is not None and canary_rs.available > 0, "traffic only to available canary pods"
        if isinstance(action, SetTrafficWeight) and status.abort:
            assert action.canary_weight == 0, "abort sends everything to stable within one decision"
    check_stable_capacity(rollout, observed, decision)
    old, new = rollout.status, status
    if old.current_pod_hash == new.current_pod_hash and not promoted and old.current_step_index is not None:
        crossed = range(old.current_step_index, new.current_step_index or 0)
        for index in crossed:
            step = (
                rollout.spec.strategy.canary.steps[index]
                if index < len(rollout.spec.strategy.canary.steps)
                else None
            )
            if step is not None and step.pause is not None:
                assert step.pause.duration is not None, "an indefinite pause is only passed by promote"


def check_recovered_stable(
    rollout: Rollout, observed: Any, decision: Decision, stable_before: str | None
) -> None:
    """After a lost status, the revision that was stable and still serves is stable again, and a
    revision that was not stable passes no indefinite pause and no analysis step on the way."""
    before = observed.replica_set(stable_before)
    if before is None or before.available == 0:
        return
    assert decision.status.stable_rs == stable_before, "the serving stable revision is recovered"
    if decision.status.current_pod_hash == stable_before:
        return
    steps = rollout.spec.strategy.canary.steps
    gates = [i for i, s in enumerate(steps) if s.analysis or (s.pause and s.pause.duration is None)]
    assert not gates or (decision.status.current_step_index or 0) <= gates[0], "no gate is skipped"


def check_stable_capacity(rollout: Rollout, observed: Any, decision: Decision) -> None:
    """With a router stable keeps the pods for the share it is sent; without one the rollout never
    takes away more available pods than maxUnavailable allows."""
    scaled = {a.pod_template_hash: a.replicas for a in decision.actions if isinstance(a, ScaleReplicaSet)}
    stable = decision.status.stable_rs
    if rollout.spec.strategy.canary.traffic_routing is not None:
        max_weight = rollout.spec.strategy.canary.max_weight
        weight = next((a.canary_weight for a in decision.actions if isinstance(a, SetTrafficWeight)), 0)
        if stable in scaled:
            assert scaled[stable] >= math.ceil((max_weight - weight) * rollout.spec.replicas / max_weight), (
                "stable serves its share"
            )
        return
    if decision.status.abort:
        return  # without a router the canary's pods are its traffic: an abort removes them at once
    _, unavailable = targets.surge_and_unavailable(rollout)
    before = sum(rs.available for rs in observed.replica_sets)
    after = sum(
        min(rs.available, scaled.get(rs.pod_template_hash, rs.replicas)) for rs in observed.replica_sets
    )
    assert after >= min(before, rollout.spec.replicas - unavailable), (
        "availability stays within maxUnavailable"
    )


def in_units(steps: list[dict[str, Any]], max_weight: int) -> list[dict[str, Any]]:
    """The steps with their setWeight percentages turned into units of `max_weight`."""
    return [{"setWeight": s["setWeight"] * max_weight // 100} if "setWeight" in s else s for s in steps]


def play(world: World, script: list[tuple[str, Any]]) -> None:
    """Deploy the first revision, then each event of the script, reconciling after each."""
    world.reconcile()
    world.tick(5)
    for kind, value in script:
        if kind == "tick":
            world.tick(value)
        elif kind == "release":
            world.release(value)
            world.reconcile()
        elif kind == "lose-status":
            world.lose_status()
            world.reconcile()
        else:
            world.verb(kind)
            world.reconcile()


def canary_rollout(
    steps: list[dict[str, Any]], *, routed: bool, max_weight: int = 100, replicas: int, extra: dict[str, Any]
) -> Rollout:
    routing = {"trafficRouting": {"smi": {}, "maxTrafficWeight": max_weight}}
    canary = routing if routed else {"canaryService": "web-canary", "stableService": "web-stable"}
    return scenarios.rollout(
        replicas=replicas,
        steps=in_units(steps, max_weight) if routed else steps,
        routed=routed,
        canary=canary | extra,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    routed=st.booleans(),
    max_weight=st.sampled_from([100, 1000, 40]),
    replicas=st.integers(1, 5),
    script=events,
)
def test_engine_invariants_hold_at_every_reconcile(
    steps: list[dict[str, Any]], routed: bool, max_weight: int, replicas: int, script: list[tuple[str, Any]]
) -> None:
    play(
        World(canary_rollout(steps, routed=routed, max_weight=max_weight, replicas=replicas, extra={})),
        script,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=steps,
    routed=st.booleans(),
    replicas=st.integers(1, 5),
    starting_step=st.one_of(st.none(), st.integers(0, 4)),
    release=st.sampled_from(["good", "bad", "crash"]),
    script=events,
)
def test_releases_with_a_background_analysis_keep_the_invariants(
    *,
    steps: list[dict[str, Any]],
    routed: bool,
    replicas: int,
    starting_step: int | None,
    release: str,
    script: list[tuple[str, Any]],
) -> None:
    """A release starts at once, so the background analysis (from `startingStep` when given) runs
    in every example."""
    analysis: dict[str, Any] = {"templates": [{"templateName": "error-rate"}]}
    if starting_step is not None:
        analysis["startingStep"] = starting_step
    rollout = canary_rollout(steps, routed=routed, replicas=replicas, extra={"analysis": analysis})
    play(World(rollout), [("release", release), ("tick", 30.0), *script])
