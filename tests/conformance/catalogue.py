"""The conformance scenarios, each restating one of Argo Rollouts' end-to-end tests
(test/e2e/*_test.go) or a documented behaviour, with explicit checkpoints.

Names say what the scenario shows; `source` says where Argo states it. Scenarios that differ from
Argo on purpose are in docs/argo-differences.md instead.
"""

from __future__ import annotations

from catalogue_analysis import ANALYSIS_SCENARIOS
from catalogue_bluegreen import BLUEGREEN_SCENARIOS
from catalogue_canary import CANARY_SCENARIOS
from scenario import Analysis, Cli, Expect, PatchSpec, Release, Scenario, Wait


def healthy_on(image: str, pods: int = 3) -> Expect:
    return Expect(phase="Healthy", stable=image, current=image, pods={image: (pods, pods)}, timeout=90)


PAUSED = {"pause": {}}

BASIC_SCENARIOS: list[Scenario] = [
    Scenario(
        name="first-deploy-skips-steps",
        source="functional_test.go TestCanaryRollout... initial deploy; docs: 'Initial creations of any Rollout will immediately scale up the replicas to 100%'",
        strategy={"steps": [{"setWeight": 50}, PAUSED]},
        script=(healthy_on("v1"), Expect(step=2, events=("RolloutCompleted",))),
    ),
    Scenario(
        name="set-weight-then-indefinite-pause-waits-for-promote",
        source="functional_test.go TestPauseResume / docs getting-started",
        strategy={"steps": [{"setWeight": 34}, PAUSED], "maxSurge": 1, "maxUnavailable": 0},
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", step=1, paused=True, pods={"v1": (2, 2), "v2": (1, 1)}),
            Wait(5),
            Expect(phase="Paused", step=1),
            Cli(("promote", "conf")),
            healthy_on("v2"),
        ),
    ),
    Scenario(
        name="timed-pause-ends-by-itself",
        source="functional_test.go TestPauseDuration",
        strategy={"steps": [{"setWeight": 50}, {"pause": {"duration": "3s"}}]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", step=1, pods={"v1": (1, 1), "v2": (1, 1)}),
            healthy_on("v2", 2),
        ),
    ),
    Scenario(
        name="abort-returns-all-pods-to-stable-without-a-router",
        source="canary_test.go TestCanaryScaleDownOnAbortNoTrafficRouting",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "maxSurge": 1, "maxUnavailable": 0},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", pods={"v1": (1, 1), "v2": (1, 1)}),
            Cli(("abort", "conf")),
            Expect(phase="Degraded", abort=True, pods={"v1": (2, 2)}, message="RolloutAborted", events=("RolloutAborted",)),
        ),
    ),
    Scenario(
        name="retry-after-abort-runs-the-steps-again",
        source="functional_test.go TestAbortRetryPromote",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "maxSurge": 1, "maxUnavailable": 0},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused"),
            Cli(("abort", "conf")),
            Expect(phase="Degraded", pods={"v1": (2, 2)}),
            Cli(("retry", "conf")),
            Expect(phase="Paused", step=1, abort=False, pods={"v1": (1, 1), "v2": (1, 1)}),
            Cli(("promote", "conf")),
            healthy_on("v2", 2),
        ),
    ),
    Scenario(
        name="promote-full-skips-the-remaining-steps",
        source="functional_test.go TestPromoteFull",
        strategy={"steps": [{"setWeight": 25}, PAUSED, {"setWeight": 75}, PAUSED]},
        replicas=4,
        script=(
            healthy_on("v1", 4),
            Release("v2"),
            Expect(phase="Paused", step=1),
            Cli(("promote", "conf", "--full")),
            healthy_on("v2", 4),
        ),
    ),
    Scenario(
        name="promote-full-after-abort-promotes-anyway",
        source="docs: kubectl argo rollouts promote --full on a Degraded rollout",
        strategy={"steps": [{"setWeight": 50}, PAUSED]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused"),
            Cli(("abort", "conf")),
            Expect(phase="Degraded"),
            Cli(("promote", "conf", "--full")),
            healthy_on("v2", 2),
        ),
    ),
    Scenario(
        name="rollback-to-stable-skips-the-steps",
        source="functional_test.go TestRollbackAfterPromotion / TestRollbackSkipsSteps",
        strategy={"steps": [{"setWeight": 50}, PAUSED]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", step=1),
            Release("v1"),
            healthy_on("v1", 2),
            Expect(step=2),
        ),
    ),
    Scenario(
        name="abort-then-spec-back-to-stable-is-healthy-without-steps",
        source="docs: Rollback Windows / fast rollback (a template back to the stable ReplicaSet skips the steps, clearing the abort)",
        strategy={"steps": [{"setWeight": 50}, PAUSED]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", step=1),
            Cli(("abort", "conf")),
            Expect(phase="Degraded", abort=True),
            Release("v1"),
            healthy_on("v1", 2),
            Expect(step=2, abort=False, events=("SkipSteps",)),
        ),
    ),
    Scenario(
        name="undo-at-a-pause-returns-to-the-previous-revision",
        source="docs: kubectl argo rollouts undo",
        strategy={"steps": [{"setWeight": 50}, PAUSED]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused"),
            Cli(("undo", "conf")),
            healthy_on("v1", 2),
        ),
    ),
    Scenario(
        name="abort-on-a-healthy-rollout-is-a-no-op",
        source="kubectl-argo-rollouts abort on a fully promoted Rollout exits 0",
        strategy={"steps": [{"setWeight": 50}, PAUSED]},
        script=(healthy_on("v1"), Cli(("abort", "conf")), healthy_on("v1"), Expect(abort=False)),
    ),
    Scenario(
        name="a-new-revision-mid-rollout-restarts-the-steps",
        source="functional_test.go TestNewSpecDuringPause",
        strategy={"steps": [{"setWeight": 50}, PAUSED, {"setWeight": 75}, PAUSED]},
        replicas=4,
        script=(
            healthy_on("v1", 4),
            Release("v2"),
            Expect(phase="Paused", step=1),
            Release("v3"),
            Expect(phase="Paused", step=1, current="v3", pods={"v1": (2, 2), "v3": (2, 2)}),
        ),
    ),
    Scenario(
        name="a-revision-that-never-starts-trips-the-progress-deadline",
        source="canary_test.go TestCanaryProgressDeadlineExceededWithPause",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "maxSurge": 1, "maxUnavailable": 0},
        replicas=2,
        spec={"progressDeadlineSeconds": 5},
        script=(
            healthy_on("v1", 2),
            Release("v2", ready=False),
            Expect(phase="Degraded", message="ProgressDeadlineExceeded", pods={"v1": (2, 2), "v2": (1, 0)}),
        ),
    ),
    Scenario(
        name="progress-deadline-abort-returns-to-stable",
        source="docs: progressDeadlineAbort",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "maxSurge": 1, "maxUnavailable": 0},
        replicas=2,
        spec={"progressDeadlineSeconds": 5, "progressDeadlineAbort": True},
        script=(
            healthy_on("v1", 2),
            Release("v2", ready=False),
            Expect(phase="Degraded", abort=True, pods={"v1": (2, 2)}),
        ),
    ),
    Scenario(
        name="scaling-while-paused-keeps-the-weight",
        source="canary_test.go TestRolloutScalingWhenPaused",
        strategy={"steps": [{"setWeight": 25}, PAUSED], "maxSurge": 1, "maxUnavailable": 0},
        replicas=4,
        script=(
            healthy_on("v1", 4),
            Release("v2"),
            Expect(phase="Paused", pods={"v1": (3, 3), "v2": (1, 1)}),
            PatchSpec({"replicas": 8}),
            Expect(phase="Paused", pods={"v1": (6, 6), "v2": (2, 2)}),
        ),
    ),
    Scenario(
        name="spec-paused-holds-and-resume-releases",
        source="functional_test.go TestPauseResume (spec.paused)",
        strategy={"steps": [{"setWeight": 50}, {"pause": {"duration": "2s"}}]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            PatchSpec({"paused": True}),
            Release("v2"),
            Wait(5),
            Expect(phase="Paused", current="v2", step=0),
            Cli(("resume", "conf")),
            healthy_on("v2", 2),
        ),
    ),
    Scenario(
        name="an-analysis-step-that-succeeds-moves-on",
        source="analysis_test.go TestCanaryInlineAnalysis",
        strategy={"steps": [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "web-health"}]}}]},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            healthy_on("v2", 2),
            Expect(runs=("Successful",), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="an-analysis-step-that-fails-aborts",
        source="analysis_test.go TestCanaryInlineAnalysis (failure)",
        strategy={
            "steps": [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "web-health"}]}}],
            "maxSurge": 1,
            "maxUnavailable": 0,
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1", 2),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Degraded", abort=True, pods={"v1": (2, 2)}, runs=("Failed",), events=("AnalysisRunFailed", "RolloutAborted")),
        ),
    ),
    Scenario(
        name="background-analysis-failure-aborts",
        source="analysis_test.go TestCanaryBackgroundAnalysis",
        strategy={
            "steps": [{"setWeight": 50}, PAUSED],
            "analysis": {"templates": [{"templateName": "web-health"}]},
            "maxSurge": 1,
            "maxUnavailable": 0,
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1", 2),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Degraded", abort=True, pods={"v1": (2, 2)}),
        ),
    ),
    Scenario(
        name="a-job-analysis-that-succeeds-promotes",
        source="analysis_test.go TestRolloutWithJobAnalysis (job metric provider)",
        strategy={"steps": [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "job-succeeds"}]}}]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            healthy_on("v2", 2),
            Expect(runs=("Successful",)),
        ),
    ),
    Scenario(
        name="a-failing-job-aborts-and-stable-keeps-its-pods",
        source="issue 13 reproduction; analysis_test.go job metric failure",
        strategy={
            "steps": [{"setWeight": 100}, {"analysis": {"templates": [{"templateName": "job-fails"}]}}],
            "maxSurge": 2,
            "maxUnavailable": 0,
        },
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Degraded", abort=True, runs=("Failed",), events=("RolloutAborted",), timeout=90),
            Expect(pods={"v1": (3, 3)}, timeout=60),
        ),
    ),
    Scenario(
        name="a-hanging-job-holds-the-step-and-abort-still-works",
        source="docs: a running measurement never promotes; kubectl argo rollouts abort",
        strategy={"steps": [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "job-hangs"}]}}]},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Progressing", step=1, runs=("Running",), pods={"v1": (1, 1), "v2": (1, 1)}),
            Wait(15),
            Expect(phase="Progressing", step=1, stable="v1"),
            Cli(("abort", "conf")),
            Expect(phase="Degraded", abort=True, pods={"v1": (2, 2)}),
        ),
    ),
    Scenario(
        name="restart-replaces-every-pod-within-the-budget",
        source="functional_test.go TestRestartRollout",
        strategy={"steps": [], "maxSurge": 1, "maxUnavailable": 0},
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Cli(("restart", "conf")),
            Expect(events=("RolloutRestarted",), timeout=90),
            healthy_on("v1", 2),
        ),
    ),
    Scenario(
        name="routed-weights-follow-the-steps",
        source="canary_test.go TestCanaryWithTrafficRouting (weights per step)",
        strategy={"steps": [{"setWeight": 20}, PAUSED, {"setWeight": 60}, PAUSED]},
        routed=True,
        replicas=5,
        script=(
            healthy_on("v1", 5),
            Expect(weight=0),
            Release("v2"),
            Expect(phase="Paused", step=1, weight=20, pods={"v1": (5, 5), "v2": (1, 1)}),
            Cli(("promote", "conf")),
            Expect(phase="Paused", step=3, weight=60, pods={"v1": (5, 5), "v2": (3, 3)}),
            Cli(("promote", "conf")),
            healthy_on("v2", 5),
            Expect(weight=0),
        ),
    ),
    Scenario(
        name="routed-abort-sends-all-traffic-to-stable",
        source="canary_test.go TestCanaryScaleDownOnAbort",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "abortScaleDownDelaySeconds": 2},
        routed=True,
        replicas=2,
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", weight=50),
            Cli(("abort", "conf")),
            Expect(phase="Degraded", weight=0),
            Expect(pods={"v1": (2, 2)}, timeout=60),
        ),
    ),
]

SCENARIOS: list[Scenario] = [*BASIC_SCENARIOS, *CANARY_SCENARIOS, *ANALYSIS_SCENARIOS, *BLUEGREEN_SCENARIOS]
