"""Driving an AnalysisRun to its verdict with the shipped providers, on a virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import yaml

from canary.analysis import runner
from canary.analysis.args import SecretReader, build_run_spec
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisRun, AnalysisTemplate
from canary.api.rollout import Rollout, RolloutAnalysis
from canary.engine.clock import ManualClock

TEMPLATES = Path(__file__).resolve().parents[2] / "analysis-templates"
ROLLOUT = Rollout.model_validate(
    {
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {"workloadRef": {"name": "checkout"}, "strategy": {"canary": {}}},
    }
)


def no_secrets(namespace: str, name: str, key: str) -> str:
    raise KeyError(name)


def template_run(name: str, canary_hash: str, address: str, **args: str) -> AnalysisRun:
    """A run of `analysis-templates/<name>.yaml` for service checkout, stable `stable1` against
    `canary_hash`, with the given extra args (underscores in their names read as dashes)."""
    template = AnalysisTemplate.model_validate(yaml.safe_load((TEMPLATES / f"{name}.yaml").read_text()))
    given = {"service": "checkout", "prometheus-address": address} | {
        key.replace("_", "-"): value for key, value in args.items()
    }
    analysis = RolloutAnalysis.model_validate(
        {
            "templates": [{"templateName": name}],
            "args": [{"name": key, "value": value} for key, value in given.items()],
        }
    )
    spec = build_run_spec([template], analysis, ROLLOUT, stable_hash="stable1", canary_hash=canary_hash)
    return AnalysisRun.model_validate(
        {"metadata": {"name": f"{name}-run", "namespace": "shop"}, "spec": spec.to_wire()}
    )


def run_to_verdict(run: AnalysisRun, start: datetime, read_secret: SecretReader) -> AnalysisRun:
    """Advance `run` with the shipped providers on a virtual clock from `start` until it completes."""
    clock, providers = ManualClock(start), default_registry()
    result = runner.advance(run, now=clock.now(), providers=providers, read_secret=read_secret)
    while result.requeue_after is not None:
        clock.advance(result.requeue_after)
        result = runner.advance(result.run, now=clock.now(), providers=providers, read_secret=read_secret)
        assert clock.now() < start + timedelta(hours=2), "the run never completed"
    return result.run
