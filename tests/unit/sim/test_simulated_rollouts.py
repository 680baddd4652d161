"""Whole rollouts on the in-memory cluster with a simulated workload, on the virtual clock."""

from canary.api.rollout import Rollout
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine.clock import ManualClock
from canary.engine.hashing import pod_template_hash
from canary.sim import scenarios
from canary.sim.driver import Simulation
from canary.sim.workload import Behaviour, SimulatedPrometheus, Workload

STEPS = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "error-rate"}]}}, {"setWeight": 60}]


def simulation(rollout: Rollout, crash: set[str] | None = None) -> Simulation:
    clock = ManualClock()
    workload = Workload(request_rate=100, seed=5)
    pods = ready_after(3) if crash is None else (lambda h: None if h in crash else 3.0)
    cluster = MemoryCluster(clock, pods=pods, providers={"prometheus": SimulatedPrometheus(workload)})
    cluster.create(scenarios.error_rate_template())
    cluster.create(rollout)
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    sim = Simulation(cluster, clock, workload)
    sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 60)
    return sim


def release(sim: Simulation, image: str, behaviour: Behaviour) -> str:
    rollout = sim.cluster.get_rollout("default", "web")
    rollout = sim.cluster.patch_rollout("default", "web", commands.set_image(rollout, "web", image)[0])
    pod_hash = pod_template_hash(rollout.spec.template or {})
    sim.workload.behave(pod_hash, behaviour)
    return pod_hash


def test_a_healthy_release_is_promoted_through_its_analysis() -> None:
    sim = simulation(scenarios.rollout(routed=True, steps=STEPS))
    good = release(sim, "web:2", Behaviour(error_rate=0.0))
    done = sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 900)
    assert done.status.stable_rs == good


def test_a_failing_release_is_aborted_with_traffic_back_on_stable() -> None:
    sim = simulation(scenarios.rollout(routed=True, steps=STEPS))
    stable = sim.cluster.get_rollout("default", "web").status.stable_rs
    release(sim, "web:2", Behaviour(error_rate=0.5))
    aborted = sim.run_until(lambda r: r.status.abort, "default", "web", 900)
    assert aborted.status.phase == "Degraded" and aborted.status.stable_rs == stable
    sim.tick()
    assert set(sim.cluster.traffic(aborted)) == {stable}


def test_crash_looping_canary_pods_trip_the_progress_deadline() -> None:
    rollout = scenarios.rollout(routed=True, steps=STEPS, spec={"progressDeadlineSeconds": 120})
    bad = pod_template_hash(scenarios.rollout(image="web:2").spec.template or {})
    sim = simulation(rollout, crash={bad})
    release(sim, "web:2", Behaviour())
    degraded = sim.run_until(lambda r: r.status.phase == "Degraded", "default", "web", 600)
    assert degraded.status.message.startswith("ProgressDeadlineExceeded")
    assert sim.cluster.traffic(degraded) == {degraded.status.stable_rs: 1.0}


def test_undo_rolls_the_template_back_to_the_previous_revision() -> None:
    sim = simulation(scenarios.rollout(routed=True, steps=[{"setWeight": 50}]))
    first = sim.cluster.get_rollout("default", "web").status.stable_rs
    release(sim, "web:2", Behaviour())
    sim.run_until(
        lambda r: r.status.phase == "Healthy" and r.status.stable_rs != first, "default", "web", 300
    )
    rollout = sim.cluster.get_rollout("default", "web")
    sim.cluster.patch_rollout(
        "default", "web", commands.undo(rollout, sim.cluster.observe(rollout).replica_sets)[0]
    )
    back = sim.run_until(
        lambda r: r.status.phase == "Healthy" and r.status.stable_rs == first, "default", "web", 300
    )
    assert back.status.stable_rs == first


def test_restart_at_restarts_every_pod_once() -> None:
    sim = simulation(scenarios.rollout(routed=True))
    rollout = sim.cluster.get_rollout("default", "web")
    sim.cluster.patch_rollout("default", "web", commands.restart(rollout, sim.clock.now())[0])
    restarted = sim.run_until(lambda r: r.status.restarted_at is not None, "default", "web", 60)
    assert restarted.status.restarted_at == restarted.spec.restart_at
    done = sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 60)
    assert any(e.reason == "RolloutRestarted" for e in sim.cluster.list_events("default", "web"))
    assert done.status.available_replicas == 4


def promoted(sim: Simulation, image: str) -> Rollout:
    """`image` released, promoted at its pause, and Healthy."""
    pod_hash = release(sim, image, Behaviour())
    paused = sim.run_until(lambda r: r.status.phase == "Paused", "default", "web", 120)
    sim.cluster.patch_rollout("default", "web", commands.promote(paused)[0])
    return sim.run_until(
        lambda r: r.status.stable_rs == pod_hash and r.status.phase == "Healthy", "default", "web", 300
    )


def test_a_rollout_re_created_over_its_orphaned_replica_sets_keeps_its_stable_until_promoted() -> None:
    steps = [{"setWeight": 25}, {"pause": {}}]
    sim = simulation(scenarios.rollout(routed=True, steps=steps))
    serving = promoted(sim, "web:2").status.stable_rs
    assert serving is not None

    sim.cluster.delete_rollout("default", "web", orphan=True)
    sim.cluster.create(scenarios.rollout(image="web:3", routed=True, steps=steps))
    paused = sim.run_until(lambda r: r.status.phase == "Paused", "default", "web", 120)

    assert (paused.status.stable_rs, paused.status.current_step_index) == (serving, 1)
    available = {rs.pod_template_hash: rs.available for rs in sim.cluster.observe(paused).replica_sets}
    assert available[serving] == 4
    assert sim.cluster.traffic(paused)[serving] == 0.75
    sim.cluster.patch_rollout("default", "web", commands.promote(paused)[0])
    done = sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 300)
    assert done.status.stable_rs != serving
    assert {rs.pod_template_hash: rs.replicas for rs in sim.cluster.observe(done).replica_sets}[serving] == 0


def test_a_rollout_re_created_during_a_step_analysis_runs_its_own_analysis_past_the_orphaned_one() -> None:
    sim = simulation(scenarios.rollout(routed=True, steps=STEPS))
    good = release(sim, "web:2", Behaviour(error_rate=0.0))
    sim.run_until(lambda r: bool(sim.cluster.list_analysis_runs("default")), "default", "web", 300)
    (orphaned,) = sim.cluster.list_analysis_runs("default")

    sim.cluster.delete_rollout("default", "web", orphan=True)
    sim.cluster.create(scenarios.rollout(image="web:2", routed=True, steps=STEPS))
    done = sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 900)

    assert done.status.stable_rs == good
    own = [run.metadata.name for run in sim.cluster.observe(done).analysis_runs]
    assert own and orphaned.metadata.name not in own
