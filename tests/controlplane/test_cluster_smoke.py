"""Smoke tests proving the control-plane tier is real: scheduling onto kwok nodes, CRD semantics, RBAC."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from localcluster import LocalControlPlane, role_binding, wait_for

GROUP = "smoke.canary.test"


def test_deployment_becomes_available_on_kwok_nodes(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str
) -> None:
    apps = client.AppsV1Api(admin_api)
    core = client.CoreV1Api(admin_api)
    labels = {"app": "smoke"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "smoke"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "registry.invalid/smoke:1",
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                            }
                        ]
                    },
                },
            },
        },
    )

    def available() -> Any:
        d = apps.read_namespaced_deployment("smoke", namespace)
        return d if (d.status.available_replicas or 0) == 3 else None

    deployment = wait_for("deployment 3/3 available", available, timeout=60, interval=0.25)
    assert deployment.status.ready_replicas == 3
    assert deployment.status.updated_replicas == 3
    assert deployment.status.observed_generation == deployment.metadata.generation

    pods = core.list_namespaced_pod(namespace, label_selector="app=smoke").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name in control_plane.node_names
        assert pod.status.phase == "Running"
        assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
        # The ReplicaSet controller set the owner chain: Pod -> ReplicaSet -> Deployment.
        (owner,) = pod.metadata.owner_references
        assert owner.kind == "ReplicaSet" and owner.controller
    replicasets = apps.list_namespaced_replica_set(namespace).items
    assert [rs.metadata.owner_references[0].name for rs in replicasets] == ["smoke"]


def _widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["replicas"],
                                    "properties": {
                                        "replicas": {"type": "integer", "minimum": 0},
                                        "color": {"type": "string", "enum": ["red", "blue"]},
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {
                                        "phase": {"type": "string"},
                                        "observedGeneration": {"type": "integer"},
                                    },
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def test_crd_with_status_subresource_prunes_and_validates(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str
) -> None:
    (crd,) = control_plane.apply_manifests([_widget_crd()])
    assert crd["metadata"]["name"] == f"widgets.{GROUP}"
    custom = client.CustomObjectsApi(admin_api)

    created = custom.create_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        "widgets",
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"replicas": 2, "color": "red", "bogus": "pruned"},
            "status": {"phase": "ignored-on-create"},
            "extra": {"also": "pruned"},
        },
    )
    got = custom.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")
    for obj in (created, got):
        assert obj["spec"] == {"replicas": 2, "color": "red"}  # unknown field pruned
        assert "extra" not in obj
        assert "status" not in obj  # the status subresource drops status on the main resource
        assert obj["metadata"]["generation"] == 1

    # Status goes through /status and does not bump generation; spec changes do.
    custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, "widgets", "w1", {"status": {"phase": "Ready", "observedGeneration": 1}}
    )
    got = custom.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1")
    assert got["status"] == {"phase": "Ready", "observedGeneration": 1}
    assert got["metadata"]["generation"] == 1
    got = custom.patch_namespaced_custom_object(
        GROUP, "v1", namespace, "widgets", "w1", {"spec": {"replicas": 3}}
    )
    assert got["metadata"]["generation"] == 2
    assert got["status"]["phase"] == "Ready"

    # Optimistic concurrency: a stale resourceVersion conflicts.
    stale = dict(got, metadata=dict(got["metadata"], resourceVersion=created["metadata"]["resourceVersion"]))
    with pytest.raises(ApiException) as conflict:
        custom.replace_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w1", stale)
    assert conflict.value.status == 409

    # Schema validation rejects wrong types, enum violations and missing required fields.
    for bad_spec in (
        {"replicas": "three"},
        {"replicas": 1, "color": "green"},
        {"color": "red"},
        {"replicas": -1},
    ):
        with pytest.raises(ApiException) as rejected:
            custom.create_namespaced_custom_object(
                GROUP,
                "v1",
                namespace,
                "widgets",
                {
                    "apiVersion": f"{GROUP}/v1",
                    "kind": "Widget",
                    "metadata": {"name": "bad"},
                    "spec": bad_spec,
                },
            )
        assert rejected.value.status == 422, bad_spec


def test_service_account_kubeconfig_is_subject_to_rbac(
    control_plane: LocalControlPlane, admin_api: Any, namespace: str
) -> None:
    core = client.CoreV1Api(admin_api)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "s1"}, "stringData": {"k": "v"}})
    path = control_plane.kubeconfig_for_service_account(namespace, "reader")

    with config.new_client_from_config(config_file=str(path)) as sa_api:
        sa_core = client.CoreV1Api(sa_api)
        with pytest.raises(ApiException) as forbidden:
            sa_core.list_namespaced_secret(namespace)
        assert forbidden.value.status == 403
        assert f"system:serviceaccount:{namespace}:reader" in forbidden.value.body

        control_plane.apply_manifests(
            [
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": "secret-reader"},
                    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
                },
                role_binding(
                    "reader-reads-secrets",
                    role="secret-reader",
                    account="reader",
                    namespace=namespace,
                    cluster=False,
                ),
            ],
            namespace=namespace,
        )

        secrets = wait_for(
            "RBAC grant to take effect", lambda: sa_core.list_namespaced_secret(namespace), timeout=15
        )
        assert [s.metadata.name for s in secrets.items] == ["s1"]
        # The grant is namespaced: other namespaces and other verbs stay forbidden.
        for call in (
            lambda: sa_core.list_namespaced_secret("default"),
            lambda: sa_core.delete_namespaced_secret("s1", namespace),
        ):
            with pytest.raises(ApiException) as still_forbidden:
                call()
            assert still_forbidden.value.status == 403
