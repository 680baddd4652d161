"""Judging one measured value with the metric's CEL conditions (never Python `eval`).

A condition sees the measured value as `result` (a number, a list of numbers, or a map) and may call
the helpers below. The phase of one measurement follows Argo Rollouts:

    conditions                       -> phase
    none                             -> Successful
    success only                     -> Successful if true, else Failed
    failure only                     -> Failed if true, else Successful
    success and failure              -> Failed if failure, else Successful if success, else Inconclusive
    does not compile / cannot run    -> Error (with the reason)

One rule is canary's own: a result holding NaN or ±Inf (PromQL's 0/0 and x/0, typically "no traffic")
is Inconclusive unless a condition says how to read it with `isNaN`/`isInf`; otherwise a failure
condition such as `result > 0.05` would silently pass on a ratio that was never measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.api import cel_runtime as cel
from canary.api.analysis import AnalysisPhase

MeasuredValue = float | int | str | bool | Sequence[Any] | Mapping[str, Any] | None
"""What a provider measured: a number, a list (one value per series), a map (a JSON object)."""

NON_FINITE_HELPERS = ("isNaN", "isInf")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _is_inf(value: Any) -> bool:
    return isinstance(value, float) and math.isinf(value)


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None or _is_nan(value) else value


def _len(value: Any) -> int:
    return len(value)


HELPERS: Mapping[str, Callable[..., Any]] = {
    "isNaN": _is_nan,
    "isInf": _is_inf,
    "default": _default,
    "len": _len,
}
"""Functions a condition may call besides CEL's own: isNaN(x), isInf(x), default(x, fallback), len(x)."""


class ConditionError(ValueError):
    """A condition that does not compile (`invalid_spec`: retrying cannot help) or cannot be evaluated."""

    def __init__(self, message: str, *, invalid_spec: bool) -> None:
        super().__init__(message)
        self.invalid_spec = invalid_spec


@dataclass(frozen=True)
class Assessment:
    """The phase of one measurement and why."""

    phase: AnalysisPhase
    message: str = ""
    invalid_spec: bool = False


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def evaluate(expression: str, result: MeasuredValue) -> bool:
    """Truth of one condition for `result`; raises ConditionError when it cannot say true or false."""
    try:
        program = cel.compile(expression)
    except (ValueError, RuntimeError) as error:
        raise ConditionError(
            f"condition '{expression}' is not valid CEL: {_first_line(error)}", invalid_spec=True
        ) from None
    context = cel.Context({"result": result}, dict(HELPERS))
    try:
        outcome = program.execute(context)
    except Exception as error:  # the CEL runtime raises TypeError, KeyError, RuntimeError, ...
        raise ConditionError(
            f"condition '{expression}' failed on result {describe(result)}: {_first_line(error)}",
            invalid_spec=False,
        ) from None
    if not isinstance(outcome, bool):
        raise ConditionError(
            f"condition '{expression}' must be true or false, got {describe(outcome)}", invalid_spec=True
        )
    return outcome


def assess(result: MeasuredValue, success_condition: str | None, failure_condition: str | None) -> Assessment:
    """The phase of one measurement whose value is `result` (see the table in the module docstring)."""
    conditions = [c for c in (success_condition, failure_condition) if c is not None]
    if not conditions:
        return Assessment(AnalysisPhase.SUCCESSFUL)
    if has_non_finite(result) and not any(h in c for c in conditions for h in NON_FINITE_HELPERS):
        return Assessment(
            AnalysisPhase.INCONCLUSIVE,
            f"result {describe(result)} is not a finite number (no traffic?); "
            "say how to judge it with isNaN(result) or isInf(result) in a condition",
        )
    try:
        failed = failure_condition is not None and evaluate(failure_condition, result)
        succeeded = success_condition is not None and evaluate(success_condition, result)
    except ConditionError as error:
        return Assessment(AnalysisPhase.ERROR, str(error), invalid_spec=error.invalid_spec)
    if failed:
        return Assessment(AnalysisPhase.FAILED, f"failureCondition '{failure_condition}' is true")
    if success_condition is None:
        return Assessment(AnalysisPhase.SUCCESSFUL)
    if succeeded:
        return Assessment(AnalysisPhase.SUCCESSFUL)
    if failure_condition is None:
        return Assessment(AnalysisPhase.FAILED, f"successCondition '{success_condition}' is false")
    return Assessment(
        AnalysisPhase.INCONCLUSIVE,
        f"neither successCondition '{success_condition}' nor failureCondition '{failure_condition}' is true",
    )


def has_non_finite(value: MeasuredValue) -> bool:
    """Whether a NaN or ±Inf hides anywhere in the value (lists and maps included)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_non_finite(v) for v in value)
    return False


def describe(value: Any) -> str:
    """A value as the status shows it: numbers plainly (NaN, +Inf, -Inf), lists and maps as JSON-like text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f'"{k}": {describe(v)}' for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    return str(value)
