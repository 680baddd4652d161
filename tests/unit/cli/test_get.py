"""`get rollout` and `list rollouts`: what a person sees, and what a script parses."""

from __future__ import annotations

import json

import yaml

from tests.unit.cli.conftest import Shop


def test_get_rollout_shows_phase_step_weights_replica_sets_and_images(shop: Shop) -> None:
    shop.at_manual_pause()
    code, out, _ = shop.canary("get", "rollout", "web", "-n", "shop")
    assert code == 0
    assert "Rollout shop/web" in out
    assert "॥ Paused" in out
    assert "1/6 · now: pause until promoted" in out
    assert "canary 25%  stable 75%" in out
    assert "web=web:1.0" in out and "web=web:2.0" in out
    assert "stable" in out and "canary" in out


def test_get_rollout_shows_weights_in_percent_whatever_the_max_traffic_weight(per_mille_shop: Shop) -> None:
    per_mille_shop.at_manual_pause()
    assert per_mille_shop.rollout().status.canary.weights.canary.weight == 250  # type: ignore[union-attr]
    _, out, _ = per_mille_shop.canary("get", "rollout", "web")
    assert "canary 25%  stable 75%" in out


def test_get_rollout_shows_the_running_analysis_with_each_metric(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("promote", "web")
    shop.run_until(lambda r: r.status.canary.current_step_analysis_run_status is not None, 120)
    shop.sim.tick()
    shop.sim.tick()
    code, out, _ = shop.canary("get", "rollout", "web")
    assert code == 0
    assert "AnalysisRun" in out
    assert "error-rate" in out and "latest:" in out


def test_get_rollout_as_json_is_the_wire_object(shop: Shop) -> None:
    code, out, _ = shop.canary("get", "rollout", "web", "-o", "json")
    document = json.loads(out)
    assert code == 0
    assert document["kind"] == "Rollout"
    assert document["status"]["phase"] == "Healthy"


def test_list_rollouts_prints_one_line_each(shop: Shop) -> None:
    code, out, _ = shop.canary("list", "rollouts")
    assert code == 0
    assert "NAME" in out and "STATUS" in out
    assert "web" in out and "✔ Healthy" in out


def test_list_rollouts_as_yaml_is_a_kubectl_list(shop: Shop) -> None:
    code, out, _ = shop.canary("list", "rollouts", "-A", "-o", "yaml")
    document = yaml.safe_load(out)
    assert code == 0
    assert document["kind"] == "List"
    assert [item["metadata"]["name"] for item in document["items"]] == ["web"]


def test_list_rollouts_in_an_empty_namespace_says_so(shop: Shop) -> None:
    code, out, _ = shop.canary("list", "rollouts", "-n", "elsewhere")
    assert code == 0
    assert "No rollouts found." in out


def test_get_of_a_missing_rollout_is_one_line_with_the_fix(shop: Shop) -> None:
    code, _, err = shop.canary("get", "rollout", "nope")
    assert code == 1
    assert err == (
        "error: rollout 'nope' not found in namespace 'shop'; "
        "see which exist with `canary list rollouts -n shop`\n"
    )
