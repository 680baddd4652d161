"""canaryMetadata / stableMetadata, scaleDownDelayRevisionLimit and rollbackWindow over whole
releases on the in-memory cluster, on the virtual clock."""

from typing import Any

import pytest

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine.clock import ManualClock
from canary.engine.hashing import pod_template_hash
from canary.sim import scenarios
from canary.sim.driver import Simulation
from canary.sim.workload import Workload


def simulation(rollout: Rollout) -> Simulation:
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(3))
    cluster.create(rollout)
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    sim = Simulation(cluster, clock, Workload(request_rate=10, seed=1))
    sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 60)
    return sim


def release(sim: Simulation, image: str) -> str:
    rollout = sim.cluster.get_rollout("default", "web")
    for patch in commands.set_image(rollout, "web", image):
        rollout = sim.cluster.patch_rollout("default", "web", patch)
    return pod_template_hash(rollout.spec.template or {})


def promote(sim: Simulation) -> None:
    for patch in commands.promote(sim.cluster.get_rollout("default", "web")):
        sim.cluster.patch_rollout("default", "web", patch)


def roles(sim: Simulation, pod_hash: str) -> set[str | None]:
    return {labels.get("role") for labels, _ in sim.cluster.pod_metadata("default", pod_hash)}


def test_pods_carry_their_roles_metadata_and_a_promoted_canary_switches_to_stable_in_place() -> None:
    metadata = {
        "canaryMetadata": {"labels": {"role": "canary"}, "annotations": {"phase": "trial"}},
        "stableMetadata": {"labels": {"role": "stable"}},
    }
    sim = simulation(
        scenarios.rollout(routed=True, steps=[{"setWeight": 50}, {"pause": {}}], canary=metadata)
    )
    first = sim.cluster.get_rollout("default", "web").status.stable_rs
    assert first is not None and roles(sim, first) == {"stable"}
    second = release(sim, "web:2")
    sim.run_until(lambda r: r.status.phase == "Paused", "default", "web", 120)
    assert roles(sim, second) == {"canary"} and roles(sim, first) == {"stable"}
    assert {a.get("phase") for _, a in sim.cluster.pod_metadata("default", second)} == {"trial"}
    promote(sim)
    sim.run_until(lambda r: r.status.stable_rs == second, "default", "web", 120)
    sim.tick()
    assert roles(sim, second) == {"stable"}
    assert {a.get("phase") for _, a in sim.cluster.pod_metadata("default", second)} == {None}
    assert roles(sim, first) <= {None}, "the old stable's pods lose stableMetadata"
    (view,) = [
        rs
        for rs in sim.cluster.observe(sim.cluster.get_rollout("default", "web")).replica_sets
        if rs.pod_template_hash == second
    ]
    assert pod_template_hash(view.template) == second


@pytest.mark.parametrize("limit", [None, 1])
def test_only_the_newest_old_revisions_within_the_limit_keep_their_pods_for_the_delay(
    limit: int | None,
) -> None:
    canary: dict[str, Any] = {"scaleDownDelaySeconds": 600}
    if limit is not None:
        canary["scaleDownDelayRevisionLimit"] = limit
    sim = simulation(scenarios.rollout(routed=True, steps=[{"setWeight": 50}], canary=canary))
    first = sim.cluster.get_rollout("default", "web").status.stable_rs
    most_running = 0
    for image in ("web:2", "web:3", "web:4"):
        new = release(sim, image)
        for _ in range(30):
            sim.tick()
            rollout = sim.cluster.get_rollout("default", "web")
            old = [
                rs
                for rs in sim.cluster.observe(rollout).replica_sets
                if rs.pod_template_hash not in (rollout.status.stable_rs, new) and rs.replicas > 0
            ]
            most_running = max(most_running, len(old))
            if rollout.status.stable_rs == new:
                break
        assert sim.cluster.get_rollout("default", "web").status.stable_rs == new
    sets = sim.cluster.observe(sim.cluster.get_rollout("default", "web")).replica_sets
    first_rs = next(rs for rs in sets if rs.pod_template_hash == first)
    if limit is None:
        assert most_running >= 2 and first_rs.replicas > 0, "every old revision waits out the delay"
    else:
        assert most_running <= limit and first_rs.replicas == 0


@pytest.mark.parametrize("window", [None, 1])
def test_a_rollback_within_the_window_is_promoted_without_running_the_steps(window: int | None) -> None:
    spec = {"rollbackWindow": {"revisions": window}} if window else {}
    sim = simulation(scenarios.rollout(routed=True, steps=[{"setWeight": 20}, {"pause": {}}], spec=spec))
    second = release(sim, "web:2")
    sim.run_until(lambda r: r.status.phase == "Paused", "default", "web", 120)
    promote(sim)
    sim.run_until(lambda r: r.status.stable_rs == second, "default", "web", 120)
    third = release(sim, "web:3")
    sim.run_until(lambda r: r.status.phase == "Paused", "default", "web", 120)
    promote(sim)
    sim.run_until(lambda r: r.status.stable_rs == third, "default", "web", 120)
    assert release(sim, "web:2") == second
    back = sim.run_until(
        lambda r: r.status.stable_rs == second or r.status.phase == "Paused", "default", "web", 300
    )
    if window:
        assert back.status.stable_rs == second
        reasons = [e.reason for e in sim.cluster.list_events("default", "web")]
        assert "SkipSteps" in reasons
    else:
        assert back.status.phase == "Paused" and back.status.stable_rs == third
