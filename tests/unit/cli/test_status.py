"""`status` is a pipeline gate: exit 0 Healthy, 1 Degraded, 2 timed out, with short progress lines."""

from __future__ import annotations

from tests.unit.cli.conftest import BAD, Shop


def test_status_exits_0_when_the_rollout_becomes_healthy(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("promote", "web")
    code, out, _ = shop.canary("status", "web", "--timeout", "10m")
    assert code == 0
    lines = out.splitlines()
    assert lines[-1].startswith("rollout 'web': Healthy")
    assert len(lines) == len(set(lines)), "a progress line is printed only when it changes"


def test_status_exits_1_when_analysis_fails_and_the_rollout_is_degraded(shop: Shop) -> None:
    shop.release("web:2.0", BAD)
    shop.run_until(lambda r: r.status.current_step_index == 1)
    shop.canary("promote", "web")
    code, out, _ = shop.canary("status", "web", "--timeout", "10m")
    assert code == 1
    assert out.splitlines()[-1].startswith("rollout 'web': Degraded")


def test_status_exits_2_when_the_timeout_passes_first(shop: Shop) -> None:
    shop.at_manual_pause()
    code, out, _ = shop.canary("status", "web", "--timeout", "1m")
    assert code == 2
    assert out.splitlines()[-1] == "rollout 'web': timed out after 60s, still Paused"


def test_status_of_a_healthy_rollout_returns_at_once(shop: Shop) -> None:
    before = shop.sim.clock.now()
    code, _, _ = shop.canary("status", "web")
    assert code == 0
    assert shop.sim.clock.now() == before


def test_status_lines_give_the_canary_weight_in_percent_whatever_the_max_traffic_weight(
    per_mille_shop: Shop,
) -> None:
    per_mille_shop.at_manual_pause()
    _, out, _ = per_mille_shop.canary("status", "web", "--timeout", "1m")
    assert "· canary 25% ·" in out.splitlines()[0]
