"""Every benchmark takes `--out DIR` (a results directory, default benchmarks/results) and rejects a
value that cannot be one while parsing its arguments, before a run of minutes starts."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from out_dir import RESULTS, results_dir

# Each benchmark with the function its run starts with: if that is called, the check came too late.
BENCHMARKS = {
    "detection": "run",
    "detection_mann_whitney": "run",
    "location_stress": "run",
    "judge_speed": "time_size",
    "controller_scale": "run",
    "controlplane_scale": "run",
    "vs_argo": "argo_build",
}


def _benchmark(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = importlib.import_module(name)

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"{name} started its run before rejecting --out")

    monkeypatch.setattr(module, BENCHMARKS[name], started)
    return module


def _rejection(module: ModuleType, out: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--out", out])
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("name", BENCHMARKS)
def test_an_existing_file_as_out_is_rejected_before_the_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / f"{name}.json"
    existing.write_text("{}")
    error = _rejection(_benchmark(name, monkeypatch), str(existing), capsys)
    assert "argument --out:" in error
    assert "takes a directory" in error and f"--out {tmp_path}" in error


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_json_file_name_as_out_is_rejected_before_the_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = _rejection(_benchmark(name, monkeypatch), str(tmp_path / "new" / f"{name}.json"), capsys)
    assert "argument --out:" in error and "looks like a file name" in error


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_directory_under_a_file_is_rejected_before_the_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    error = _rejection(_benchmark(name, monkeypatch), str(tmp_path / "file" / "results"), capsys)
    assert "argument --out:" in error and "is a file" in error


def test_a_directory_that_does_not_exist_yet_is_accepted(tmp_path: Path) -> None:
    assert results_dir(str(tmp_path / "a" / "b"), ["x.json"]) == tmp_path / "a" / "b"


def test_the_default_is_the_results_directory_of_the_repository() -> None:
    assert Path(__file__).resolve().parents[3] / "benchmarks" / "results" == RESULTS
    assert (RESULTS / "detection.json").is_file()
