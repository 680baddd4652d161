"""Conformance scenarios (see catalogue.py): analysis."""

from __future__ import annotations

from scenario import Scenario

ANALYSIS_SCENARIOS: list[Scenario] = []
