"""Sharding a fleet across controller instances (`--instance-id`, as Argo Rollouts offers): two
leader-elected instances in one namespace, each on its own Lease, each acting only on the Rollouts
labelled for it; a Rollout labelled for neither is left alone by both."""

from __future__ import annotations

from typing import Any

from canarytier import (
    CONTROLLER_NAMESPACE,
    GROUP,
    VERSION,
    custom,
    diagnose,
    eventually,
    example_rollout,
    status_of,
)
from kubernetes import client

from canary.cli.commands_controller import lease_name
from canary.cluster.kube_actions import INSTANCE_ID_LABEL


def labelled(name: str, instance: str | None) -> dict[str, Any]:
    rollout = example_rollout(name, steps=[{"setWeight": 50}, {"pause": {}}])
    canary = rollout["spec"]["strategy"]["canary"]
    for key in ("trafficRouting", "canaryService", "stableService"):
        canary.pop(key, None)
    if instance is not None:
        rollout["metadata"]["labels"] = {INSTANCE_ID_LABEL: instance}
    return rollout


def test_each_instance_acts_only_on_its_own_rollouts_and_holds_its_own_lease(
    admin_api: Any, namespace: str, controllers: Any
) -> None:
    shards = {
        instance: controllers(
            namespace=namespace,
            name=f"shard-{instance}",
            extra_args=[
                "--instance-id",
                instance,
                "--leader-elect",
                "--lease-namespace",
                CONTROLLER_NAMESPACE,
                "--lease-duration",
                "3",
            ],
        )
        for instance in ("a", "b")
    }
    for proc in shards.values():
        proc.start()
    for proc in shards.values():
        proc.wait_ready()
    for name, instance in (("web-a", "a"), ("web-b", "b"), ("web-none", None)):
        custom(admin_api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, "rollouts", labelled(name, instance)
        )
    for name in ("web-a", "web-b"):
        eventually(
            f"{name} to be deployed by its own instance",
            lambda name=name: status_of(admin_api, namespace, name).get("phase") == "Healthy",
            timeout=60,
            explain=lambda: diagnose(admin_api, namespace, ["web-a", "web-b"], *shards.values()),
        )
    assert status_of(admin_api, namespace, "web-none") == {}, "no instance touched the unlabelled Rollout"
    for instance, proc in shards.items():
        acted = {
            event["rollout"].split("/")[-1]
            for event in proc.log_events()
            if event.get("event") == "rollout event" and "rollout" in event
        }
        assert acted == {f"web-{instance}"}, f"instance {instance} acted on {acted}"
        lease = client.CoordinationV1Api(admin_api).read_namespaced_lease(
            lease_name(None, instance), CONTROLLER_NAMESPACE
        )
        assert lease.spec.holder_identity, f"instance {instance} holds its own Lease"
