"""Real Git servers on loopback for the write-back tests: `git daemon` with receive-pack enabled
(anonymous pushes, git:// URLs), driven and inspected with the git CLI.

Also used by tests/controlplane/test_gitops_revert.py (tests/integration is on pythonpath).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

AUTHOR = {
    "GIT_AUTHOR_NAME": "a person",
    "GIT_AUTHOR_EMAIL": "person@example.com",
    "GIT_COMMITTER_NAME": "a person",
    "GIT_COMMITTER_EMAIL": "person@example.com",
}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **AUTHOR}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GitDaemon:
    """Bare repositories under `root`, served read-write at git://127.0.0.1:<port>/<name>.git."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GitDaemon:
        self.root.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                f"--base-path={self.root}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.__exit__()
        raise AssertionError("git daemon did not listen")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def create(self, name: str, files: dict[str, str], branch: str = "main") -> str:
        """A new repository whose `branch` holds `files` in one commit; returns its URL."""
        git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.root / f"{name}.git"))
        self.commit(name, files, "the first release", branch)
        return self.url(name)

    def commit(self, name: str, files: dict[str, str], message: str, branch: str = "main") -> None:
        """Someone else's commit, pushed to `branch`."""
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            git("clone", "--quiet", str(self.root / f"{name}.git"), str(work))
            git("checkout", "--quiet", "-B", branch, cwd=work)
            for path, text in files.items():
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_text(text)
            git("add", "--all", cwd=work)
            git("commit", "--quiet", "-m", message, cwd=work)
            git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)

    def log(self, name: str, branch: str = "main") -> list[str]:
        """The full messages of `branch`'s commits, newest first."""
        out = git("log", "--format=%B%x00", branch, cwd=self.root / f"{name}.git")
        return [message.strip() for message in out.split("\0") if message.strip()]

    def show(self, name: str, path: str, ref: str = "main") -> str:
        return git("show", f"{ref}:{path}", cwd=self.root / f"{name}.git")

    def branches(self, name: str) -> list[str]:
        out = git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=self.root / f"{name}.git")
        return out.split()
