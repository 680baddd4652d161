"""The Kubernetes adapter's writes, observed through the API as another client would see them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from fake_apiserver import FakeApiServer
from objects import (
    ANALYSIS_STEPS,
    EVENTS,
    REPLICA_SETS,
    ROLLOUTS,
    SERVICES,
    analysis_template,
    install,
    orphaned_replica_set,
)

from canary.cluster.kube import KubeCluster
from canary.cluster.kube_actions import ApiReads
from canary.cluster.kube_api import KubeApi, Obj
from canary.cluster.port import Conflict, NotFound
from canary.controller.informer import Informer, Informers
from canary.controller.manager import WATCHED
from canary.engine import actions as act
from canary.engine.hashing import HASH_LABEL

NOW = datetime(2024, 1, 1, tzinfo=UTC)
HASH = act.PodHash("abc123")


@pytest.fixture
def cluster(api: KubeApi) -> KubeCluster:
    return KubeCluster(api, clock=lambda: NOW)


def _create(cluster: KubeCluster, apiserver: FakeApiServer) -> None:
    rollout = cluster.get_rollout("ns", "web")
    template = rollout.spec.template or {}
    cluster.apply(rollout, [act.CreateReplicaSet(HASH, template, replicas=2, revision=1)])


def test_a_created_replica_set_is_owned_by_its_rollout_and_selects_its_revision(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    stored = install(apiserver)
    _create(cluster, apiserver)
    replica_set = apiserver.read(*REPLICA_SETS, "web-abc123")
    assert replica_set is not None
    (owner,) = replica_set["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Rollout", stored["metadata"]["uid"], True)
    assert replica_set["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: "abc123"}
    assert replica_set["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == "abc123"
    assert replica_set["spec"]["replicas"] == 2


def test_observe_reports_owned_replica_sets_and_service_selectors(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    _create(cluster, apiserver)
    apiserver.put(
        {
            **apiserver.read(*REPLICA_SETS, "web-abc123"),
            "kind": "ReplicaSet",
            "status": {"readyReplicas": 2, "availableReplicas": 1},
        }
    )  # type: ignore[dict-item]
    observed = cluster.observe(cluster.get_rollout("ns", "web"))
    (view,) = observed.replica_sets
    assert (view.pod_template_hash, view.revision, view.replicas, view.ready, view.available) == (
        HASH,
        1,
        2,
        2,
        1,
    )
    assert observed.service_selectors == {"web-canary": None, "web-stable": None}


def test_scaling_writes_only_when_the_count_differs(apiserver: FakeApiServer, cluster: KubeCluster) -> None:
    install(apiserver)
    _create(cluster, apiserver)
    rollout = cluster.get_rollout("ns", "web")
    cluster.apply(rollout, [act.ScaleReplicaSet(HASH, 2)])
    assert apiserver.count("PATCH", "/replicasets/") == 0
    cluster.apply(rollout, [act.ScaleReplicaSet(HASH, 5)])
    assert apiserver.read(*REPLICA_SETS, "web-abc123")["spec"]["replicas"] == 5  # type: ignore[index]


def test_an_adopted_replica_set_is_observed_and_scaled_under_the_name_it_already_had(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    apiserver.put(orphaned_replica_set("shop-web-abc123", HASH, replicas=3))
    rollout = cluster.get_rollout("ns", "web")
    assert cluster.adopt_orphans(rollout) == ["shop-web-abc123"]
    assert [rs.name for rs in cluster.observe(rollout).replica_sets] == ["shop-web-abc123"]
    cluster.apply(rollout, [act.ScaleReplicaSet(HASH, 0)])
    assert apiserver.read(*REPLICA_SETS, "shop-web-abc123")["spec"]["replicas"] == 0  # type: ignore[index]


def test_a_workload_ref_rollout_adopts_the_orphans_its_deployments_selector_selects(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver, selector=None, template=None, workloadRef={"name": "web"})
    apiserver.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
            },
        }
    )
    apiserver.put(orphaned_replica_set("web-abc123", HASH, replicas=3))
    assert cluster.adopt_orphans(cluster.get_rollout("ns", "web")) == ["web-abc123"]


def test_adoption_reads_the_orphan_index_of_the_informer_cache_never_every_replica_set(
    apiserver: FakeApiServer, api: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Listing every ReplicaSet of the namespace on every reconcile made a fleet quadratic.
    install(apiserver)
    apiserver.put(orphaned_replica_set("web-abc123", HASH, replicas=3))
    informer = Informer(api, WATCHED["replicasets"], "ns", watch_timeout_seconds=1)
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    try:
        assert informer.wait_synced(5)

        def listed(*_args: object) -> list[Obj]:
            raise AssertionError("adoption listed every ReplicaSet")

        monkeypatch.setattr(informer, "list", listed)
        cluster = KubeCluster(api, reads=Informers(api, [informer]), clock=lambda: NOW)
        rollout = cluster.get_rollout("ns", "web")
        assert cluster.adopt_orphans(rollout) == ["web-abc123"]
        deadline = time.monotonic() + 5
        while informer.orphans("ns") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cluster.adopt_orphans(rollout) == []
    finally:
        informer.stop()
        thread.join(3)


class StaleReplicaSets(ApiReads):
    """A read cache that has not seen the latest ReplicaSet writes yet."""

    def __init__(self, api: KubeApi, replica_sets: list[Obj]) -> None:
        super().__init__(api)
        self._replica_sets = replica_sets

    def list(self, api_version: str, plural: str, namespace: str | None) -> list[Obj]:
        if plural == "replicasets":
            return self._replica_sets
        return super().list(api_version, plural, namespace)


def test_an_orphan_another_controller_took_since_the_read_is_left_to_it(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    install(apiserver)
    apiserver.put(orphaned_replica_set("web-abc123", HASH, replicas=3))
    stale = apiserver.all(*REPLICA_SETS)
    taken = apiserver.read(*REPLICA_SETS, "web-abc123")
    assert taken is not None
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "other", "controller": True}
    taken["metadata"]["ownerReferences"] = [owner]
    apiserver.put(taken)
    cluster = KubeCluster(api, reads=StaleReplicaSets(api, stale), clock=lambda: NOW)
    cluster.adopt_orphans(cluster.get_rollout("ns", "web"))
    owners = apiserver.read(*REPLICA_SETS, "web-abc123")["metadata"]["ownerReferences"]  # type: ignore[index]
    assert [o["uid"] for o in owners] == ["other"]


def test_a_service_selector_gains_the_hash_and_keeps_its_other_labels(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    rollout = cluster.get_rollout("ns", "web")
    cluster.apply(rollout, [act.SetServiceSelector("web-stable", HASH)] * 2)
    assert apiserver.read(*SERVICES, "web-stable")["spec"]["selector"] == {"app": "web", HASH_LABEL: "abc123"}  # type: ignore[index]
    assert apiserver.count("PATCH", "/services/web-stable") == 1


def test_status_is_written_through_the_status_subresource_only(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    rollout = cluster.get_rollout("ns", "web")
    updated = cluster.update_status(rollout, rollout.status.model_copy(update={"message": "hello"}))
    assert updated.status.message == "hello"
    assert apiserver.count("PATCH", "/rollouts/web/status") == 1
    assert apiserver.count("PATCH", "/rollouts/web?") == 0
    assert apiserver.read(*ROLLOUTS, "web")["metadata"]["generation"] == 1  # type: ignore[index]


def test_a_status_write_from_a_stale_read_is_a_conflict(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    stored = install(apiserver)
    rollout = cluster.get_rollout("ns", "web")
    apiserver.put({**stored, "metadata": {**stored["metadata"], "labels": {"edited": "by-gitops"}}})
    with pytest.raises(Conflict):
        cluster.update_status(rollout, rollout.status.model_copy(update={"message": "stale"}))
    assert (
        "status" not in apiserver.read(*ROLLOUTS, "web")
        or apiserver.read(*ROLLOUTS, "web")["status"].get("message") != "stale"
    )  # type: ignore[index]


def test_events_are_recorded_on_the_rollout(apiserver: FakeApiServer, cluster: KubeCluster) -> None:
    install(apiserver)
    rollout = cluster.get_rollout("ns", "web")
    cluster.apply(rollout, [act.EmitEvent("Normal", "StepCompleted", "step 1 of 2 completed")])
    (event,) = apiserver.all(*EVENTS)
    assert (event["involvedObject"]["kind"], event["involvedObject"]["name"], event["reason"]) == (
        "Rollout",
        "web",
        "StepCompleted",
    )
    (recorded,) = cluster.list_events("ns", "web")
    assert (recorded.reason, recorded.message, recorded.timestamp) == (
        "StepCompleted",
        "step 1 of 2 completed",
        NOW,
    )


def test_a_rollout_is_parsed_once_per_resource_version(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    first = cluster.get_rollout("ns", "web")
    assert cluster.get_rollout("ns", "web") is first
    cluster.update_status(first, first.status.model_copy(update={"message": "hello"}))
    written = cluster.get_rollout("ns", "web")
    assert written.status.message == "hello"
    assert cluster.get_rollout("ns", "web") is written
    stored = apiserver.read(*ROLLOUTS, "web")
    assert stored is not None
    apiserver.put({**stored, "metadata": {**stored["metadata"], "labels": {"edited": "yes"}}})
    assert cluster.get_rollout("ns", "web").metadata.labels == {"edited": "yes"}


def test_a_missing_rollout_is_not_found(cluster: KubeCluster) -> None:
    with pytest.raises(NotFound):
        cluster.get_rollout("ns", "nope")


def test_a_malformed_analysis_run_is_skipped_instead_of_blocking_its_rollout(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    stored = install(apiserver)
    owner = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "name": "web",
        "uid": stored["metadata"]["uid"],
    }
    apiserver.put(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": "hand-edited", "namespace": "ns", "ownerReferences": [owner]},
            "spec": {"metrics": []},  # invalid: a run needs at least one metric
        }
    )
    observed = cluster.observe(cluster.get_rollout("ns", "web"))
    assert observed.analysis_runs == ()
    assert cluster.list_analysis_runs("ns") == []


def test_a_job_for_a_measurement_is_owned_by_its_analysis_run(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    apiserver.put(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": "web-run-1", "namespace": "ns", "uid": "run-uid"},
            "spec": {"metrics": [{"name": "m", "provider": {"job": {"spec": {}}}}]},
        }
    )
    cluster.create_job("ns", "web-run-1-m-0", {}, {"template": {}}, owner_run="web-run-1")
    job = apiserver.read("batch/v1", "jobs", "ns", "web-run-1-m-0")
    assert job is not None
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("AnalysisRun", "web-run-1", "run-uid")


def test_observe_names_the_analysis_runs_of_other_owners_without_handing_them_over(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    install(apiserver)
    apiserver.put(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": "web-abc123-1-1", "namespace": "ns"},  # orphaned with an old Rollout
            "spec": {"metrics": [{"name": "m", "provider": {"job": {"spec": {}}}}]},
        }
    )
    observed = cluster.observe(cluster.get_rollout("ns", "web"))
    assert (observed.analysis_runs, observed.run_names) == ((), frozenset({"web-abc123-1-1"}))


def test_observe_reports_a_template_that_does_not_validate_instead_of_raising(
    apiserver: FakeApiServer, cluster: KubeCluster
) -> None:
    canary = {"canaryService": "web-canary", "stableService": "web-stable", "steps": ANALYSIS_STEPS}
    install(apiserver, strategy={"canary": canary})
    apiserver.put(analysis_template(success_condition="result == = true"))
    observed = cluster.observe(cluster.get_rollout("ns", "web"))
    assert observed.templates == {}
    assert observed.invalid_templates["error-rate"].startswith(
        "spec.metrics[0].successCondition: 'result == = true' is not a valid CEL expression"
    )
