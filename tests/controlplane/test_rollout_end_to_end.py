"""A canary release of examples/gateway-api-background-analysis.yaml on the real control plane: the
controller runs as a subprocess with only the ServiceAccount and RBAC of manifests/cluster-wide/, pods
become Ready on kwok nodes, the HTTPRoute's weights follow the steps, and the background analysis
(a `web` metric against a loopback endpoint) decides between promotion and abort."""

from __future__ import annotations

from typing import Any

from canarytier import (
    GROUP,
    HASH_LABEL,
    VERSION,
    ControllerProcess,
    WeightRecorder,
    analysis_runs,
    custom,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    ready_pods,
    release,
    replica_sets,
    rollout_events,
    route_weights,
    service_selector,
    status_of,
    with_image,
)
from health import HealthEndpoint
from kubernetes import client
from localcluster import LocalControlPlane

from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.engine import commands

NAME = "search"


def route_recorder(api: Any, namespace: str) -> WeightRecorder:
    """Every canary weight the HTTPRoute is given, in order."""

    def canary_weight(route: dict[str, Any]) -> int:
        refs = route["spec"]["rules"][0]["backendRefs"]
        return int(next(r.get("weight", 1) for r in refs if r["name"] == f"{NAME}-canary"))

    return WeightRecorder(api, namespace, ("gateway.networking.k8s.io", "v1", "httproutes"), canary_weight)


def promote(api: Any, namespace: str, name: str) -> None:
    """`canary promote NAME`, through the same port the CLI uses."""
    port = KubeCluster(KubeApi(api))
    for patch in commands.promote(port.get_rollout(namespace, name)):
        port.patch_rollout(namespace, name, patch)


def test_a_healthy_release_steps_through_its_weights_and_is_promoted(
    admin_api: Any,
    namespace: str,
    namespace_controller: ControllerProcess,
    health_endpoint: HealthEndpoint,
    control_plane: LocalControlPlane,
) -> None:
    check = f"good-{namespace}"
    rollout = example_rollout(NAME, analysis_url=health_endpoint.url(check))
    stable = deploy_stable(admin_api, namespace, rollout, namespace_controller)
    assert len(ready_pods(admin_api, namespace, stable)) == 2

    with route_recorder(admin_api, namespace) as route:
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.1.0")
        status = eventually(
            "the new revision to be promoted",
            lambda: (
                (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy"
                and s["stableRS"] != stable
                and s
            ),
            timeout=90,
            explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
        )
        canary = status["stableRS"]
        eventually(
            "the old ReplicaSet to be scaled down",
            lambda: all(
                rs.spec.replicas == 0
                for rs in replica_sets(admin_api, namespace, NAME)
                if rs.metadata.labels[HASH_LABEL] == stable
            ),
            timeout=30,
            explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
        )

    # The steps' weights, all traffic to the canary once the steps are done (as Argo Rollouts does),
    # then 0 once the canary is the new stable and both Services select it.
    assert route.canary_weights == [0, 10, 30, 60, 100, 0]
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}
    for service in (f"{NAME}-stable", f"{NAME}-canary"):
        assert service_selector(admin_api, namespace, service)[HASH_LABEL] == canary
    pods = ready_pods(admin_api, namespace, canary)
    assert len(pods) == 2 and {p.spec.node_name for p in pods} <= set(control_plane.node_names)
    revisions = {rs.metadata.labels[HASH_LABEL]: rs for rs in replica_sets(admin_api, namespace, NAME)}
    assert set(revisions) == {stable, canary}
    assert revisions[canary].metadata.owner_references[0].controller
    (run,) = analysis_runs(admin_api, namespace, NAME)
    assert run["status"]["phase"] == "Successful"
    assert check in health_endpoint.requests
    assert status["observedGeneration"] == 2


def test_a_failing_analysis_aborts_and_returns_all_traffic_to_stable(
    admin_api: Any,
    namespace: str,
    namespace_controller: ControllerProcess,
    health_endpoint: HealthEndpoint,
) -> None:
    check = f"bad-{namespace}"
    health_endpoint.verdicts[check] = False
    rollout = example_rollout(NAME, analysis_url=health_endpoint.url(check))
    stable = deploy_stable(admin_api, namespace, rollout, namespace_controller)

    with route_recorder(admin_api, namespace) as route:
        release(admin_api, namespace, NAME, "ghcr.io/example/search:7.2.0-broken")
        status = eventually(
            "the rollout to abort",
            lambda: (s := status_of(admin_api, namespace, NAME)).get("abort") and s,
            timeout=60,
            explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
        )
        canary = status["currentPodHash"]
        eventually(
            "the canary ReplicaSet to be scaled down",
            lambda: (
                [
                    rs.spec.replicas
                    for rs in replica_sets(admin_api, namespace, NAME)
                    if rs.metadata.labels[HASH_LABEL] == canary
                ]
                == [0]
            ),
            timeout=30,
            explain=lambda: diagnose(admin_api, namespace, [NAME], namespace_controller),
        )

    status = status_of(admin_api, namespace, NAME)
    assert status["phase"] == "Degraded"
    assert "RolloutAborted" in status["message"] and "Failed" in status["message"]
    assert status["stableRS"] == stable
    assert route.canary_weights == [0, 10, 0]
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 100, f"{NAME}-canary": 0}
    for service in (f"{NAME}-stable", f"{NAME}-canary"):
        assert service_selector(admin_api, namespace, service)[HASH_LABEL] == stable
    assert len(ready_pods(admin_api, namespace, stable)) == 2
    (run,) = analysis_runs(admin_api, namespace, NAME)
    assert run["status"]["phase"] == "Failed"
    reasons = {e.reason for e in client.CoreV1Api(admin_api).list_namespaced_event(namespace).items}
    assert "RolloutAborted" in reasons or any("Abort" in r for r in reasons)


