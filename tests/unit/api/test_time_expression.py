"""Argo's time expressions (rangeQuery.start / end): the forms Argo documents, and clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.api.time_expression import evaluate

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("now()", NOW),
        ('now() - duration("1h")', NOW - timedelta(hours=1)),
        ("now()-duration('1h30m') + duration('5m')", NOW - timedelta(minutes=85)),
        ('date("2023-08-14T00:00:00Z")', datetime(2023, 8, 14, tzinfo=UTC)),
        ('date("2023-08-14T02:00:00+02:00")', datetime(2023, 8, 14, tzinfo=UTC)),
        ('date("2023-08-14 00:00:00")', datetime(2023, 8, 14, tzinfo=UTC)),
        (
            'date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "UTC") - duration("1h")',
            datetime(2023, 8, 13, 23, tzinfo=UTC),
        ),
        (
            'date("14 Aug 2023 02:00", "02 Jan 2006 15:04", "Europe/Paris")',
            datetime(2023, 8, 14, tzinfo=UTC),
        ),
    ],
)
def test_time_expressions_name_the_time_argo_would(expression: str, expected: datetime) -> None:
    assert evaluate(expression, NOW) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("now() - 1h", "is not a time expression; write now()"),
        ("now() -", "is not a time expression"),
        ("yesterday", "is not a time expression"),
        ('duration("1h")', "is not a time"),
        ("now() + now()", 'only duration("...") can be added or subtracted'),
        ('now() - duration("??")', "'??' is not a duration"),
        ('date("14/08/2023")', "does not match an ISO 8601 time"),
        ('date("2023-08-14", "2006-01-02", "Mars/Olympus")', "'Mars/Olympus' is not a time zone"),
    ],
)
def test_anything_else_is_refused_naming_the_forms_or_the_part_that_is_wrong(
    expression: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(expression, NOW)


@given(
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=10**6),
)
def test_now_minus_a_duration_is_that_many_seconds_before_now(now: datetime, seconds: int) -> None:
    assert evaluate(f'now() - duration("{seconds}s")', now) == now - timedelta(seconds=seconds)
