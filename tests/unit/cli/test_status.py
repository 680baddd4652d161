"""`status` is a pipeline gate: exit 0 Healthy, 1 Degraded, 2 timed out, with Argo Rollouts' status
lines; `--watch=false` shows the status once."""

from __future__ import annotations

import pytest

from tests.unit.cli.conftest import BAD, Shop


def test_status_exits_0_when_the_rollout_becomes_healthy(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("promote", "web")
    code, out, _ = shop.canary("status", "web", "--timeout", "10m")
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == "Healthy"
    assert len(lines) == len(set(lines)), "a progress line is printed only when it changes"


def test_status_exits_1_when_analysis_fails_and_the_rollout_is_degraded(shop: Shop) -> None:
    shop.release("web:2.0", BAD)
    shop.run_until(lambda r: r.status.current_step_index == 1)
    shop.canary("promote", "web")
    code, out, _ = shop.canary("status", "web", "--timeout", "10m")
    assert code == 1
    assert out.splitlines()[-1].startswith("Degraded - RolloutAborted: ")


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
    assert out.splitlines()[0].endswith(" · canary 25%")


def test_status_lines_are_argos_phase_and_message_then_the_step_and_weight(shop: Shop) -> None:
    shop.at_manual_pause()
    _, out, _ = shop.canary("status", "web", "--timeout", "1m")
    assert out.splitlines()[0] == "Paused - CanaryPauseStep · step 1/6 · canary 25%"


def test_status_watch_false_prints_the_status_once_and_exits_0_while_under_way(shop: Shop) -> None:
    shop.at_manual_pause()
    before = shop.sim.clock.now()
    code, out, _ = shop.canary("status", "web", "--watch=false")
    assert (code, out) == (0, "Paused - CanaryPauseStep · step 1/6 · canary 25%\n")
    assert shop.sim.clock.now() == before


def test_status_watch_false_exits_1_when_the_rollout_is_degraded(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("abort", "web")
    shop.run_until(lambda r: r.status.phase == "Degraded", 60)
    code, out, _ = shop.canary("status", "web", "--watch=false")
    assert code == 1
    assert out.startswith("Degraded - RolloutAborted: ")


def test_status_of_a_spec_change_the_controller_has_not_seen_is_progressing_not_the_old_healthy(
    shop: Shop,
) -> None:
    shop.release("web:2.0")
    code, out, _ = shop.canary("status", "web", "--watch=false")
    assert (code, out.split(" · ")[0]) == (0, "Progressing - waiting for rollout spec update to be observed")


def test_status_right_after_a_promote_is_waiting_for_the_rollout_to_unpause(shop: Shop) -> None:
    shop.at_manual_pause()
    shop.canary("promote", "web")
    _, out, _ = shop.canary("status", "web", "--watch=false")
    assert out.split(" · ")[0] == "Progressing - waiting for rollout to unpause"


def test_a_bare_watch_flag_does_not_take_the_rollout_name_as_its_value(shop: Shop) -> None:
    code, out, _ = shop.canary("status", "-w", "web")
    assert (code, out) == (0, "Healthy\n")


def test_a_watch_value_that_is_not_a_boolean_is_refused_with_the_allowed_words(shop: Shop) -> None:
    with pytest.raises(SystemExit) as exited:
        shop.canary("status", "web", "--watch=maybe")
    assert exited.value.code == 2
    assert "argument -w/--watch: 'maybe' is not true or false" in shop.capsys.readouterr().err
