"""The `ClusterPort` contract: every behaviour the engine's shell relies on, checked against both
implementations, the in-memory cluster and a real kube-apiserver (the reference: where they differ,
Kubernetes semantics decide). Run the in-memory half alone with ``-k memory``.

Each test sets up through a `Backend` (create a Rollout, a Service, an AnalysisTemplate; let pods
run) and then asserts only what the port reports, never which calls were made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest
from kubernetes import client
from localcluster import wait_for

from canary.api.analysis import (
    AnalysisPhase,
    AnalysisRun,
    AnalysisRunStatus,
    AnalysisTemplate,
    Measurement,
    MetricResult,
)
from canary.api.rollout import Rollout, RolloutPhase
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import ANALYSIS_TEMPLATES, PODS, REPLICA_SETS, ROLLOUTS, SERVICES, KubeApi
from canary.cluster.memory import MemoryCluster, ready_after
from canary.cluster.port import ClusterPort, Conflict, NotFound
from canary.engine.actions import (
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    EphemeralMetadata,
    PodHash,
    RestartPods,
    ScaleReplicaSet,
    SetEphemeralMetadata,
    SetScaleDownDeadline,
    SetServiceSelector,
    TerminateAnalysisRun,
)
from canary.engine.analysis_runs import ROLLOUT_LABEL
from canary.engine.clock import ManualClock
from canary.engine.commands import Patch
from canary.engine.hashing import HASH_LABEL, pod_template_hash
from canary.sim import scenarios

POD_START_SECONDS = 5.0
TEMPLATE_NAME = "healthy"


class Backend(Protocol):
    """A cluster behind the port, and the set-up steps a person or Kubernetes itself would take."""

    port: ClusterPort
    namespace: str

    def create_rollout(self, rollout: Rollout) -> Rollout:
        """`kubectl apply` of a new Rollout; the Rollout as stored (uid, resourceVersion, generation)."""
        ...

    def create_service(self, name: str) -> None: ...

    def create_template(self, template: AnalysisTemplate) -> None: ...

    def let_pods_run(self, rollout: Rollout) -> None:
        """Until every pod the Rollout's ReplicaSets ask for has started and become ready."""
        ...

    def let_endpoints_follow(self, rollout: Rollout) -> None:
        """Until the ready pods are ready endpoints of the Services selecting them."""
        ...

    def delete_orphaning(self, name: str) -> None:
        """`kubectl delete rollout NAME --cascade=orphan`, until the Rollout is gone and its
        ReplicaSets have no owner."""
        ...

    def a_moment_later(self) -> datetime:
        """A time after every pod that exists now was created, once it has passed."""
        ...

    def pod_metadata(self, rollout: Rollout, pod_hash: str) -> list[tuple[dict[str, str], dict[str, str]]]:
        """(labels, annotations) of each pod of the revision, as `kubectl get pods -o yaml` shows them."""
        ...


class MemoryBackend:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.cluster = MemoryCluster(self.clock, pods=ready_after(POD_START_SECONDS))
        self.port: ClusterPort = self.cluster
        self.namespace = "contract"

    def create_rollout(self, rollout: Rollout) -> Rollout:
        self.cluster.create(rollout)
        return self.port.get_rollout(self.namespace, rollout.metadata.name)

    def create_service(self, name: str) -> None:
        self.cluster.create_service(self.namespace, name)

    def create_template(self, template: AnalysisTemplate) -> None:
        self.cluster.create(template)

    def let_pods_run(self, rollout: Rollout) -> None:
        self.clock.advance(POD_START_SECONDS)

    def let_endpoints_follow(self, rollout: Rollout) -> None:
        self.clock.advance(self.cluster.endpoints_after.total_seconds())

    def delete_orphaning(self, name: str) -> None:
        self.cluster.delete_rollout(self.namespace, name, orphan=True)

    def a_moment_later(self) -> datetime:
        self.clock.advance(1.25)
        return self.clock.now()

    def pod_metadata(self, rollout: Rollout, pod_hash: str) -> list[tuple[dict[str, str], dict[str, str]]]:
        return self.cluster.pod_metadata(self.namespace, pod_hash)


