"""A real Gitea forge on loopback: built from its Go module by scripts/build-gitea.sh and cached in
~/.cache/canary/gitea (scripts/test.sh builds it; so does the first test needing it, when Go is installed
and CANARY_GITEA_BUILD is not 0). Without it the tests are skipped, or fail in CI.

Started as Gitea's docs describe an unattended install: an app.ini with INSTALL_LOCK, SQLite, HTTP on
127.0.0.1 only, then `gitea migrate`, `gitea admin user create`, `gitea web`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from gitops.gitservers import free_port, git
from helmtool import cached_binary

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "scripts" / "build-gitea.sh"
ADMIN, PASSWORD = "canary-admin", "a-long-test-password-1"


def gitea_binary() -> Path:
    """The cached gitea, built now if missing and possible; skips (fails in CI) otherwise."""
    return cached_binary(BUILD, "gitea", "CANARY_GITEA_BUILD")


class Gitea:
    def __init__(self, binary: Path, work: Path) -> None:
        self.binary, self.work = binary, work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = work / "app.ini"
        self.log = work / "gitea.log"
        self._process: subprocess.Popen[bytes] | None = None
        # Gitea refuses to run as root unless told it may (the test machine's user may be root).
        self.env = {
            **os.environ,
            "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT": "true",
            "GITEA_WORK_DIR": str(work),
        }

    def _gitea(self, *args: str) -> None:
        subprocess.run(
            [str(self.binary), "--config", str(self.config), "--work-path", str(self.work), *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )

    def __enter__(self) -> Gitea:
        self.work.mkdir(parents=True, exist_ok=True)
        static = self.binary.parent.parent / "static"
        self.config.write_text(
            f"""APP_NAME = canary tests
RUN_MODE = prod
WORK_PATH = {self.work}

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {self.port}
ROOT_URL = {self.url}/
OFFLINE_MODE = true
DISABLE_SSH = true
STATIC_ROOT_PATH = {static}
APP_DATA_PATH = {self.work}/data

[database]
DB_TYPE = sqlite3
PATH = {self.work}/gitea.db

[repository]
ROOT = {self.work}/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true

[service]
DISABLE_REGISTRATION = true

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = {self.work}/log
"""
        )
        self._gitea("migrate")
        self._gitea(
            "admin",
            "user",
            "create",
            "--admin",
            "--username",
            ADMIN,
            "--password",
            PASSWORD,
            "--email",
            "admin@example.com",
            "--must-change-password=false",
        )
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "--config", str(self.config), "--work-path", str(self.work), "web"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/v1/version", timeout=2).ok:
                    return self
            except requests.ConnectionError:
                pass
            if self._process.poll() is not None:
                break
            time.sleep(0.3)
        self.__exit__()
        raise AssertionError(f"gitea did not start:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(20)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.url}/api/v1{path}", auth=(ADMIN, PASSWORD), timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def token(self, name: str) -> str:
        made = self.api(
            "POST",
            f"/users/{ADMIN}/tokens",
            json={"name": name, "scopes": ["write:repository", "write:user"]},
        )
        return str(made["sha1"])

    def create_repo(self, name: str, files: dict[str, str], scratch: Path) -> str:
        """A repository of the admin user whose main branch holds `files`; returns its clone URL.

        Made with a first commit (auto_init): Gitea refuses pull requests on a repository it still
        records as empty."""
        self.api("POST", "/user/repos", json={"name": name, "default_branch": "main", "auto_init": True})
        url = f"{self.url}/{ADMIN}/{name}.git"
        authed = url.replace("http://", f"http://{ADMIN}:{PASSWORD}@")
        git("clone", "--quiet", authed, str(scratch))
        for path, text in files.items():
            (scratch / path).parent.mkdir(parents=True, exist_ok=True)
            (scratch / path).write_text(text)
        git("add", "--all", cwd=scratch)
        git("commit", "--quiet", "-m", "the first release", cwd=scratch)
        git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=scratch)
        return url
