"""Conformance scenarios (see catalogue.py): analysis.

Templates (created on both clusters, all reading the test endpoint the scenario's `Analysis` flips):
`web-health` (metric `healthy`: 2 measurements 1 s apart, unhealthy = Failed), `web-health-watch`
(metric `watched`: measures every second until the run is terminated, the way Argo's background
analyses are usually written, and tolerates one failed measurement: failureLimit 1) and
`web-health-unsure` (metric `unsure`: like web-health, but an unhealthy answer is neither its
success nor its failure condition, so Inconclusive).

A run cut short (a promote, an abort, a new revision, an undo) is terminated and, as in Argo Rollouts,
ends Successful ("run terminated"): termination is not a verdict. A measurement still in flight then
(a Job) is Inconclusive, and so is its run, as Argo's since its Job provider fix.

`web-health-until` (metric `until`: failureLimit -1, consecutiveSuccessLimit 2) and
`web-health-count-0` (metric `unbounded`: count 0) exercise the Argo 1.8 fields.
"""

from __future__ import annotations

from typing import Any

from scenario import Analysis, Cli, Expect, Release, Scenario, Wait

PAUSED = {"pause": {}}


def analysis(*templates: str, **fields: Any) -> dict[str, Any]:
    return {"templates": [{"templateName": name} for name in templates], **fields}


def step(*templates: str, **fields: Any) -> dict[str, Any]:
    return {"analysis": analysis(*templates, **fields)}


def healthy_on(image: str, pods: int = 2) -> Expect:
    return Expect(phase="Healthy", stable=image, current=image, pods={image: (pods, pods)}, timeout=90)


NO_SURGE = {"maxSurge": 1, "maxUnavailable": 0}

