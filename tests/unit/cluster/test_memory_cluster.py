"""The in-memory cluster: pods on a virtual clock, writes only on a difference, optimistic concurrency."""

import pytest

from canary.api.analysis import AnalysisRun
from canary.cluster.memory import MemoryCluster, ready_after
from canary.cluster.port import Conflict, NotFound
from canary.engine import commands
from canary.engine.actions import (
    CreateAnalysisRun,
    CreateReplicaSet,
    EmitEvent,
    PodHash,
    ScaleReplicaSet,
    SetServiceSelector,
    SetTrafficWeight,
)
from canary.engine.analysis_runs import ROLLOUT_LABEL
from canary.engine.clock import ManualClock
from canary.engine.hashing import HASH_LABEL
from canary.sim import scenarios

H = PodHash("abc")


def cluster_with_rollout(routed: bool = True) -> tuple[MemoryCluster, ManualClock]:
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(5))
    cluster.create(scenarios.rollout(routed=routed))
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    return cluster, clock


def test_pods_become_ready_after_their_delay() -> None:
    cluster, clock = cluster_with_rollout()
    rollout = cluster.get_rollout("default", "web")
    cluster.apply(rollout, [CreateReplicaSet(H, {}, 3, 1)])
    assert cluster.observe(rollout).replica_sets[0].available == 0
    clock.advance(5)
    assert cluster.observe(rollout).replica_sets[0].available == 3


def test_pods_falling_due_concern_only_the_rollout_that_owns_them() -> None:
    cluster, _ = cluster_with_rollout()
    idle = scenarios.rollout()
    cluster.create(idle.model_copy(update={"metadata": idle.metadata.model_copy(update={"name": "idle"})}))
    rollout = cluster.get_rollout("default", "web")
    cluster.apply(rollout, [CreateReplicaSet(H, {}, 3, 1)])
    due = cluster.next_due()
    assert due is not None
    assert cluster.due_at(due) == [("default", "web")]


def test_a_crash_looping_revision_never_becomes_ready() -> None:
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=lambda _hash: None)
    cluster.create(scenarios.rollout())
    rollout = cluster.get_rollout("default", "web")
    cluster.apply(rollout, [CreateReplicaSet(H, {}, 2, 1)])
    clock.advance(3600)
    assert cluster.observe(rollout).replica_sets[0].ready == 0


def test_applying_the_same_actions_twice_changes_nothing() -> None:
    cluster, clock = cluster_with_rollout()
    rollout = cluster.get_rollout("default", "web")
    actions = [CreateReplicaSet(H, {}, 2, 1), ScaleReplicaSet(H, 2), SetTrafficWeight(20, H, H)]
    cluster.apply(rollout, actions)
    clock.advance(5)
    before = cluster.observe(rollout)
    cluster.apply(rollout, actions)
    assert cluster.observe(rollout) == before


def test_scaling_down_removes_unready_pods_first() -> None:
    cluster, clock = cluster_with_rollout()
    rollout = cluster.get_rollout("default", "web")
    cluster.apply(rollout, [CreateReplicaSet(H, {}, 2, 1)])
    clock.advance(5)
    cluster.apply(rollout, [ScaleReplicaSet(H, 4), ScaleReplicaSet(H, 2)])
    assert cluster.observe(rollout).replica_sets[0].available == 2


def test_a_stale_status_update_is_a_conflict() -> None:
    cluster, _ = cluster_with_rollout()
    stale = cluster.get_rollout("default", "web")
    cluster.patch_rollout("default", "web", commands.pause(stale)[0])
    with pytest.raises(Conflict):
        cluster.update_status(stale, stale.status.model_copy(update={"message": "x"}))


def test_a_spec_patch_bumps_the_generation() -> None:
    cluster, _ = cluster_with_rollout()
    rollout = cluster.get_rollout("default", "web")
    patched = cluster.patch_rollout("default", "web", commands.pause(rollout)[0])
    assert patched.spec.paused and patched.metadata.generation == 2


def test_an_unknown_rollout_is_not_found() -> None:
    cluster, _ = cluster_with_rollout()
    with pytest.raises(NotFound):
        cluster.get_rollout("default", "nope")


def test_each_emitted_event_is_recorded_on_its_own() -> None:
    # as the Kubernetes adapter creates them: one Event per emission (tests/controlplane contract)
    cluster, _ = cluster_with_rollout()
    rollout = cluster.get_rollout("default", "web")
    cluster.apply(rollout, [EmitEvent("Normal", "R", "m"), EmitEvent("Normal", "R", "m")])
    events = cluster.list_events("default", "web")
    assert [(e.reason, e.count) for e in events] == [("R", 1), ("R", 1)]


def test_routed_traffic_follows_the_weight_to_ready_pods_only() -> None:
    cluster, clock = cluster_with_rollout()
    rollout = cluster.get_rollout("default", "web")
    stable, canary = PodHash("s"), PodHash("c")
    cluster.apply(rollout, [CreateReplicaSet(stable, {}, 2, 1)])
    clock.advance(5)
    cluster.apply(rollout, [CreateReplicaSet(canary, {}, 1, 2), SetTrafficWeight(30, stable, canary)])
    cluster.apply(
        rollout, [SetServiceSelector("web-stable", stable), SetServiceSelector("web-canary", canary)]
    )
    assert cluster.traffic(rollout) == {stable: 0.7}
    clock.advance(5)
    assert cluster.traffic(rollout) == pytest.approx({stable: 0.7, canary: 0.3})


