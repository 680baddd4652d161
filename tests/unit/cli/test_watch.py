"""`get rollout --watch`: each frame is the tree at that moment; captured at several points of a rollout."""

from __future__ import annotations

import pytest
from rich.console import Console, RenderableType

from canary.cli.commands_get import watch
from canary.cli.session import simulation_session
from tests.unit.cli.conftest import NAMESPACE, Shop


def text_of(view: RenderableType) -> str:
    console = Console(record=True, width=120, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(view)
    text = console.export_text()
    console.file.close()
    return text


def test_watch_frames_follow_a_rollout_from_first_step_to_healthy(shop: Shop) -> None:
    frames: list[str] = []
    session = simulation_session(shop.sim, NAMESPACE)
    canary_hash = shop.release("web:2.0")

    watch(session, "web", lambda view: frames.append(text_of(view)), interval=5, timeout=60)
    paused = frames[-1]
    shop.canary("promote", "web")
    watch(session, "web", lambda view: frames.append(text_of(view)), interval=5, timeout=400)

    assert "◌ Progressing" in frames[0]
    assert any("now: setWeight 25" in frame or "1/6 · now: pause" in frame for frame in frames[:3])
    assert "॥ Paused" in paused and "canary 25%  stable 75%" in paused and "waiting for `promote`" in paused
    assert any("AnalysisRun" in frame and "error-rate" in frame for frame in frames)
    assert any("canary 75%  stable 25%" in frame for frame in frames)
    assert "✔ Healthy" in frames[-1] and "6/6" in frames[-1]
    assert f"web-{canary_hash} stable" in frames[-1]


def test_watch_redraws_in_place_on_a_terminal(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the captured stdout as a terminal
    shop.release("web:2.0")
    code, out, _ = shop.canary("get", "rollout", "web", "--watch", "--interval", "5s", "--timeout", "30s")
    assert code == 0
    assert out.count("\x1b[1A") >= 5, "the cursor goes back up over the last view"
    assert "॥ Paused" in out


def test_watch_stops_when_its_timeout_passes(shop: Shop) -> None:
    frames: list[RenderableType] = []
    session = simulation_session(shop.sim, NAMESPACE)
    start = shop.sim.clock.now()
    watch(session, "web", frames.append, interval=10, timeout=30)
    assert len(frames) == 4
    assert (shop.sim.clock.now() - start).total_seconds() >= 30


def test_the_first_frame_after_a_spec_change_says_the_controller_has_not_seen_it_yet(shop: Shop) -> None:
    frames: list[str] = []
    session = simulation_session(shop.sim, NAMESPACE)
    shop.release("web:2.0")
    watch(session, "web", lambda view: frames.append(text_of(view)), interval=5, timeout=0)
    assert "◌ Progressing  waiting for rollout spec update to be observed" in frames[0]


def test_watch_false_draws_the_tree_once(shop: Shop) -> None:
    shop.release("web:2.0")
    before = shop.sim.clock.now()
    code, out, _ = shop.canary("get", "rollout", "web", "--watch=false")
    assert (code, out.count("Rollout shop/web")) == (0, 1)
    assert shop.sim.clock.now() == before


def test_watch_into_a_pipe_prints_each_changed_view_as_it_comes(shop: Shop) -> None:
    shop.release("web:2.0")
    code, out, _ = shop.canary("get", "rollout", "web", "--watch", "--interval", "5s", "--timeout", "60s")
    views = out.count("Rollout shop/web")
    assert code == 0
    assert views >= 2, out
    assert "◌ Progressing" in out and "॥ Paused" in out
