"""Worker threads: take a key, reconcile it, and apply the result rules of `reconciler`.

A key is never lost: whatever the reconcile raises (including a bug), the worker logs it, queues
the key again with backoff and marks it done, so the key comes back and the worker goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from canary.controller.metrics import Metrics
from canary.controller.queue import Key, ShutDown, WorkQueue
from canary.controller.reconciler import Result, TerminalError

log = structlog.get_logger(__name__)

Reconcile = Callable[[Key], Result]


def process_one(
    queue: WorkQueue,
    reconcile: Reconcile,
    *,
    name: str,
    metrics: Metrics | None = None,
    timeout: float | None = None,
) -> bool:
    """Reconcile the next key; False once the queue is shut down or no key came within `timeout`."""
    try:
        key = queue.get(timeout)
    except ShutDown:
        return False
    if key is None:
        return False
    started = time.monotonic()
    outcome = "success"
    try:
        result = reconcile(key)
    except TerminalError as error:
        outcome = "terminal"
        queue.forget(key)
        log.error("reconcile failed for good", controller=name, key=key, error=str(error))
    except Exception as error:
        outcome = "error"
        delay = queue.add_rate_limited(key)
        log.warning(
            "reconcile failed, retrying",
            controller=name,
            key=key,
            error=f"{type(error).__name__}: {error}",
            retry_in=round(delay, 3),
            failures=queue.failures(key),
        )
    else:
        queue.forget(key)
        if result.requeue_after is not None:
            outcome = "requeue"
            queue.add_after(key, result.requeue_after)
    finally:
        queue.done(key)
        if metrics:
            metrics.reconcile_duration.labels(name, outcome).observe(time.monotonic() - started)
    return True


class Workers:
    """N threads draining one queue into one reconciler."""

    def __init__(
        self, queue: WorkQueue, reconcile: Reconcile, *, name: str, count: int, metrics: Metrics | None = None
    ) -> None:
        if count < 1:
            raise ValueError(f"--workers must be at least 1, got {count}")
        self._threads = [
            threading.Thread(target=self._loop, name=f"{name}-worker-{i}", daemon=True) for i in range(count)
        ]
        self._queue, self._reconcile, self._name, self._metrics = queue, reconcile, name, metrics
        self._started = False

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._started = True

    def alive(self) -> bool:
        """Before `start` there is nothing that could have died; after it, every thread runs."""
        return not self._started or all(thread.is_alive() for thread in self._threads)

    def join(self, timeout: float) -> None:
        if self._started:  # a thread never started cannot be joined
            for thread in self._threads:
                thread.join(timeout)

    def _loop(self) -> None:
        while process_one(self._queue, self._reconcile, name=self._name, metrics=self._metrics):
            pass
