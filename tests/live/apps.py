"""The objects of one live app: a Rollout whose pods the pod runner serves, its two Services, and the
route Traefik reads (a Gateway API HTTPRoute or a weighted TraefikService with its IngressRoute).

Each app answers on its own host name, ``<namespace>.live``, so apps of different tests share Traefik's
entrypoint without sharing traffic.
"""

from __future__ import annotations

from typing import Any

import stack
from kubernetes import client

GROUP, VERSION = "canary.dev", "v1alpha1"
PORT = 8080


def host(namespace: str) -> str:
    return f"{namespace}.live"


def behaviour_env(
    error_rate: float = 0.0, latency_ms: float = 2.0, latency_sigma: float = 0.5
) -> list[dict[str, str]]:
    return [
        {"name": "ERROR_RATE", "value": str(error_rate)},
        {"name": "LATENCY_MS", "value": str(latency_ms)},
        {"name": "LATENCY_SIGMA", "value": str(latency_sigma)},
    ]


def slow_env(factor: float = 1.0) -> list[dict[str, str]]:
    """A service answering in tens of milliseconds (mean 50 ms, deviation 10 ms, 1% errors), both
    scaled by ``factor`` (1.3: a release 30% slower): slow enough for Traefik's request-duration
    buckets (stack.LATENCY_BUCKETS) to resolve the difference."""
    return behaviour_env(error_rate=0.01, latency_ms=50.0 * factor, latency_sigma=10.0 * factor)


def services(name: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-{role}"},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": PORT}]},
        }
        for role in ("stable", "canary")
    ]


def http_route(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": stack.GATEWAY_NAME, "namespace": stack.GATEWAY_NAMESPACE}],
            "hostnames": [host(namespace)],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": f"{name}-stable", "port": 80, "weight": 100},
                        {"name": f"{name}-canary", "port": 80, "weight": 0},
                    ],
                }
            ],
        },
    }


def traefik_service(name: str, namespace: str) -> list[dict[str, Any]]:
    """A weighted TraefikService and the IngressRoute that sends the app's host to it."""
    return [
        {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "TraefikService",
            "metadata": {"name": name},
            "spec": {
                "weighted": {
                    "services": [
                        {"name": f"{name}-stable", "port": 80, "weight": 100},
                        {"name": f"{name}-canary", "port": 80, "weight": 0},
                    ]
                }
            },
        },
        {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRoute",
            "metadata": {"name": name},
            "spec": {
                "entryPoints": ["web"],
                "routes": [
                    {
                        "kind": "Rule",
                        "match": f"Host(`{host(namespace)}`)",
                        "services": [{"kind": "TraefikService", "name": name}],
                    }
                ],
            },
        },
    ]


def rollout(
    name: str,
    *,
    routing: dict[str, Any],
    steps: list[dict[str, Any]],
    replicas: int = 4,
    version: str = "v1",
    env: list[dict[str, str]] | None = None,
    analysis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    canary: dict[str, Any] = {
        "canaryService": f"{name}-canary",
        "stableService": f"{name}-stable",
        "trafficRouting": routing,
        "scaleDownDelaySeconds": 5,
        "abortScaleDownDelaySeconds": 5,
        "steps": steps,
    }
    if analysis is not None:
        canary["analysis"] = analysis
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"example.test/{name}:{version}",
                            "ports": [{"name": "http", "containerPort": PORT}],
                            "env": env if env is not None else behaviour_env(),
                        }
                    ]
                },
            },
            "strategy": {"canary": canary},
        },
    }


def release(api: Any, namespace: str, name: str, version: str, env: list[dict[str, str]]) -> None:
    """A new revision: the app container's image tag and behaviour env (a merge patch replaces the
    whole container list, as a custom resource takes no strategic merge)."""
    current = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "rollouts", name
    )
    (container,) = current["spec"]["template"]["spec"]["containers"]
    image = container["image"].rsplit(":", 1)[0]
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{**container, "image": f"{image}:{version}", "env": env}]}}
        }
    }
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "rollouts", name, patch
    )
