"""Traefik router: the canary and stable weights inside a weighted TraefikService, as Argo's
`trafficRouting.traefik.weightedTraefikServiceName`."""

from __future__ import annotations

from typing import Any

import pytest
from fake_apiserver import FakeApiServer
from hypothesis import given
from hypothesis import strategies as st
from rollouts import rollout_with

from canary.cluster.kube_api import KubeApi
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine.clock import ManualClock
from canary.sim import scenarios
from canary.sim.driver import Simulation
from canary.sim.workload import Workload
from canary.traffic.base import RouterError, WeightChange
from canary.traffic.routers import router_for
from canary.traffic.traefik import TraefikServicePlan

ROUTING = {"traefik": {"weightedTraefikServiceName": "shop-wrr"}}
TRAEFIK_SERVICES = ("traefik.io/v1alpha1", "traefikservices", "prod")


def _traefik_service(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "shop-wrr", "namespace": "prod", "resourceVersion": "1"},
        "spec": {"weighted": {"services": list(entries), "sticky": {"cookie": {"name": "lb"}}}},
    }


BOTH = _traefik_service(
    {"name": "shop-stable", "port": 80, "weight": 100},
    {"name": "shop-canary", "port": 80, "weight": 0},
    {"name": "maintenance", "port": 80, "weight": 1},
)


def test_traefik_sets_the_canary_and_stable_weights_and_leaves_other_services_alone() -> None:
    desired = TraefikServicePlan().desired(rollout_with(ROUTING), BOTH, WeightChange(20, "c", "s"), ())
    assert desired["spec"]["weighted"]["services"] == [
        {"name": "shop-stable", "port": 80, "weight": 80},
        {"name": "shop-canary", "port": 80, "weight": 20},
        {"name": "maintenance", "port": 80, "weight": 1},
    ]
    assert desired["spec"]["weighted"]["sticky"] == {"cookie": {"name": "lb"}}


@given(st.integers(min_value=20, max_value=10_000), st.data())
def test_traefik_weights_always_add_up_to_max_traffic_weight(total: int, data: st.DataObject) -> None:
    weight = data.draw(st.integers(min_value=0, max_value=total))
    rollout = rollout_with({**ROUTING, "maxTrafficWeight": total})
    desired = TraefikServicePlan().desired(rollout, BOTH, WeightChange(weight, "c", "s"), ())
    weights = {entry["name"]: entry["weight"] for entry in desired["spec"]["weighted"]["services"]}
    assert weights["shop-canary"] == weight
    assert weights["shop-canary"] + weights["shop-stable"] == total
    assert TraefikServicePlan().weight_in(rollout, desired) == weight


def test_traefik_writes_the_traefik_io_group_in_the_rollouts_namespace() -> None:
    target = TraefikServicePlan().target(rollout_with(ROUTING))
    assert (target.api_version, target.plural, target.namespace, target.name) == (
        "traefik.io/v1alpha1",
        "traefikservices",
        "prod",
        "shop-wrr",
    )


def test_traefik_without_the_traefik_service_is_an_error_naming_it() -> None:
    with pytest.raises(RouterError, match="TraefikService prod/shop-wrr does not exist"):
        TraefikServicePlan().desired(rollout_with(ROUTING), None, WeightChange(20, "c", "s"), ())


def test_traefik_service_without_weighted_services_is_an_error() -> None:
    mirroring = {**BOTH, "spec": {"mirroring": {"name": "shop-stable"}}}
    with pytest.raises(RouterError, match=r"no spec\.weighted\.services"):
        TraefikServicePlan().desired(rollout_with(ROUTING), mirroring, WeightChange(20, "c", "s"), ())


def test_traefik_service_missing_the_canary_entry_is_an_error_naming_it() -> None:
    stable_only = _traefik_service({"name": "shop-stable", "port": 80, "weight": 100})
    with pytest.raises(RouterError, match=r"no spec\.weighted\.services entry named 'shop-canary'"):
        TraefikServicePlan().desired(rollout_with(ROUTING), stable_only, WeightChange(20, "c", "s"), ())


def test_traefik_router_patches_only_a_change_of_weight(apiserver: FakeApiServer) -> None:
    apiserver.put(BOTH)
    api = KubeApi(apiserver.api_client())
    rollout = rollout_with(ROUTING)
    router = router_for(rollout, api)
    assert router is not None
    router.set_weight(rollout, 20, canary_hash="c", stable_hash="s")
    router.set_weight(rollout, 20, canary_hash="c", stable_hash="s")
    assert apiserver.count("PATCH", "/traefikservices") == 1
    assert apiserver.count("POST", "/traefikservices") == 0
    assert router.current_weight(rollout) == 20
    stored = apiserver.read(*TRAEFIK_SERVICES, "shop-wrr")
    assert stored is not None
    assert [entry["weight"] for entry in stored["spec"]["weighted"]["services"]] == [80, 20, 1]


def test_the_embedded_cluster_splits_traffic_by_the_traefik_routers_weight() -> None:
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(3))
    steps = [{"setWeight": 30}, {"pause": {}}]
    cluster.create(scenarios.rollout(routed=True, steps=steps, canary={"trafficRouting": ROUTING}))
    for service in ("web-stable", "web-canary"):
        cluster.create_service("default", service)
    sim = Simulation(cluster, clock, Workload(request_rate=10, seed=1))
    stable = sim.run_until(lambda r: r.status.phase == "Healthy", "default", "web", 60).status.stable_rs
    rollout = cluster.get_rollout("default", "web")
    cluster.patch_rollout("default", "web", commands.set_image(rollout, "web", "web:2")[0])
    paused = sim.run_until(lambda r: r.status.phase == "Paused", "default", "web", 120)
    assert cluster.traffic(paused) == {
        stable: pytest.approx(0.7),
        paused.status.current_pod_hash: pytest.approx(0.3),
    }
