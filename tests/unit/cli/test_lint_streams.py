"""`canary lint` splits its output as ruff and yamllint do: the report (each problem, then the summary)
on stdout, the tool's own errors on stderr."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canary.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
INVALID = sorted((ROOT / "tests/data/invalid").glob("*.yaml"))[0]
VALID = ROOT / "analysis-templates"


def test_problems_and_the_summary_go_to_stdout_and_nothing_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["lint", str(INVALID)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[0].startswith(str(INVALID))
    assert re.fullmatch(r"\d+ valid, [1-9]\d* invalid", out.splitlines()[-1])
    assert err == ""


def test_a_clean_run_prints_only_the_summary_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint", str(VALID)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.endswith(" valid, 0 invalid\n") and len(out.splitlines()) == 1
    assert err == ""


def test_an_error_of_the_tool_itself_goes_to_stderr_with_nothing_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["lint", "does/not/exist.yaml"])
    out, err = capsys.readouterr()
    assert code == 1
    assert (out, err.startswith("error: does/not/exist.yaml")) == ("", True)
