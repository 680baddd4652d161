"""The hook runner: makes each webhook call the engine asks for once, on threads of its own, so a
slow receiver or a long Job never holds up a reconcile.

The reconciler hands it a decision's `RunHook` actions (`request`) and reads the answers back into
the next decision's `Observed.hook_results` (`results`); an answer queues the Rollout again
(`on_answer`). Answers live in memory until the engine records them in `status.hooks`: after a
restart a call whose answer was recorded is never made again, and one that was not is made again
(webhooks are called at least once, as Flagger calls them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import structlog

from canary.api.hooks import HookType
from canary.api.rollout import Rollout
from canary.controller.hooks.http import Answer, call_url
from canary.controller.hooks.jobs import JobHooks
from canary.controller.queue import Key, key_of
from canary.engine.actions import RunHook
from canary.engine.observed import HookResult

log = structlog.get_logger(__name__)

Caller = Callable[[Rollout, RunHook], Answer]


def caller(jobs: JobHooks | None) -> Caller:
    """URL hooks over HTTP, the others as Jobs (refused when no cluster runs them)."""

    def call(rollout: Rollout, run: RunHook) -> Answer:
        if run.hook.url is not None:
            return call_url(run.hook, run.payload)
        if jobs is None:
            return False, "no cluster to run the hook's Job in"
        return jobs.run(rollout, run)

    return call


class HookRunner:
    def __init__(
        self,
        call: Caller,
        now: Callable[[], datetime],
        *,
        workers: int = 4,
        job_workers: int = 16,
        on_answer: Callable[[Key], None] | None = None,
    ) -> None:
        """`job_workers`: threads for `job` hooks, which wait (mostly asleep) for their Job's end, on a
        pool of their own so that long Jobs never hold up a URL gate's answer."""
        self._call = call
        self._now = now
        self._on_answer = on_answer
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hooks")
        self._job_pool = ThreadPoolExecutor(max_workers=job_workers, thread_name_prefix="hook-jobs")
        self._lock = threading.Lock()
        self._asked: set[tuple[Key, str]] = set()
        self._answers: dict[Key, dict[str, HookResult]] = {}

    def results(self, namespace: str, name: str) -> Mapping[str, HookResult]:
        with self._lock:
            return dict(self._answers.get(key_of(namespace, name), {}))

    def request(self, rollout: Rollout, runs: Sequence[RunHook]) -> None:
        """Start every call not started before; returns at once."""
        key = key_of(rollout.metadata.namespace or "default", rollout.metadata.name)
        for run in runs:
            with self._lock:
                if (key, run.key) in self._asked:
                    continue
                self._asked.add((key, run.key))
            pool = self._job_pool if run.hook.job is not None else self._pool
            pool.submit(self._make, key, rollout, run)

    def forget(self, namespace: str, name: str) -> None:
        """Drop a deleted Rollout's answers, so they do not pile up for the controller's lifetime.
        A call still running then answers into nothing."""
        key = key_of(namespace, name)
        with self._lock:
            self._answers.pop(key, None)
            self._asked = {asked for asked in self._asked if asked[0] != key}

    def shut_down(self) -> None:
        for pool in (self._pool, self._job_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    def _make(self, key: Key, rollout: Rollout, run: RunHook) -> None:
        try:
            passed, message = self._call(rollout, run)
        except Exception as error:  # an adapter bug must not kill the runner: the call failed
            passed, message = False, f"the call raised {type(error).__name__}"
        log.info(
            "webhook answered",
            rollout=key,
            hook=run.hook.name,
            type=str(run.hook.type),
            passed=passed,
            message=message,
        )
        if run.hook.type == HookType.EVENT:
            return  # told, nothing waits on the answer
        with self._lock:
            if (key, run.key) not in self._asked:
                return  # the Rollout was deleted while the call ran
            answers = self._answers.setdefault(key, {})
            answers[run.key] = HookResult(passed, message, self._now())
            for old in _superseded(answers, run.key):
                del answers[old]
                self._asked.discard((key, old))
        if self._on_answer is not None:
            self._on_answer(key)


KEPT_ATTEMPTS = 3
"""Answers kept per hook call (a gate polled for days must not grow without bound); the engine reads
back at most the last one or two, until its status records them."""


def _superseded(answers: Mapping[str, HookResult], latest: str) -> list[str]:
    """The answers to earlier attempts of the call `latest` (keys `<hook>/<revision>/<step>/<n>`)
    beyond the last `KEPT_ATTEMPTS`."""
    stem, _, attempt = latest.rpartition("/")
    if not attempt.isdigit():
        return []
    oldest_kept = int(attempt) - KEPT_ATTEMPTS + 1
    return [
        key
        for key in answers
        if (parts := key.rpartition("/"))[0] == stem and parts[2].isdigit() and int(parts[2]) < oldest_kept
    ]
