"""scripts/build-traefik.sh, run with a stand-in `go` that "builds" in milliseconds: the cache layout
(bin/traefik, the Gateway API and Traefik CRDs copied from their modules), the interface (--check,
--print-bin-dir, the bin directory as the last line of stdout), that Traefik is built through the
committed wrapper module, that a cached build runs no go command and that a finished binary is kept
when a later step fails. No Go toolchain needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from standin_go import StandInBuild

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "scripts" / "build-traefik.sh"

# Every command is logged (with its directory) to $FAKE_GO_LOG; `build` fails when $FAKE_GO_FAIL is
# set; `mod download -json M@V` answers $FAKE_MODULES/<the module's last path element>.
FAKE_GO = r"""#!/usr/bin/env bash
set -euo pipefail
echo "$PWD: $*" >> "$FAKE_GO_LOG"
case "$1" in
  version) echo "go version go1.26.0 linux/amd64" ;;
  mod) module="${4%@*}"; printf '{\n\t"Path": "%s",\n\t"Dir": "%s"\n}\n' "$module" "$FAKE_MODULES/${module##*/}" ;;
  build)
    if [[ -n "${FAKE_GO_FAIL:-}" ]]; then echo "fake go: build failed" >&2; exit 1; fi
    out="$(sed -n 's/.* -o \([^ ]*\) .*/\1/p' <<<"$*")"
    printf '#!/usr/bin/env bash\n[[ -z "${FAKE_TRAEFIK_BROKEN:-}" ]] || exit 7\necho fake traefik\n' > "$out"
    chmod +x "$out" ;;
  *) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def build(tmp_path: Path) -> StandInBuild:
    modules = tmp_path / "modules"
    gateway = modules / "gateway-api" / "config" / "crd" / "standard"
    gateway.mkdir(parents=True)
    (gateway / "gateway.networking.k8s.io_httproutes.yaml").write_text("kind: CustomResourceDefinition\n")
    traefik = modules / "v3" / "docs" / "content" / "reference" / "dynamic-configuration"
    traefik.mkdir(parents=True)
    (traefik / "kubernetes-crd-definition-v1.yml").write_text("kind: CustomResourceDefinition\n")
    return StandInBuild(
        tmp_path, BUILD, cache_env="CANARY_TRAEFIK_CACHE", fake_go=FAKE_GO, env={"FAKE_MODULES": str(modules)}
    )


def test_a_cold_build_caches_traefik_and_both_sets_of_crds(build: StandInBuild) -> None:
    done = build.run()
    assert done.returncode == 0, done.stderr
    bin_dir = Path(done.stdout.splitlines()[-1])
    assert bin_dir == Path(build.run("--print-bin-dir").stdout.strip())
    assert bin_dir.is_relative_to(build.cache) and (bin_dir / "traefik").is_file()
    crds = bin_dir.parent / "crds"
    assert (crds / "gateway-api" / "gateway.networking.k8s.io_httproutes.yaml").is_file()
    assert (crds / "traefik" / "kubernetes-crd-definition-v1.yml").is_file()
    assert build.run("--check").returncode == 0


def test_traefik_is_built_in_the_committed_wrapper_module_at_the_pinned_version(build: StandInBuild) -> None:
    assert build.run().returncode == 0
    (go_build,) = [c for c in build.go_calls() if ": build " in c]
    assert go_build.startswith(f"{ROOT / 'scripts' / 'go' / 'traefik'}: build -mod=readonly")
    assert go_build.endswith("github.com/traefik/traefik/v3/cmd/traefik")
    assert (
        "github.com/traefik/traefik/v3 v3.6.12"
        in (ROOT / "scripts" / "go" / "traefik" / "go.mod").read_text()
    )


def test_a_cached_build_runs_no_go_command(build: StandInBuild) -> None:
    assert build.go_calls_when_built_again() == []


def test_a_failed_build_leaves_no_cache(build: StandInBuild) -> None:
    assert build.run(FAKE_GO_FAIL="1").returncode != 0
    assert build.run("--check").returncode == 1


def test_a_finished_binary_is_kept_when_a_later_step_fails(build: StandInBuild) -> None:
    assert build.run(FAKE_TRAEFIK_BROKEN="1").returncode != 0  # built, then `traefik version` failed
    assert build.run("--check").returncode == 1
    build.go_calls()
    done = build.run()
    assert done.returncode == 0 and "kept from an earlier run" in done.stderr
    assert [c for c in build.go_calls() if ": build " in c] == []


def test_the_test_command_builds_it() -> None:
    assert "bash scripts/build-traefik.sh" in (ROOT / "scripts" / "test.sh").read_text()
