"""Loopback servers that answer as GitHub's and GitLab's REST API references document the calls the
pull-request mode makes (no GitHub or GitLab can run here; Gitea, which can, is tested for real).

- GitHub (docs.github.com/rest/pulls/pulls): `GET /repos/{owner}/{repo}/pulls?head=owner:branch&base=&state=`
  lists pull requests, `POST /repos/{owner}/{repo}/pulls` with title/head/base/body creates one (201;
  422 Validation Failed when head is not a branch); `Authorization: Bearer <token>`, else 401.
- GitLab (docs.gitlab.com/api/merge_requests): `GET /api/v4/projects/<url-encoded path>/merge_requests
  ?source_branch=&target_branch=&state=` lists merge requests, `POST` with source_branch/target_branch/
  title/description creates one (201; 409 when one is open for the branches); `PRIVATE-TOKEN`, else 401.

The repositories themselves are on a real `git daemon`; a created pull request's head must be a
branch there.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "s3cr3t-forge-token"


class ForgeStandIn:
    """Shared plumbing: JSON in and out, the pull requests made, every request's path and headers."""

    def __init__(self, branches: Callable[[str], list[str]]) -> None:
        self.branches = branches
        self.pulls: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in._serve(self, "GET")

            def do_POST(self) -> None:
                stand_in._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(handler.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"null")
        self.requests.append((method, url.path))
        if not self.authorised(handler.headers):
            status, answer = 401, {"message": "Bad credentials"}
        else:
            status, answer = self.answer(method, url.path, query, body)
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def authorised(self, headers: Any) -> bool:
        raise NotImplementedError

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        raise NotImplementedError


class GitHubApiStandIn(ForgeStandIn):
    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {TOKEN}")

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "repos" or parts[3] != "pulls":
            return 404, {"message": "Not Found"}
        owner, repo = parts[1], parts[2]
        if method == "GET":
            head = query.get("head", "")
            found = [
                p
                for p in self.pulls
                if (not head or f"{owner}:{p['head']['ref']}" == head)
                and (not query.get("base") or p["base"]["ref"] == query["base"])
            ]
            return 200, found
        if body["head"] not in self.branches(f"{owner}/{repo}"):
            return 422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}
        number = len(self.pulls) + 1
        pull = {
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body["body"],
            "html_url": f"https://github.example/{owner}/{repo}/pull/{number}",
            "head": {"ref": body["head"]},
            "base": {"ref": body["base"]},
        }
        self.pulls.append(pull)
        return 201, pull


class GitLabApiStandIn(ForgeStandIn):
    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("PRIVATE-TOKEN") == TOKEN)

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        prefix, _, rest = path.partition("/api/v4/projects/")
        project, _, tail = rest.partition("/")
        if prefix or tail != "merge_requests" or "/" in project:  # the path must be URL-encoded
            return 404, {"message": "404 Project Not Found"}
        if method == "GET":
            found = [
                m
                for m in self.pulls
                if m["source_branch"] == query.get("source_branch", m["source_branch"])
                and m["target_branch"] == query.get("target_branch", m["target_branch"])
            ]
            return 200, found
        if any(m["source_branch"] == body["source_branch"] and m["state"] == "opened" for m in self.pulls):
            return 409, {"message": ["Another open merge request already exists for this source branch"]}
        if body["source_branch"] not in self.branches(urllib.parse.unquote(project)):
            return 422, {"message": ["Source branch does not exist"]}
        iid = len(self.pulls) + 1
        request = {
            "iid": iid,
            "state": "opened",
            "title": body["title"],
            "description": body["description"],
            "web_url": f"https://gitlab.example/{urllib.parse.unquote(project)}/-/merge_requests/{iid}",
            "source_branch": body["source_branch"],
            "target_branch": body["target_branch"],
        }
        self.pulls.append(request)
        return 201, request
