"""GitHub's REST API (docs.github.com/rest/pulls): list pull requests by head, create one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from canary.gitops.forge import PullRequest, call, locate
from canary.gitops.target import GitTarget


class GitHub:
    def __init__(self, target: GitTarget, token: str) -> None:
        # github.com's API has a host of its own; GitHub Enterprise Server's is under /api/v3.
        public = urlsplit(target.repo).hostname == "github.com"
        self._repo = locate(target, "https://api.github.com" if public else "{scheme}://{host}/api/v3")
        self._headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def find_pull_request(self, head: str, base: str) -> PullRequest | None:
        owner = self._repo.path.split("/")[0]
        found = call(
            "GitHub",
            "GET",
            f"{self._repo.api}/repos/{self._repo.path}/pulls",
            self._headers,
            params={"head": f"{owner}:{head}", "base": base, "state": "all"},
        )
        return next((_pull(item) for item in found or []), None)

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        made = call(
            "GitHub",
            "POST",
            f"{self._repo.api}/repos/{self._repo.path}/pulls",
            self._headers,
            json={"title": title, "head": head, "base": base, "body": body},
        )
        return _pull(made)


def _pull(item: Any) -> PullRequest:
    return PullRequest(number=int(item["number"]), url=str(item["html_url"]))
