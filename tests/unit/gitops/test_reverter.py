"""The controller's Git write-back worker, with the Git write replaced (its real tests are in
tests/integration/gitops): when it writes, what it reports, and what it never repeats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from canary.api.rollout import Rollout
from canary.controller.gitops import GitReverter
from canary.engine import actions as act
from canary.engine.observed import Observed
from canary.gitops import writer
from canary.gitops.git import Credentials, GitError
from canary.gitops.plan import Abort
from canary.gitops.target import GitTarget

ANNOTATIONS = {
    "gitops.canary.dev/repo": "https://git.example.com/team/deploy.git",
    "gitops.canary.dev/file": "rollout.yaml",
    "gitops.canary.dev/field": "spec.template.spec.containers[0].image",
    "gitops.canary.dev/container": "app",
    "gitops.canary.dev/secret": "deploy-token",
}
TOKEN = "ghp-never-shown"


class Port:
    def __init__(self, rollout: Any, observed: Observed) -> None:
        self.rollout, self.observed = rollout, observed
        self.events: list[act.EmitEvent] = []

    def get_rollout(self, namespace: str, name: str) -> Any:
        return self.rollout

    def observe(self, rollout: Any) -> Any:
        return self.observed

    def apply(self, rollout: Any, actions: list[act.EmitEvent]) -> None:
        self.events += actions


def secrets(namespace: str, name: str, key: str) -> str:
    return {("default", "deploy-token", "token"): TOKEN}[(namespace, name, key)]


class Writes:
    def __init__(self, *outcomes: writer.Outcome | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[Abort, GitTarget, Credentials | None]] = []

    def __call__(self, abort: Abort, target: GitTarget, credentials: Credentials | None) -> writer.Outcome:
        self.calls.append((abort, target, credentials))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


COMMITTED = writer.Outcome(writer.Kind.COMMITTED, "commit abc on main")
Reverter = Callable[[Rollout, "Writes"], tuple[GitReverter, "Port"]]


@pytest.fixture
def reverter(observed: Observed) -> Reverter:
    def make(rollout: Rollout, writes: Writes) -> tuple[GitReverter, Port]:
        port = Port(rollout, observed)
        return GitReverter(port, secrets, write=writes), port  # type: ignore[arg-type]

    return make


@pytest.fixture
def opted_in(aborted_rollout: Callable[..., Rollout]) -> Callable[..., Rollout]:
    def make(**status: Any) -> Rollout:
        rollout = aborted_rollout(**status)
        meta = rollout.metadata.model_copy(update={"annotations": ANNOTATIONS})
        return rollout.model_copy(update={"metadata": meta})

    return make


def test_an_aborted_opted_in_rollout_is_written_once_with_the_secrets_token_and_reported(
    reverter: Reverter, opted_in: Callable[..., Rollout]
) -> None:
    writes = Writes(COMMITTED)
    worker, port = reverter(opted_in(), writes)

    worker.revert("default/web")
    worker.revert("default/web")

    assert len(writes.calls) == 1
    assert writes.calls[0][2] == Credentials("git", TOKEN)
    assert port.events == [act.EmitEvent("Normal", "GitRevertCommitted", "commit abc on main")]


def test_a_rollout_that_did_not_opt_in_is_left_alone(
    reverter: Reverter, aborted_rollout: Callable[..., Rollout]
) -> None:
    writes = Writes()
    worker, port = reverter(aborted_rollout(), writes)
    worker.revert("default/web")
    assert writes.calls == [] and port.events == []


def test_a_rollout_that_is_not_aborted_writes_nothing(
    reverter: Reverter, opted_in: Callable[..., Rollout]
) -> None:
    writes = Writes()
    worker, _ = reverter(opted_in(abort=False), writes)
    worker.revert("default/web")
    assert writes.calls == []


def test_a_conflict_is_a_warning_event(reverter: Reverter, opted_in: Callable[..., Rollout]) -> None:
    worker, port = reverter(opted_in(), Writes(writer.Outcome(writer.Kind.CONFLICT, "holds '3'")))
    worker.revert("default/web")
    assert port.events == [act.EmitEvent("Warning", "GitRevertConflict", "holds '3'")]


def test_a_failed_write_is_reported_once_and_raised_for_a_retry_that_then_succeeds(
    reverter: Reverter, opted_in: Callable[..., Rollout]
) -> None:
    writes = Writes(GitError("git push failed"), GitError("git push failed"), COMMITTED)
    worker, port = reverter(opted_in(), writes)

    for _ in range(2):
        with pytest.raises(GitError):
            worker.revert("default/web")
    worker.revert("default/web")

    assert [e.reason for e in port.events] == ["GitRevertFailed", "GitRevertCommitted"]
    assert all(TOKEN not in e.message for e in port.events)


def test_bad_annotations_are_a_warning_naming_the_annotation(
    reverter: Reverter, opted_in: Callable[..., Rollout]
) -> None:
    rollout = opted_in()
    bad = rollout.metadata.model_copy(
        update={"annotations": ANNOTATIONS | {"gitops.canary.dev/mode": "merge"}}
    )
    worker, port = reverter(rollout.model_copy(update={"metadata": bad}), Writes())
    worker.revert("default/web")
    assert port.events[0].reason == "GitRevertFailed"
    assert "gitops.canary.dev/mode: 'merge' is not one of push, pull-request" in port.events[0].message