def test_a_release_whose_status_is_wiped_keeps_its_stable_and_waits_at_its_pause_again(
    admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    rollout = example_rollout(NAME, steps=[{"setWeight": 25}, {"pause": {}}])
    stable = deploy_stable(admin_api, namespace, rollout, namespace_controller)
    explain = lambda: diagnose(admin_api, namespace, [NAME], namespace_controller)  # noqa: E731
    release(admin_api, namespace, NAME, "ghcr.io/example/search:7.3.0")
    paused = eventually(
        "the release to wait at its pause",
        lambda: (s := status_of(admin_api, namespace, NAME)).get("phase") == "Paused" and s,
        timeout=60,
        explain=explain,
    )

    # What a restore without status does: the status subresource is emptied while the pods serve.
    custom(admin_api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "rollouts", NAME, {"status": None}
    )
    eventually(
        "the controller to recover the stable revision",
        lambda: any(e.reason == "StableRecovered" for e in rollout_events(admin_api, namespace, NAME)),
        timeout=30,
        explain=explain,
    )
    status = eventually(
        "the release to wait at its pause again",
        lambda: (s := status_of(admin_api, namespace, NAME)).get("phase") == "Paused" and s,
        timeout=30,
        explain=explain,
    )

    assert (status["stableRS"], status["currentPodHash"]) == (stable, paused["currentPodHash"])
    assert status["currentStepIndex"] == 1
    assert service_selector(admin_api, namespace, f"{NAME}-stable")[HASH_LABEL] == stable
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 75, f"{NAME}-canary": 25}
    assert len(ready_pods(admin_api, namespace, stable)) == 2


def delete_orphaning(api: Any, namespace: str, name: str) -> None:
    """`kubectl delete rollout NAME --cascade=orphan`, until it is gone and its ReplicaSets have no owner."""
    custom(api).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "rollouts", name, propagation_policy="Orphan"
    )

    def done() -> bool:
        rollouts = custom(api).list_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts")["items"]
        return all(r["metadata"]["name"] != name for r in rollouts) and not replica_sets(api, namespace, name)

    eventually("the Rollout to be gone and its ReplicaSets orphaned", done, timeout=30)


def test_a_rollout_applied_again_over_its_orphaned_replica_sets_keeps_serving_its_stable_until_promoted(
    admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    rollout = example_rollout(NAME, steps=[{"setWeight": 25}, {"pause": {}}])
    explain = lambda: diagnose(admin_api, namespace, [NAME], namespace_controller)  # noqa: E731
    deploy_stable(admin_api, namespace, rollout, namespace_controller)
    release(admin_api, namespace, NAME, "ghcr.io/example/search:7.4.0")
    eventually(
        "the release to wait at its pause",
        lambda: status_of(admin_api, namespace, NAME).get("phase") == "Paused",
        timeout=60,
        explain=explain,
    )
    promote(admin_api, namespace, NAME)
    serving = eventually(
        "the release to be promoted",
        lambda: (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy" and s["stableRS"],
        timeout=60,
        explain=explain,
    )

    delete_orphaning(admin_api, namespace, NAME)
    created = custom(admin_api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "rollouts", with_image(rollout, "ghcr.io/example/search:7.5.0")
    )
    status = eventually(
        "the new template to wait at its pause",
        lambda: (s := status_of(admin_api, namespace, NAME)).get("phase") == "Paused" and s,
        timeout=60,
        explain=explain,
    )

    assert (status["stableRS"], status["currentStepIndex"]) == (serving, 1)
    adopted = {rs.metadata.labels[HASH_LABEL]: rs for rs in replica_sets(admin_api, namespace, NAME)}
    owner = adopted[serving].metadata.owner_references[0]
    assert (owner.uid, owner.controller) == (created["metadata"]["uid"], True)
    assert adopted[serving].spec.replicas == 2 and len(ready_pods(admin_api, namespace, serving)) == 2
    assert service_selector(admin_api, namespace, f"{NAME}-stable")[HASH_LABEL] == serving
    assert route_weights(admin_api, namespace, NAME) == {f"{NAME}-stable": 75, f"{NAME}-canary": 25}
    assert any(e.reason == "StableRecovered" for e in rollout_events(admin_api, namespace, NAME))

    promote(admin_api, namespace, NAME)
    eventually(
        "the adopted revision to be scaled down once the new one is stable",
        lambda: (
            status_of(admin_api, namespace, NAME).get("stableRS") == status["currentPodHash"]
            and [
                rs.spec.replicas
                for rs in replica_sets(admin_api, namespace, NAME)
                if rs.metadata.labels[HASH_LABEL] == serving
            ]
            == [0]
        ),
        timeout=60,
        explain=explain,
    )
