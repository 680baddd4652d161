"""Durations are written as users write them in Argo Rollouts: Go-style strings or integer seconds."""

from __future__ import annotations

import pytest

from canary.api.base import parse_duration, resolve_int_or_percent


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30.0),
        ("30", 30.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
    ],
)
def test_parse_duration_accepts_go_style_and_integer_seconds(text: int | str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10 minutes", "5x", "m5", "1h 30m", -1, True])
def test_parse_duration_rejects_anything_else_with_an_example(text: int | str) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        (2, 10, True, 2),
        ("0%", 10, True, 0),
        ("100%", 3, False, 3),
    ],
)
def test_percentages_resolve_against_the_replica_count(
    value: int | str, total: int, round_up: bool, expected: int
) -> None:
    assert resolve_int_or_percent(value, total, round_up=round_up) == expected
