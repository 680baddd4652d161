"""What the dashboard shows for a Rollout, and its verbs, on the embedded cluster while the demo's
releases play: the same phase, step, weights, tree and plots as the CLI and the report."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pytest
from rich.console import Console

from canary.cli import commands_demo, render_rollout
from canary.cli.session import simulation_session
from canary.dashboard import views
from canary.dashboard.source import Source, UnknownVerbError
from canary.sim.driver import Simulation

NS, NAME = commands_demo.NAMESPACE, commands_demo.NAME


@pytest.fixture
def simulation() -> Simulation:
    simulation = commands_demo.build_simulation(seed=7)
    simulation.settle()
    return simulation


def at_first_pause(simulation: Simulation) -> None:
    commands_demo.release(simulation, "checkout:1.1", commands_demo.GOOD)
    simulation.run_until(lambda r: r.status.phase == "Paused", NS, NAME, 120)


def aborted(simulation: Simulation) -> None:
    commands_demo.release(simulation, "checkout:1.2", commands_demo.BAD)
    simulation.run_until(lambda r: r.status.abort and r.status.phase == "Degraded", NS, NAME, 900)


def page(simulation: Simulation) -> dict[str, Any]:
    rollout = simulation.cluster.get_rollout(NS, NAME)
    return views.rollout_page(
        rollout,
        simulation.cluster.observe(rollout),
        simulation.cluster.list_events(NS, NAME),
        simulation.clock.now(),
    )


def test_a_release_at_its_first_pause_shows_phase_step_and_weights(simulation: Simulation) -> None:
    at_first_pause(simulation)
    rollout = simulation.cluster.get_rollout(NS, NAME)
    shown = views.summary(rollout, simulation.cluster.observe(rollout))
    assert (shown["phase"], shown["step"], shown["step_now"]) == ("Paused", "1/7", "pause 30s")
    assert (shown["canary_weight"], shown["stable_weight"]) == (20, 80)


def test_the_tree_is_get_rollouts_tree(simulation: Simulation) -> None:
    at_first_pause(simulation)
    rollout = simulation.cluster.get_rollout(NS, NAME)
    observed, now = simulation.cluster.observe(rollout), simulation.clock.now()
    console = Console(width=views.TREE_WIDTH, file=io.StringIO(), record=True)
    console.print(render_rollout.rollout_view(rollout, observed, now))
    drawn = html.unescape(re.sub(r"<[^>]+>", "", views.tree_html(rollout, observed, now)))
    assert drawn.strip() == console.export_text().strip()


def test_after_an_abort_the_failed_run_is_plotted_and_the_abort_is_the_newest_event(
    simulation: Simulation,
) -> None:
    aborted(simulation)
    shown = page(simulation)
    assert shown["analysis"] == "Failed"
    (figure,) = shown["figures"]
    assert figure["figure"]["data"][0]["name"] == "p-value"
    assert "Failed" in figure["caption"]
    assert shown["events"][0]["reason"] == "RolloutAborted"


def test_the_abort_verb_is_the_clis(simulation: Simulation) -> None:
    at_first_pause(simulation)
    source = Source(simulation_session(simulation, NS))
    assert source.act(NS, NAME, "abort").startswith(f"rollout '{NAME}' aborted")
    assert simulation.cluster.get_rollout(NS, NAME).status.abort


def test_a_verb_without_a_button_is_refused_naming_those_offered(simulation: Simulation) -> None:
    source = Source(simulation_session(simulation, NS))
    with pytest.raises(UnknownVerbError, match="promote, abort, retry, undo"):
        source.act(NS, NAME, "restart")


def test_the_list_holds_the_namespaces_rollouts_or_with_all_namespaces_every_one(
    simulation: Simulation,
) -> None:
    rollout = commands_demo.demo_rollout("canary")
    metadata = rollout.metadata.model_copy(update={"namespace": "shop"})
    simulation.cluster.create(rollout.model_copy(update={"metadata": metadata}))
    session = simulation_session(simulation, NS)
    assert [(r["namespace"], r["name"]) for r in Source(session).rollouts()] == [(NS, NAME)]
    everywhere = Source(session, all_namespaces=True).rollouts()
    assert [(r["namespace"], r["name"]) for r in everywhere] == [(NS, NAME), ("shop", NAME)]
