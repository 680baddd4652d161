"""run_name(): the name a new AnalysisRun of a Rollout is created under."""

from canary.engine.actions import PodHash
from canary.engine.analysis_runs import run_name
from canary.engine.observed import Observed
from canary.sim import scenarios


def test_a_run_name_taken_by_a_run_of_another_owner_is_not_reused() -> None:
    orphaned = Observed(run_names=frozenset({"web-abc-1-1"}))
    assert run_name(scenarios.rollout(), orphaned, PodHash("abc"), "step", 1) == "web-abc-1-2"
