"""Routers against the API: create when missing, patch only a difference, never overwrite a concurrent edit."""

from __future__ import annotations

import pytest
from fake_apiserver import FakeApiServer
from rollouts import rollout_with

from canary.cluster.kube_api import KubeApi
from canary.cluster.port import Conflict
from canary.traffic.base import Outcome, Target, converge
from canary.traffic.routers import router_for

SPLITS = ("split.smi-spec.io/v1alpha2", "trafficsplits", "prod")


def test_smi_split_is_created_then_only_patched_on_a_change(apiserver: FakeApiServer) -> None:
    api = KubeApi(apiserver.api_client())
    rollout = rollout_with({"smi": {}})
    router = router_for(rollout, api)
    assert router is not None
    router.set_weight(rollout, 20, canary_hash="c", stable_hash="s")
    router.set_weight(rollout, 20, canary_hash="c", stable_hash="s")
    assert apiserver.count("POST", "/trafficsplits") == 1
    assert apiserver.count("PATCH", "/trafficsplits") == 0
    router.set_weight(rollout, 40, canary_hash="c", stable_hash="s")
    assert apiserver.count("PATCH", "/trafficsplits") == 1
    assert router.verify_weight(rollout, 40)
    assert router.current_weight(rollout) == 40


def test_a_concurrent_edit_makes_the_write_fail_with_conflict(apiserver: FakeApiServer) -> None:
    api = KubeApi(apiserver.api_client())
    rollout = rollout_with({"smi": {}})
    target = Target(SPLITS[0], "TrafficSplit", "trafficsplits", "prod", "shop")
    router = router_for(rollout, api)
    assert router is not None
    router.set_weight(rollout, 20, canary_hash="c", stable_hash="s")

    def desired_after_someone_else_wrote(current: dict | None) -> dict:  # type: ignore[type-arg]
        apiserver.put({**apiserver.read(*SPLITS, "shop"), "spec": {"service": "edited", "backends": []}})  # type: ignore[dict-item]
        return {**(current or {}), "spec": {"service": "mine", "backends": []}}

    with pytest.raises(Conflict):
        converge(api, target, desired_after_someone_else_wrote)
    assert apiserver.read(*SPLITS, "shop")["spec"]["service"] == "edited"  # type: ignore[index]


def test_converge_reports_what_it_did(apiserver: FakeApiServer) -> None:
    api = KubeApi(apiserver.api_client())
    target = Target("v1", "ConfigMap", "configmaps", "prod", "c")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "prod"},
        "data": {"k": "v"},
    }
    assert converge(api, target, lambda current: current or body) is Outcome.CREATED
    assert converge(api, target, lambda current: current or body) is Outcome.UNCHANGED
    assert converge(api, target, lambda current: {**(current or {}), "data": {"k": "w"}}) is Outcome.UPDATED
