"""An AnalysisRun's ttlStrategy: the analysis controller deletes a completed run once its time is up,
and requeues the run for that moment until then (Argo's maybeGarbageCollectAnalysisRun)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fake_apiserver import FakeApiServer

from canary.analysis.providers.base import MeasureContext, ProviderResult, Verdict
from canary.api.analysis import AnalysisPhase, Metric
from canary.cluster.kube import KubeCluster
from canary.cluster.kube_api import KubeApi
from canary.controller.queue import Key
from canary.controller.reconciler import AnalysisRunReconciler

NOW = datetime(2024, 1, 1, tzinfo=UTC)
RUNS = ("canary.dev/v1alpha1", "analysisruns", "ns")


class Passes:
    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        return Verdict(AnalysisPhase.SUCCESSFUL)


def _run(ttl: dict[str, int], status: dict[str, Any] | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "smoke", "namespace": "ns"},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}], "ttlStrategy": ttl},
    }
    if status is not None:
        run["status"] = status
    return run


def _reconciler(api: KubeApi, now: datetime) -> AnalysisRunReconciler:
    return AnalysisRunReconciler(
        KubeCluster(api, clock=lambda: now),
        lambda: now,
        providers={"web": Passes()},
        read_secret=lambda *_: "",
    )


def test_a_run_that_completes_is_requeued_for_its_ttl_and_then_deleted(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    apiserver.put(_run({"secondsAfterSuccess": 30, "secondsAfterCompletion": 600}))
    result = _reconciler(api, NOW).reconcile(Key("ns/smoke"))
    stored = apiserver.read(*RUNS, "smoke")
    assert stored is not None and stored["status"]["phase"] == "Successful"
    assert stored["status"]["completedAt"].startswith("2024-01-01T00:00:00")
    assert result.requeue_after == 30
    assert _reconciler(api, NOW + timedelta(seconds=10)).reconcile(Key("ns/smoke")).requeue_after == 20
    assert apiserver.read(*RUNS, "smoke") is not None
    assert _reconciler(api, NOW + timedelta(seconds=30)).reconcile(Key("ns/smoke")).requeue_after is None
    assert apiserver.read(*RUNS, "smoke") is None


def test_a_completed_run_without_a_ttl_that_applies_is_kept(apiserver: FakeApiServer, api: KubeApi) -> None:
    completed = {
        "phase": "Failed",
        "completedAt": "2024-01-01T00:00:00Z",
        "startedAt": "2024-01-01T00:00:00Z",
    }
    apiserver.put(_run({"secondsAfterSuccess": 1}, completed))
    result = _reconciler(api, NOW + timedelta(days=1)).reconcile(Key("ns/smoke"))
    assert result.requeue_after is None
    assert apiserver.read(*RUNS, "smoke") is not None