class KubeBackend:
    """A real apiserver; the port is the CLI's (`KubeCluster` reading straight from the apiserver)."""

    def __init__(self, admin_api: Any, namespace: str) -> None:
        self.admin_api = admin_api
        self.api = KubeApi(admin_api)
        self.port: ClusterPort = KubeCluster(self.api, endpoints=True)
        self.namespace = namespace

    def create_rollout(self, rollout: Rollout) -> Rollout:
        self.api.create(*ROLLOUTS, self.namespace, rollout.to_wire())
        return self.port.get_rollout(self.namespace, rollout.metadata.name)

    def create_service(self, name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            # `<app>-stable` / `<app>-canary` select the pods of the Rollout `<app>`
            "spec": {"selector": {"app": name.rsplit("-", 1)[0]}, "ports": [{"port": 80}]},
        }
        self.api.create(*SERVICES, self.namespace, body)

    def create_template(self, template: AnalysisTemplate) -> None:
        self.api.create(*ANALYSIS_TEMPLATES, self.namespace, template.to_wire())

    def let_pods_run(self, rollout: Rollout) -> None:
        # kwok marks scheduled pods Running and Ready by itself; the ReplicaSet controller counts them.
        def all_ready() -> bool:
            sets = self.port.observe(rollout).replica_sets
            return all(rs.ready == rs.available == rs.replicas for rs in sets)

        wait_for("every pod ready and available", all_ready, timeout=30, interval=0.2)

    def let_endpoints_follow(self, rollout: Rollout) -> None:
        # The endpoint controller lists ready pods in their Services' EndpointSlices on its own time.
        def followed() -> bool:
            observed = self.port.observe(rollout)
            ready = sum(rs.ready for rs in observed.replica_sets)
            return all(sum(counts.values()) >= ready for counts in observed.ready_endpoints.values())

        wait_for("the ready pods to be ready endpoints", followed, timeout=30, interval=0.2)

    def delete_orphaning(self, name: str) -> None:
        client.CustomObjectsApi(self.admin_api).delete_namespaced_custom_object(
            *ROLLOUTS[0].split("/"), self.namespace, ROLLOUTS[1], name, propagation_policy="Orphan"
        )

        def orphaned() -> bool:
            # The garbage collector removes the ownerReferences, then lets the Rollout go.
            sets = self.api.list(*REPLICA_SETS, self.namespace).items
            gone = self.api.get(*ROLLOUTS, self.namespace, name) is None
            return gone and not any(rs["metadata"].get("ownerReferences") for rs in sets)

        wait_for("the Rollout to be deleted and its ReplicaSets orphaned", orphaned, timeout=30, interval=0.2)

    def a_moment_later(self) -> datetime:
        # creationTimestamp is stored to the second and restartAt to the microsecond (as the CLI
        # writes it): a time inside the next second, returned once the whole second has passed so
        # that every pod created afterwards is stamped later than it.
        moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1, microseconds=250_000)
        time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.8)
        return moment

    def pod_metadata(self, rollout: Rollout, pod_hash: str) -> list[tuple[dict[str, str], dict[str, str]]]:
        pods = self.api.list(*PODS, self.namespace, {HASH_LABEL: pod_hash}).items
        return [
            (dict(pod["metadata"].get("labels") or {}), dict(pod["metadata"].get("annotations") or {}))
            for pod in pods
            if not pod["metadata"].get("deletionTimestamp")
        ]


