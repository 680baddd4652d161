"""Each router's desired resource as a pure function of (current resource, weight)."""

from __future__ import annotations

import pytest
from rollouts import rollout_with

from canary.traffic.base import RouterError, WeightChange, merge_patch
from canary.traffic.gateway import HTTPRoutePlan
from canary.traffic.istio import DestinationRulePlan, VirtualServicePlan
from canary.traffic.nginx import CanaryIngressPlan
from canary.traffic.smi import TrafficSplitPlan

CHANGE_20 = WeightChange(20, canary_hash="c123", stable_hash="s456")


def test_smi_split_sends_the_weight_to_canary_and_the_rest_to_stable() -> None:
    rollout = rollout_with({"smi": {}})
    split = TrafficSplitPlan().desired(rollout, None, CHANGE_20, ())
    assert split["spec"] == {
        "service": "shop-stable",
        "backends": [{"service": "shop-canary", "weight": 20}, {"service": "shop-stable", "weight": 80}],
    }
    assert split["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_smi_weights_are_of_max_traffic_weight() -> None:
    rollout = rollout_with({"smi": {"rootService": "shop"}, "maxTrafficWeight": 1000})
    split = TrafficSplitPlan().desired(rollout, None, WeightChange(250, "c", "s"), ())
    assert [b["weight"] for b in split["spec"]["backends"]] == [250, 750]
    assert split["spec"]["service"] == "shop"


def test_weight_above_max_traffic_weight_is_refused() -> None:
    with pytest.raises(RouterError, match=r"outside 0\.\.100"):
        TrafficSplitPlan().desired(rollout_with({"smi": {}}), None, WeightChange(101, "c", "s"), ())


def _virtual_service(*routes: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "shop", "namespace": "prod", "resourceVersion": "7"},
        "spec": {"hosts": ["shop"], "http": list(routes)},
    }


def _host_route(name: str, canary: int, stable: int) -> dict[str, object]:
    return {
        "name": name,
        "route": [
            {"destination": {"host": "shop-canary"}, "weight": canary},
            {"destination": {"host": "shop-stable.prod.svc.cluster.local"}, "weight": stable},
        ],
    }


def test_istio_reweights_only_the_named_routes() -> None:
    rollout = rollout_with({"istio": {"virtualService": {"name": "shop", "routes": ["primary"]}}})
    current = _virtual_service(_host_route("primary", 0, 100), _host_route("other", 0, 100))
    desired = VirtualServicePlan().desired(rollout, current, CHANGE_20, ())
    weights = [[d["weight"] for d in route["route"]] for route in desired["spec"]["http"]]
    assert weights == [[20, 80], [0, 100]]
    assert VirtualServicePlan().weight_in(rollout, desired) == 20


def test_istio_without_route_names_needs_exactly_one_route() -> None:
    rollout = rollout_with({"istio": {"virtualService": {"name": "shop"}}})
    current = _virtual_service(_host_route("a", 0, 100), _host_route("b", 0, 100))
    with pytest.raises(RouterError, match="list the ones to manage"):
        VirtualServicePlan().desired(rollout, current, CHANGE_20, ())


def test_istio_missing_virtual_service_is_an_error_naming_it() -> None:
    rollout = rollout_with({"istio": {"virtualService": {"name": "shop"}}})
    with pytest.raises(RouterError, match="VirtualService prod/shop does not exist"):
        VirtualServicePlan().desired(rollout, None, CHANGE_20, ())


