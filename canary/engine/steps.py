"""Reading `spec.strategy.canary`: its steps, and what the steps up to an index ask for.

The one place that reads the canary strategy's step list (`of`) and its other canary-only fields
(`canary_of`); the engine, the CLI and the adapters ask it, nothing else reads
`spec.strategy.canary` directly. What every strategy has (routing, surge, scale-down delays, the
Services it names) is read through `spec.strategy`'s properties instead. An index equal to the
number of steps means "after the last step": full promotion.
"""

from __future__ import annotations

from collections.abc import Sequence

from canary.api.base import parse_duration
from canary.api.rollout import CanaryStep, CanaryStrategy, Rollout, SetCanaryScale


def of(rollout: Rollout) -> Sequence[CanaryStep]:
    """The Rollout's canary steps; none for a strategy without steps."""
    canary = rollout.spec.strategy.canary
    return canary.steps if canary is not None else ()


def canary_of(rollout: Rollout) -> CanaryStrategy:
    """The canary strategy, for code that runs only for a canary Rollout (ValueError otherwise:
    a caller reached it for another strategy, a bug)."""
    canary = rollout.spec.strategy.canary
    if canary is None:
        raise ValueError(f"rollout '{rollout.metadata.name}' has no canary strategy")
    return canary


def desired_weight(steps: Sequence[CanaryStep], index: int, max_weight: int = 100) -> int:
    """The canary weight at `index`: the last setWeight at or before it, 0 before any, max after the end."""
    if index >= len(steps):
        return max_weight
    weights = [step.set_weight for step in steps[: index + 1] if step.set_weight is not None]
    return weights[-1] if weights else 0


def canary_scale(steps: Sequence[CanaryStep], index: int) -> SetCanaryScale | None:
    """The setCanaryScale in force at `index` (it holds until the next one), None after the end."""
    if index >= len(steps):
        return None
    scales = [step.set_canary_scale for step in steps[: index + 1] if step.set_canary_scale is not None]
    return scales[-1] if scales else None


def pause_seconds(step: CanaryStep) -> float | None:
    """A pause step's duration in seconds; None for an indefinite pause or another kind of step."""
    if step.pause is None or step.pause.duration is None:
        return None
    return parse_duration(step.pause.duration)


def argo_string(step: CanaryStep) -> str:
    """The step as Argo Rollouts names it in Events (`CanaryStepString`): `setWeight: 20`, `pause`,
    `pause: 30s`, `analysis`, `setCanaryScale{weight: 20}`, `setCanaryScale{replicas: 2}`,
    `setCanaryScale{matchTrafficWeight: true}`."""
    if step.set_weight is not None:
        return f"setWeight: {step.set_weight}"
    if step.pause is not None:
        return "pause" if step.pause.duration is None else f"pause: {step.pause.duration}"
    if step.analysis is not None:
        return "analysis"
    scale = step.set_canary_scale
    if scale is None:
        return "invalid"
    if scale.weight is not None:
        return f"setCanaryScale{{weight: {scale.weight}}}"
    if scale.match_traffic_weight:
        return "setCanaryScale{matchTrafficWeight: true}"
    return f"setCanaryScale{{replicas: {scale.replicas}}}"


def describe(step: CanaryStep) -> str:
    """A short human name of a step, for events and the terminal view."""
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}"
    if step.pause is not None:
        return "pause until promoted" if step.pause.duration is None else f"pause {step.pause.duration}"
    if step.analysis is not None:
        return "analysis " + ", ".join(ref.template_name for ref in step.analysis.templates)
    scale = step.set_canary_scale
    if scale is None:
        return "empty step"
    if scale.replicas is not None:
        return f"setCanaryScale replicas {scale.replicas}"
    if scale.weight is not None:
        return f"setCanaryScale weight {scale.weight}"
    return "setCanaryScale matchTrafficWeight"
