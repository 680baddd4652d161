"""Prometheus finds the pods through Kubernetes service discovery against our apiserver (role pod, a
ServiceAccount token, the cluster CA; stack.PodDiscovery) and scrapes each pod's own counter, the pod
runner's ``http_requests_total{code}``, labelled with the pod's namespace, name and labels: the
per-pod series the non-Traefik templates (error-rate-sequential.yaml) read by
``rollouts_pod_template_hash``.

Debian's `prometheus` (the tier's) has no Kubernetes discovery compiled in, so this test runs a second
Prometheus, built from its Go module by scripts/build-prometheus.sh, beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apps
import pytest
import stack
from kubernetes import client
from livetier import NAME, deployed


def _served_pods(api: Any, namespace: str) -> set[tuple[str, str]]:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
    return {(p.metadata.name, p.metadata.labels["rollouts-pod-template-hash"]) for p in pods}


@pytest.fixture
def discovering(live_stack: stack.LiveStack) -> Iterator[stack.Prometheus]:
    prometheus = stack.Prometheus(
        live_stack.work_dir, port=9092, binary=stack.prometheus_with_kubernetes_sd()
    )
    prometheus.start(live_stack.pod_discovery())
    try:
        yield prometheus
    finally:
        prometheus.stop()


def test_prometheus_scrapes_each_pod_it_discovers_through_the_apiserver(
    live_stack: stack.LiveStack, discovering: stack.Prometheus
) -> None:
    ns = "live-pod-metrics"
    rollout = apps.rollout(NAME, routing={"gatewayAPI": {"httpRoute": NAME}}, steps=[{"setWeight": 50}])
    with deployed(live_stack, ns, rollout, [apps.http_route(NAME, ns)]) as app, app.load(40.0):
        pods = _served_pods(app.api, ns)

        def scraped() -> set[tuple[str, str]] | None:
            series = discovering.query(
                f'sum by (pod, rollouts_pod_template_hash) (http_requests_total{{namespace="{ns}"}}) > 0'
            )
            found = {(s["metric"]["pod"], s["metric"]["rollouts_pod_template_hash"]) for s in series}
            return found if found == pods else None

        assert app.wait_for("every pod's requests in Prometheus, by pod", scraped, timeout=60) == pods
        assert {h for _, h in pods} == {app.status()["stableRS"]}
