"""The controller is a long-running process: what its command imports stays resident for its life.

Each check runs in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy", "numpy", "plotly", "prompt_toolkit", "typer", "matplotlib", "pandas")
"""Libraries of the offline verbs (analyze's statistics and plots) and of the `cel` package's shell."""


def modules_loaded_by(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_the_controller_command_imports_no_analysis_libraries() -> None:
    loaded = modules_loaded_by(
        "from canary.cli.main import build_parser, requested_verb\n"
        "argv = ['--kubeconfig', 'k', 'controller', '--workers', '2']\n"
        "build_parser(requested_verb(argv)).parse_args(argv)"
    )
    assert not loaded & set(HEAVY)


def test_the_providers_a_controller_builds_load_the_judges_libraries_only_when_a_judge_measures() -> None:
    loaded = modules_loaded_by(
        "from canary.analysis.providers.registry import default_registry\n"
        "default_registry(read_secret=lambda *a: '')"
    )
    assert not loaded & {"scipy", "numpy"}


def test_conditions_evaluate_without_the_cel_package_shell() -> None:
    loaded = modules_loaded_by(
        "from canary.analysis.conditions import evaluate\nassert evaluate('result > 1', 2)"
    )
    assert not loaded & {"typer", "prompt_toolkit"}


@pytest.mark.parametrize("argv", [["controller"], ["-n", "shop", "controller"], ["get", "rollout"]])
def test_the_verb_is_found_before_the_full_parser_is_built(argv: list[str]) -> None:
    from canary.cli.main import requested_verb

    assert requested_verb(argv) == next(a for a in argv if a in ("controller", "get"))
