"""The install and build scripts run under `set -o pipefail`, where a pipeline into a reader that stops
early (`| head`, `| grep -q`) fails at random: the writer dies of SIGPIPE when it writes after the
reader left (exit 141), and pipefail makes that the pipeline's status. None of them has one."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = sorted([*ROOT.glob("scripts/*.sh"), ROOT / "tests/controlplane/build.sh", ROOT / ".ci/run"])

EARLY_EXIT_READER = re.compile(
    r"(?<!\|)\|(?!\|)\s*"  # a pipe, not `||`
    r"(head\b|grep\s+(-\w*[qm]|--quiet|--max-count)|sed\s[^|]*[\d;']q\b|awk\s[^|]*\bexit\b)"
)


def _pipeline_lines(script: Path) -> list[str]:
    return [
        line
        for line in script.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#") and EARLY_EXIT_READER.search(line.split(" #")[0])
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pipeline_ends_in_a_reader_that_may_exit_before_its_writer(script: Path) -> None:
    assert _pipeline_lines(script) == []


@pytest.mark.parametrize(
    "line",
    [
        '"$bin" --version | head -1 >&2',
        "kind get clusters | grep -qx demo || kind create cluster",
        "go list -m all | grep -m1 kwok",
        "cat file | sed -n '1p;1q'",
    ],
)
def test_the_check_recognises_the_pipelines_that_fail_at_random(line: str, tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text(line + "\n")
    assert _pipeline_lines(script) == [line]


def test_such_a_pipeline_really_fails_under_pipefail() -> None:
    # The writer prints far more than a pipe holds, so it is still writing when head has gone.
    result = subprocess.run(
        ["bash", "-c", "set -o pipefail; seq 1 1000000 | head -1 >/dev/null"], check=False, timeout=30
    )
    assert result.returncode == 141
