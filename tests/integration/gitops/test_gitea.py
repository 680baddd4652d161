"""The write-back against a real Gitea (built from its Go module, scripts/build-gitea.sh): the git CLI
authenticating over HTTP with a token from GIT_ASKPASS, and the pull-request mode through Gitea's API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops.gitea_server import ADMIN, Gitea, gitea_binary
from gitops.gitservers import git
from gitops.revert_cases import ABORT, annotated_target

from canary.gitops import writer
from canary.gitops.git import Credentials, GitError
from canary.gitops.target import GitTarget

pytestmark = pytest.mark.gitea

VALUES = 'image:\n  repository: ghcr.io/example/checkout\n  tag: "1.2.0"\nreplicas: 4\n'


@pytest.fixture(scope="module")
def gitea(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gitea]:
    with Gitea(gitea_binary(), tmp_path_factory.mktemp("gitea")) as server:
        yield server


def target(url: str, **extra: str) -> GitTarget:
    return annotated_target(url, **({"file": "values.yaml", "field": "image.tag", "value": "tag"} | extra))


def test_pull_request_mode_on_gitea_opens_exactly_one_pull_request_and_a_retry_writes_nothing(
    gitea: Gitea, tmp_path: Path
) -> None:
    url = gitea.create_repo("pr-mode", {"values.yaml": VALUES}, tmp_path / "seed")
    credentials = Credentials(ADMIN, gitea.token("pr-mode"))
    where = target(url, mode="pull-request", forge="gitea")

    first = writer.write_revert(ABORT, where, credentials)
    second = writer.write_revert(ABORT, where, credentials)

    assert first.kind is writer.Kind.PULL_REQUEST and second.kind is writer.Kind.UP_TO_DATE
    assert credentials.token not in first.detail + second.detail
    pulls = gitea.api("GET", f"/repos/{ADMIN}/pr-mode/pulls", params={"state": "all"})
    assert [(p["head"]["ref"], p["base"]["ref"], p["title"]) for p in pulls] == [
        (ABORT.branch, "main", "Roll back shop/checkout to ghcr.io/example/checkout:1.1.0")
    ]
    assert "Canary-Revert: shop/checkout 7c9f8d6b5" in pulls[0]["body"]
    changed = gitea.api("GET", f"/repos/{ADMIN}/pr-mode/pulls/{pulls[0]['number']}/files")
    assert [f["filename"] for f in changed] == ["values.yaml"]


def test_push_mode_over_http_authenticates_with_the_token_and_commits_once(
    gitea: Gitea, tmp_path: Path
) -> None:
    url = gitea.create_repo("push-mode", {"values.yaml": VALUES}, tmp_path / "seed")
    credentials = Credentials(ADMIN, gitea.token("push-mode"))

    assert writer.write_revert(ABORT, target(url), credentials).kind is writer.Kind.COMMITTED
    assert writer.write_revert(ABORT, target(url), credentials).kind is writer.Kind.UP_TO_DATE

    git("clone", "--quiet", url, str(tmp_path / "check"))
    log = git("log", "--format=%s", cwd=tmp_path / "check").split("\n")
    assert log[:2] == ["Roll back shop/checkout to ghcr.io/example/checkout:1.1.0", "the first release"]
    assert (tmp_path / "check" / "values.yaml").read_text() == VALUES.replace("1.2.0", "1.1.0")


def test_a_refused_push_is_an_error_without_the_token(gitea: Gitea, tmp_path: Path) -> None:
    url = gitea.create_repo("refused", {"values.yaml": VALUES}, tmp_path / "seed")
    wrong = Credentials(ADMIN, "0123456789abcdef-not-a-token")

    with pytest.raises(GitError) as raised:  # a public repository clones, the push is refused
        writer.write_revert(ABORT, target(url), wrong)

    assert "push" in str(raised.value) and wrong.token not in str(raised.value)
