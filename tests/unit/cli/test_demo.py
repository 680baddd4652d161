"""`canary demo --fast`: one promotion and one abort, on the virtual clock, in seconds."""

import time

import pytest

from canary.cli.main import main


def test_demo_fast_promotes_the_good_release_and_aborts_the_bad_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    code = main(["demo", "--fast"])
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("RolloutCompleted") == 1
    assert out.count("RolloutAborted") == 1
    assert "AnalysisRunFailed" in out
    assert "checkout:1.1 promoted; checkout:1.2 aborted, traffic to stable 100%" in out
    assert elapsed < 10
