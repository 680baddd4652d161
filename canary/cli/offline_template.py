"""Run an AnalysisTemplate offline: replay a past window against a Prometheus, on a virtual clock.

The analysis runner evaluates every query at its `now`, so stepping a virtual clock from the start
of the window to its end takes the measurements exactly as a rollout during that window would have,
in seconds instead of the window's length. Secrets are not read offline; `--arg` supplies values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from canary.analysis import runner
from canary.analysis.providers.base import ProviderRegistry
from canary.analysis.providers.registry import default_registry
from canary.analysis.run import effective_count
from canary.api.analysis import (
    AnalysisPhase,
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    Metric,
)
from canary.api.base import ObjectMeta

MIN_STEP_SECONDS = 1.0
"""The clock always moves forward at least this much, so an always-due metric cannot loop forever."""

Template = AnalysisTemplate | ClusterAnalysisTemplate


def no_secrets(namespace: str, name: str, key: str) -> str:
    raise KeyError(f"Secret {namespace}/{name} is not read offline; pass the argument's value with --arg")


def providers() -> ProviderRegistry:
    """The shipped providers (prometheus, web, judge); Jobs need a cluster, so not offline."""
    return default_registry()


def _readdress(metric: Metric, address: str) -> Metric:
    provider = metric.provider
    for kind in ("prometheus", "judge"):
        config = getattr(provider, kind)
        if config is not None:
            provider = provider.model_copy(update={kind: config.model_copy(update={"address": address})})
    return metric.model_copy(update={"provider": provider})


def build_run(template: Template, given: Mapping[str, str], address: str | None) -> AnalysisRun:
    """The run a template starts with `given` argument values (and, if set, every query sent to `address`)."""
    declared = {a.name for a in template.spec.args}
    args = [
        a.model_copy(update={"value": given[a.name]}) if a.name in given else a for a in template.spec.args
    ]
    args += [Argument(name=name, value=value) for name, value in given.items() if name not in declared]
    metrics = [_readdress(m, address) if address else m for m in template.spec.metrics]
    spec = AnalysisRunSpec(
        args=args,
        metrics=metrics,
        dry_run=template.spec.dry_run,
        measurement_retention=template.spec.measurement_retention,
    )
    meta = ObjectMeta(
        name=f"{template.metadata.name}-offline", namespace=template.metadata.namespace or "default"
    )
    return AnalysisRun(metadata=meta, spec=spec)


def needed_seconds(template: Template, given: Mapping[str, str] | None = None) -> float | None:
    """How long the template's metrics take to complete; None if one measures until terminated (or
    if an argument in a count or interval does not resolve: the run then reports why)."""
    values = {a.name: a.value for a in template.spec.args if a.value is not None} | dict(given or {})
    longest = 0.0
    for templated in template.spec.metrics:
        try:
            metric = templated.with_arguments(values)
            numbers = metric.numbers()
        except ValueError:
            return None
        count = effective_count(metric)
        if count is None:
            return None
        delay = numbers.initial_delay or 0.0
        interval = numbers.interval or 0.0
        longest = max(longest, delay + interval * max(0, count - 1))
    return longest


def replay(run: AnalysisRun, *, start: datetime, end: datetime, registry: ProviderRegistry) -> AnalysisRun:
    """The run after stepping a virtual clock from `start` to `end`; terminated at `end` if still running."""
    now = start
    while True:
        result = runner.advance(run, now=now, providers=registry, read_secret=no_secrets)
        run = result.run
        if result.requeue_after is None or AnalysisPhase(run.status.phase).completed:
            return run
        following = now + timedelta(seconds=max(MIN_STEP_SECONDS, result.requeue_after))
        if following > end:
            stop = run.model_copy(update={"spec": run.spec.model_copy(update={"terminate": True})})
            return runner.advance(stop, now=max(now, end), providers=registry, read_secret=no_secrets).run
        now = following