def deleted_with_a_replica_set(*, orphan: bool) -> MemoryCluster:
    """The Rollout `web` with a labelled ReplicaSet of 2 ready pods, deleted, then applied again."""
    cluster, clock = cluster_with_rollout()
    template = {"metadata": {"labels": {"app": "web", HASH_LABEL: H}}}
    cluster.apply(cluster.get_rollout("default", "web"), [CreateReplicaSet(H, template, 2, 1)])
    clock.advance(5)
    cluster.delete_rollout("default", "web", orphan=orphan)
    cluster.create(scenarios.rollout(routed=True))
    return cluster


def test_deleting_a_rollout_deletes_its_replica_sets() -> None:
    cluster = deleted_with_a_replica_set(orphan=False)
    assert cluster.adopt_orphans(cluster.get_rollout("default", "web")) == []


def test_a_re_created_rollout_does_not_own_the_replica_sets_orphaned_by_the_old_one() -> None:
    cluster = deleted_with_a_replica_set(orphan=True)
    assert cluster.observe(cluster.get_rollout("default", "web")).replica_sets == ()


def test_an_adopted_orphan_is_observed_with_its_pods_and_keeps_its_name() -> None:
    cluster = deleted_with_a_replica_set(orphan=True)
    rollout = cluster.get_rollout("default", "web")
    assert cluster.adopt_orphans(rollout) == [f"web-{H}"]
    (view,) = cluster.observe(rollout).replica_sets
    assert (view.name, view.pod_template_hash, view.available) == (f"web-{H}", H, 2)


def test_a_re_created_rollout_does_not_own_the_analysis_runs_orphaned_by_the_old_one() -> None:
    sim_cluster, _ = cluster_with_rollout()
    old = sim_cluster.get_rollout("default", "web")
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "web-abc-1-1", "labels": {ROLLOUT_LABEL: "web"}},
            "spec": {"metrics": [{"name": "m", "provider": {"job": {"spec": {}}}}]},
        }
    )
    sim_cluster.apply(old, [CreateAnalysisRun(run)])
    sim_cluster.delete_rollout("default", "web", orphan=True)
    sim_cluster.create(scenarios.rollout(routed=True))
    observed = sim_cluster.observe(sim_cluster.get_rollout("default", "web"))
    assert (observed.analysis_runs, observed.run_names) == ((), frozenset({"web-abc-1-1"}))


def test_adopted_orphans_keep_their_creation_order_and_follow_their_new_owner() -> None:
    # The cluster indexes ReplicaSets by owner (orphans apart), so that a reconcile reads only its
    # own and its namespace's orphans: adopting, deleting and orphaning again keep that index true.
    cluster, _ = cluster_with_rollout()
    first, second = PodHash("bbb"), PodHash("aaa")  # created first, named last
    labels = {"app": "web"}
    rollout = cluster.get_rollout("default", "web")
    for revision, pod_hash in enumerate((first, second), start=1):
        template = {"metadata": {"labels": {**labels, HASH_LABEL: pod_hash}}}
        cluster.apply(rollout, [CreateReplicaSet(pod_hash, template, 1, revision)])
    cluster.delete_rollout("default", "web", orphan=True)
    cluster.create(scenarios.rollout(routed=True))
    rollout = cluster.get_rollout("default", "web")
    assert cluster.adopt_orphans(rollout) == [f"web-{second}", f"web-{first}"]
    assert [rs.pod_template_hash for rs in cluster.observe(rollout).replica_sets] == [first, second]
    assert cluster.adopt_orphans(rollout) == []
    cluster.delete_rollout("default", "web", orphan=True)
    cluster.create(scenarios.rollout(routed=True))
    rollout = cluster.get_rollout("default", "web")
    assert cluster.adopt_orphans(rollout) == [f"web-{second}", f"web-{first}"]
    cluster.delete_rollout("default", "web")
    cluster.create(scenarios.rollout(routed=True))
    assert cluster.adopt_orphans(cluster.get_rollout("default", "web")) == []
    assert cluster.pod_metadata("default", first) == []


def test_ready_pods_become_ready_endpoints_of_the_services_selecting_them_after_the_endpoint_lag() -> None:
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(5), endpoints_after=2)
    cluster.create(scenarios.rollout(routed=True))
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    rollout = cluster.get_rollout("default", "web")
    cluster.apply(rollout, [CreateReplicaSet(H, {}, 3, 1), SetServiceSelector("web-canary", H)])
    clock.advance(5)
    assert cluster.observe(rollout).ready_endpoints == {"web-canary": {H: 0}, "web-stable": {H: 0}}
    clock.advance(2)
    assert cluster.observe(rollout).ready_endpoints == {"web-canary": {H: 3}, "web-stable": {H: 3}}
    assert cluster.due_at(clock.now()) == [("default", "web")]
