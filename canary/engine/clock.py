"""Time as a value: pure code takes `now` as an argument; shells ask a `Clock` for it.

`ManualClock` is the virtual clock of tests, the simulator and `canary demo --fast`: time moves
only when told to, so an hour-long rollout runs in milliseconds. The wall clock lives in the shell
(`canary.controller`), because this package may not import `time`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Where virtual clocks start unless told otherwise: a fixed instant keeps simulations reproducible."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class ManualClock:
    """A clock that moves only by `advance` or `set` (never backwards)."""

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time, e.g. datetime(..., tzinfo=UTC)")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"cannot advance a clock by {seconds} s: time does not go backwards")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, instant: datetime) -> None:
        if instant < self._now:
            raise ValueError(
                f"cannot set the clock back from {self._now.isoformat()} to {instant.isoformat()}"
            )
        self._now = instant
