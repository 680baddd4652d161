"""scripts/install-go.sh gives scripts/test.sh a Go at least as new as the wrapper modules' `go` line,
whatever the machine has: a new enough Go is used as is, none gets Debian's golang-go, an older one
fetches the pinned toolchain from the module proxy. Run with stand-ins for go and apt-get."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts/install-go.sh"
PINNED = max(
    (
        re.search(r"^go (\S+)$", p.read_text(), re.M).group(1)
        for p in ROOT.glob("tests/controlplane/go/*/go.mod")
    ),  # type: ignore[union-attr]
    key=lambda v: tuple(map(int, v.split("."))),
)

# A `go` of version $FAKE_GO_VERSION. With GOTOOLCHAIN set (and a version that knows it, >= 1.21) it
# answers as the toolchain it names would; `mod download` of golang.org/toolchain unpacks a toolchain
# whose files, like the real module zip's, have no execute bit.
FAKE_GO = r"""#!/usr/bin/env bash
set -euo pipefail
echo "go $*" >> "$FAKE_LOG"
version="$FAKE_GO_VERSION"
minor="${version#1.}"; minor="${minor%%.*}"
if [[ -n "${GOTOOLCHAIN:-}" ]] && ((minor >= 21)); then
  goroot="$FAKE_CACHE/golang.org/toolchain@v0.0.1-$GOTOOLCHAIN.linux-amd64"
  mkdir -p "$goroot/bin"
  printf '#!/bin/sh\necho "go version %s linux/amd64"\n' "$GOTOOLCHAIN" > "$goroot/bin/go"
  chmod +x "$goroot/bin/go"
  case "$1 ${2:-}" in
    "version ") echo "go version $GOTOOLCHAIN linux/amd64" ;;
    "env GOROOT") echo "$goroot" ;;
  esac
  exit 0
fi
case "$1" in
  version) echo "go version go$version linux/amd64" ;;
  env) case "$2" in GOOS) echo linux ;; GOARCH) echo amd64 ;; esac ;;
  mod)
    if [[ "$2" == download ]]; then
      module="${*: -1}"; tag="${module#*-go}"; tag="go${tag%%.linux-amd64}"
      dir="$FAKE_CACHE/${module/@/@}"
      mkdir -p "$dir/bin" "$dir/pkg/tool/linux_amd64"
      printf '#!/bin/sh\necho "go version %s linux/amd64"\n' "$tag" > "$dir/bin/go"
      cp "$dir/bin/go" "$dir/pkg/tool/linux_amd64/compile"
      chmod 444 "$dir/bin/go" "$dir/pkg/tool/linux_amd64/compile"
      printf '{\n\t"Path": "golang.org/toolchain",\n\t"Dir": "%s",\n\t"Version": "%s"\n}\n' "$dir" "${module#*@}"
    fi ;;
esac
"""

FAKE_APT_GET = r"""#!/usr/bin/env bash
echo "apt-get $*" >> "$FAKE_LOG"
if [[ "$1" == install ]]; then cp "$FAKE_GO_SOURCE" "$FAKE_BIN/go"; chmod +x "$FAKE_BIN/go"; fi
"""


class Machine:
    def __init__(self, tmp_path: Path, go: str | None) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.log = tmp_path / "log"
        self.log.write_text("")
        for tool in ("bash", "sh", "id", "sed", "dirname", "mktemp", "rm", "chmod", "cp", "mkdir"):
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        source = tmp_path / "go-source"
        source.write_text(FAKE_GO)
        self._install("apt-get", FAKE_APT_GET)
        if go is not None:
            self._install("go", FAKE_GO)
        self.env = {
            "PATH": str(self.bin),
            "FAKE_LOG": str(self.log),
            "FAKE_BIN": str(self.bin),
            "FAKE_GO_SOURCE": str(source),
            "FAKE_GO_VERSION": go or "1.19.8",  # what Debian 12's golang-go installs
            "FAKE_CACHE": str(tmp_path / "modcache"),
        }

    def _install(self, name: str, text: str) -> None:
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    def run(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "bash"), str(SCRIPT)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def calls(self, program: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith(program + " ")]


def _go_in(directory: str) -> str:
    return subprocess.run(
        [f"{directory}/go", "version"], capture_output=True, text=True, check=True
    ).stdout.split()[2]


def test_a_new_enough_go_on_path_is_used_as_it_is(tmp_path: Path) -> None:
    machine = Machine(tmp_path, go="1.99.1")
    result = machine.run()
    assert (result.returncode, result.stdout) == (0, f"{machine.bin}\n"), result.stderr
    assert machine.calls("apt-get") == []


def test_without_go_debians_golang_go_is_installed_and_fetches_the_pinned_toolchain(tmp_path: Path) -> None:
    machine = Machine(tmp_path, go=None)
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert "apt-get install -y -qq --no-install-recommends golang-go" in machine.calls("apt-get")
    assert f"go mod download -json golang.org/toolchain@v0.0.1-go{PINNED}.linux-amd64" in machine.calls("go")
    assert _go_in(result.stdout.strip()) == f"go{PINNED}"


def test_a_go_that_knows_gotoolchain_fetches_the_pinned_toolchain_through_it(tmp_path: Path) -> None:
    machine = Machine(tmp_path, go="1.24.4")  # Debian 13's golang-go
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert machine.calls("apt-get") == []
    assert _go_in(result.stdout.strip()) == f"go{PINNED}"
    assert result.stdout.strip().endswith(f"golang.org/toolchain@v0.0.1-go{PINNED}.linux-amd64/bin")


def test_stdout_is_only_the_directory_of_go(tmp_path: Path) -> None:
    result = Machine(tmp_path, go=None).run()
    assert len(result.stdout.splitlines()) == 1
    assert "install-go:" in result.stderr


def test_the_readme_says_what_the_test_command_needs_right_below_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block_end = readme.index("```", readme.index("```sh") + 1)
    below = " ".join(readme[block_end + 3 :].strip().split("\n\n")[0].split())
    pinned_minor = ".".join(PINNED.split(".")[:2])
    assert below.startswith("`./scripts/test.sh` needs")
    assert "Debian" in below and "root" in below and f"Go {pinned_minor}" in below
