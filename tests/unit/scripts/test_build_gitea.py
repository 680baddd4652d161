"""scripts/build-gitea.sh, run with a stand-in `go` that "builds" in milliseconds: the cache layout
(bin/gitea, static -> the module's source with its options/), the interface (--check, --print-bin-dir,
the bin directory as the last line of stdout), the wrapper module carrying Gitea's own replace lines,
that a cached build runs no go command and that a failed build leaves no cache. No Go toolchain needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from standin_go import StandInBuild

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "scripts" / "build-gitea.sh"

# Every command is logged (with its directory) to $FAKE_GO_LOG, and a wrapper's go.mod is copied to
# $FAKE_GO_MOD at `mod tidy`; `build` fails when $FAKE_GO_FAIL is set.
FAKE_GO = r"""#!/usr/bin/env bash
set -euo pipefail
echo "$PWD: $*" >> "$FAKE_GO_LOG"
case "$1" in
  version) echo "go version go1.26.0 linux/amd64" ;;
  mod)
    case "$2" in
      download) printf '{\n\t"Path": "code.gitea.io/gitea",\n\t"Dir": "%s"\n}\n' "$FAKE_GITEA" ;;
      tidy) cp go.mod "$FAKE_GO_MOD" ;;
    esac ;;
  build)
    if [[ -n "${FAKE_GO_FAIL:-}" ]]; then echo "fake go: build failed" >&2; exit 1; fi
    out="$(sed -n 's/.* -o \([^ ]*\) .*/\1/p' <<<"$*")"
    printf '#!/usr/bin/env bash\necho "gitea version 1.26.0"\n' > "$out"
    chmod +x "$out" ;;
  *) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
"""

GITEA_GO_MOD = """module code.gitea.io/gitea

go 1.26.2

require github.com/nektos/act v0.2.63

replace github.com/nektos/act => gitea.com/gitea/act v0.261.10 // gitea maintains its own package

replace go.yaml.in/yaml/v4 => go.yaml.in/yaml/v4 v4.0.0-rc.3 // rc.4 changes block scalars
"""


class Build(StandInBuild):
    """build-gitea.sh with the stand-in go, a fake Gitea module source and the wrapper's go.mod kept."""

    def __init__(self, tmp_path: Path) -> None:
        self.wrapper_mod = tmp_path / "wrapper.mod"
        self.module = tmp_path / "gitea@v1.26.0"
        (self.module / "options" / "locale").mkdir(parents=True)
        (self.module / "go.mod").write_text(GITEA_GO_MOD)
        env = {"FAKE_GO_MOD": str(self.wrapper_mod), "FAKE_GITEA": str(self.module)}
        super().__init__(tmp_path, BUILD, cache_env="CANARY_GITEA_CACHE", fake_go=FAKE_GO, env=env)


@pytest.fixture
def build(tmp_path: Path) -> Build:
    return Build(tmp_path)


def test_a_cold_build_caches_gitea_and_points_static_at_the_module_source(build: Build) -> None:
    done = build.run()
    assert done.returncode == 0, done.stderr
    bin_dir = Path(done.stdout.splitlines()[-1])
    assert bin_dir == Path(build.run("--print-bin-dir").stdout.strip())
    assert (bin_dir / "gitea").is_file()
    assert (bin_dir.parent / "static").resolve() == build.module
    assert build.run("--check").returncode == 0


def test_the_wrapper_module_requires_gitea_with_its_own_replace_lines_and_builds_with_sqlite(
    build: Build,
) -> None:
    assert build.run().returncode == 0
    wrapper = build.wrapper_mod.read_text()
    assert "require code.gitea.io/gitea v1.26.0" in wrapper
    assert "replace github.com/nektos/act => gitea.com/gitea/act v0.261.10" in wrapper
    assert "replace go.yaml.in/yaml/v4 => go.yaml.in/yaml/v4 v4.0.0-rc.3" in wrapper
    (built,) = [call for call in build.go_calls() if ": build " in call]
    assert "-tags sqlite sqlite_unlock_notify" in built and built.endswith("code.gitea.io/gitea")


def test_a_cached_build_runs_no_go_command(build: Build) -> None:
    assert build.go_calls_when_built_again() == []


def test_a_failed_build_leaves_no_cache(build: Build) -> None:
    failed = build.run(FAKE_GO_FAIL="1")
    assert failed.returncode != 0
    assert build.run("--check").returncode == 1
    assert not (Path(build.run("--print-bin-dir").stdout.strip()) / "gitea").exists()
