"""scripts/build-prometheus.sh, run with a stand-in `go` that "builds" in milliseconds: the cache
layout (bin/prometheus), the interface (--check, --print-bin-dir, the bin directory as the last line
of stdout), that Prometheus is built through the committed wrapper module with Kubernetes the only
service discovery compiled in, and that a cached build runs no go command. No Go toolchain needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from standin_go import StandInBuild
from test_build_traefik import FAKE_GO  # the same stand-in: logs calls, `build -o` writes a script

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "scripts" / "build-prometheus.sh"
WRAPPER = ROOT / "scripts" / "go" / "prometheus"


@pytest.fixture
def build(tmp_path: Path) -> StandInBuild:
    return StandInBuild(tmp_path, BUILD, cache_env="CANARY_PROMETHEUS_CACHE", fake_go=FAKE_GO)


def test_a_cold_build_caches_prometheus(build: StandInBuild) -> None:
    done = build.run()
    assert done.returncode == 0, done.stderr
    bin_dir = Path(done.stdout.splitlines()[-1])
    assert bin_dir == Path(build.run("--print-bin-dir").stdout.strip())
    assert bin_dir.is_relative_to(build.cache) and (bin_dir / "prometheus").is_file()
    assert build.run("--check").returncode == 0


def test_prometheus_is_built_in_the_wrapper_module_with_only_kubernetes_discovery(
    build: StandInBuild,
) -> None:
    assert build.run().returncode == 0
    (go_build,) = [c for c in build.go_calls() if ": build " in c]
    assert go_build.startswith(f"{WRAPPER}: build -mod=readonly")
    assert "-tags remove_all_sd,enable_kubernetes_sd" in go_build
    assert go_build.endswith("github.com/prometheus/prometheus/cmd/prometheus")
    assert "github.com/prometheus/prometheus v0.316.0" in (WRAPPER / "go.mod").read_text()


def test_a_cached_build_runs_no_go_command(build: StandInBuild) -> None:
    assert build.go_calls_when_built_again() == []


def test_a_failed_build_leaves_no_cache(build: StandInBuild) -> None:
    assert build.run(FAKE_GO_FAIL="1").returncode != 0
    assert build.run("--check").returncode == 1


def test_the_test_command_builds_it() -> None:
    assert "bash scripts/build-prometheus.sh" in (ROOT / "scripts" / "test.sh").read_text()
