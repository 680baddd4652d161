"""Worker result rules: errors retry with backoff without losing the key; terminal errors do not retry."""

from __future__ import annotations

from canary.controller.metrics import Metrics
from canary.controller.queue import Backoff, Key, WorkQueue
from canary.controller.reconciler import Result, TerminalError
from canary.controller.workers import process_one

KEY = Key("ns/a")


def _queue() -> WorkQueue:
    return WorkQueue(backoff=Backoff(base_seconds=0.001, max_seconds=0.01))


def test_a_crashing_reconcile_does_not_lose_the_key() -> None:
    calls: list[Key] = []

    def reconcile(key: Key) -> Result:
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("bug in the reconciler")
        return Result()

    queue = _queue()
    queue.add(KEY)
    process_one(queue, reconcile, name="t")
    assert queue.failures(KEY) == 1
    process_one(queue, reconcile, name="t")  # blocks until the backoff has passed
    assert calls == [KEY, KEY]
    assert queue.failures(KEY) == 0


def test_a_terminal_error_is_not_retried() -> None:
    def reconcile(key: Key) -> Result:
        raise TerminalError("invalid spec")

    queue = _queue()
    queue.add(KEY)
    process_one(queue, reconcile, name="t")
    assert queue.get(0.05) is None


def test_requeue_after_brings_the_key_back_later() -> None:
    queue = _queue()
    queue.add(KEY)
    process_one(queue, lambda key: Result(requeue_after=0.01), name="t")
    assert queue.waiting() == 1
    assert queue.get(1) == KEY


def test_reconcile_durations_are_recorded_by_outcome() -> None:
    metrics = Metrics()
    queue = _queue()
    queue.add(KEY)
    process_one(queue, lambda key: Result(), name="rollout", metrics=metrics)
    count = metrics.registry.get_sample_value(
        "canary_reconcile_duration_seconds_count", {"controller": "rollout", "result": "success"}
    )
    assert count == 1
