"""The work queue: one entry per key, one worker per key, delays and per-key backoff."""

from __future__ import annotations

import pytest

from canary.controller.queue import Backoff, Key, ShutDown, WorkQueue

A, B = Key("ns/a"), Key("ns/b")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_added_many_times_is_queued_once() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add(A)
    queue.add(B)
    assert len(queue) == 2
    assert [queue.get(0), queue.get(0), queue.get(0)] == [A, B, None]


def test_a_key_added_while_processing_waits_until_done() -> None:
    queue = WorkQueue()
    queue.add(A)
    assert queue.get(0) == A
    queue.add(A)
    assert queue.get(0) is None  # no second worker gets it meanwhile
    queue.done(A)
    assert queue.get(0) == A


def test_a_delayed_key_is_ready_only_when_due() -> None:
    time = FakeTime()
    queue = WorkQueue(clock=time)
    queue.add_after(A, 30)
    assert queue.get(0) is None
    time.now += 29.9
    assert queue.get(0) is None
    time.now += 0.2
    assert queue.get(0) == A


def test_the_earlier_of_two_delays_wins() -> None:
    time = FakeTime()
    queue = WorkQueue(clock=time)
    queue.add_after(A, 60)
    queue.add_after(A, 5)
    time.now += 5
    assert queue.get(0) == A


def test_retries_back_off_exponentially_and_forget_resets() -> None:
    time = FakeTime()
    queue = WorkQueue(backoff=Backoff(base_seconds=1, max_seconds=5), clock=time)
    assert [queue.add_rate_limited(A) for _ in range(5)] == [1, 2, 4, 5, 5]
    queue.forget(A)
    assert queue.add_rate_limited(A) == 1


def test_shut_down_wakes_waiting_workers() -> None:
    queue = WorkQueue()
    queue.shut_down()
    with pytest.raises(ShutDown):
        queue.get(1)
