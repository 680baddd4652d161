"""`canary demo`: a good release promoted step by step, then a bad one caught by analysis and aborted.

`--strategy blue-green` plays the same two releases as blue-green: each new revision comes up next
to the active one behind the preview Service, is switched in after `autoPromotionSeconds`, and is
judged by its post-promotion analysis; the bad one fails it and the active Service goes back.

The bad release fails 4% of requests (`BAD`) against stable's 1% (`GOOD`): a threshold of the usual 5% would let it
through; the sequential error-rate judge (analysis-templates/error-rate-sequential.yaml) catches it.

Runs the real engine on the in-memory cluster with a simulated workload: no cluster needed. `--fast`
runs on the virtual clock as fast as the machine goes; the default pace is slowed to be watchable.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

import yaml
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from canary.analysis.providers.base import Provider
from canary.analysis.providers.judge import JudgeMetricProvider
from canary.api.analysis import AnalysisTemplate
from canary.api.rollout import Rollout
from canary.cli import render_rollout
from canary.cli.output import quiet_library_logs
from canary.cluster.memory import MemoryCluster, ready_after
from canary.engine import commands
from canary.engine import steps as step_list
from canary.engine.clock import ManualClock
from canary.engine.hashing import pod_template_hash
from canary.sim.driver import Simulation
from canary.sim.workload import Behaviour, SimulatedPrometheus, Workload

NAMESPACE, NAME = "demo", "checkout"
WATCHABLE_SPEEDUP = 5.0
"""Virtual seconds per real second at the default pace: the demo's ~3.5 virtual minutes take ~45 s."""

_ROLLOUT = """
apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: checkout, namespace: demo}
spec:
  replicas: 5
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: checkout, image: "checkout:1.0"}]}
  strategy:
    canary:
      canaryService: checkout-canary
      stableService: checkout-stable
      trafficRouting: {smi: {}}
      steps:
      - setWeight: 20
      - pause: {duration: 30s}
      - analysis:
          templates: [{templateName: error-rate-sequential}]
          args: [{name: service, value: checkout}]
      - setWeight: 50
      - pause: {duration: 30s}
      - setWeight: 80
      - pause: {duration: 20s}
"""

_TEMPLATE = """
apiVersion: canary.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate-sequential, namespace: demo}
spec:
  args: [{name: service}, {name: namespace}, {name: stable-hash}, {name: canary-hash}]
  metrics:
  - name: error-rate-sequential
    interval: 10s
    count: 6
    inconclusiveLimit: 1
    provider:
      judge:
        kind: sequential-counts
        address: http://prometheus.demo:9090
        config: {alpha: 0.05}
        queries:
          stable: |
            sum(increase(http_requests_total{namespace="{{args.namespace}}", service="{{args.service}}",
                rollouts_pod_template_hash="{{args.stable-hash}}", code=~"5.."}[10s])) or vector(0)
          canary: |
            sum(increase(http_requests_total{namespace="{{args.namespace}}", service="{{args.service}}",
                rollouts_pod_template_hash="{{args.canary-hash}}", code=~"5.."}[10s])) or vector(0)
        totals:
          stable: |
            sum(increase(http_requests_total{namespace="{{args.namespace}}", service="{{args.service}}",
                rollouts_pod_template_hash="{{args.stable-hash}}"}[10s]))
          canary: |
            sum(increase(http_requests_total{namespace="{{args.namespace}}", service="{{args.service}}",
                rollouts_pod_template_hash="{{args.canary-hash}}"}[10s]))
"""
"""analysis-templates/error-rate-sequential.yaml at the demo's pace: 10 s intervals (and windows)
instead of 1 min (tests/unit/cli/test_demo.py keeps the queries the same otherwise)."""

_BLUE_GREEN_STRATEGY = """
blueGreen:
  activeService: checkout-active
  previewService: checkout-preview
  autoPromotionSeconds: 20
  scaleDownDelaySeconds: 30
  postPromotionAnalysis:
    templates: [{templateName: error-rate-threshold}]
"""
"""`--strategy blue-green`: the same Rollout with this strategy in place of the canary steps."""

_THRESHOLD_TEMPLATE = """
apiVersion: canary.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate-threshold, namespace: demo}
spec:
  args: [{name: canary-hash}]
  metrics:
  - name: error-rate
    interval: 10s
    count: 3
    successCondition: result < 0.02
    provider:
      prometheus:
        address: http://prometheus.demo:9090
        query: >-
          sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}",code=~"5.."}[10s]))
          / sum(rate(http_requests_total{rollouts_pod_template_hash="{{args.canary-hash}}"}[10s]))
"""
"""After a blue-green switch the new revision takes all the traffic, and the old one none: there is
no second arm to judge against, so the post-promotion check is a plain threshold (2%, well under
the bad release's 4% and over the good one's 1% with room for noise at 200 req/s)."""

STRATEGIES = ("blue-green", "canary")


