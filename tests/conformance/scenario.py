"""Conformance scenarios: Argo Rollouts' end-to-end scenarios restated as data, played the same way
on the embedded cluster and on the real control plane.

A `Scenario` is a Rollout spec and a script of moves (a release, a CLI verb, a spec change, the
analysis turning bad) and checkpoints (`Expect`): what a person would see at that point through
`kubectl` and the `canary` CLI. A checkpoint waits until it holds, up to its timeout (virtual
seconds on the embedded cluster, real ones on the control plane), and fails with the last snapshot.

Revisions are named by their image ("v1", "v2", ...). A revision released with `ready=False` has a
nodeSelector no node satisfies, so its pods stay Pending on both clusters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

NAME = "conf"
ANALYSIS_TEMPLATE = "web-health"
UNSCHEDULABLE = {"canary.dev/conformance": "unschedulable"}
ACTIVE, PREVIEW = f"{NAME}-active", f"{NAME}-preview"
"""The blue-green Services both clusters create (tests/controlplane/data/blue-green-services.yaml)."""


@dataclass(frozen=True)
class Snapshot:
    """What a person sees: the Rollout's status, its ReplicaSets by image, the router and Events."""

    phase: str
    message: str
    step: int | None
    abort: bool
    stable: str | None
    current: str | None
    pods: Mapping[str, tuple[int, int]]
    """image -> (pods asked for, pods available), for every ReplicaSet with pods asked for."""
    weight: int | None
    """The canary weight the router carries, None without a router."""
    events: tuple[str, ...]
    runs: tuple[str, ...]
    """The phases of the Rollout's AnalysisRuns, oldest first."""
    pause_reasons: tuple[str, ...] = ()
    active: str | None = None
    """Blue-green: the image the active Service selects (None: no selector, or no blue-green)."""
    preview: str | None = None
    replica_sets: tuple[str, ...] = ()
    """The images of every ReplicaSet the Rollout owns, with or without pods, sorted."""


