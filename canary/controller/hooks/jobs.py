"""Hooks that run as Kubernetes Jobs: a `job` hook (an in-cluster test: passes when the Job
completes) and a `loadTest` hook (rakyll/hey driving a request rate at the canary Service for its
duration, Flagger's load tester as a Job: passes once started, so the step's analysis measures while
the load runs).

Each Job is owned by the Rollout (garbage-collected with it) and labelled with the Rollout and the
revision; a finished Job is removed by the Job controller after `ttlSecondsAfterFinished`, a load
test also stops after its duration (`activeDeadlineSeconds`).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from canary.analysis.providers.base import MeasurementError
from canary.analysis.providers.job import JobState
from canary.api.base import parse_duration
from canary.api.hooks import LoadTest
from canary.api.rollout import Rollout
from canary.cluster.kube_api import JOBS, KubeApi
from canary.cluster.port import Conflict
from canary.controller.hooks.http import Answer
from canary.engine.actions import RunHook
from canary.engine.analysis_runs import ROLLOUT_LABEL
from canary.engine.hashing import HASH_LABEL

HOOK_LABEL = "canary.dev/webhook"
TTL_AFTER_FINISHED_SECONDS = 600
POLL_SECONDS = 2.0
_MAX_NAME = 63


class JobStates(Protocol):
    def job_state(self, namespace: str, name: str) -> JobState: ...


def job_name(rollout: str, hook: str, key: str) -> str:
    """`<rollout>-<hook>-<digest of the call>`: one Job per call, a valid DNS-1123 name."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", f"{rollout}-{hook}".lower()).strip("-")
    return f"{stem[: _MAX_NAME - 9].rstrip('-')}-{digest}"


def load_test_spec(rollout: Rollout, load: LoadTest) -> dict[str, Any]:
    """A Job running hey at `rate` requests per second (split over `concurrency` workers, hey's -q is
    per worker) against the canary Service for `duration`."""
    canary = rollout.spec.strategy.canary
    service = canary.canary_service if canary else None
    namespace = rollout.metadata.namespace or "default"
    url = f"http://{service}.{namespace}.svc:{load.port}{load.path}"
    seconds = int(parse_duration(load.duration))
    per_worker = max(1, round(load.rate / load.concurrency))
    args = ["-z", f"{seconds}s", "-q", str(per_worker), "-c", str(load.concurrency), "-m", load.method, url]
    container = {"name": "hey", "image": load.image, "args": args}
    return {
        "backoffLimit": 0,
        "activeDeadlineSeconds": seconds + 60,
        "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
    }


class JobHooks:
    """Creates a hook's Job and, for a `job` hook, waits (on the runner's thread) for its end."""

    def __init__(
        self,
        api: KubeApi,
        states: JobStates,
        *,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = api
        self._states = states
        self._poll = poll_seconds
        self._clock = clock
        self._sleep = sleep

    def run(self, rollout: Rollout, call: RunHook) -> Answer:
        hook = call.hook
        namespace = rollout.metadata.namespace or "default"
        name = job_name(rollout.metadata.name, hook.name, call.key)
        if hook.load_test is not None:
            metadata: dict[str, Any] = {}
            spec = load_test_spec(rollout, hook.load_test)
        elif hook.job is not None:
            metadata, spec = dict(hook.job.metadata), dict(hook.job.spec)
        else:
            return False, f"webhook '{hook.name}' has neither job nor loadTest"
        self._create(
            rollout, name, metadata=metadata, spec=spec, revision=str(call.payload.get("checksum", ""))
        )
        if hook.load_test is not None:
            return (
                True,
                f"load test Job {name} started: {hook.load_test.rate} requests/s for {hook.load_test.duration}",
            )
        return self._wait(namespace, name, parse_duration(hook.timeout))

    def _create(
        self, rollout: Rollout, name: str, *, metadata: dict[str, Any], spec: dict[str, Any], revision: str
    ) -> None:
        labels = {**(metadata.get("labels") or {}), ROLLOUT_LABEL: rollout.metadata.name, HOOK_LABEL: "true"}
        if revision:
            labels[HASH_LABEL] = revision
        owner = {**rollout.owner_reference(), "controller": False, "blockOwnerDeletion": False}
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {**metadata, "name": name, "labels": labels, "ownerReferences": [owner]},
            "spec": {"ttlSecondsAfterFinished": TTL_AFTER_FINISHED_SECONDS, **spec},
        }
        try:
            self._api.create(*JOBS, rollout.metadata.namespace or "default", body)
        except Conflict:  # made by an earlier try of the same call (a restart): wait on that one
            return

    def _wait(self, namespace: str, name: str, timeout: float) -> Answer:
        deadline = self._clock() + timeout
        while True:
            try:
                state = self._states.job_state(namespace, name)
            except MeasurementError as error:
                return False, str(error)
            if state.failed:
                return False, f"Job {name} failed" + (f": {state.message}" if state.message else "")
            if state.succeeded:
                return True, f"Job {name} completed"
            if self._clock() >= deadline:
                return False, f"Job {name} did not complete within {timeout:g}s"
            self._sleep(self._poll)