def demo_rollout(strategy: str) -> Rollout:
    document = yaml.safe_load(_ROLLOUT)
    if strategy == "blue-green":
        document["spec"]["strategy"] = yaml.safe_load(_BLUE_GREEN_STRATEGY)
    return Rollout.model_validate(document)


GOOD = Behaviour(error_rate=0.01, latency_median_ms=40, latency_p99_ms=150)
BAD = Behaviour(error_rate=0.04, latency_median_ms=90, latency_p99_ms=600)
"""Four times stable's errors, yet under the 5% a threshold condition typically allows: the
sequential judge tells it from stable's 1%. The README's demo section quotes both rates (a test checks)."""

TABLE_WIDTH = 76
"""The live table's width, whatever its rows hold: long messages are cut with an ellipsis instead of
widening (and re-flowing) the table as the rollout moves on."""
_LABEL_WIDTH = 9


def percent(rate: float) -> str:
    """An error rate as the demo and the README write it: 0.04 -> '4%'."""
    return f"{rate * 100:g}%"


def register(verbs: Any) -> None:
    demo = verbs.add_parser(
        "demo", help="watch a good release get promoted and a bad one aborted (no cluster)"
    )
    demo.add_argument("--fast", action="store_true", help="run on the virtual clock without waiting (< 10 s)")
    demo.add_argument(
        "--seed", type=int, default=7, help="seed of the simulated traffic (default %(default)s)"
    )
    demo.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="canary",
        help="release strategy to show (default %(default)s)",
    )
    demo.set_defaults(run=run_demo)


def build_simulation(seed: int, strategy: str = "canary") -> Simulation:
    clock = ManualClock()
    workload = Workload(request_rate=200.0, default=GOOD, seed=seed)
    prometheus = SimulatedPrometheus(workload)
    providers: dict[str, Provider] = {
        "prometheus": prometheus,
        "judge": JudgeMetricProvider(query=prometheus.query),
    }
    cluster = MemoryCluster(clock, pods=ready_after(4.0), providers=providers)
    for template in (_TEMPLATE, _THRESHOLD_TEMPLATE):
        cluster.create(AnalysisTemplate.model_validate(yaml.safe_load(template)))
    cluster.create(demo_rollout(strategy))
    for service in ("checkout-canary", "checkout-stable", "checkout-active", "checkout-preview"):
        cluster.create_service(NAMESPACE, service)
    return Simulation(cluster, clock, workload, max_step_seconds=5.0)


