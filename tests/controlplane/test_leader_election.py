"""Two controller replicas campaign for one Lease (short settings via flags): only the leader
reconciles and writes; SIGKILLing it hands the Lease to the other replica within the lease duration
(plus one renew period of observation), and the new leader finishes the rollout."""

from __future__ import annotations

import time
from typing import Any

from canarytier import (
    CONTROLLER_NAMESPACE,
    ControllerProcess,
    deploy_stable,
    diagnose,
    eventually,
    example_rollout,
    get_rollout,
    release,
    routing_for,
    status_of,
)
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

NAME = "search"
LEASE_SECONDS = 3.0
RENEW_PERIOD = LEASE_SECONDS / 7  # what `canary controller` derives from --lease-duration
STEPS = [{"setWeight": 25}, {"pause": {"duration": "2s"}}, {"setWeight": 50}, {"pause": {"duration": "2s"}}]


def holder(api: Any, lease: str) -> str:
    spec = client.CoordinationV1Api(api).read_namespaced_lease(lease, CONTROLLER_NAMESPACE).spec
    return str(spec.holder_identity or "")


def reconciles(proc: ControllerProcess) -> float:
    """How many reconciles this replica has run (all controllers, all results)."""
    total = 0.0
    for family in text_string_to_metric_families(proc.metrics()):
        if family.name == "canary_reconcile_duration_seconds":
            total += sum(s.value for s in family.samples if s.name.endswith("_count"))
    return total


def leader_gauge(proc: ControllerProcess) -> float:
    for family in text_string_to_metric_families(proc.metrics()):
        if family.name == "canary_leader":
            return float(family.samples[0].value)
    return 0.0


def test_only_the_leader_acts_and_a_killed_leader_hands_over_within_the_lease(
    admin_api: Any, namespace: str, controllers: Any, control_plane: Any
) -> None:
    control_plane.apply_manifests(routing_for(NAME), namespace=namespace)
    lease = f"canary-{namespace}"[:63]
    flags = ["--leader-elect", "--lease-namespace", CONTROLLER_NAMESPACE, "--lease-name", lease]
    flags += ["--lease-duration", str(LEASE_SECONDS)]
    replicas = {
        identity: controllers(
            namespace=namespace, name=identity, extra_args=flags, env={"POD_NAME": identity}
        )
        for identity in ("replica-a", "replica-b")
    }
    for proc in replicas.values():
        proc.start()
    for proc in replicas.values():
        proc.wait_ready()
    first = eventually("a leader", lambda: holder(admin_api, lease), timeout=20)
    leader, follower = replicas[first], next(p for i, p in replicas.items() if i != first)
    explain = lambda: diagnose(admin_api, namespace, [NAME], leader, follower)  # noqa: E731

    stable = deploy_stable(admin_api, namespace, example_rollout(NAME, steps=STEPS), leader, follower)
    release(admin_api, namespace, NAME, "ghcr.io/example/search:9.0.0")
    eventually(
        "the canary to be under way",
        lambda: (status_of(admin_api, namespace, NAME).get("currentStepIndex") or 0) >= 1,
        timeout=30,
        explain=explain,
    )
    assert reconciles(leader) > 0
    assert reconciles(follower) == 0 and leader_gauge(follower) == 0
    assert "rollout event" not in "\n".join(follower.log_lines())

    leader.kill()
    killed_at = time.monotonic()
    eventually(
        "the follower to take the lease",
        lambda: holder(admin_api, lease) == follower.env["POD_NAME"],
        timeout=LEASE_SECONDS * 4,
        interval=0.05,
        explain=explain,
    )
    handover = time.monotonic() - killed_at
    # The follower must see the record unchanged for a whole lease duration of its own clock, and it
    # looks once per renew period: the bound is one duration plus two periods (and our polling).
    assert handover <= LEASE_SECONDS + 2 * RENEW_PERIOD + 0.3, f"handover took {handover:.2f}s"

    status = eventually(
        "the new leader to finish the rollout",
        lambda: (
            (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy"
            and s.get("stableRS") != stable
            and s
        ),
        timeout=60,
        explain=explain,
    )
    assert reconciles(follower) > 0 and leader_gauge(follower) == 1
    assert status["observedGeneration"] == get_rollout(admin_api, namespace, NAME)["metadata"]["generation"]
