"""tests/controlplane/build.sh, run with a stand-in `go` that "builds" in milliseconds: what a failed
build keeps, what the next run rebuilds, and the script's interface (--check, --print-bin-dir, --force,
the bin directory as the last line of stdout). No Go toolchain needed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "tests/controlplane/build.sh"
BINARIES = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
STAGES = [
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
]

# Answers the four go commands build.sh runs. Every build or install is logged as "<verb> <package>"
# to $FAKE_GO_LOG; a package containing $FAKE_GO_FAIL fails to build. The "binaries" it writes print
# $FAKE_VERSION_LINES lines on --version (a long banner is what made `--version | head -1` die).
FAKE_GO = r"""#!/usr/bin/env bash
set -euo pipefail
binary() {  # binary <path> <package>
  printf '#!/usr/bin/env bash\nseq 1 "${FAKE_VERSION_LINES:-1}" | sed "s|^|%s version |"\n' "$2" > "$1"
  chmod +x "$1"
}
case "$1" in
  version) echo "go version go1.26.0 linux/amd64" ;;
  build)
    out="" pkg="${*: -1}"
    while (($#)); do [[ "$1" == -o ]] && out="$2"; shift; done
    echo "build $pkg" >> "$FAKE_GO_LOG"
    if [[ -n "${FAKE_GO_FAIL:-}" && "$pkg" == *"$FAKE_GO_FAIL"* ]]; then echo "fake go: $pkg failed" >&2; exit 1; fi
    binary "$out" "$pkg" ;;
  install)
    pkg="${*: -1}"; echo "install $pkg" >> "$FAKE_GO_LOG"
    if [[ -n "${FAKE_GO_FAIL:-}" && "$pkg" == *"$FAKE_GO_FAIL"* ]]; then echo "fake go: $pkg failed" >&2; exit 1; fi
    mkdir -p "$GOBIN"; binary "$GOBIN/kwok" "$pkg" ;;
  mod) printf '{\n\t"Path": "sigs.k8s.io/kwok",\n\t"Dir": "%s",\n\t"Version": "v0.8.0"\n}\n' "$FAKE_KWOK_DIR" ;;
  *) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
"""


class Build:
    def __init__(self, tmp_path: Path) -> None:
        self.cache = tmp_path / "cache"
        self.log = tmp_path / "go.log"
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir()
        (bin_dir / "go").write_text(FAKE_GO)
        (bin_dir / "go").chmod(0o755)
        kwok = tmp_path / "kwok-module"
        for stage in STAGES:
            (kwok / "kustomize/stage" / stage).parent.mkdir(parents=True, exist_ok=True)
            (kwok / "kustomize/stage" / stage).write_text(f"kind: Stage # {stage}\n")
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "CANARY_CONTROLPLANE_CACHE": str(self.cache),
            "FAKE_GO_LOG": str(self.log),
            "FAKE_KWOK_DIR": str(kwok),
        }

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        return subprocess.run(
            ["bash", str(BUILD), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def built(self) -> list[str]:
        """The packages `go` built or installed in the last run."""
        return [line.split()[1] for line in self.log.read_text().splitlines()]

    def kept(self) -> set[str]:
        """Finished binaries anywhere in the cache (complete or partial)."""
        return {p.name for p in self.cache.glob("*/bin/*")} | {p.name for p in self.cache.glob(".*/bin/*")}


@pytest.fixture
def build(tmp_path: Path) -> Build:
    return Build(tmp_path)


def test_a_cold_build_prints_the_bin_directory_last_and_is_then_complete(build: Build) -> None:
    assert build.run("--check").returncode == 1
    result = build.run()
    assert result.returncode == 0, result.stderr
    bin_dir = Path(result.stdout.splitlines()[-1])
    assert {p.name for p in bin_dir.iterdir()} == BINARIES
    assert (bin_dir.parent / "kwok/stages.yaml").read_text().count("kind: Stage") == len(STAGES)
    assert build.run("--print-bin-dir").stdout.strip() == str(bin_dir)
    assert build.run("--check").returncode == 0


def test_a_failed_build_keeps_the_binaries_it_finished(build: Build) -> None:
    result = build.run(FAKE_GO_FAIL="cmd/kube-scheduler")
    assert result.returncode != 0
    assert build.run("--check").returncode == 1
    assert build.kept() == {"etcd", "kube-apiserver", "kube-controller-manager"}


def test_the_run_after_a_failure_builds_only_what_is_missing(build: Build) -> None:
    build.run(FAKE_GO_FAIL="cmd/kube-scheduler")
    result = build.run()
    assert result.returncode == 0, result.stderr
    assert build.built() == ["k8s.io/kubernetes/cmd/kube-scheduler", "sigs.k8s.io/kwok/cmd/kwok@v0.8.0"]
    assert build.run("--check").returncode == 0
    assert {p.name for p in Path(result.stdout.splitlines()[-1]).iterdir()} == BINARIES


def test_a_failure_in_the_last_step_keeps_every_binary(build: Build) -> None:
    assert build.run(FAKE_GO_FAIL="kwok").returncode != 0
    assert build.kept() == BINARIES - {"kwok"}
    assert build.run().returncode == 0
    assert build.built() == ["sigs.k8s.io/kwok/cmd/kwok@v0.8.0"]


def test_a_long_version_banner_does_not_fail_the_build(build: Build) -> None:
    # `etcd --version | head -1` under pipefail: head exits after one line, etcd gets SIGPIPE (141).
    result = build.run(FAKE_VERSION_LINES="200000")
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_complete_cache_builds_nothing(build: Build) -> None:
    first = build.run()
    again = build.run()
    assert (again.returncode, build.built()) == (0, [])
    assert again.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]


def test_force_rebuilds_everything(build: Build) -> None:
    build.run()
    result = build.run("--force")
    assert result.returncode == 0, result.stderr
    assert len(build.built()) == len(BINARIES)
    assert build.run("--check").returncode == 0


def test_no_temporary_file_is_left_after_a_failure(build: Build) -> None:
    build.run(FAKE_GO_FAIL="cmd/kube-apiserver")
    leftovers = [p for p in build.cache.rglob("*") if ".tmp." in p.name or p.name.startswith(".gobin")]
    assert leftovers == []


def test_what_a_killed_build_left_half_written_is_neither_kept_nor_left_behind(build: Build) -> None:
    build.run(FAKE_GO_FAIL="etcd")
    (partial,) = build.cache.glob(".partial-*")
    (partial / "bin/.etcd.tmp.99999").write_text("half an etcd")
    result = build.run()
    assert result.returncode == 0, result.stderr
    assert build.built()[0] == "go.etcd.io/etcd/server/v3"
    assert [p for p in build.cache.rglob("*") if ".tmp." in p.name] == []
