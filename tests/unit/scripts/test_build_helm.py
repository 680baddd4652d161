"""scripts/build-helm.sh, run with a stand-in `go` that "builds" in milliseconds: the cache layout and
interface (--check, --print-bin-dir, --force, the bin directory as the last line of stdout), what it
stamps into helm, that a cached build runs no go command and that a finished binary is kept when a
later step fails. No Go toolchain needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from standin_go import StandInBuild

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "scripts" / "build-helm.sh"

# Every command is logged to $FAKE_GO_LOG; `install` fails when $FAKE_GO_FAIL is set. The helm it
# writes fails `helm version` while $FAKE_HELM_BROKEN is set.
FAKE_GO = r"""#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> "$FAKE_GO_LOG"
case "$1" in
  version) echo "go version go1.26.0 linux/amd64" ;;
  mod) printf '{\n\t"Path": "helm.sh/helm/v3",\n\t"Dir": "%s",\n\t"Version": "v3.22.1"\n}\n' "$FAKE_HELM_DIR" ;;
  install)
    if [[ -n "${FAKE_GO_FAIL:-}" ]]; then echo "fake go: install failed" >&2; exit 1; fi
    mkdir -p "$GOBIN"
    printf '#!/usr/bin/env bash\n[[ -z "${FAKE_HELM_BROKEN:-}" ]] || exit 7\necho fake helm\n' > "$GOBIN/helm"
    chmod +x "$GOBIN/helm" ;;
  *) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
"""


class Build(StandInBuild):
    """build-helm.sh with the stand-in go and a fake helm module whose go.mod names its client-go."""

    def __init__(self, tmp_path: Path) -> None:
        module = tmp_path / "helm-module"
        module.mkdir()
        (module / "go.mod").write_text(
            "module helm.sh/helm/v3\n\nrequire (\n\tk8s.io/api v0.37.1\n\tk8s.io/client-go v0.37.1\n)\n"
        )
        env = {"FAKE_HELM_DIR": str(module)}
        super().__init__(tmp_path, BUILD, cache_env="CANARY_HELM_CACHE", fake_go=FAKE_GO, env=env)


@pytest.fixture
def build(tmp_path: Path) -> Build:
    return Build(tmp_path)


def test_a_cold_build_installs_helm_stamped_with_its_version_and_kubernetes_minor(build: Build) -> None:
    done = build.run()
    assert done.returncode == 0, done.stderr
    bin_dir = Path(done.stdout.splitlines()[-1])
    assert bin_dir == Path(build.run("--print-bin-dir").stdout.strip())
    assert bin_dir.is_relative_to(build.cache) and (bin_dir / "helm").is_file()
    assert (bin_dir.parent / ".complete").is_file()
    (install,) = [c for c in build.go_calls() if c.startswith("install")]
    assert install.endswith("helm.sh/helm/v3/cmd/helm@v3.22.1")
    assert "helm.sh/helm/v3/internal/version.version=v3.22.1" in install
    for pkg in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        assert f"{pkg}.k8sVersionMajor=1 -X {pkg}.k8sVersionMinor=37" in install
    assert build.run("--check").returncode == 0


def test_a_cached_build_runs_no_go_command(build: Build) -> None:
    assert build.go_calls_when_built_again() == []


def test_a_failed_build_leaves_no_cache_and_the_next_run_builds(build: Build) -> None:
    failed = build.run(FAKE_GO_FAIL="1")
    assert failed.returncode != 0
    assert build.run("--check").returncode == 1
    assert build.run().returncode == 0
    assert build.run("--check").returncode == 0


def test_a_finished_binary_is_kept_when_a_later_step_fails(build: Build) -> None:
    assert build.run(FAKE_HELM_BROKEN="1").returncode != 0  # built, then `helm version` failed
    assert build.run("--check").returncode == 1
    build.go_calls()
    done = build.run()
    assert done.returncode == 0 and "kept from an earlier run" in done.stderr
    assert [c for c in build.go_calls() if c.startswith("install")] == []


def test_force_rebuilds(build: Build) -> None:
    assert build.run().returncode == 0
    build.go_calls()
    assert build.run("--force").returncode == 0
    assert [c for c in build.go_calls() if c.startswith("install")] != []


def test_the_test_command_builds_it() -> None:
    assert "bash scripts/build-helm.sh" in (ROOT / "scripts" / "test.sh").read_text()
