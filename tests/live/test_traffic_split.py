"""At every setWeight step, the share of real requests the canary answers through Traefik is the
weight the controller set, within 3 percentage points over 2,000 requests: for the Gateway API router
(HTTPRoute backendRef weights) and for the Traefik router (a weighted TraefikService)."""

from __future__ import annotations

from typing import Any

import apps
import pytest
import stack
from livetier import NAME, deployed
from loadgen import canary_share

WEIGHTS = (20, 50, 80)
STEPS: list[dict[str, Any]] = [step for w in WEIGHTS for step in ({"setWeight": w}, {"pause": {}})]
REQUESTS = 2000
RATE = 200.0
TOLERANCE = 0.03


def _measure_every_step(
    live: stack.LiveStack, namespace: str, routing: dict[str, Any], route: list[dict[str, Any]]
) -> None:
    rollout = apps.rollout(NAME, routing=routing, steps=STEPS)
    with deployed(live, namespace, rollout, route) as app, app.load(RATE) as load:
        apps.release(app.api, namespace, NAME, "v2", apps.behaviour_env())
        shares = {}
        for index, weight in enumerate(WEIGHTS):
            app.wait_paused_at(2 * index + 1)
            app.wait_traefik_weight(weight)
            window = load.wait_for_responses(load.mark(), REQUESTS, timeout=120)
            assert all(r.status == 200 for r in window), {r.status for r in window}
            shares[weight] = canary_share(window, "v2")
            promoted = app.cli("promote", NAME)
            assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        app.wait_for("the release Healthy", lambda: app.status().get("phase") == "Healthy")
    for weight, share in shares.items():
        assert share == pytest.approx(weight / 100, abs=TOLERANCE), shares


def test_gateway_api_weights_are_the_canary_share_of_live_requests(live_stack: stack.LiveStack) -> None:
    ns = "split-gateway"
    _measure_every_step(live_stack, ns, {"gatewayAPI": {"httpRoute": NAME}}, [apps.http_route(NAME, ns)])


def test_traefik_service_weights_are_the_canary_share_of_live_requests(live_stack: stack.LiveStack) -> None:
    ns = "split-traefik"
    _measure_every_step(
        live_stack, ns, {"traefik": {"weightedTraefikServiceName": NAME}}, apps.traefik_service(NAME, ns)
    )
