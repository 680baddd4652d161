"""`canary demo --fast`: one promotion and one abort, on the virtual clock, in seconds; the abort is
the sequential error-rate judge's, with its evidence in the verdict line."""

import time
from pathlib import Path

import pytest
import yaml

from canary.api.analysis import AnalysisTemplate
from canary.cli import commands_demo
from canary.cli.main import main

SHIPPED = Path(__file__).resolve().parents[3] / "analysis-templates/error-rate-sequential.yaml"


def judge_queries(template: AnalysisTemplate) -> list[str]:
    judge = template.spec.metrics[0].provider.judge
    assert judge is not None and judge.totals is not None
    return [judge.queries.stable, judge.queries.canary, judge.totals.stable, judge.totals.canary]


def test_demo_fast_promotes_the_good_release_and_aborts_the_bad_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    code = main(["demo", "--fast"])
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("RolloutCompleted") == 2  # checkout:1.0's initial deploy, then checkout:1.1
    assert out.count("Completed all 7 canary steps") == 1
    assert out.count("RolloutAborted") == 1
    assert "AnalysisRunFailed" in out
    assert "checkout:1.1 promoted; checkout:1.2 aborted, traffic to stable 100%" in out
    assert elapsed < 10


def test_the_bad_release_is_caught_by_the_sequential_judge_showing_its_evidence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["demo", "--fast"])
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "AnalysisRunFailed" in out
    verdict = out[out.index("RolloutAborted") : out.index("checkout:1.1 promoted")]
    assert "Rollout aborted update to revision 3: AnalysisRun" in verdict
    assert "'error-rate-sequential' Failed" in verdict
    assert "sequential-counts: fail (e_value=" in verdict
    assert "p_value=" in verdict


def test_the_demo_judges_with_the_shipped_templates_queries_at_its_own_pace() -> None:
    demo = AnalysisTemplate.model_validate(yaml.safe_load(commands_demo._TEMPLATE))
    shipped = AnalysisTemplate.model_validate(yaml.safe_load(SHIPPED.read_text()))
    at_demo_pace = [q.replace("[1m]", "[10s]") for q in judge_queries(shipped)]
    assert judge_queries(demo) == at_demo_pace


def test_the_live_view_shows_the_judges_evidence_while_the_analysis_runs() -> None:
    from rich.console import Console

    sim = commands_demo.build_simulation(0)
    show = commands_demo._Show(sim, Console(record=True, width=200), None)
    show.run_until(lambda r: r.status.phase == "Healthy", None, 120)
    commands_demo.release(sim, "checkout:1.1", commands_demo.GOOD)
    show.run_until(
        lambda r: (
            (run := r.status.canary.current_step_analysis_run_status) is not None
            and run.status == "Running"
            and "e_value=" in show.latest_verdict(run.name)
        ),
        None,
        600,
    )
    console = Console(record=True, width=200)
    console.print(show.table())
    assert "Running  sequential-counts: pass (e_value=" in console.export_text()


def test_the_blue_green_demo_switches_to_the_good_release_and_back_from_the_bad_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--fast", "--strategy", "blue-green"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Rollout is paused (BlueGreenPause)" in out
    assert out.count("Completed blue-green update") == 1
    assert "PostPromotion Analysis Run" in out and "AnalysisRunFailed" in out
    assert "checkout:1.1 promoted; checkout:1.2 aborted, active Service back on checkout:1.1" in out
