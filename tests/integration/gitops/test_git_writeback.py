"""The write-back through a real `git daemon` on loopback and the git CLI: a push, a retry, a conflict;
and the pull-request mode against loopback servers answering as GitHub's and GitLab's REST API
references document (named so in each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gitops.forge_standins import TOKEN, ForgeStandIn, GitHubApiStandIn, GitLabApiStandIn
from gitops.gitservers import GitDaemon
from gitops.revert_cases import ABORT, annotated_target

from canary.gitops import writer
from canary.gitops.forge import ForgeError, PullRequest
from canary.gitops.git import Credentials
from canary.gitops.target import GitTarget

KUSTOMIZATION = """\
# the checkout service, synced by Argo CD
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - rollout.yaml
images:
  - name: ghcr.io/example/checkout
    newTag: 1.2.0   # released by CI
"""
VALUES = """\
image:
  repository: ghcr.io/example/checkout
  tag: "1.2.0"
replicas: 4
"""


def target(url: str, **extra: str) -> GitTarget:
    return annotated_target(
        url,
        **({"file": "apps/checkout/kustomization.yaml", "field": "images[ghcr.io/example/checkout]"} | extra),
    )


@pytest.fixture
def repo(git_daemon: GitDaemon) -> str:
    return git_daemon.create(
        "team/deploy",
        {"apps/checkout/kustomization.yaml": KUSTOMIZATION, "apps/checkout/values.yaml": VALUES},
    )


def test_an_abort_pushes_one_commit_with_the_stable_tag_naming_the_rollout_revision_and_reason(
    git_daemon: GitDaemon, repo: str
) -> None:
    outcome = writer.write_revert(ABORT, target(repo), None)

    assert outcome.kind is writer.Kind.COMMITTED
    log = git_daemon.log("team/deploy")
    assert len(log) == 2
    assert "shop/checkout" in log[0] and "7c9f8d6b5" in log[0] and "success-rate assessed Failed" in log[0]
    assert log[0].endswith("Canary-Revert: shop/checkout 7c9f8d6b5")
    assert git_daemon.show("team/deploy", "apps/checkout/kustomization.yaml") == KUSTOMIZATION.replace(
        "newTag: 1.2.0", "newTag: 1.1.0"
    )


def test_a_retried_revert_finds_its_commit_and_writes_nothing(git_daemon: GitDaemon, repo: str) -> None:
    writer.write_revert(ABORT, target(repo), None)

    again = writer.write_revert(ABORT, target(repo), None)

    assert again.kind is writer.Kind.UP_TO_DATE
    assert len(git_daemon.log("team/deploy")) == 2


def test_a_revert_someone_already_made_by_hand_writes_nothing(git_daemon: GitDaemon, repo: str) -> None:
    git_daemon.commit(
        "team/deploy", {"apps/checkout/kustomization.yaml": KUSTOMIZATION.replace("1.2.0", "1.1.0")}, "back"
    )

    outcome = writer.write_revert(ABORT, target(repo), None)

    assert outcome.kind is writer.Kind.UP_TO_DATE
    assert len(git_daemon.log("team/deploy")) == 2


def test_a_newer_commit_to_the_same_field_is_a_conflict_and_git_is_left_alone(
    git_daemon: GitDaemon, repo: str
) -> None:
    newer = KUSTOMIZATION.replace("1.2.0", "1.3.0")
    git_daemon.commit("team/deploy", {"apps/checkout/kustomization.yaml": newer}, "release 1.3.0")

    outcome = writer.write_revert(ABORT, target(repo), None)

    assert outcome.kind is writer.Kind.CONFLICT
    assert "1.3.0" in outcome.detail
    assert len(git_daemon.log("team/deploy")) == 2
    assert git_daemon.show("team/deploy", "apps/checkout/kustomization.yaml") == newer


def test_a_helm_values_tag_is_reverted_and_the_rest_of_the_file_is_untouched(
    git_daemon: GitDaemon, repo: str
) -> None:
    values = target(repo, file="apps/checkout/values.yaml", field="image.tag", value="tag")

    assert writer.write_revert(ABORT, values, None).kind is writer.Kind.COMMITTED

    assert git_daemon.show("team/deploy", "apps/checkout/values.yaml") == VALUES.replace('"1.2.0"', '"1.1.0"')


class ForgetfulForge:
    """Fails to open the pull request, as a controller killed between the push and the API call."""

    def find_pull_request(self, head: str, base: str) -> PullRequest | None:
        return None

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        raise ForgeError("the controller stopped here")


@pytest.fixture(params=["github", "gitlab"])
def forge_standin(
    request: pytest.FixtureRequest, git_daemon: GitDaemon
) -> Iterator[tuple[str, ForgeStandIn]]:
    kind = {"github": GitHubApiStandIn, "gitlab": GitLabApiStandIn}[request.param]
    stand_in = kind(git_daemon.branches)
    yield request.param, stand_in
    stand_in.close()


def pr_target(repo: str, forge: str, api: str) -> GitTarget:
    return target(
        repo, mode="pull-request", forge=forge, **{"api-url": api + ("/api/v4" if forge == "gitlab" else "")}
    )


def test_pull_request_mode_against_documented_api_standins_opens_one_pull_request_from_a_revert_branch(
    git_daemon: GitDaemon, repo: str, forge_standin: tuple[str, ForgeStandIn]
) -> None:
    kind, stand_in = forge_standin
    where = pr_target(repo, kind, stand_in.url)
    credentials = Credentials("bot", TOKEN)

    first = writer.write_revert(ABORT, where, credentials)
    second = writer.write_revert(ABORT, where, credentials)

    assert first.kind is writer.Kind.PULL_REQUEST and second.kind is writer.Kind.UP_TO_DATE
    assert len(stand_in.pulls) == 1
    assert git_daemon.log("team/deploy") == git_daemon.log("team/deploy", "main")  # main untouched
    assert len(git_daemon.log("team/deploy")) == 1
    assert "newTag: 1.1.0" in git_daemon.show("team/deploy", "apps/checkout/kustomization.yaml", ABORT.branch)


def test_a_revert_branch_pushed_before_a_crash_gets_its_pull_request_on_the_next_try(
    git_daemon: GitDaemon, repo: str
) -> None:
    stand_in = GitHubApiStandIn(git_daemon.branches)
    where = pr_target(repo, "github", stand_in.url)
    try:
        with pytest.raises(ForgeError):
            writer.write_revert(ABORT, where, None, ForgetfulForge())

        outcome = writer.write_revert(ABORT, where, Credentials("bot", TOKEN))
    finally:
        stand_in.close()

    assert outcome.kind is writer.Kind.PULL_REQUEST
    assert len(stand_in.pulls) == 1
    assert len(git_daemon.log("team/deploy", ABORT.branch)) == 2


def test_a_forge_that_refuses_the_token_is_an_error_naming_the_forge_and_status_without_the_token(
    git_daemon: GitDaemon, repo: str
) -> None:
    stand_in = GitLabApiStandIn(git_daemon.branches)
    try:
        with pytest.raises(ForgeError) as raised:
            writer.write_revert(
                ABORT, pr_target(repo, "gitlab", stand_in.url), Credentials("bot", "wrong-" + TOKEN)
            )
    finally:
        stand_in.close()

    assert "GitLab" in str(raised.value) and "401" in str(raised.value)
    assert TOKEN not in str(raised.value)