class _Show:
    """Prints each new Event as a line and keeps a live table of the rollout's state."""

    def __init__(self, sim: Simulation, console: Console, pace: float | None) -> None:
        self.sim, self.console, self.pace = sim, console, pace
        self.seen = 0
        self.start = sim.clock.now()
        self.reasons: dict[str, str] = {}
        """Event message -> the reason of the first event that printed it."""

    def elapsed(self, at: datetime) -> str:
        seconds = int((at - self.start).total_seconds())
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    def table(self) -> Table:
        rollout = self.sim.cluster.get_rollout(NAMESPACE, NAME)
        status = rollout.status
        table = Table(
            title=f"rollout {NAME}  [{self.elapsed(self.sim.clock.now())} virtual]",
            show_header=False,
            width=TABLE_WIDTH,
        )
        table.add_column(min_width=_LABEL_WIDTH, max_width=_LABEL_WIDTH, no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        # An abort's message is the failed analysis' whole reason, already printed as an event line.
        message = "aborted, all traffic on stable" if status.abort else status.message
        table.add_row("phase", f"{status.phase} {message}".rstrip())
        rows = (
            self.blue_green_rows(rollout) if rollout.spec.strategy.blue_green else self.canary_rows(rollout)
        )
        for label, value in rows:
            table.add_row(label, value)
        return table

    def canary_rows(self, rollout: Rollout) -> list[tuple[str, str]]:
        status = rollout.status
        steps = step_list.of(rollout)
        index = status.current_step_index or 0
        canary_weight, _ = render_rollout.weights(rollout, self.sim.cluster.observe(rollout))
        run = status.canary.current_step_analysis_run_status
        step = (
            f"{index + 1}/{len(steps)} {step_list.describe(steps[index])}" if index < len(steps) else "done"
        )
        return [
            ("step", step),
            ("traffic", f"canary {'#' * int(canary_weight // 5):<20} {canary_weight:g}%"),
            ("revisions", f"stable {status.stable_rs}  canary {status.current_pod_hash}"),
            ("analysis", self.latest_verdict(run.name) if run else "-"),
        ]

    def blue_green_rows(self, rollout: Rollout) -> list[tuple[str, str]]:
        services = rollout.status.blue_green
        run = services.post_promotion_analysis_run_status or services.pre_promotion_analysis_run_status
        return [
            ("active", f"{services.active_selector or '-'}  (all production traffic)"),
            ("preview", services.preview_selector or "-"),
            ("revisions", f"stable {rollout.status.stable_rs}  new {rollout.status.current_pod_hash}"),
            ("analysis", self.latest_verdict(run.name) if run else "-"),
        ]

    def latest_verdict(self, run_name: str) -> str:
        """The run's phase and its newest measurement, e.g. the judge's e-value as evidence grows."""
        run = next(
            (r for r in self.sim.cluster.list_analysis_runs(NAMESPACE) if r.metadata.name == run_name), None
        )
        if run is None:
            return run_name
        if run.status.phase != "Running":
            return str(run.status.phase)  # a finished run's verdict is printed once, as an event
        latest = [m for result in run.status.metric_results for m in result.measurements[-1:]]
        detail = f"  {latest[-1].message}" if latest and latest[-1].message else ""
        return f"{run.status.phase}{detail}"

    def events(self) -> None:
        events = self.sim.cluster.list_events(NAMESPACE, NAME)
        for event in events[self.seen :]:
            style = "red" if event.type == "Warning" else "green"
            stamp = self.elapsed(event.timestamp)
            # An abort repeats the failed analysis' message word for word: say it once.
            first = self.reasons.setdefault(event.message, event.reason)
            message = event.message if first == event.reason else f"(the {first} reason above)"
            self.console.print(
                f"[{stamp}] [{style}]{event.reason}[/{style}] {escape(message)}", highlight=False
            )
        self.seen = len(events)

    def run_until(self, done: Any, live: Live | None, max_seconds: float) -> Rollout:
        limit = self.sim.clock.now().timestamp() + max_seconds
        while self.sim.clock.now().timestamp() < limit:
            before = self.sim.clock.now()
            self.sim.tick()
            self.events()
            if live is not None:
                live.update(self.table())
            if self.pace:
                time.sleep((self.sim.clock.now() - before).total_seconds() / self.pace)
            rollout = self.sim.cluster.get_rollout(NAMESPACE, NAME)
            if done(rollout):
                return rollout
        return self.sim.cluster.get_rollout(NAMESPACE, NAME)


def release(sim: Simulation, image: str, behaviour: Behaviour) -> str:
    rollout = sim.cluster.get_rollout(NAMESPACE, NAME)
    for patch in commands.set_image(rollout, "checkout", image):
        rollout = sim.cluster.patch_rollout(NAMESPACE, NAME, patch)
    assert rollout.spec.template is not None
    pod_hash = pod_template_hash(rollout.spec.template)
    sim.workload.behave(pod_hash, behaviour)
    return pod_hash


def run_demo(args: argparse.Namespace) -> int:
    # The analysis runner logs every measurement; the demo shows verdicts in its own view instead.
    quiet_library_logs()
    return _play(args)


def _play(args: argparse.Namespace) -> int:
    console = Console()
    # Rich wraps at the terminal's width, and at 80 columns when there is no terminal: a file or a
    # pipe gets each line whole instead.
    console.soft_wrap = not console.is_terminal
    sim = build_simulation(args.seed, args.strategy)
    show = _Show(sim, console, None if args.fast else WATCHABLE_SPEEDUP)
    live = (
        None if args.fast or not console.is_terminal else Live(show.table(), console=console, transient=True)
    )
    if live is not None:
        live.start()
    try:
        show.run_until(lambda r: r.status.phase == "Healthy", live, 120)
        console.print(f"[bold]release checkout:1.1 (healthy: {percent(GOOD.error_rate)} errors)[/bold]")
        good = release(sim, "checkout:1.1", GOOD)
        promoted = show.run_until(
            lambda r: r.status.stable_rs == good and r.status.phase == "Healthy", live, 900
        )
        console.print(
            f"[bold]release checkout:1.2 (broken: {percent(BAD.error_rate)} errors"
            f"{', under a 5% threshold' if args.strategy == 'canary' else ''})[/bold]"
        )
        release(sim, "checkout:1.2", BAD)
        aborted = show.run_until(lambda r: r.status.abort and r.status.phase == "Degraded", live, 900)
    finally:
        if live is not None:
            live.stop()
    back, where = _back_on_stable(sim, aborted, good)
    ok = promoted.status.stable_rs == good and aborted.status.abort and back
    console.print(
        f"checkout:1.1 {'promoted' if promoted.status.stable_rs == good else 'NOT promoted'}; "
        f"checkout:1.2 {'aborted' if aborted.status.abort else 'NOT aborted'}, {where}",
        highlight=False,
    )
    return 0 if ok else 1


def _back_on_stable(sim: Simulation, aborted: Rollout, good: str) -> tuple[bool, str]:
    """Whether all traffic is back on the good release, and how the summary line says it."""
    if aborted.spec.strategy.blue_green is not None:
        active = aborted.status.blue_green.active_selector
        return active == good, f"active Service {'back on checkout:1.1' if active == good else 'NOT back'}"
    reported = aborted.status.canary.weights is not None
    _, stable_weight = render_rollout.weights(aborted, sim.cluster.observe(aborted))
    return (
        reported and stable_weight == 100,
        f"traffic to stable {f'{stable_weight:g}' if reported else '?'}%",
    )
