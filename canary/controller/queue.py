"""The work queue: keys (namespace/name) waiting to be reconciled, in client-go's workqueue shape.

- De-duplication: a key waiting in the queue is there once, however often it is added.
- A key is processed by one worker at a time: added while being processed, it is queued again
  only when that worker calls `done`, so two workers never reconcile the same Rollout at once.
- Delayed adds (`add_after`) for requeue_after; the earliest due time wins.
- Rate-limited retries (`add_rate_limited`): exponential backoff per key, reset by `forget`.

Time comes from an injected monotonic clock so tests can move it by hand.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NewType

Key = NewType("Key", str)
"""`namespace/name` of the object to reconcile; never the event that caused it."""


def key_of(namespace: str, name: str) -> Key:
    return Key(f"{namespace}/{name}")


def split_key(key: Key) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


@dataclass(frozen=True)
class Backoff:
    """Retry delays: base * 2**failures, capped (client-go's item exponential limiter)."""

    base_seconds: float = 0.005
    max_seconds: float = 300.0

    def delay(self, failures: int) -> float:
        return min(self.base_seconds * 2.0 ** min(failures, 60), self.max_seconds)


class ShutDown(Exception):  # noqa: N818 - a signal, not an error
    """The queue was shut down; workers stop."""


class WorkQueue:
    def __init__(self, backoff: Backoff = Backoff(), clock: Callable[[], float] = time.monotonic) -> None:
        self._backoff = backoff
        self._clock = clock
        self._ready: deque[Key] = deque()
        self._dirty: set[Key] = set()
        self._processing: set[Key] = set()
        self._waiting: list[tuple[float, Key]] = []
        self._due: dict[Key, float] = {}
        self._failures: dict[Key, int] = {}
        self._shut_down = False
        self._cond = threading.Condition()

    def add(self, key: Key) -> None:
        with self._cond:
            self._add_locked(key)

    def add_after(self, key: Key, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            due = self._clock() + delay
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            heapq.heappush(self._waiting, (due, key))
            self._cond.notify()

    def add_rate_limited(self, key: Key) -> float:
        """Queue the key again after its backoff delay; returns that delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = self._backoff.delay(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Key) -> None:
        """The key succeeded: its next failure starts from the base delay again."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: Key) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def get(self, timeout: float | None = None) -> Key | None:
        """The next ready key (now processing), None after `timeout`; raises `ShutDown` once shut down."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shut_down:
                    raise ShutDown
                self._promote_due()
                if self._ready:
                    key = self._ready.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                wait = self._seconds_to_next_due()
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)

    def done(self, key: Key) -> None:
        """The worker finished with `key`; if it was added meanwhile, it is ready again."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._ready.append(key)
                self._cond.notify()

    def shut_down(self) -> None:
        with self._cond:
            self._shut_down = True
            self._cond.notify_all()

    def __len__(self) -> int:
        """Keys ready to be processed (the queue-depth metric); delayed keys are not counted."""
        with self._cond:
            return len(self._ready)

    def waiting(self) -> int:
        with self._cond:
            return len(self._due)

    def seconds_until_next(self) -> float | None:
        """Seconds until the earliest delayed key is due (0 if one is overdue), None if none waits."""
        with self._cond:
            if not self._waiting:
                return None
            return max(self._waiting[0][0] - self._clock(), 0.0)

    def _add_locked(self, key: Key) -> None:
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._cond.notify()

    def _promote_due(self) -> None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            due, key = heapq.heappop(self._waiting)
            if self._due.get(key) == due:
                del self._due[key]
                self._add_locked(key)

    def _seconds_to_next_due(self) -> float | None:
        if not self._waiting:
            return None
        return max(self._waiting[0][0] - self._clock(), 0.001)
