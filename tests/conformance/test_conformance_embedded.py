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
