"""The judge provider's kind `kayenta`: a whole Kayenta canary config measured and scored at once.

Each measurement queries every metric's two arms (`canaryConfig.metrics[].query.stable` and
`.canary`) at the same instant, keeps missing values (Prometheus answers NaN for 0/0) for each
metric's NaN strategy, and hands the samples to canary.analysis.judges.kayenta. The score's
classification is the measurement's phase (Pass: Successful, Marginal: Inconclusive, Fail:
Failed); the value is the score with every group's and metric's part (JSON), the message a
line with the score and each metric's classification.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from canary.analysis.judges import kayenta
from canary.analysis.providers import base
from canary.api.analysis import AnalysisPhase, JudgeProvider, Metric, PrometheusProvider

QueryFunction = Callable[[PrometheusProvider, str, float], list[Any]]

PHASES = {
    "pass": AnalysisPhase.SUCCESSFUL,
    "inconclusive": AnalysisPhase.INCONCLUSIVE,
    "fail": AnalysisPhase.FAILED,
}


def measure(
    metric: Metric, config: JudgeProvider, context: base.MeasureContext, query: QueryFunction
) -> base.ProviderResult:
    if config.canary_config is None or config.thresholds is None:
        raise base.InvalidSpecError(
            f"metric '{metric.name}': judge kind kayenta needs canaryConfig and thresholds"
        )
    at = context.now.timestamp()
    samples: dict[str, kayenta.ArmSamples] = {}
    for entry in config.canary_config.metrics:
        arms = []
        for arm, promql in (("stable", entry.query.stable), ("canary", entry.query.canary)):
            provider = PrometheusProvider(address=config.address, query=promql, timeout=config.timeout)
            try:
                arms.append(samples_with_gaps(query(provider, promql, at)))
            except base.MeasurementError as error:
                raise base.MeasurementError(
                    f"canaryConfig metric '{entry.name}' query.{arm}: {error}"
                ) from None
        samples[entry.name] = (arms[0], arms[1])
    judgement = kayenta.judge(config.canary_config, config.thresholds, samples)
    evidence = kayenta.evidence(judgement)
    if metric.success_condition or metric.failure_condition:
        # As Argo's kayenta provider, the conditions may read the score, e.g. `result.score >= 80`.
        return base.Reading({"verdict": judgement.verdict, "score": judgement.score.score})
    # In the config's order (not sorted), so reports list the metrics as the config does.
    return base.Verdict(PHASES[judgement.verdict], kayenta.message(judgement), value=json.dumps(evidence))


def samples_with_gaps(result: list[Any]) -> tuple[float, ...]:
    """Every sample of a query result (scalar, vector or range vector) oldest first, NaN kept.

    A metric's NaN strategy decides what a missing value (NaN, e.g. 0/0, or +-Inf) becomes.
    """
    if result and not isinstance(result[0], dict):
        raw: list[Any] = [result]
    else:
        raw = [s["value"] for s in result if "value" in s] + [v for s in result for v in s.get("values", [])]
    try:
        timed = sorted(((float(at), float(text)) for at, text in raw), key=lambda pair: pair[0])
    except (TypeError, ValueError):
        raise base.MeasurementError("a judge query returned samples that are not numbers") from None
    return tuple(n if math.isfinite(n) else math.nan for _, n in timed)