class Backend(Protocol):
    def deploy(self, rollout: dict[str, Any]) -> None: ...

    def release(self, image: str, *, ready: bool) -> None: ...

    def cli(self, *argv: str) -> int: ...

    def patch_spec(self, patch: dict[str, Any]) -> None: ...

    def set_analysis(self, *, healthy: bool) -> None: ...

    def snapshot(self) -> Snapshot: ...

    def wait(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Release:
    image: str
    ready: bool = True


@dataclass(frozen=True)
class Cli:
    argv: tuple[str, ...]
    exit_code: int = 0


@dataclass(frozen=True)
class PatchSpec:
    patch: Mapping[str, Any]


@dataclass(frozen=True)
class Analysis:
    healthy: bool


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Expect:
    """Every field given must hold at once; `pods` must match exactly (images with pods asked for)."""

    phase: str | None = None
    step: int | None = None
    abort: bool | None = None
    stable: str | None = None
    current: str | None = None
    pods: Mapping[str, tuple[int, int]] | None = None
    weight: int | None = None
    message: str | None = None
    """A substring of the status message."""
    events: tuple[str, ...] = ()
    """Event reasons that must have been recorded (at least once each)."""
    runs: tuple[str, ...] | None = None
    paused: bool | None = None
    replica_sets: tuple[str, ...] | None = None
    """The images of every ReplicaSet the Rollout owns (pods asked for or not), sorted."""
    active: str | None = None
    preview: str | None = None
    timeout: float = 60.0

    def problems(self, seen: Snapshot) -> list[str]:
        checks: list[tuple[str, object, object]] = [
            ("phase", self.phase, seen.phase),
            ("step", self.step, seen.step),
            ("abort", self.abort, seen.abort),
            ("stable", self.stable, seen.stable),
            ("current", self.current, seen.current),
            ("pods", None if self.pods is None else dict(self.pods), dict(seen.pods)),
            ("weight", self.weight, seen.weight),
            ("runs", self.runs, seen.runs),
            ("paused", self.paused, bool(seen.pause_reasons) if self.paused is not None else None),
            ("replica_sets", self.replica_sets, seen.replica_sets),
            ("active", self.active, seen.active),
            ("preview", self.preview, seen.preview),
        ]
        wrong = [f"{name}: want {want!r}, got {got!r}" for name, want, got in checks if want is not None and want != got]
        if self.message is not None and self.message not in seen.message:
            wrong.append(f"message: want ...{self.message!r}..., got {seen.message!r}")
        missing = [reason for reason in self.events if reason not in seen.events]
        if missing:
            wrong.append(f"events: missing {missing}, got {sorted(set(seen.events))}")
        return wrong


Move = Release | Cli | PatchSpec | Analysis | Wait | Expect


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    """The Argo Rollouts e2e test or doc section it restates."""
    strategy: Mapping[str, Any]
    """spec.strategy.canary (services and routing are added when `routed`), or spec.strategy.blueGreen
    with `blue_green` (the Services `conf-active` and `conf-preview` are added)."""
    script: tuple[Move, ...]
    replicas: int = 3
    routed: bool = False
    analysis: bool = False
    """Steps and background analysis may name the `web-health` template (the test endpoint)."""
    spec: Mapping[str, Any] = field(default_factory=dict)
    blue_green: bool = False

    def rollout(self, analysis_url: str) -> dict[str, Any]:
        if self.blue_green:
            return self._blue_green(analysis_url)
        canary = copy.deepcopy(dict(self.strategy))
        if self.routed:
            canary |= {
                "canaryService": f"{NAME}-canary",
                "stableService": f"{NAME}-stable",
                "trafficRouting": {"gatewayAPI": {"httpRoute": NAME}},
            }
        for analysis in _analyses(canary):
            analysis.setdefault("args", []).append({"name": "url", "value": analysis_url})
        return {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": NAME},
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": {"app": NAME}},
                "template": template("v1"),
                "strategy": {"canary": canary},
                **copy.deepcopy(dict(self.spec)),
            },
        }


    def _blue_green(self, analysis_url: str) -> dict[str, Any]:
        strategy = {"activeService": ACTIVE, "previewService": PREVIEW, **copy.deepcopy(dict(self.strategy))}
        for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
            if key in strategy:
                strategy[key].setdefault("args", []).append({"name": "url", "value": analysis_url})
        return {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": NAME},
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": {"app": NAME}},
                "template": template("v1"),
                "strategy": {"blueGreen": strategy},
                **copy.deepcopy(dict(self.spec)),
            },
        }


def template(image: str, *, ready: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": NAME, "image": image}]}
    if not ready:
        spec["nodeSelector"] = dict(UNSCHEDULABLE)
    return {"metadata": {"labels": {"app": NAME}}, "spec": spec}


def _analyses(canary: dict[str, Any]) -> list[dict[str, Any]]:
    found = [step["analysis"] for step in canary.get("steps", []) if "analysis" in step]
    return found + ([canary["analysis"]] if "analysis" in canary else [])


def play(scenario: Scenario, backend: Backend, analysis_url: str) -> None:
    """Deploy the scenario's Rollout (its first revision, v1, goes straight to stable) and run the script."""
    backend.deploy(scenario.rollout(analysis_url))
    for index, move in enumerate(scenario.script):
        where = f"{scenario.name} move {index + 1} ({move})"
        match move:
            case Release(image=image, ready=ready):
                backend.release(image, ready=ready)
            case Cli(argv=argv, exit_code=code):
                got = backend.cli(*argv)
                assert got == code, f"{where}: exit code {got}, want {code}"
            case PatchSpec(patch=patch):
                backend.patch_spec(dict(patch))
            case Analysis(healthy=healthy):
                backend.set_analysis(healthy=healthy)
            case Wait(seconds=seconds):
                backend.wait(seconds)
            case Expect():
                _expect(backend, move, where)


def _expect(backend: Backend, expect: Expect, where: str, poll: float = 0.5) -> None:
    waited = 0.0
    while True:
        seen = backend.snapshot()
        wrong = expect.problems(seen)
        if not wrong:
            return
        if waited >= expect.timeout:
            raise AssertionError(f"{where}: after {expect.timeout}s:\n  " + "\n  ".join(wrong) + f"\n{seen}")
        backend.wait(poll)
        waited += poll


Check = Callable[[Snapshot], bool]