def test_istio_subsets_are_weighted_and_pinned_to_their_revisions() -> None:
    routing = {
        "istio": {
            "virtualService": {"name": "shop"},
            "destinationRule": {"name": "shop", "canarySubsetName": "canary", "stableSubsetName": "stable"},
        }
    }
    rollout = rollout_with(routing)
    route = {
        "route": [
            {"destination": {"host": "shop", "subset": "stable"}, "weight": 100},
            {"destination": {"host": "shop", "subset": "canary"}, "weight": 0},
        ]
    }
    desired = VirtualServicePlan().desired(rollout, _virtual_service(route), CHANGE_20, ())
    assert [d["weight"] for d in desired["spec"]["http"][0]["route"]] == [80, 20]
    rule = {
        "metadata": {"name": "shop", "resourceVersion": "3"},
        "spec": {"host": "shop", "subsets": [{"name": "canary"}, {"name": "stable", "labels": {"x": "y"}}]},
    }
    pinned = DestinationRulePlan().desired(rollout, rule, CHANGE_20, ())
    assert pinned["spec"]["subsets"] == [
        {"name": "canary", "labels": {"rollouts-pod-template-hash": "c123"}},
        {"name": "stable", "labels": {"x": "y", "rollouts-pod-template-hash": "s456"}},
    ]


STABLE_INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "shop",
        "namespace": "prod",
        "annotations": {"kubernetes.io/ingress.class": "nginx", "nginx.ingress.kubernetes.io/canary": "x"},
    },
    "spec": {
        "rules": [
            {
                "host": "shop.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "shop-stable", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    },
}


def test_nginx_canary_ingress_clones_the_stable_rules_onto_the_canary_service() -> None:
    rollout = rollout_with({"nginx": {"stableIngress": "shop"}})
    canary = CanaryIngressPlan().desired(rollout, None, CHANGE_20, (STABLE_INGRESS,))
    assert canary["metadata"]["name"] == "shop-shop-canary"
    assert canary["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "20",
    }
    backend = canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "shop-canary", "port": {"number": 80}}}
    assert (
        STABLE_INGRESS["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "shop-stable"
    )  # type: ignore[index]


def test_nginx_weight_total_is_written_when_max_weight_is_not_100() -> None:
    rollout = rollout_with({"nginx": {"stableIngress": "shop"}, "maxTrafficWeight": 1000})
    canary = CanaryIngressPlan().desired(rollout, None, WeightChange(5, "c", "s"), (STABLE_INGRESS,))
    assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight-total"] == "1000"


def test_nginx_without_the_stable_ingress_is_an_error() -> None:
    rollout = rollout_with({"nginx": {"stableIngress": "shop"}})
    with pytest.raises(RouterError, match="stableIngress"):
        CanaryIngressPlan().desired(rollout, None, CHANGE_20, (None,))


def test_gateway_api_sets_both_backend_weights_in_rules_that_have_both() -> None:
    rollout = rollout_with({"gatewayAPI": {"httpRoute": "shop"}})
    current = {
        "metadata": {"name": "shop", "namespace": "prod", "resourceVersion": "1"},
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"name": "shop-stable", "port": 80},
                        {"name": "shop-canary", "port": 80, "weight": 0},
                    ]
                },
                {"backendRefs": [{"name": "static", "port": 80}]},
            ]
        },
    }
    desired = HTTPRoutePlan().desired(rollout, current, CHANGE_20, ())
    assert desired["spec"]["rules"][0]["backendRefs"] == [
        {"name": "shop-stable", "port": 80, "weight": 80},
        {"name": "shop-canary", "port": 80, "weight": 20},
    ]
    assert desired["spec"]["rules"][1] == current["spec"]["rules"][1]  # type: ignore[index]
    assert HTTPRoutePlan().weight_in(rollout, desired) == 20


@pytest.mark.parametrize(
    ("current", "desired", "patch"),
    [
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"m": {"x": 1, "y": 2}}, {"m": {"x": 1, "y": 3}}, {"m": {"y": 3}}),
        ({"l": [1, 2]}, {"l": [1, 3]}, {"l": [1, 3]}),
    ],
)
def test_merge_patch_is_the_smallest_difference(current: dict, desired: dict, patch: dict) -> None:  # type: ignore[type-arg]
    assert merge_patch(current, desired) == patch
