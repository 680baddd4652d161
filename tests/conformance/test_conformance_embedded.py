"""The conformance scenarios on the embedded cluster (the same scenarios run on the real control
plane in tests/controlplane/test_conformance.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from catalogue import SCENARIOS
from embedded import EmbeddedBackend
from health import HealthEndpoint
from scenario import Scenario, play


@pytest.fixture(scope="module")
def health() -> Iterator[HealthEndpoint]:
    with HealthEndpoint() as endpoint:
        yield endpoint


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_on_the_embedded_cluster(scenario: Scenario, health: HealthEndpoint) -> None:
    check = f"check-{uuid.uuid4().hex[:8]}"
    play(scenario, EmbeddedBackend(health, check), health.url(check))


def test_a_background_job_cut_short_by_completion_shows_its_metric_and_measurement_inconclusive(
    health: HealthEndpoint,
) -> None:
    """Argo's TestCanaryBackgroundAnalysisLongRunningJob asserts the run, its metric and its last
    measurement are all Inconclusive (not Successful: the Job never finished)."""
    [scenario] = [s for s in SCENARIOS if s.name.startswith("a-background-job-still-running")]
    backend = EmbeddedBackend(health, "unused")
    play(scenario, backend, health.url("unused"))
    [run] = backend.cluster.list_analysis_runs("conformance")
    [result] = run.status.metric_results
    assert (run.status.phase, result.phase, result.measurements[-1].phase) == ("Inconclusive",) * 3
    assert (result.count, result.inconclusive) == (1, 1)
    assert "terminated before it finished" in result.measurements[-1].message
    assert run.status.message.startswith(
        "metric 'job' Inconclusive: inconclusive (1) > inconclusiveLimit (0)"
    )