@pytest.fixture(params=["memory", "kube"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    request.getfixturevalue("canary_installed")
    yield KubeBackend(request.getfixturevalue("admin_api"), request.getfixturevalue("namespace"))


# --- what the tests create ---------------------------------------------------------------------


def rollout_in(backend: Backend, name: str = "web") -> Rollout:
    """A routed canary Rollout (Services `<name>-stable`/`-canary`), analysing with `healthy`."""
    steps: list[dict[str, Any]] = [
        {"setWeight": 50},
        {"analysis": {"templates": [{"templateName": TEMPLATE_NAME}]}},
    ]
    return backend.create_rollout(
        scenarios.rollout(name, namespace=backend.namespace, routed=True, steps=steps)
    )


def template(backend: Backend, name: str) -> AnalysisTemplate:
    return AnalysisTemplate.model_validate(
        {
            "metadata": {"name": name, "namespace": backend.namespace},
            "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/up"}}}]},
        }
    )


def create_replica_set(rollout: Rollout, replicas: int = 1) -> CreateReplicaSet:
    """What the engine asks for a Rollout's current template: the template labelled with its hash."""
    assert rollout.spec.template is not None
    pod_hash = pod_template_hash(rollout.spec.template)
    labelled = dict(rollout.spec.template)
    labelled["metadata"] = {"labels": {**labelled["metadata"]["labels"], HASH_LABEL: pod_hash}}
    return CreateReplicaSet(pod_hash, labelled, replicas, revision=1)


def analysis_run(rollout: Rollout, pod_hash: PodHash) -> AnalysisRun:
    return AnalysisRun.model_validate(
        {
            "metadata": {
                "name": f"{rollout.metadata.name}-{pod_hash}-1",
                "namespace": rollout.metadata.namespace,
                "labels": {ROLLOUT_LABEL: rollout.metadata.name, HASH_LABEL: pod_hash},
            },
            "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/up"}}}]},
        }
    )


def at(second: int) -> datetime:
    # whole seconds: the apiserver stores RFC 3339 times to the second
    return datetime(2024, 5, 1, 12, 0, second, tzinfo=UTC)


# --- reading Rollouts ----------------------------------------------------------------------------


def test_getting_a_missing_rollout_raises_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        backend.port.get_rollout(backend.namespace, "absent")


def test_a_created_rollout_has_a_uid_a_creation_time_and_generation_one(backend: Backend) -> None:
    created = rollout_in(backend)
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.generation == 1


def test_list_rollouts_returns_every_rollout_created_in_the_namespace(backend: Backend) -> None:
    rollout_in(backend, "web")
    rollout_in(backend, "api")
    listed = backend.port.list_rollouts(backend.namespace)
    assert sorted(r.metadata.name for r in listed) == ["api", "web"]


# --- status and patches --------------------------------------------------------------------------


def test_a_status_update_from_a_stale_resource_version_is_a_conflict(backend: Backend) -> None:
    stale = rollout_in(backend)
    backend.port.update_status(stale, stale.status.model_copy(update={"message": "first"}))
    with pytest.raises(Conflict):
        backend.port.update_status(stale, stale.status.model_copy(update={"message": "second"}))
    assert backend.port.get_rollout(backend.namespace, "web").status.message == "first"


def test_a_current_status_update_is_stored_with_a_new_version_leaving_spec_and_generation(
    backend: Backend,
) -> None:
    before = rollout_in(backend)
    status = before.status.model_copy(
        update={"phase": RolloutPhase.PROGRESSING, "message": "step 1", "current_step_index": 1}
    )
    backend.port.update_status(before, status)
    after = backend.port.get_rollout(backend.namespace, "web")
    assert after.status == status
    assert after.metadata.resource_version != before.metadata.resource_version
    assert (after.spec, after.metadata.generation) == (before.spec, before.metadata.generation)


def test_a_spec_patch_bumps_the_generation(backend: Backend) -> None:
    before = rollout_in(backend)
    patched = backend.port.patch_rollout(backend.namespace, "web", Patch("spec", {"paused": True}))
    assert patched.spec.paused
    assert patched.metadata.generation == (before.metadata.generation or 0) + 1


