"""The one interface the pull-request mode needs from a forge, and the forge a target names.

One module per forge (`github`, `gitlab`, `gitea`), each speaking its documented REST API with
requests; an error names the forge, the call and the status, never the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from canary.gitops.target import GitTarget

TIMEOUT_SECONDS = 30.0


class ForgeError(RuntimeError):
    """A forge API call failed; the message names the forge, the call and the status."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str


class Forge(Protocol):
    def find_pull_request(self, head: str, base: str) -> PullRequest | None:
        """A pull request (open or merged) from branch `head` into `base`, if one was opened."""
        ...

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest: ...


@dataclass(frozen=True)
class RepoLocation:
    """Where a repository's API lives: `api` (the base URL) and `path` (owner/name, or a GitLab
    group path)."""

    api: str
    path: str


def locate(target: GitTarget, default_api: str) -> RepoLocation:
    """The repository's path from its clone URL; `default_api` is a format with {scheme} and {host}."""
    parts = urlsplit(target.repo)
    path = parts.path.strip("/").removesuffix(".git")
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    api = target.api_url or default_api.format(scheme=parts.scheme or "https", host=host)
    return RepoLocation(api=api.rstrip("/"), path=path)


def call(
    forge: str,
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    json: object | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    """One API call; the parsed JSON body, or ForgeError."""
    what = f"{forge} {method} {urlsplit(url).path}"
    try:
        response = requests.request(
            method, url, headers=headers, json=json, params=params, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        raise ForgeError(f"{what}: {type(error).__name__}") from None
    if response.status_code >= 400:
        raise ForgeError(f"{what}: HTTP {response.status_code} {_api_message(response)}")
    return response.json() if response.content else None


def _api_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:200]
    return ""
