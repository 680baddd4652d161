"""Invariants of release hooks over random steps and clocks, on the in-memory cluster: a closed gate
never lets traffic increase (nor the promotion happen), an opened gate lets the release finish, and
a failing pre-rollout hook aborts before any traffic reaches the canary."""

from typing import Any

from fixed_point import check_fixed_point
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster
from canary.cluster.writes import write_decision
from canary.engine import commands
from canary.engine.actions import RunHook, SetTrafficWeight
from canary.engine.clock import ManualClock
from canary.engine.rollout import Decision, decide
from canary.sim import scenarios

steps = st.lists(
    st.one_of(
        st.builds(lambda w: {"setWeight": w}, st.integers(1, 100)),
        st.builds(lambda d: {"pause": {"duration": d}}, st.integers(0, 60)),
    ),
    min_size=1,
    max_size=5,
)
GATES = ["confirm-rollout", "confirm-traffic-increase", "confirm-promotion"]


class Release:
    """A stable web:1 and a release of web:2 whose hooks answer as `answer` says."""

    def __init__(self, step_list: list[dict[str, Any]], hooks: list[dict[str, Any]]) -> None:
        self.clock = ManualClock()
        self.open = False
        self.cluster = MemoryCluster(self.clock, pods=lambda _: 1.0, hooks=self.answer)
        for service in ("web-stable", "web-canary"):
            self.cluster.create_service("default", service)
        self.cluster.create(
            scenarios.rollout(image="web:1", routed=True, steps=step_list, canary={"webhooks": hooks})
        )
        self.settle()
        patch = commands.set_image(self.rollout(), "web", "web:2")[0]
        self.cluster.patch_rollout("default", "web", patch)
        self.decisions: list[tuple[bool, Decision]] = []

    def answer(self, call: RunHook) -> tuple[bool, str]:
        if call.hook.type in GATES:
            return self.open, "open" if self.open else "closed"
        return call.hook.type != "pre-rollout", "smoke tests"

    def rollout(self) -> Rollout:
        return self.cluster.get_rollout("default", "web")

    def settle(self) -> None:
        for _ in range(6):
            rollout = self.rollout()
            observed, now = self.cluster.observe(rollout), self.clock.now()
            decision = decide(rollout, observed, now)
            check_fixed_point(rollout, observed, decision, now)
            if hasattr(self, "decisions"):
                self.decisions.append((self.open, decision))
            write_decision(self.cluster, rollout, decision)
            if decision.status == rollout.status:
                return

    def run(self, seconds: float) -> None:
        for _ in range(int(seconds // 5)):
            self.clock.advance(5)
            self.settle()


def gate(kind: str) -> dict[str, Any]:
    return {"name": "gate", "type": kind, "url": "http://gate.test/", "interval": "5s"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.sampled_from(GATES), st.integers(0, 120))
def test_a_closed_gate_never_lets_traffic_increase(
    step_list: list[dict[str, Any]], kind: str, closed_for: int
) -> None:
    release = Release(step_list, [gate(kind)])
    release.run(closed_for)
    weight = 0
    for is_open, decision in release.decisions:
        routed = [a.canary_weight for a in decision.actions if isinstance(a, SetTrafficWeight)]
        assert not is_open
        assert decision.status.stable_rs != decision.status.current_pod_hash, "no promotion while closed"
        if kind != "confirm-promotion":
            assert all(w <= weight for w in routed), "no traffic increase while the gate is closed"
        weight = max([weight, *routed]) if kind == "confirm-promotion" else weight


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.sampled_from(GATES), st.integers(0, 60))
def test_an_opened_gate_lets_the_release_finish(
    step_list: list[dict[str, Any]], kind: str, closed_for: int
) -> None:
    release = Release(step_list, [gate(kind)])
    release.run(closed_for)
    release.open = True
    release.run(60 * len(step_list) + 60)
    status = release.rollout().status
    assert status.stable_rs == status.current_pod_hash, status.message


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.booleans())
def test_a_failing_pre_rollout_hook_aborts_before_any_traffic_moves(
    step_list: list[dict[str, Any]], with_gate: bool
) -> None:
    smoke = {"name": "smoke", "type": "pre-rollout", "url": "http://smoke.test/"}
    release = Release(step_list, [smoke, *([gate("confirm-rollout")] if with_gate else [])])
    release.open = True
    release.run(60)
    for _, decision in release.decisions:
        assert all(a.canary_weight == 0 for a in decision.actions if isinstance(a, SetTrafficWeight))
    assert release.rollout().status.abort


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.booleans(), min_size=1, max_size=12), st.integers(0, 2))
def test_no_traffic_reaches_the_canary_before_its_pre_rollout_hooks_passed(
    step_list: list[dict[str, Any]], answers: list[bool], limit: int
) -> None:
    smoke = {"name": "smoke", "type": "pre-rollout", "url": "http://smoke.test/", "interval": "5s"}
    check = {
        "name": "check",
        "type": "rollout",
        "url": "http://check.test/",
        "interval": "5s",
        "failureLimit": limit,
    }
    release = Release(step_list, [{**smoke, "failureLimit": limit}, check])
    given_answers = iter(answers)
    release.cluster.hooks = lambda call: (next(given_answers, True), "scripted")
    release.run(90)
    for _, decision in release.decisions:
        smoke_passed = any(h.name == "smoke" and h.phase == "Successful" for h in decision.status.hooks)
        routed = [a.canary_weight for a in decision.actions if isinstance(a, SetTrafficWeight)]
        if not smoke_passed or decision.status.abort:
            assert all(w == 0 for w in routed), (
                "no canary traffic before pre-rollout passed, none after an abort"
            )


KINDS = ["confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase", "confirm-promotion"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps,
    st.lists(st.sampled_from([*KINDS, "post-rollout", "rollback", "event"]), min_size=1, max_size=6),
    st.lists(st.booleans(), max_size=20),
)
def test_any_hooks_answering_anything_leave_every_decision_a_fixed_point_and_the_release_ends(
    step_list: list[dict[str, Any]], kinds: list[str], answers: list[bool]
) -> None:
    hooks = [
        {"name": f"h{i}", "type": kind, "url": "http://hook.test/", "interval": "5s"}
        for i, kind in enumerate(kinds)
    ]
    release = Release(step_list, hooks)
    given_answers = iter(answers)
    # Rollback hooks say no once the scripted answers run out; every other hook then says yes.
    release.cluster.hooks = lambda call: (next(given_answers, call.hook.type != "rollback"), "scripted")
    release.run(60 * len(step_list) + 300)
    status = release.rollout().status
    assert status.abort or status.stable_rs == status.current_pod_hash, status.message