def test_a_patch_from_a_stale_resource_version_is_a_conflict(backend: Backend) -> None:
    stale = rollout_in(backend)
    backend.port.update_status(stale, stale.status.model_copy(update={"message": "moved on"}))
    with pytest.raises(Conflict):
        backend.port.patch_rollout(
            backend.namespace, "web", Patch("status", {"abort": True}, stale.metadata.resource_version)
        )


def test_a_status_patch_keeps_the_generation(backend: Backend) -> None:
    before = rollout_in(backend)
    patch = Patch("status", {"message": "held"}, before.metadata.resource_version)
    patched = backend.port.patch_rollout(backend.namespace, "web", patch)
    assert patched.status.message == "held"
    assert patched.metadata.generation == before.metadata.generation


# --- ReplicaSets -----------------------------------------------------------------------------------


def test_create_replica_set_makes_one_replica_set_of_the_rollout_labelled_with_its_hash(
    backend: Backend,
) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout)
    backend.port.apply(rollout, [create])
    (created,) = backend.port.observe(rollout).replica_sets
    assert created.name == f"web-{create.pod_template_hash}"
    assert created.pod_template_hash == create.pod_template_hash
    assert created.template["metadata"]["labels"][HASH_LABEL] == create.pod_template_hash
    assert (created.replicas, created.revision) == (1, 1)


def test_creating_a_replica_set_twice_makes_no_duplicate(backend: Backend) -> None:
    rollout = rollout_in(backend)
    backend.port.apply(rollout, [create_replica_set(rollout)])
    backend.port.apply(rollout, [create_replica_set(rollout)])
    assert len(backend.port.observe(rollout).replica_sets) == 1


def test_scaling_a_replica_set_changes_the_replicas_it_asks_for(backend: Backend) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout, replicas=1)
    backend.port.apply(rollout, [create, ScaleReplicaSet(create.pod_template_hash, 3)])
    (scaled,) = backend.port.observe(rollout).replica_sets
    assert scaled.replicas == 3


def test_apply_makes_actions_true_in_the_shells_order_not_the_order_given(backend: Backend) -> None:
    # actions.ORDER: creations before scaling, so a scale listed first still finds its ReplicaSet
    rollout = rollout_in(backend)
    create = create_replica_set(rollout, replicas=1)
    backend.port.apply(rollout, [ScaleReplicaSet(create.pod_template_hash, 3), create])
    assert backend.port.observe(rollout).replica_sets[0].replicas == 3


def test_a_rollout_applied_again_adopts_the_replica_sets_its_predecessor_orphaned(backend: Backend) -> None:
    first = rollout_in(backend)
    create = create_replica_set(first)
    backend.port.apply(first, [create])
    backend.delete_orphaning("web")
    again = rollout_in(backend)
    assert backend.port.observe(again).replica_sets == ()
    assert backend.port.adopt_orphans(again) == [f"web-{create.pod_template_hash}"]
    (adopted,) = backend.port.observe(again).replica_sets
    assert adopted.pod_template_hash == create.pod_template_hash
    assert backend.port.adopt_orphans(again) == []


def test_scaling_a_missing_replica_set_raises_not_found(backend: Backend) -> None:
    rollout = rollout_in(backend)
    with pytest.raises(NotFound):
        backend.port.apply(rollout, [ScaleReplicaSet(PodHash("gone1"), 2)])


def test_a_scale_down_deadline_is_reported_until_it_is_removed(backend: Backend) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout)
    backend.port.apply(rollout, [create, SetScaleDownDeadline(create.pod_template_hash, at(30))])
    assert backend.port.observe(rollout).replica_sets[0].scale_down_deadline == at(30)
    backend.port.apply(rollout, [SetScaleDownDeadline(create.pod_template_hash, None)])
    assert backend.port.observe(rollout).replica_sets[0].scale_down_deadline is None


