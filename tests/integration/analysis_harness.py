"""Driving an AnalysisRun to its verdict with the shipped providers, on a virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from canary.analysis import runner
from canary.analysis.args import SecretReader
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisRun
from canary.engine.clock import ManualClock


def run_to_verdict(run: AnalysisRun, start: datetime, read_secret: SecretReader) -> AnalysisRun:
    """Advance `run` with the shipped providers on a virtual clock from `start` until it completes."""
    clock, providers = ManualClock(start), default_registry()
    result = runner.advance(run, now=clock.now(), providers=providers, read_secret=read_secret)
    while result.requeue_after is not None:
        clock.advance(result.requeue_after)
        result = runner.advance(result.run, now=clock.now(), providers=providers, read_secret=read_secret)
        assert clock.now() < start + timedelta(hours=2), "the run never completed"
    return result.run
