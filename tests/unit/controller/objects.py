"""Objects a user would apply, for the adapter and loop tests."""

from __future__ import annotations

from typing import Any

from fake_apiserver import FakeApiServer

ROLLOUTS = ("canary.dev/v1alpha1", "rollouts", "ns")
REPLICA_SETS = ("apps/v1", "replicasets", "ns")
SERVICES = ("v1", "services", "ns")
EVENTS = ("v1", "events", "ns")


def rollout(name: str = "web", image: str = "web:1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": f"{name}-canary",
                    "stableService": f"{name}-stable",
                    "steps": [{"setWeight": 20}, {"pause": {}}],
                }
            },
            **spec,
        },
    }


def install(apiserver: FakeApiServer, name: str = "web", **spec: Any) -> dict[str, Any]:
    """The Rollout and its two Services."""
    for service in (f"{name}-canary", f"{name}-stable"):
        apiserver.put(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service, "namespace": "ns"},
                "spec": {"selector": {"app": name}},
            }
        )
    return apiserver.put(rollout(name, **spec))


def orphaned_replica_set(name: str, pod_hash: str, replicas: int, app: str = "web") -> dict[str, Any]:
    """A ReplicaSet left serving by a Rollout deleted with `--cascade=orphan`: no ownerReferences."""
    labels = {"app": app, "rollouts-pod-template-hash": pod_hash}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "ns", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": app, "image": f"{app}:0"}]},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
    }


def analysis_template(name: str = "error-rate", success_condition: str = "result < 0.05") -> dict[str, Any]:
    """An AnalysisTemplate as applied: the CRD schema takes any string as a condition, CEL or not."""
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "metrics": [
                {
                    "name": "errors",
                    "successCondition": success_condition,
                    "provider": {"web": {"url": "http://metrics.ns/errors"}},
                }
            ]
        },
    }


ANALYSIS_STEPS = [
    {"setWeight": 50},
    {"pause": {}},
    {"analysis": {"templates": [{"templateName": "error-rate"}]}},
]
"""Steps whose analysis uses `analysis_template()`."""
