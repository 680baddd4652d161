"""The Git write-back worker: when an opted-in Rollout aborts, write the stable revision back to Git.

A queue of Rollout keys of its own, drained by its own thread, so a slow forge never holds up a
reconcile. The reconciler queues a key whenever a decision emitted Events (an abort does); on start
every opted-in Rollout is looked at once, so a revert a restart interrupted is finished. What was
written is found again in Git (`canary.gitops.writer`); the memory here only spares a clone per
reconcile. Each outcome is an Event on the Rollout (GitRevertCommitted, GitRevertPullRequestOpened,
GitRevertUpToDate, GitRevertConflict, GitRevertFailed) and a log line; neither carries the token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from canary.api.rollout import Rollout
from canary.cluster.port import ClusterPort, NotFound
from canary.controller.queue import Backoff, Key, WorkQueue, split_key
from canary.controller.reconciler import Result
from canary.controller.workers import Workers
from canary.engine import actions as act
from canary.gitops import plan, target, writer
from canary.gitops.forge import ForgeError
from canary.gitops.git import Credentials, GitError

log = structlog.get_logger(__name__)

FAILED = "GitRevertFailed"
BACKOFF = Backoff(base_seconds=2.0, max_seconds=300.0)

SecretReader = Callable[[str, str, str], str]
Write = Callable[[plan.Abort, target.GitTarget, Credentials | None], writer.Outcome]


def credentials_from_secret(read_secret: SecretReader, namespace: str, name: str) -> Credentials:
    """Secret keys `token` and, optionally, `username` (default: the name forges accept for a token)."""
    try:
        username = read_secret(namespace, name, "username")
    except KeyError:
        username = "git"
    return Credentials(username=username, token=read_secret(namespace, name, "token"))


class GitReverter:
    def __init__(
        self,
        port: ClusterPort,
        read_secret: SecretReader,
        *,
        write: Write = writer.write_revert,
        backoff: Backoff = BACKOFF,
    ) -> None:
        self._port, self._read_secret, self._write = port, read_secret, write
        self.queue = WorkQueue(backoff=backoff)
        self._workers = Workers(self.queue, self.revert, name="gitops", count=1)
        self._written: dict[Key, str] = {}
        self._reported: dict[Key, str] = {}

    def notify(self, key: Key) -> None:
        self.queue.add(key)

    def start(self, keys: Iterable[Key] = ()) -> None:
        for key in keys:
            self.queue.add(key)
        self._workers.start()

    def shut_down(self, timeout: float = 5.0) -> None:
        self.queue.shut_down()
        self._workers.join(timeout)

    def alive(self) -> bool:
        return self._workers.alive()

    def revert(self, key: Key) -> Result:
        namespace, name = split_key(key)
        try:
            rollout = self._port.get_rollout(namespace, name)
        except (NotFound, ValueError):  # gone, or a spec the reconciler reports
            return Result()
        if not target.opted_in(rollout.metadata.annotations):
            return Result()
        try:
            where = target.target_from_annotations(rollout.metadata.annotations)
            abort = plan.abort_of(rollout, self._port.observe(rollout), where.container)
        except (target.TargetError, plan.PlanError) as error:
            self._report(rollout, key, "Warning", FAILED, f"cannot write the rollback to Git: {error}")
            return Result()
        if abort is None or self._written.get(key) == abort.aborted_hash:
            return Result()
        try:
            credentials = (
                credentials_from_secret(self._read_secret, namespace, where.secret) if where.secret else None
            )
            outcome = self._write(abort, where, credentials)
        except (GitError, ForgeError, plan.PlanError, KeyError) as error:
            self._report(
                rollout,
                key,
                "Warning",
                FAILED,
                f"writing the rollback of {abort.aborted_hash} to {where.repo} failed: {error}",
            )
            raise
        self._written[key] = abort.aborted_hash
        kind: act.EventType = "Warning" if outcome.kind is writer.Kind.CONFLICT else "Normal"
        self._report(rollout, key, kind, outcome.kind.value, outcome.detail)
        return Result()

    def _report(self, rollout: Rollout, key: Key, kind: act.EventType, reason: str, message: str) -> None:
        """An Event and a log line, once per distinct outcome (retries do not repeat them)."""
        if self._reported.get(key) == f"{reason}:{message}":
            return
        self._reported[key] = f"{reason}:{message}"
        log.info("git revert", rollout=key, reason=reason, message=message)
        self._port.apply(rollout, [act.EmitEvent(kind, reason, message)])
