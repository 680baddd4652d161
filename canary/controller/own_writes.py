"""The watch events of the controller's own status writes, which need no reconcile.

A decision is a fixed point of itself: deciding again on the status it stored, with the cluster as
it was, gives the same status and asks for no new write (the property tests check this for every
strategy, `tests/property/fixed_point.py`). So unless the decision set a router weight (routers
are not watched; its other writes, to ReplicaSets, Services and AnalysisRuns, are reported by
watches of their own), the watch event of its status write only repeats what the reconcile that
wrote it decided: in a fleet, half of all reconciles were these echoes.

The event is known by its resourceVersion, the one the status write's answer carries. It may arrive
before that answer is read: an event of a Rollout whose status is being written is held until the
write ends, then dropped if it was the write's own and passed on otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from canary.controller.queue import Key


class OwnWrites:
    def __init__(self, enqueue: Callable[[Key], None]) -> None:
        """`enqueue`: queue a key for reconcile (a held event that was not our own write)."""
        self._enqueue = enqueue
        self._lock = threading.Lock()
        self._held: dict[Key, list[str]] = {}
        """The versions seen while the key's status is being written."""
        self._stored: dict[Key, str] = {}
        """The version each key's last status write stored, when its event needs no reconcile."""

    def writing(self, key: Key) -> None:
        """A status write of `key` starts: its events are held until `written`."""
        with self._lock:
            self._held[key] = []
            self._stored.pop(key, None)

    def written(self, key: Key, version: str | None) -> None:
        """The write ended, storing `version` (None: it failed, or its event must be reconciled)."""
        with self._lock:
            held = self._held.pop(key, [])
            if version:
                self._stored[key] = version
        if any(seen != version for seen in held):
            self._enqueue(key)

    def is_own(self, key: Key, version: str | None) -> bool:
        """Whether the event of `key` at `version` needs no reconcile (held ones are decided later)."""
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                held.append(version or "")
                return True
            return bool(version) and self._stored.get(key) == version

    def forget(self, key: Key) -> None:
        with self._lock:
            self._stored.pop(key, None)
