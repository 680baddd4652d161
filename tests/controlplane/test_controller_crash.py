"""The controller is SIGKILLed at seeded random moments while four releases step concurrently, and
restarted each time. Level-based reconciliation must still bring every Rollout to its right end state
without duplicating what it creates (one ReplicaSet per revision, one AnalysisRun per analysis step)
or losing anything (every pod of every ReplicaSet, every verdict)."""

from __future__ import annotations

import collections
import random
import time
from typing import Any

from canarytier import (
    DATA,
    HASH_LABEL,
    ControllerProcess,
    analysis_runs,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    release,
    replica_sets,
    rollout_events,
    route_weights,
    routing_for,
    status_of,
)
from health import HealthEndpoint
from kubernetes import client
from localcluster import LocalControlPlane

SEED = 20_240_607
KILLS = 6
HEALTHY = ("alpha", "bravo", "charlie")
FAILING = "delta"
STEP_LABEL = "canary.dev/step-index"
KIND_LABEL = "canary.dev/analysis"


def steps(url: str) -> list[dict[str, Any]]:
    return [
        {"setWeight": 25},
        {"pause": {"duration": "1s"}},
        {
            "analysis": {
                "templates": [{"templateName": "web-health"}],
                "args": [{"name": "url", "value": url}],
            }
        },
        {"setWeight": 50},
        {"pause": {"duration": "1s"}},
    ]


def settled(api: Any, namespace: str, name: str, stable: str) -> bool:
    status = status_of(api, namespace, name)
    if name == FAILING:
        return bool(status.get("abort")) and status.get("phase") == "Degraded"
    return status.get("phase") == "Healthy" and status.get("stableRS") not in (None, stable)


def owned_pods(api: Any, namespace: str) -> collections.Counter[str]:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
    return collections.Counter(
        p.metadata.owner_references[0].name
        for p in pods
        if p.metadata.deletion_timestamp is None and p.metadata.owner_references
    )


def test_every_rollout_ends_right_after_repeated_sigkills_with_nothing_duplicated(
    control_plane: LocalControlPlane,
    admin_api: Any,
    namespace: str,
    controllers: Any,
    health_endpoint: HealthEndpoint,
) -> None:
    names = (*HEALTHY, FAILING)
    health_endpoint.verdicts[f"{namespace}-{FAILING}"] = False
    routing = [doc for name in names for doc in routing_for(name)]
    control_plane.apply_manifests([*routing, DATA / "web-analysis-template.yaml"], namespace=namespace)
    proc: ControllerProcess = controllers(namespace=namespace, name="crashing")
    proc.start()
    proc.wait_ready()
    stable = {
        name: deploy_stable(
            admin_api,
            namespace,
            example_rollout(name, steps=steps(health_endpoint.url(f"{namespace}-{name}"))),
            proc,
        )
        for name in names
    }
    explain = lambda: diagnose(admin_api, namespace, names, proc)  # noqa: E731

    for name in names:
        release(admin_api, namespace, name, f"ghcr.io/example/{name}:2.0.0")
    rng = random.Random(SEED)
    kill_points = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 2.5))
        kill_points.append({n: status_of(admin_api, namespace, n).get("currentStepIndex") for n in names})
        proc.kill()
        time.sleep(rng.uniform(0.0, 0.5))
        proc.start()
    eventually(
        f"every rollout to settle after kills at steps {kill_points}",
        lambda: all(settled(admin_api, namespace, n, stable[n]) for n in names),
        timeout=120,
        explain=explain,
    )
    assert proc.starts == KILLS + 1

    for name in names:
        status = status_of(admin_api, namespace, name)
        revisions = collections.Counter(
            rs.metadata.labels[HASH_LABEL] for rs in replica_sets(admin_api, namespace, name)
        )
        assert revisions == {stable[name]: 1, status["currentPodHash"]: 1}, name
        runs = collections.Counter(
            (r["metadata"]["labels"][KIND_LABEL], r["metadata"]["labels"].get(STEP_LABEL))
            for r in analysis_runs(admin_api, namespace, name)
        )
        assert runs == {("step", "2"): 1}, [
            (r["metadata"]["name"], r["metadata"]["creationTimestamp"], r.get("status", {}).get("phase"))
            for r in analysis_runs(admin_api, namespace, name)
        ]
        (run,) = analysis_runs(admin_api, namespace, name)
        completed = [
            e
            for e in rollout_events(admin_api, namespace, name)
            if e.reason == "RolloutCompleted" and not e.message.endswith(": Initial deploy")
        ]
        if name == FAILING:
            assert run["status"]["phase"] == "Failed"
            assert status["stableRS"] == stable[name]
            assert completed == []
        else:
            assert run["status"]["phase"] == "Successful", name
            # At most once: an Event follows its status write, so a kill in between loses it instead.
            assert len(completed) <= 1, [e.message for e in completed]
        assert route_weights(admin_api, namespace, name) == {f"{name}-stable": 100, f"{name}-canary": 0}

    # Nothing lost: every ReplicaSet converges to exactly the pods it asks for.
    def pods_match() -> bool:
        wanted = {
            rs.metadata.name: rs.spec.replicas
            for name in names
            for rs in replica_sets(admin_api, namespace, name)
            if rs.spec.replicas
        }
        return dict(owned_pods(admin_api, namespace)) == wanted

    eventually("every ReplicaSet to own exactly its replicas", pods_match, timeout=30, explain=explain)
