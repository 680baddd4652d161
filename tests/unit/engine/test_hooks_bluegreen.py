"""Release hooks on the blue-green strategy (embedded cluster): gates and pre-rollout hooks come
before the active Service is switched, post-rollout after; blueGreen has no rollout hooks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from test_engine_bluegreen import World, _hash

from canary.api.rollout import BlueGreenStrategy
from canary.engine.actions import RunHook


def hooked(*hooks: dict[str, str]) -> tuple[World, list[RunHook]]:
    world = World(webhooks=[{"url": f"http://hooks.test/{h['name']}", "interval": "2s", **h} for h in hooks])
    calls: list[RunHook] = []

    def answer(call: RunHook) -> tuple[bool, str]:
        calls.append(call)
        return world.gate_open or call.hook.type not in ("confirm-promotion", "pre-rollout"), "scripted"

    world.gate_open = False  # type: ignore[attr-defined]
    world.cluster.hooks = answer
    return world, calls


def test_a_closed_promotion_gate_keeps_the_active_service_on_stable_until_it_opens() -> None:
    world, _ = hooked({"name": "ship", "type": "confirm-promotion"})
    world.release("v2")
    world.run(20)
    assert world.selectors() == (_hash("v1"), _hash("v2"))
    assert world.rollout().status.stable_rs == _hash("v1")
    world.gate_open = True  # type: ignore[attr-defined]
    world.run(10)
    assert world.selectors() == (_hash("v2"), _hash("v2"))


def test_a_failing_pre_rollout_hook_aborts_before_the_active_service_moves() -> None:
    world, _ = hooked({"name": "smoke", "type": "pre-rollout"})
    before = len(world.seen_active)
    world.release("v2")
    world.run(20)
    assert world.rollout().status.abort
    assert {active for active, _ in world.seen_active[before:]} == {_hash("v1")}


def test_post_rollout_hooks_are_told_once_the_switch_promoted_the_release() -> None:
    world, calls = hooked({"name": "report", "type": "post-rollout"})
    world.release("v2")
    world.run(20)
    assert [c.payload["phase"] for c in calls if c.hook.name == "report"] == ["Succeeded"]


def test_a_rollout_hook_on_blue_green_is_refused_with_the_fix() -> None:
    with pytest.raises(ValidationError, match="blueGreen has no steps; use pre-rollout"):
        BlueGreenStrategy.model_validate(
            {
                "activeService": "web-active",
                "webhooks": [{"name": "t", "type": "rollout", "url": "http://t/"}],
            }
        )
