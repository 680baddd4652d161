"""Running a cached build script (scripts/build-*.sh) with a stand-in `go` on PATH: each test writes
the stand-in (a bash script answering the go commands the build script runs) and reads back the go
commands it was called with. No Go toolchain needed.

    build = StandInBuild(tmp_path, script, cache_env="CANARY_TRAEFIK_CACHE", fake_go=FAKE_GO,
                         env={"FAKE_MODULES": str(modules)})
    done = build.run("--check"); calls = build.go_calls()

The stand-in should log each call to $FAKE_GO_LOG.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path


class StandInBuild:
    def __init__(
        self, tmp_path: Path, script: Path, *, cache_env: str, fake_go: str, env: Mapping[str, str] = {}
    ) -> None:
        self.script = script
        self.cache = tmp_path / "cache"
        self.log = tmp_path / "go.log"
        fake_bin = tmp_path / "fake-bin"
        fake_bin.mkdir()
        (fake_bin / "go").write_text(fake_go)
        (fake_bin / "go").chmod(0o755)
        self.env = {
            **os.environ,
            "PATH": f"{fake_bin}:{os.environ['PATH']}",
            cache_env: str(self.cache),
            "FAKE_GO_LOG": str(self.log),
            **env,
        }

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.script), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            check=False,
        )

    def go_calls(self) -> list[str]:
        """The go commands run since the last call."""
        calls = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return calls

    def go_calls_when_built_again(self) -> list[str]:
        """Build, then build again: the go commands of the second run, which finds the cache and says so."""
        assert self.run().returncode == 0
        self.go_calls()
        again = self.run()
        assert again.returncode == 0 and "cached" in again.stderr, again.stderr
        return self.go_calls()
