"""`canary completion bash|zsh`: the generated script completes verbs, sub-commands and flag values in bash."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from canary.cli.main import main

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def complete(script: str, line: str) -> list[str]:
    """What bash offers at the end of `line` (a trailing space: completing a new word)."""
    words = line.split(" ")
    program = f"""{script}
COMP_WORDS=({" ".join(repr(w) if w else "''" for w in words)})
COMP_CWORD={len(words) - 1}
_canary
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return sorted(done.stdout.split())


@pytest.fixture(scope="module")
def script() -> str:
    capture = subprocess.run(
        [
            "python3",
            "-c",
            "import sys; from canary.cli.main import main; sys.exit(main(['completion', 'bash']))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return capture.stdout


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("canary pro", ["promote"]),
        ("canary get ", ["ro", "rollout", "rollouts"]),
        ("canary promote web --f", ["--full"]),
        ("canary get rollout web -o ", ["json", "yaml"]),
        ("canary --cluster ", ["kube", "memory"]),
        ("canary set ", ["image"]),
        ("canary analyze samples --judge sequential-c", ["sequential-counts"]),
    ],
)
def test_bash_completes(script: str, line: str, expected: list[str]) -> None:
    assert complete(script, line) == expected


def test_zsh_script_loads_bash_compatibility_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("autoload -U +X bashcompinit && bashcompinit\n")
