"""Judge two arms' CSV data interval by interval, keeping the evidence trajectory for the report.

Pure: the judge (canary.analysis.judges.judge) sees the intervals in order with the state it kept,
exactly as the `judge` provider feeds it one measurement at a time during a rollout, so an offline
verdict is the verdict the rollout would have reached on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canary.analysis import judges
from canary.analysis.judges import ArmObservation, judge
from canary.cli.arm_samples import ArmData, Interval, aligned_labels

SEQUENTIAL_DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class JudgedInterval:
    label: str
    verdict: str
    evidence: Mapping[str, float]


@dataclass(frozen=True)
class Judgement:
    kind: str
    config: Mapping[str, Any]
    verdict: str
    """`fail` if any interval failed (a sequential fail is final), else the last interval's verdict."""
    intervals: tuple[JudgedInterval, ...]
    significance: float
    """The p-value at or below which the judge calls a difference: alpha, or 1 - confidence."""

    @property
    def deciding(self) -> JudgedInterval | None:
        """The interval that decided a failure, or the last one."""
        failed = next((i for i in self.intervals if i.verdict == "fail"), None)
        return failed or (self.intervals[-1] if self.intervals else None)


def position(judgement: Judgement, interval: JudgedInterval) -> str:
    """`interval 44 of 3000 (time 43.8)`: where an interval stands among those judged, and the time
    label the input files gave it (the two differ, and a reader looks for either)."""
    return f"interval {number(judgement, interval)} of {len(judgement.intervals)} (time {interval.label})"


def number(judgement: Judgement, interval: JudgedInterval) -> int:
    """The interval's place among those judged, from 1."""
    return next(n for n, each in enumerate(judgement.intervals, start=1) if each is interval)


def significance(kind: str, config: Mapping[str, Any]) -> float:
    if kind == "mann-whitney":
        return 1.0 - float(config.get("confidence", judges.MANN_WHITNEY_DEFAULTS["confidence"]))
    return float(config.get("alpha", SEQUENTIAL_DEFAULT_ALPHA))


def observation(stable: Interval | None, canary: Interval | None) -> ArmObservation:
    empty = Interval("")
    s, c = stable or empty, canary or empty
    return ArmObservation(
        stable=s.samples,
        canary=c.samples,
        stable_events=s.events,
        stable_total=s.total,
        canary_events=c.events,
        canary_total=c.total,
    )


def check_shapes(kind: str, stable: ArmData, canary: ArmData) -> None:
    """Counts files go with sequential-counts, sample files with every other judge."""
    wants_counts = kind == "sequential-counts"
    for arm in (stable, canary):
        if arm.counts != wants_counts:
            shape = "time,events,total" if wants_counts else "time,value"
            raise ValueError(f"{arm.name}: judge {kind} reads `{shape}` files; this one has the other shape")


def judge_arms(kind: str, config: Mapping[str, Any], stable: ArmData, canary: ArmData) -> Judgement:
    """Every interval judged in order; raises JudgeConfigError (a ValueError) for a bad kind or config."""
    check_shapes(kind, stable, canary)
    stable_at, canary_at = stable.by_label(), canary.by_label()
    state: dict[str, Any] | None = None
    judged: list[JudgedInterval] = []
    for label in aligned_labels(stable, canary):
        result = judge(kind, config, observation(stable_at.get(label), canary_at.get(label)), state)
        state = result.state
        judged.append(JudgedInterval(label, result.verdict, dict(result.evidence)))
    verdicts = [j.verdict for j in judged]
    verdict = "fail" if "fail" in verdicts else verdicts[-1]
    return Judgement(kind, dict(config), verdict, tuple(judged), significance(kind, config))


def p_values(judgement: Judgement) -> list[float]:
    return [float(i.evidence.get("p_value", math.nan)) for i in judgement.intervals]
