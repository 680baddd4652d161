"""Write an abort's revert to Git: plan it on a fresh clone, then push it or open a pull request.

Idempotent by what the remote holds, so a retried reconcile or a restarted controller finds its own
earlier work: the branch has a commit with the abort's trailer, or the pull request from the
revert's branch exists (or only its branch does, pushed before a crash: the pull request is opened
now). A push the remote rejects because the branch moved is planned again from a new clone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from canary.gitops import git, plan
from canary.gitops.forge import Forge, PullRequest
from canary.gitops.git import Clone, Credentials
from canary.gitops.gitea import Gitea
from canary.gitops.github import GitHub
from canary.gitops.gitlab import GitLab
from canary.gitops.target import ForgeKind, GitTarget, Mode

ATTEMPTS = 3


class Kind(StrEnum):
    COMMITTED = "GitRevertCommitted"
    PULL_REQUEST = "GitRevertPullRequestOpened"
    UP_TO_DATE = "GitRevertUpToDate"
    CONFLICT = "GitRevertConflict"


@dataclass(frozen=True)
class Outcome:
    """What happened, as an Event's reason (`kind`) and message (`detail`)."""

    kind: Kind
    detail: str


def forge_for(target: GitTarget, credentials: Credentials | None) -> Forge:
    token = credentials.token if credentials else ""
    if target.forge is ForgeKind.GITHUB:
        return GitHub(target, token)
    if target.forge is ForgeKind.GITLAB:
        return GitLab(target, token)
    return Gitea(target, token)


def write_revert(
    abort: plan.Abort, target: GitTarget, credentials: Credentials | None, forge: Forge | None = None
) -> Outcome:
    """Raises GitError / ForgeError / PlanError when it could not tell or write (a retry may help)."""
    if target.mode is Mode.PULL_REQUEST and forge is None:
        forge = forge_for(target, credentials)
    for attempt in range(ATTEMPTS):
        try:
            with git.cloned(target.repo, target.branch, credentials) as clone:
                return _write(clone, abort, target, forge)
        except git.PushRejectedError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _write(clone: Clone, abort: plan.Abort, target: GitTarget, forge: Forge | None) -> Outcome:
    if clone.has_trailer(abort.trailer):
        return Outcome(Kind.UP_TO_DATE, f"{target.branch} already has the revert of {abort.aborted_hash}")
    if forge is not None:
        existing = forge.find_pull_request(abort.branch, target.branch)
        if existing is not None:
            return Outcome(
                Kind.UP_TO_DATE, f"pull request {existing.url} already reverts {abort.aborted_hash}"
            )
        if clone.remote_branch_exists(abort.branch) and clone.has_trailer(
            abort.trailer, clone.fetch_branch(abort.branch)
        ):
            return _opened(_open(forge, abort, target))
    text = clone.read(target.file)
    if text is None:
        raise plan.PlanError(f"{target.file}: not on branch {target.branch}; fix gitops.canary.dev/file")
    decided = plan.plan_revert(abort, target, text)
    if isinstance(decided, plan.AlreadyReverted):
        return Outcome(Kind.UP_TO_DATE, decided.detail)
    if isinstance(decided, plan.Conflict):
        return Outcome(Kind.CONFLICT, decided.detail)
    commit = clone.commit(target.file, decided.text, decided.message)
    if forge is None:
        clone.push(target.branch)
        return Outcome(Kind.COMMITTED, f"commit {commit[:12]} on {target.branch}: {decided.title}")
    clone.push(abort.branch)
    return _opened(_open(forge, abort, target))


def _open(forge: Forge, abort: plan.Abort, target: GitTarget) -> PullRequest:
    return forge.open_pull_request(
        abort.branch, target.branch, plan.title(abort), plan.commit_message(abort, target)
    )


def _opened(pull: PullRequest) -> Outcome:
    return Outcome(Kind.PULL_REQUEST, f"pull request #{pull.number} {pull.url}")