def test_observe_reports_at_least_the_template_the_replica_set_was_created_with(backend: Backend) -> None:
    # The apiserver adds defaults (imagePullPolicy, restartPolicy, ...): only a superset is portable.
    rollout = rollout_in(backend)
    create = create_replica_set(rollout)
    backend.port.apply(rollout, [create])
    template = backend.port.observe(rollout).replica_sets[0].template
    assert template["metadata"] == create.template["metadata"]
    (container,) = template["spec"]["containers"]
    assert container.items() >= create.template["spec"]["containers"][0].items()


def test_observe_reports_the_template_as_written_so_its_hash_names_the_same_revision(
    backend: Backend,
) -> None:
    # `undo` copies an old ReplicaSet's template back into the spec: with the apiserver's defaults
    # in it, it would hash to a new revision and the rollout would run every step again.
    rollout = rollout_in(backend)
    create = create_replica_set(rollout)
    backend.port.apply(rollout, [create])
    template = backend.port.observe(rollout).replica_sets[0].template
    assert pod_template_hash(template) == create.pod_template_hash


def test_observe_counts_pods_ready_and_available_once_they_run(backend: Backend) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout, replicas=1)
    backend.port.apply(rollout, [create, ScaleReplicaSet(create.pod_template_hash, 2)])
    backend.let_pods_run(rollout)
    (running,) = backend.port.observe(rollout).replica_sets
    assert (running.replicas, running.ready, running.available) == (2, 2, 2)


def test_a_restart_replaces_one_pod_per_action_and_marks_the_replica_set_once_none_is_old(
    backend: Backend,
) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout, replicas=2)
    backend.port.apply(rollout, [create])
    backend.let_pods_run(rollout)
    restart = RestartPods(create.pod_template_hash, backend.a_moment_later())
    backend.port.apply(rollout, [restart])
    (first,) = backend.port.observe(rollout).replica_sets
    assert first.restarted_at is None, "one old pod is left after one restart action"
    assert first.replicas == 2
    for _ in range(3):
        backend.let_pods_run(rollout)
        backend.port.apply(rollout, [restart])
    (done,) = backend.port.observe(rollout).replica_sets
    assert done.restarted_at == restart.restart_at
    assert done.replicas == 2


def _settled_metadata(backend: Backend, rollout: Rollout, action: SetEphemeralMetadata) -> EphemeralMetadata:
    """Apply until observe reports the metadata on every pod (None while the write is not yet on all)."""
    for _ in range(50):
        backend.port.apply(rollout, [action])
        (seen,) = backend.port.observe(rollout).replica_sets
        if seen.ephemeral_metadata is not None:
            return seen.ephemeral_metadata
        time.sleep(0.1)
    raise AssertionError("the ephemeral metadata never settled")


def test_ephemeral_metadata_is_put_on_every_pod_and_replaced_in_place_keeping_the_hash(
    backend: Backend,
) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout, replicas=2)
    backend.port.apply(rollout, [create])
    backend.let_pods_run(rollout)
    canary = EphemeralMetadata({"role": "canary"}, {"example.com/phase": "trial"})
    assert (
        _settled_metadata(backend, rollout, SetEphemeralMetadata(create.pod_template_hash, canary)) == canary
    )
    pods = backend.pod_metadata(rollout, create.pod_template_hash)
    assert len(pods) == 2
    assert all(labels["role"] == "canary" and notes["example.com/phase"] == "trial" for labels, notes in pods)
    assert all(labels["app"] == "web" for labels, _ in pods), "the template's own labels stay"

    stable = EphemeralMetadata({"role": "stable"}, {})
    assert (
        _settled_metadata(backend, rollout, SetEphemeralMetadata(create.pod_template_hash, stable)) == stable
    )
    pods = backend.pod_metadata(rollout, create.pod_template_hash)
    assert len(pods) == 2, "no pod replaced"
    assert all(labels["role"] == "stable" and "example.com/phase" not in notes for labels, notes in pods)
    (seen,) = backend.port.observe(rollout).replica_sets
    assert (seen.name, seen.pod_template_hash) == (
        f"web-{create.pod_template_hash}",
        create.pod_template_hash,
    )
    assert pod_template_hash(seen.template) == create.pod_template_hash

    backend.port.apply(rollout, [ScaleReplicaSet(create.pod_template_hash, 3)])
    backend.let_pods_run(rollout)
    assert {labels["role"] for labels, _ in backend.pod_metadata(rollout, create.pod_template_hash)} == {
        "stable"
    }, "a pod started later gets the metadata from the template"

    none = EphemeralMetadata()
    assert _settled_metadata(backend, rollout, SetEphemeralMetadata(create.pod_template_hash, none)) == none
    assert all("role" not in labels for labels, _ in backend.pod_metadata(rollout, create.pod_template_hash))


