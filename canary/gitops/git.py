"""The git CLI in a throwaway clone: read a file, find a commit by its trailer, commit, push.

A token reaches git only through GIT_ASKPASS and the environment of the git process, never its
arguments (which `ps` shows) nor a config file; any message that leaves this module has it masked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

AUTHOR_NAME = "canary controller"
AUTHOR_EMAIL = "canary@canary.dev"

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s' "$CANARY_GIT_USERNAME" ;;
  *) printf '%s' "$CANARY_GIT_TOKEN" ;;
esac
"""


@dataclass(frozen=True)
class Credentials:
    username: str
    token: str = field(repr=False)

    def mask(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text


class GitError(RuntimeError):
    """A git command failed; the message has no credential in it."""


class PushRejectedError(GitError):
    """The remote branch moved since the clone; the caller plans again from a fresh clone."""


class Clone:
    """One clone of one branch, in a directory of its own."""

    def __init__(self, directory: Path, branch: str, credentials: Credentials | None) -> None:
        self.directory = directory
        self.branch = branch
        self._credentials = credentials
        self._env = _environment(directory.parent, credentials)

    def read(self, path: str) -> str | None:
        file = self.directory / path
        return file.read_text(encoding="utf-8") if file.is_file() else None

    def has_trailer(self, trailer: str, ref: str = "HEAD") -> bool:
        found = self._git("log", "--format=%H", "--fixed-strings", f"--grep={trailer}", ref)
        return bool(found.strip())

    def remote_branch_exists(self, branch: str) -> bool:
        return bool(self._git("ls-remote", "--heads", "origin", f"refs/heads/{branch}").strip())

    def fetch_branch(self, branch: str) -> str:
        """Fetch `branch` from origin; returns the ref to read it by."""
        ref = f"refs/remotes/origin/{branch}"
        self._git("fetch", "--quiet", "origin", f"+refs/heads/{branch}:{ref}")
        return ref

    def commit(self, path: str, text: str, message: str) -> str:
        (self.directory / path).write_text(text, encoding="utf-8")
        self._git("add", "--", path)
        self._git("commit", "--quiet", "--file=-", stdin=message)
        return self._git("rev-parse", "HEAD").strip()

    def push(self, branch: str) -> None:
        """Push HEAD to `branch` without force: a branch that moved meanwhile rejects it."""
        try:
            self._git("push", "--quiet", "--porcelain", "origin", f"HEAD:refs/heads/{branch}")
        except GitError as error:
            if "rejected" in str(error) or "fetch first" in str(error) or "non-fast-forward" in str(error):
                raise PushRejectedError(f"{branch} moved since it was read; plan again ({error})") from error
            raise

    def _git(self, *args: str, stdin: str | None = None) -> str:
        return run_git(self._env, self._credentials, *args, cwd=self.directory, stdin=stdin)


@contextmanager
def cloned(url: str, branch: str, credentials: Credentials | None) -> Iterator[Clone]:
    """A fresh clone of `branch`, removed afterwards (nothing is kept between reverts, so a restart
    finds no half-made state on disk: what counts is what reached the remote)."""
    workspace = Path(tempfile.mkdtemp(prefix="canary-gitops-"))
    try:
        directory = workspace / "repo"
        env = _environment(workspace, credentials)
        run_git(
            env, credentials, "clone", "--quiet", "--single-branch", "--branch", branch, url, str(directory)
        )
        yield Clone(directory, branch, credentials)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def run_git(
    env: dict[str, str],
    credentials: Credentials | None,
    *args: str,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> str:
    command = ["git", "-c", "credential.helper=", "-c", "core.hooksPath=/dev/null", *args]
    done = subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()
        message = f"git {args[0]} failed ({done.returncode}): {said}"
        raise GitError(credentials.mask(message) if credentials else message)
    return done.stdout


def _environment(workspace: Path, credentials: Credentials | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "GIT_SSL_CAINFO")
    }
    env |= {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
    }
    if credentials is not None:
        askpass = workspace / "askpass.sh"
        askpass.write_text(_ASKPASS, encoding="utf-8")
        askpass.chmod(0o700)
        env |= {
            "GIT_ASKPASS": str(askpass),
            "CANARY_GIT_USERNAME": credentials.username,
            "CANARY_GIT_TOKEN": credentials.token,
        }
    return env
