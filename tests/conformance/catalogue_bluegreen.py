"""Blue-green conformance scenarios, restated from Argo Rollouts' test/e2e/bluegreen_test.go, the
blue-green tests of test/e2e/analysis_test.go and docs/features/bluegreen.md ("Sequence of Events").

The Rollout names the Services `conf-active` and `conf-preview`; `active` and `preview` in a
checkpoint are the images they select. Analysis uses the `web-health` template (two measurements a
second apart against the test endpoint), as the canary analysis scenarios do.
"""

from __future__ import annotations

from scenario import Analysis, Cli, Expect, Release, Scenario, Wait

WEB_HEALTH = {"templates": [{"templateName": "web-health"}]}


def healthy_on(image: str, pods: int = 3) -> Expect:
    return Expect(
        phase="Healthy",
        stable=image,
        current=image,
        active=image,
        pods={image: (pods, pods)},
        timeout=90,
    )


BLUEGREEN_SCENARIOS: list[Scenario] = [
    Scenario(
        name="bluegreen-preview-then-promote-switches-the-active-service",
        source="docs/features/bluegreen.md Sequence of Events; analysis_test.go TestBlueGreenAnalysis (without analysis)",
        blue_green=True,
        strategy={"autoPromotionEnabled": False, "scaleDownDelaySeconds": 3},
        script=(
            healthy_on("v1"),
            Expect(preview="v1"),
            Release("v2"),
            Expect(
                phase="Paused",
                paused=True,
                active="v1",
                preview="v2",
                stable="v1",
                current="v2",
                pods={"v1": (3, 3), "v2": (3, 3)},
                events=("RolloutPaused",),
            ),
            Wait(3),
            Expect(phase="Paused", active="v1", preview="v2"),
            Cli(("promote", "conf")),
            Expect(active="v2", preview="v2", stable="v2", events=("SwitchService", "RolloutCompleted")),
            healthy_on("v2"),
        ),
    ),
    Scenario(
        name="bluegreen-auto-promotion-switches-once-the-preview-is-available",
        source="bluegreen_test.go TestBlueGreenProgressDeadlineExceededWithoutPause (autoPromotionEnabled: true)",
        blue_green=True,
        strategy={"scaleDownDelaySeconds": 2},
        script=(healthy_on("v1"), Release("v2"), healthy_on("v2")),
    ),
    Scenario(
        name="bluegreen-preview-replica-count-scales-up-on-promote",
        source="bluegreen_test.go TestBlueGreenPreviewReplicaCount",
        blue_green=True,
        replicas=2,
        strategy={"previewReplicaCount": 1, "scaleDownDelaySeconds": 5, "autoPromotionEnabled": False},
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", active="v1", preview="v2", pods={"v1": (2, 2), "v2": (1, 1)}),
            Cli(("promote", "conf")),
            Expect(active="v2", pods={"v1": (2, 2), "v2": (2, 2)}),
            healthy_on("v2", 2),
        ),
    ),
    Scenario(
        name="bluegreen-promote-full-with-preview-replica-count",
        source="bluegreen_test.go TestBlueGreenPreviewReplicaCountPromoteFull",
        blue_green=True,
        replicas=2,
        spec={"progressDeadlineSeconds": 1},
        strategy={"previewReplicaCount": 1, "autoPromotionEnabled": False},
        script=(
            healthy_on("v1", 2),
            Release("v2"),
            Expect(phase="Paused", pods={"v1": (2, 2), "v2": (1, 1)}),
            Wait(2),
            Expect(phase="Paused"),  # paused longer than progressDeadlineSeconds: not Degraded
            Cli(("promote", "conf", "--full")),
            healthy_on("v2", 2),
        ),
    ),
    Scenario(
        name="bluegreen-auto-promotion-seconds",
        source="analysis_test.go TestBlueGreenKitchenSink (autoPromotionSeconds: 10, shortened)",
        blue_green=True,
        strategy={"autoPromotionSeconds": 6, "scaleDownDelaySeconds": 2},
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", active="v1", preview="v2"),
            Wait(2),
            Expect(phase="Paused", active="v1"),  # not promoted too early
            Expect(active="v2", stable="v2", timeout=30),
            healthy_on("v2"),
        ),
    ),
    Scenario(
        name="bluegreen-abort-keeps-the-active-service-on-stable",
        source="duration_test.go TestBlueGreenDuration_Abort; docs: abortScaleDownDelaySeconds",
        blue_green=True,
        strategy={"autoPromotionEnabled": False, "abortScaleDownDelaySeconds": 3},
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", pods={"v1": (3, 3), "v2": (3, 3)}),
            Cli(("abort", "conf")),
            Expect(phase="Degraded", abort=True, active="v1", preview="v2", stable="v1", events=("RolloutAborted",)),
            Expect(phase="Degraded", pods={"v1": (3, 3)}, active="v1"),
        ),
    ),
    Scenario(
        name="bluegreen-pre-and-post-promotion-analysis-promotes",
        source="analysis_test.go TestBlueGreenAnalysis",
        blue_green=True,
        analysis=True,
        strategy={
            "autoPromotionEnabled": False,
            "scaleDownDelaySeconds": 3,
            "prePromotionAnalysis": WEB_HEALTH,
            "postPromotionAnalysis": WEB_HEALTH,
        },
        script=(
            healthy_on("v1"),
            Expect(runs=()),
            Release("v2"),
            Expect(phase="Paused", active="v1", preview="v2", stable="v1", runs=("Successful",), timeout=90),
            Cli(("promote", "conf")),
            Expect(active="v2", preview="v2", stable="v2", runs=("Successful", "Successful"), timeout=90),
            healthy_on("v2"),
            Expect(events=("AnalysisRunSuccessful", "SwitchService", "RolloutCompleted")),
        ),
    ),
    Scenario(
        name="bluegreen-post-promotion-failure-switches-back",
        source="analysis_test.go TestBlueGreenPostPromotionFail",
        blue_green=True,
        analysis=True,
        strategy={"autoPromotionEnabled": False, "postPromotionAnalysis": WEB_HEALTH},
        script=(
            healthy_on("v1"),
            Release("v2"),
            Expect(phase="Paused", active="v1", preview="v2", stable="v1"),
            Analysis(healthy=False),
            Cli(("promote", "conf")),
            Expect(
                phase="Degraded",
                abort=True,
                active="v1",
                preview="v2",
                stable="v1",
                runs=("Failed",),
                events=("SwitchService", "AnalysisRunFailed", "RolloutAborted"),
                timeout=90,
            ),
            Expect(pods={"v1": (3, 3), "v2": (3, 3)}),  # abortScaleDownDelaySeconds: 30
        ),
    ),
    Scenario(
        name="bluegreen-pre-promotion-failure-aborts-then-retry-promotes",
        source="analysis_test.go TestBlueGreenPrePromotionFail",
        blue_green=True,
        analysis=True,
        replicas=2,
        strategy={"abortScaleDownDelaySeconds": 0, "previewReplicaCount": 1, "prePromotionAnalysis": WEB_HEALTH},
        script=(
            healthy_on("v1", 2),
            Analysis(healthy=False),
            Release("v2"),
            Expect(
                phase="Degraded",
                abort=True,
                stable="v1",
                active="v1",
                preview="v2",
                runs=("Failed",),
                timeout=90,
            ),
            Expect(pods={"v1": (2, 2), "v2": (1, 1)}),  # abortScaleDownDelaySeconds: 0 keeps the preview
            Analysis(healthy=True),
            Cli(("retry", "conf")),
            healthy_on("v2", 2),
            Expect(runs=("Failed", "Successful")),
        ),
    ),
]