def test_deleting_a_replica_set_removes_it_from_observe(backend: Backend) -> None:
    rollout = rollout_in(backend)
    create = create_replica_set(rollout)
    backend.port.apply(rollout, [create])
    backend.port.apply(rollout, [DeleteReplicaSet(create.pod_template_hash)])
    assert backend.port.observe(rollout).replica_sets == ()


# --- Services and templates ------------------------------------------------------------------------


def test_set_service_selector_pins_the_hash_that_observe_reports(backend: Backend) -> None:
    rollout = rollout_in(backend)
    backend.create_service("web-stable")
    backend.create_service("web-canary")
    backend.port.apply(rollout, [SetServiceSelector("web-canary", PodHash("abc12"))])
    assert backend.port.observe(rollout).service_selectors == {
        "web-canary": PodHash("abc12"),
        "web-stable": None,
    }


def test_observe_counts_the_ready_endpoints_of_the_routed_services_by_revision(backend: Backend) -> None:
    rollout = rollout_in(backend)
    backend.create_service("web-stable")
    backend.create_service("web-canary")
    created = create_replica_set(rollout, replicas=2)
    backend.port.apply(rollout, [created, SetServiceSelector("web-canary", created.pod_template_hash)])
    backend.let_pods_run(rollout)
    backend.let_endpoints_follow(rollout)
    assert backend.port.observe(rollout).ready_endpoints == {
        "web-canary": {created.pod_template_hash: 2},
        "web-stable": {created.pod_template_hash: 2},  # no hash pinned: every pod of the app
    }


def test_selecting_through_a_missing_service_raises_not_found(backend: Backend) -> None:
    rollout = rollout_in(backend)
    with pytest.raises(NotFound):
        backend.port.apply(rollout, [SetServiceSelector("web-canary", PodHash("abc12"))])


def test_observe_reports_the_analysis_templates_the_rollout_references(backend: Backend) -> None:
    rollout = rollout_in(backend)
    backend.create_template(template(backend, TEMPLATE_NAME))
    backend.create_template(template(backend, "unreferenced"))
    templates = backend.port.observe(rollout).templates
    assert list(templates) == [TEMPLATE_NAME]
    assert templates[TEMPLATE_NAME].spec == template(backend, TEMPLATE_NAME).spec


# --- AnalysisRuns ------------------------------------------------------------------------------------


def test_a_created_analysis_run_is_listed_with_the_rollouts_labels(backend: Backend) -> None:
    rollout = rollout_in(backend)
    run = analysis_run(rollout, PodHash("abc12"))
    backend.port.apply(rollout, [CreateAnalysisRun(run)])
    (listed,) = backend.port.list_analysis_runs(backend.namespace)
    assert listed.metadata.name == run.metadata.name
    assert listed.metadata.labels == run.metadata.labels
    assert listed.spec == run.spec


def test_observe_includes_the_analysis_runs_the_rollout_created(backend: Backend) -> None:
    rollout = rollout_in(backend)
    run = analysis_run(rollout, PodHash("abc12"))
    backend.port.apply(rollout, [CreateAnalysisRun(run)])
    assert [r.metadata.name for r in backend.port.observe(rollout).analysis_runs] == [run.metadata.name]


