"""Gitea's REST API (its /api/swagger): list a repository's pull requests, create one."""

from __future__ import annotations

from typing import Any

from canary.gitops.forge import PullRequest, call, locate
from canary.gitops.target import GitTarget

PAGE = "50"


class Gitea:
    def __init__(self, target: GitTarget, token: str) -> None:
        self._repo = locate(target, "{scheme}://{host}/api/v1")
        self._url = f"{self._repo.api}/repos/{self._repo.path}/pulls"
        self._headers = {"Authorization": f"token {token}"} if token else {}

    def find_pull_request(self, head: str, base: str) -> PullRequest | None:
        # The list has no head filter: the revert's pull request is among the newest.
        found = call(
            "Gitea", "GET", self._url, self._headers, params={"state": "all", "limit": PAGE, "sort": "newest"}
        )
        return next(
            (
                _pull(item)
                for item in found or []
                if item["head"]["ref"] == head and item["base"]["ref"] == base
            ),
            None,
        )

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        made = call(
            "Gitea",
            "POST",
            self._url,
            self._headers,
            json={"head": head, "base": base, "title": title, "body": body},
        )
        return _pull(made)


def _pull(item: Any) -> PullRequest:
    return PullRequest(number=int(item["number"]), url=str(item["html_url"]))
