"""How one measured value becomes a measurement phase (Argo's table) and what CEL conditions may use."""

from __future__ import annotations

import math

import pytest

from canary.analysis.conditions import assess, describe, evaluate
from canary.api.analysis import AnalysisPhase

S, F, INC, E = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.FAILED,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
)

PHASE_TABLE = [
    # result, successCondition, failureCondition, phase
    (0.5, None, None, S),
    (0.5, "result < 1.0", None, S),
    (1.5, "result < 1.0", None, F),
    (1.5, None, "result > 1.0", F),
    (0.5, None, "result > 1.0", S),
    (1.5, "result < 1.0", "result > 1.0", F),
    (0.5, "result < 1.0", "result > 1.0", S),
    (1.0, "result < 1.0", "result > 1.0", INC),
    (0.5, "result > 0.0", "result > 0.2", F),  # both true: failure wins
]


@pytest.mark.parametrize(("result", "success", "failure", "phase"), PHASE_TABLE)
def test_measurement_phase_follows_the_conditions_table(
    result: float, success: str | None, failure: str | None, phase: AnalysisPhase
) -> None:
    assert assess(result, success, failure).phase == phase


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, [0.1, math.nan], {"ratio": math.inf}])
def test_a_non_finite_result_is_inconclusive_unless_a_condition_handles_it(value: object) -> None:
    assessment = assess(value, None, "result > 0.05")  # type: ignore[arg-type]
    assert assessment.phase == INC
    assert "isNaN" in assessment.message


def test_a_condition_using_isnan_decides_a_nan_result_itself() -> None:
    assert assess(math.nan, "isNaN(result) || result < 0.05", None).phase == S
    assert assess(math.nan, None, "isNaN(result)").phase == F


def test_no_conditions_pass_even_a_nan_result_as_argo_does() -> None:
    assert assess(math.nan, None, None).phase == S


@pytest.mark.parametrize(
    ("expression", "result", "expected"),
    [
        ("isNaN(result)", math.nan, True),
        ("isInf(result)", -math.inf, True),
        ("isInf(result)", 1.0, False),
        ("default(result, 0.0) == 0.0", math.nan, True),
        ("default(result.missing, 7) == 7", {"missing": None}, True),
        ("len(result) == 3", [1.0, 2.0, 3.0], True),
        ("size(result) == 2", [1.0, 2.0], True),
        ("result.all(x, x < 0.1)", [0.01, 0.02], True),
        ("result[1] > 0.5", [0.1, 0.9], True),
        ("result.data.ratio >= 0.99", {"data": {"ratio": 0.995}}, True),
        ("result == 'ok'", "ok", True),
    ],
)
def test_conditions_can_use_the_helpers_and_cel_builtins(
    expression: str, result: object, expected: bool
) -> None:
    assert evaluate(expression, result) is expected  # type: ignore[arg-type]


def test_a_condition_that_does_not_compile_is_an_invalid_spec_error() -> None:
    assessment = assess(0.5, "result <", None)
    assert (assessment.phase, assessment.invalid_spec) == (E, True)
    assert "result <" in assessment.message


def test_a_condition_that_fails_on_this_result_is_a_retryable_error() -> None:
    assessment = assess({"a": 1}, "result.b > 0", None)
    assert (assessment.phase, assessment.invalid_spec) == (E, False)
    assert '{"a": 1}' in assessment.message


def test_a_condition_that_is_not_boolean_is_an_invalid_spec_error() -> None:
    assessment = assess(0.5, "result + 1.0", None)
    assert (assessment.phase, assessment.invalid_spec) == (E, True)
    assert "true or false" in assessment.message


def test_python_code_is_not_evaluated() -> None:
    assessment = assess(0.5, "__import__('os').system('true') == 0", None)
    assert assessment.phase == E


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.25, "0.25"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        ([1.0, 2.0], "[1.0, 2.0]"),
        ({"a": True}, '{"a": true}'),
        (None, "null"),
        (3, "3"),
    ],
)
def test_values_are_described_as_the_status_shows_them(value: object, text: str) -> None:
    assert describe(value) == text
