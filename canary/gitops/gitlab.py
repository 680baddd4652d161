"""GitLab's REST API (docs.gitlab.com/api/merge_requests): a pull request is a merge request."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from canary.gitops.forge import PullRequest, call, locate
from canary.gitops.target import GitTarget


class GitLab:
    def __init__(self, target: GitTarget, token: str) -> None:
        self._repo = locate(target, "{scheme}://{host}/api/v4")
        # A project is addressed by its URL-encoded path (group/subgroup/name).
        self._url = f"{self._repo.api}/projects/{quote(self._repo.path, safe='')}/merge_requests"
        self._headers = {"PRIVATE-TOKEN": token} if token else {}

    def find_pull_request(self, head: str, base: str) -> PullRequest | None:
        found = call(
            "GitLab",
            "GET",
            self._url,
            self._headers,
            params={"source_branch": head, "target_branch": base, "state": "all"},
        )
        return next((_merge_request(item) for item in found or []), None)

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        made = call(
            "GitLab",
            "POST",
            self._url,
            self._headers,
            json={"source_branch": head, "target_branch": base, "title": title, "description": body},
        )
        return _merge_request(made)


def _merge_request(item: Any) -> PullRequest:
    return PullRequest(number=int(item["iid"]), url=str(item["web_url"]))
