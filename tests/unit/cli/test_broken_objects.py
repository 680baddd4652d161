"""Verbs against the Kubernetes API when an object there does not validate (the CRD schema admits
more than the models do): the verb still does its work, or says in one line what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_apiserver import FakeApiServer
from objects import ANALYSIS_STEPS, ROLLOUTS, analysis_template, install

from canary.cli.main import main
from tests.unit.cli.test_errors import kubeconfig

CANARY = {"canaryService": "web-canary", "stableService": "web-stable", "steps": ANALYSIS_STEPS}


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        yield server


def canary(apiserver: FakeApiServer, tmp_path: Path, *argv: str) -> list[str]:
    return [*argv, "--kubeconfig", str(kubeconfig(tmp_path, apiserver.url)), "-n", "ns", "--cluster", "kube"]


def paused_at_fifty_percent(apiserver: FakeApiServer) -> None:
    stored = install(apiserver, strategy={"canary": CANARY})
    status = {"stableRS": "a", "currentPodHash": "b", "currentStepIndex": 1, "phase": "Paused"}
    apiserver.put({**stored, "status": status})


def test_abort_goes_through_while_a_template_the_steps_use_does_not_compile(
    apiserver: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paused_at_fifty_percent(apiserver)
    apiserver.put(analysis_template(success_condition="result == = true"))
    code = main(canary(apiserver, tmp_path, "abort", "web"))
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith("rollout 'web' aborted")
    assert apiserver.read(*ROLLOUTS, "web")["status"]["abort"] is True  # type: ignore[index]


def test_a_rollout_that_does_not_validate_is_one_line_naming_the_field_not_a_traceback(
    apiserver: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install(apiserver, strategy={"canary": {**CANARY, "steps": [{"setWeight": 50, "pause": {}}]}})
    code = main(canary(apiserver, tmp_path, "abort", "web"))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: the cluster holds an invalid Rollout: spec.strategy.canary.steps[0]")
    assert err.endswith(
        "fix it and apply it again (`canary lint FILE` shows every problem before it reaches the cluster)\n"
    )
