"""Conformance scenarios (see catalogue.py): traffic, replicas and verbs."""

from __future__ import annotations

from scenario import Scenario

CANARY_SCENARIOS: list[Scenario] = []
