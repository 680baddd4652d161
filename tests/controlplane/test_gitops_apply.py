"""A GitOps tool server-side-applies the Rollout with its own field manager, never forcing, while the
controller runs: it never meets a conflict, the controller never takes over or rewrites a spec field,
and managedFields show the controller owning only the status of the Rollout (and what it created)."""

from __future__ import annotations

import json
from typing import Any

from canarytier import (
    CONTROLLER_MANAGER,
    GROUP,
    VERSION,
    ControllerProcess,
    diagnose,
    eventually,
    example_rollout,
    get_rollout,
    replica_sets,
    status_of,
    with_image,
)
from kubernetes.dynamic import DynamicClient

NAME = "search"
GITOPS = "gitops-sync"


def apply(api: Any, namespace: str, rollout: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply without force: a field owned by another manager would fail with 409."""
    rollouts = DynamicClient(api).resources.get(api_version=f"{GROUP}/{VERSION}", kind="Rollout")
    applied = rollouts.server_side_apply(
        body=rollout, namespace=namespace, field_manager=GITOPS, force_conflicts=False
    )
    return dict(applied.to_dict())


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(manager, subresource) -> the fields that manager owns."""
    return {
        (entry["manager"], entry.get("subresource", "")): entry["fieldsV1"]
        for entry in obj["metadata"].get("managedFields") or []
    }


def test_gitops_applies_spec_changes_mid_rollout_without_conflicts_or_overwrites(
    admin_api: Any, namespace: str, namespace_controller: ControllerProcess
) -> None:
    explain = lambda: diagnose(admin_api, namespace, [NAME], namespace_controller)  # noqa: E731
    first = example_rollout(NAME, steps=[{"setWeight": 20}, {"pause": {}}])
    first["apiVersion"], first["kind"] = f"{GROUP}/{VERSION}", "Rollout"
    apply(admin_api, namespace, first)
    eventually(
        "the first revision Healthy",
        lambda: status_of(admin_api, namespace, NAME).get("phase") == "Healthy",
        timeout=60,
        explain=explain,
    )

    second = with_image(first, "ghcr.io/example/search:7.1.0")
    apply(admin_api, namespace, second)
    eventually(
        "the new image to wait at the indefinite pause",
        lambda: status_of(admin_api, namespace, NAME).get("phase") == "Paused",
        timeout=60,
        explain=explain,
    )

    # The pipeline now changes the steps (no more manual gate) while the canary is paused.
    third = json.loads(json.dumps(second))
    third["spec"]["strategy"]["canary"]["steps"] = [
        {"setWeight": 20},
        {"pause": {"duration": "1s"}},
        {"setWeight": 60},
        {"pause": {"duration": "1s"}},
    ]
    applied = apply(admin_api, namespace, third)
    assert applied["metadata"]["generation"] == 3
    status = eventually(
        "the new image promoted under the changed steps",
        lambda: (
            (s := status_of(admin_api, namespace, NAME)).get("phase") == "Healthy"
            and s.get("observedGeneration") == 3
            and s
        ),
        timeout=60,
        explain=explain,
    )
    apply(admin_api, namespace, third)  # a re-sync of the same manifest changes nothing

    rollout = get_rollout(admin_api, namespace, NAME)
    assert rollout["metadata"]["generation"] == 3
    for field in ("replicas", "selector", "template", "strategy"):
        assert rollout["spec"][field] == third["spec"][field], field
    owners = managers(rollout)
    assert set(owners) == {(GITOPS, ""), (CONTROLLER_MANAGER, "status")}, owners
    assert set(owners[(CONTROLLER_MANAGER, "status")]) == {"f:status"}
    assert "f:status" not in owners[(GITOPS, "")]
    assert status["stableRS"] in {
        rs.metadata.labels["rollouts-pod-template-hash"] for rs in replica_sets(admin_api, namespace, NAME)
    }
    for rs in replica_sets(admin_api, namespace, NAME):
        assert {entry.manager for entry in rs.metadata.managed_fields} <= {
            CONTROLLER_MANAGER,
            "kube-controller-manager",
        }
