"""`canary lint` accepts the shipped examples and templates and rejects every malformed file with the
message written on that file's first line (`# expect: ...`), without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from canary.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
INVALID = sorted((ROOT / "tests/data/invalid").glob("*.yaml"))
VALID = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "analysis-templates").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def test_the_invalid_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 30


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_lint_rejects_malformed_file_with_its_expected_message(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["lint", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert expected_message(path) in out
    assert "Traceback" not in out + err


def test_lint_accepts_every_example_and_template_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert VALID, "examples/ and analysis-templates/ must hold YAML files"
    code = main(["lint", *map(str, VALID)])
    out, _ = capsys.readouterr()
    assert code == 0, out


def test_lint_of_a_missing_file_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint", "does/not/exist.yaml"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == "error: does/not/exist.yaml: no such file or directory"


def test_lint_of_a_directory_without_yaml_fails_instead_of_passing_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["lint", str(tmp_path)])
    assert code == 1
    assert "no .yaml or .yml files" in capsys.readouterr().err