def test_an_analysis_run_status_update_round_trips(backend: Backend) -> None:
    rollout = rollout_in(backend)
    backend.port.apply(rollout, [CreateAnalysisRun(analysis_run(rollout, PodHash("abc12")))])
    (created,) = backend.port.list_analysis_runs(backend.namespace)
    measurement = Measurement(phase=AnalysisPhase.SUCCESSFUL, value="1", started_at=at(1), finished_at=at(2))
    status = AnalysisRunStatus(
        phase=AnalysisPhase.RUNNING,
        message="measuring",
        started_at=at(0),
        metric_results=[
            MetricResult(
                name="up", phase=AnalysisPhase.RUNNING, measurements=[measurement], count=1, successful=1
            )
        ],
    )
    returned = backend.port.update_analysis_run_status(created.model_copy(update={"status": status}))
    (listed,) = backend.port.list_analysis_runs(backend.namespace)
    assert returned.status == listed.status == status


def test_an_analysis_run_status_update_from_a_stale_resource_version_is_a_conflict(
    backend: Backend,
) -> None:
    rollout = rollout_in(backend)
    backend.port.apply(rollout, [CreateAnalysisRun(analysis_run(rollout, PodHash("abc12")))])
    (stale,) = backend.port.list_analysis_runs(backend.namespace)
    running = stale.status.model_copy(update={"phase": AnalysisPhase.RUNNING})
    backend.port.update_analysis_run_status(stale.model_copy(update={"status": running}))
    failed = stale.status.model_copy(update={"phase": AnalysisPhase.FAILED})
    with pytest.raises(Conflict):
        backend.port.update_analysis_run_status(stale.model_copy(update={"status": failed}))


def test_a_terminated_analysis_run_is_observed_with_terminate_set(backend: Backend) -> None:
    rollout = rollout_in(backend)
    run = analysis_run(rollout, PodHash("abc12"))
    backend.port.apply(rollout, [CreateAnalysisRun(run)])
    backend.port.apply(rollout, [TerminateAnalysisRun(run.metadata.name)])
    (observed,) = backend.port.observe(rollout).analysis_runs
    assert observed.spec.terminate


def test_a_deleted_analysis_run_is_no_longer_listed(backend: Backend) -> None:
    rollout = rollout_in(backend)
    run = analysis_run(rollout, PodHash("abc12"))
    backend.port.apply(rollout, [CreateAnalysisRun(run)])
    backend.port.apply(rollout, [DeleteAnalysisRun(run.metadata.name)])
    assert backend.port.list_analysis_runs(backend.namespace) == []


# --- Events ------------------------------------------------------------------------------------------


def test_emitted_events_are_listed_with_their_reason_and_message(backend: Backend) -> None:
    rollout = rollout_in(backend)
    backend.port.apply(
        rollout,
        [
            EmitEvent("Normal", "RolloutUpdated", "revision 2 started"),
            EmitEvent("Warning", "AnalysisFailed", "error rate 30%"),
        ],
    )
    events = backend.port.list_events(backend.namespace, "web")
    assert sorted((e.type, e.reason, e.message) for e in events) == [
        ("Normal", "RolloutUpdated", "revision 2 started"),
        ("Warning", "AnalysisFailed", "error rate 30%"),
    ]


def test_each_emission_of_the_same_event_is_listed(backend: Backend) -> None:
    rollout = rollout_in(backend)
    failed = EmitEvent("Warning", "AnalysisFailed", "error rate 30%")
    backend.port.apply(rollout, [failed])
    backend.port.apply(rollout, [failed])
    events = backend.port.list_events(backend.namespace, "web")
    assert [(e.reason, e.count) for e in events] == [("AnalysisFailed", 1), ("AnalysisFailed", 1)]