ANALYSIS_SCENARIOS: list[Scenario] = [
    Scenario(
        name="background-analysis-runs-until-promotion",
        source="analysis_test.go TestCanaryBackgroundAnalysis",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "analysis": analysis("web-health-watch"), **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Expect(runs=()),
            Release("v2"),
            Expect(phase="Paused", step=1, paused=True, runs=("Running",), pods={"v1": (1, 1), "v2": (1, 1)}),
            Wait(4),
            Expect(phase="Paused", step=1, abort=False, runs=("Running",)),
            Cli(("promote", "conf")),
            healthy_on("v2"),
            Expect(runs=("Successful",), events=("AnalysisRunRunning",)),
        ),
    ),
    Scenario(
        name="background-analysis-waits-for-its-starting-step",
        source="analysis_test.go TestCanaryInconclusiveBackgroundAnalysis (startingStep); functional_test.go TestCanaryPromoteFull",
        strategy={
            "steps": [{"setWeight": 34}, PAUSED, {"setWeight": 67}, PAUSED],
            "analysis": analysis("web-health-watch", startingStep=2),
        },
        replicas=3,
        analysis=True,
        script=(
            healthy_on("v1", 3),
            Release("v2"),
            Expect(phase="Paused", step=1, runs=()),
            Wait(3),
            Expect(phase="Paused", step=1, runs=()),
            Cli(("promote", "conf")),
            Expect(phase="Paused", step=3, runs=("Running",)),
            Cli(("promote", "conf")),
            healthy_on("v2", 3),
            Expect(runs=("Successful",)),
        ),
    ),
    Scenario(
        name="background-analysis-failing-after-a-good-start-aborts",
        source="analysis_test.go TestCanaryBackgroundAnalysis (a background run fails mid-rollout); docs: failureLimit",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "analysis": analysis("web-health-watch"), **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", step=1, runs=("Running",)),
            Wait(3),
            Expect(phase="Paused", runs=("Running",)),
            Analysis(healthy=False),
            Expect(
                phase="Degraded",
                abort=True,
                pods={"v1": (2, 2)},
                runs=("Failed",),
                message="Rollout aborted update to revision 2",
                events=("AnalysisRunFailed", "RolloutAborted"),
            ),
            Expect(message="failed (2) > failureLimit (1)"),
            Cli(("status", "conf", "--watch=false"), exit_code=1),
        ),
    ),
    Scenario(
        name="analysis-steps-around-a-pause-each-start-a-run",
        source="analysis_test.go TestCanaryInlineAnalysis",
        strategy={
            "steps": [{"setWeight": 50}, step("web-health"), PAUSED, step("web-health"), step("web-health")]
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(
                phase="Paused", step=2, paused=True, runs=("Successful",), events=("AnalysisRunSuccessful",)
            ),
            Wait(3),
            Expect(phase="Paused", step=2, runs=("Successful",)),
            Cli(("promote", "conf")),
            healthy_on("v2"),
            Expect(runs=("Successful", "Successful", "Successful"), step=5),
        ),
    ),
    Scenario(
        name="an-inconclusive-analysis-step-pauses-until-promoted",
        source="analysis_test.go TestCanaryInlineAnalysisInvalidImageJob (Inconclusive pauses); docs: promote an inconclusive analysis",
        strategy={"steps": [{"setWeight": 50}, step("web-health-unsure"), {"setWeight": 100}], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(
                phase="Paused",
                step=1,
                abort=False,
                paused=True,
                runs=("Inconclusive",),
                message="InconclusiveAnalysisRun",
                events=("AnalysisRunInconclusive",),
                pods={"v1": (1, 1), "v2": (1, 1)},
            ),
            Wait(4),
            Expect(phase="Paused", step=1, runs=("Inconclusive",)),
            Cli(("promote", "conf")),
            healthy_on("v2"),
            Expect(runs=("Inconclusive",)),
        ),
    ),
    Scenario(
        name="a-timed-pause-runs-out-under-an-inconclusive-background-analysis",
        source="analysis_test.go TestCanaryInconclusiveBackgroundAnalysis (pause: {duration: 30s})",
        strategy={
            "steps": [{"setWeight": 50}, {"pause": {"duration": "5s"}}, {"setWeight": 100}, PAUSED],
            "analysis": analysis("web-health-unsure", startingStep=1),
            **NO_SURGE,
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Paused", step=1, runs=("Inconclusive",)),
            Wait(6),
            Expect(phase="Paused", step=1, message="InconclusiveAnalysisRun", paused=True),
            Analysis(healthy=True),
            Cli(("promote", "conf")),
            Expect(phase="Paused", step=3, runs=("Inconclusive", "Successful")),
        ),
    ),
    Scenario(
        name="an-inconclusive-background-analysis-pauses-and-promote-starts-a-new-run",
        source="analysis_test.go TestCanaryInconclusiveBackgroundAnalysis",
        strategy={
            "steps": [{"setWeight": 50}, PAUSED, {"setWeight": 100}, PAUSED],
            "analysis": analysis("web-health-unsure", startingStep=1),
            **NO_SURGE,
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(
                phase="Paused",
                step=1,
                paused=True,
                runs=("Inconclusive",),
                events=("AnalysisRunInconclusive",),
            ),
            Analysis(healthy=True),
            Wait(3),
            Expect(phase="Paused", step=1, abort=False, runs=("Inconclusive",)),
            Cli(("promote", "conf")),
            Expect(phase="Paused", step=3, runs=("Inconclusive", "Successful"), pods={"v2": (2, 2)}),
            Cli(("promote", "conf")),
            healthy_on("v2"),
        ),
    ),
    Scenario(
        name="retry-after-an-analysis-abort-starts-a-new-run",
        source="functional_test.go TestRolloutAbortRetryPromote; docs: kubectl argo rollouts retry",
        strategy={"steps": [{"setWeight": 50}, step("web-health")], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Degraded", abort=True, runs=("Failed",), pods={"v1": (2, 2)}),
            Analysis(healthy=True),
            Wait(3),
            Expect(phase="Degraded", abort=True, runs=("Failed",)),
            Cli(("retry", "conf")),
            healthy_on("v2"),
            Expect(abort=False, runs=("Failed", "Successful"), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="promote-after-an-analysis-abort-is-refused-and-promote-full-needs-no-new-run",
        source="functional_test.go TestCanaryPromoteFull (full promotion after abort, no new analysis)",
        strategy={"steps": [{"setWeight": 50}, step("web-health"), PAUSED], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Degraded", abort=True, runs=("Failed",), events=("RolloutAborted",)),
            Cli(("promote", "conf"), exit_code=1),
            Wait(2),
            Expect(phase="Degraded", abort=True, pods={"v1": (2, 2)}),
            Cli(("promote", "conf", "--full")),
            healthy_on("v2"),
            Expect(abort=False, runs=("Failed",)),
        ),
    ),
    Scenario(
        name="promote-full-skips-a-running-analysis",
        source="functional_test.go TestCanaryPromoteFull (in the middle of analysis)",
        strategy={
            "steps": [{"setWeight": 50}, step("web-health-watch"), PAUSED, step("web-health")],
            "analysis": analysis("web-health-watch", startingStep=3),
            **NO_SURGE,
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Progressing", step=1, runs=("Running",), pods={"v1": (1, 1), "v2": (1, 1)}),
            Wait(3),
            Expect(phase="Progressing", step=1, runs=("Running",)),
            Cli(("promote", "conf", "--full")),
            healthy_on("v2"),
            Expect(runs=("Successful",)),
        ),
    ),
    Scenario(
        name="promote-skips-a-running-analysis-step",
        source="functional_test.go TestCanaryPromoteFull (promote at an analysis step goes on to the next step)",
        strategy={"steps": [{"setWeight": 50}, step("web-health-watch"), PAUSED], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Progressing", step=1, runs=("Running",)),
            Cli(("promote", "conf")),
            Expect(
                phase="Paused", step=2, paused=True, runs=("Successful",), pods={"v1": (1, 1), "v2": (1, 1)}
            ),
            Cli(("promote", "conf")),
            healthy_on("v2"),
            Expect(runs=("Successful",)),
        ),
    ),
    Scenario(
        name="abort-terminates-a-running-analysis",
        source="docs: kubectl argo rollouts abort (the running AnalysisRun is terminated)",
        strategy={"steps": [{"setWeight": 50}, step("web-health-watch"), PAUSED], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Progressing", step=1, runs=("Running",)),
            Cli(("abort", "conf")),
            Expect(
                phase="Degraded",
                abort=True,
                pods={"v1": (2, 2)},
                runs=("Successful",),
                message="RolloutAborted",
                events=("RolloutAborted",),
            ),
            Cli(("status", "conf", "--watch=false"), exit_code=1),
        ),
    ),
    Scenario(
        name="a-new-revision-mid-analysis-terminates-the-old-run",
        source="functional_test.go TestNewSpecDuringPause, at an analysis step",
        strategy={"steps": [{"setWeight": 50}, step("web-health-watch"), PAUSED], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Progressing", step=1, current="v2", runs=("Running",)),
            Release("v3"),
            Expect(
                phase="Progressing",
                step=1,
                current="v3",
                stable="v1",
                runs=("Successful", "Running"),
                pods={"v1": (1, 1), "v3": (1, 1)},
            ),
            Cli(("promote", "conf", "--full")),
            healthy_on("v3"),
            Expect(runs=("Successful", "Successful")),
        ),
    ),
    Scenario(
        name="undo-during-analysis-terminates-the-run",
        source="docs: kubectl argo rollouts undo (back to the stable revision, steps skipped)",
        strategy={"steps": [{"setWeight": 50}, step("web-health-watch"), PAUSED], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Progressing", step=1, runs=("Running",)),
            Cli(("undo", "conf")),
            healthy_on("v1"),
            Expect(step=3, abort=False, runs=("Successful",)),
        ),
    ),
    Scenario(
        name="two-templates-in-one-step-make-one-run",
        source="analysis_test.go TestCanaryInlineMultipleAnalysis / TestMultipleAnalysis (args given once reach both templates)",
        strategy={"steps": [{"setWeight": 50}, step("web-health", "web-health-unsure")]},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            healthy_on("v2"),
            Expect(runs=("Successful",), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="one-failing-template-of-two-fails-the-step-even-if-the-other-is-inconclusive",
        source="analysis_test.go TestCanaryFailInlineMultipleAnalysis; docs: the worst metric phase wins",
        strategy={"steps": [{"setWeight": 50}, step("web-health", "web-health-unsure")], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(
                phase="Degraded",
                abort=True,
                pods={"v1": (2, 2)},
                runs=("Failed",),
                message="metric 'healthy' Failed",
                events=("AnalysisRunFailed", "RolloutAborted"),
            ),
        ),
    ),
    Scenario(
        name="a-failing-dry-run-metric-does-not-abort",
        source="experiment_test.go TestExperimentWithDryRunMetrics; docs: analysis dryRun",
        strategy={"steps": [{"setWeight": 50}, step("web-health", dryRun=[{"metricName": "healthy"}])]},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            healthy_on("v2"),
            Expect(abort=False, runs=("Successful",), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="a-dry-run-failure-leaves-the-verdict-to-the-other-metrics",
        source="experiment_test.go TestExperimentWithDryRunMetrics; docs: analysis dryRun (only the named metrics are dry-run)",
        strategy={
            "steps": [
                {"setWeight": 50},
                step("web-health", "web-health-unsure", dryRun=[{"metricName": "healthy"}]),
                {"setWeight": 100},
            ],
            **NO_SURGE,
        },
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(
                phase="Paused",
                step=1,
                abort=False,
                paused=True,
                runs=("Inconclusive",),
                message="InconclusiveAnalysisRun",
                events=("AnalysisRunInconclusive",),
            ),
            Cli(("promote", "conf")),
            healthy_on("v2"),
        ),
    ),
    Scenario(
        name="successful-run-history-limit-deletes-older-runs",
        source="docs: spec.analysis.successfulRunHistoryLimit",
        strategy={"steps": [{"setWeight": 50}, step("web-health"), step("web-health"), step("web-health")]},
        replicas=2,
        analysis=True,
        spec={"analysis": {"successfulRunHistoryLimit": 1}},
        script=(
            healthy_on("v1"),
            Release("v2"),
            healthy_on("v2"),
            Expect(runs=("Successful",), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="unsuccessful-run-history-limit-deletes-the-failed-run-after-a-retry",
        source="docs: spec.analysis.unsuccessfulRunHistoryLimit",
        strategy={"steps": [{"setWeight": 50}, step("web-health")], **NO_SURGE},
        replicas=2,
        analysis=True,
        spec={"analysis": {"unsuccessfulRunHistoryLimit": 0}},
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Degraded", abort=True, runs=("Failed",)),
            Analysis(healthy=True),
            Cli(("retry", "conf")),
            healthy_on("v2"),
            Expect(runs=("Successful",), events=("AnalysisRunFailed", "AnalysisRunSuccessful")),
        ),
    ),
    Scenario(
        name="consecutive-success-limit-holds-the-step-until-successes-in-a-row",
        source="docs: analysis ConsecutiveSuccessLimit and FailureLimit (only consecutiveSuccessLimit applicable)",
        strategy={"steps": [{"setWeight": 50}, step("web-health-until")], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),
            Release("v2"),
            Expect(phase="Progressing", step=1, runs=("Running",), pods={"v1": (1, 1), "v2": (1, 1)}),
            Wait(4),
            Expect(phase="Progressing", step=1, abort=False, runs=("Running",)),
            Analysis(healthy=True),
            healthy_on("v2"),
            Expect(abort=False, runs=("Successful",), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="count-0-in-an-analysis-step-is-not-measured",
        source="docs: analysis count (count 0 in the steps: the analysis won't be executed)",
        strategy={"steps": [{"setWeight": 50}, step("web-health-count-0"), {"setWeight": 100}], **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Analysis(healthy=False),  # a measurement would fail the step
            Release("v2"),
            healthy_on("v2"),
            Expect(abort=False, runs=("Successful",), events=("AnalysisRunSuccessful",)),
        ),
    ),
    Scenario(
        name="count-0-in-a-background-analysis-measures-until-the-rollout-ends",
        source="docs: analysis count (count 0 in a background analysis runs until the end of the rollout)",
        strategy={"steps": [{"setWeight": 50}, PAUSED], "analysis": analysis("web-health-count-0"), **NO_SURGE},
        replicas=2,
        analysis=True,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", step=1, runs=("Running",)),
            Wait(4),
            Expect(phase="Paused", step=1, abort=False, runs=("Running",)),
            Cli(("promote", "conf")),
            healthy_on("v2"),
            Expect(runs=("Successful",)),
        ),
    ),
    Scenario(
        name="a-background-job-still-running-when-the-rollout-completes-ends-inconclusive",
        source="analysis_test.go TestCanaryBackgroundAnalysisLongRunningJob",
        strategy={
            "steps": [{"setWeight": 50}, {"pause": {"duration": 3}}],
            "analysis": analysis("job-hangs"),
            **NO_SURGE,
        },
        replicas=2,
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", step=1, runs=("Running",)),
            healthy_on("v2"),
            Expect(abort=False, runs=("Inconclusive",), timeout=30),
        ),
    ),
]
