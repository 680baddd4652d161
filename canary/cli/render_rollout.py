"""Pure rendering of a Rollout as people read it during a release: values in, rich renderables out.

Nothing here fetches or waits; `commands_get` reads the cluster and hands the values over, so the
same tree is drawn by `get rollout`, by each frame of `--watch`, and by tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from canary.api.analysis import AnalysisPhase, AnalysisRun, MetricResult
from canary.api.base import parse_duration
from canary.api.rollout import CanaryStep, Rollout, RolloutPhase
from canary.engine import steps
from canary.engine.observed import Observed, ReplicaSetView

PHASE_STYLE = {
    RolloutPhase.HEALTHY: ("✔", "green"),
    RolloutPhase.PROGRESSING: ("◌", "yellow"),
    RolloutPhase.PAUSED: ("॥", "cyan"),
    RolloutPhase.DEGRADED: ("✖", "red"),
}

ANALYSIS_STYLE = {
    AnalysisPhase.SUCCESSFUL: ("✔", "green"),
    AnalysisPhase.RUNNING: ("◌", "yellow"),
    AnalysisPhase.PENDING: ("…", "dim"),
    AnalysisPhase.INCONCLUSIVE: ("?", "magenta"),
    AnalysisPhase.ERROR: ("⚠", "red"),
    AnalysisPhase.FAILED: ("✖", "red"),
}

LATEST_MEASUREMENTS = 5
"""How many of a metric's measurements the tree lists (newest last); the rest are counted only."""


SPEC_NOT_OBSERVED = "waiting for rollout spec update to be observed"
UNPAUSING = "waiting for rollout to unpause"


def client_status(rollout: Rollout) -> tuple[RolloutPhase, str]:
    """Phase and message as clients show them (Argo Rollouts' client-side `GetRolloutPhase`): the
    controller's, unless it has not yet acted on the latest change, which a status written before
    that change would misreport (a pipeline gating on `status` must not pass on the previous
    revision's Healthy):

    - the spec changed since the status was written (observedGeneration behind generation), or no
      status yet: Progressing, `waiting for rollout spec update to be observed`;
    - a pause was just released (`promote` cleared the pause conditions, `status.controllerPause`
      or the Paused phase still stands, spec.paused is false): Progressing, `waiting for rollout to
      unpause`.
    """
    status = rollout.status
    generation, observed = rollout.metadata.generation, status.observed_generation
    if not status.phase or (generation is not None and observed is not None and observed != generation):
        return RolloutPhase.PROGRESSING, SPEC_NOT_OBSERVED
    stale_pause = status.phase == RolloutPhase.PAUSED and not rollout.spec.paused
    if not status.pause_conditions and (status.controller_pause or stale_pause):
        return RolloutPhase.PROGRESSING, UNPAUSING
    return RolloutPhase(status.phase), status.message


def phase_of(rollout: Rollout) -> RolloutPhase:
    """The phase as clients show it (`client_status`)."""
    return client_status(rollout)[0]


def status_line(rollout: Rollout) -> str:
    """Argo Rollouts' line for a status: `Paused - CanaryPauseStep`, `Healthy` when there is no message."""
    phase, message = client_status(rollout)
    return f"{phase} - {message}" if message else str(phase)


def phase_text(phase: str) -> Text:
    icon, style = PHASE_STYLE.get(RolloutPhase(phase), ("?", "dim"))
    return Text(f"{icon} {phase}", style=style)


def analysis_text(phase: str) -> Text:
    icon, style = ANALYSIS_STYLE.get(AnalysisPhase(phase), ("?", "dim"))
    return Text(f"{icon} {phase}", style=style)


@dataclass(frozen=True)
class StepPosition:
    """Argo's `Step N/M`: N steps done of M; `current` is the step being worked on, if any."""

    done: int
    total: int
    current: CanaryStep | None

    def __str__(self) -> str:
        here = f" · now: {steps.describe(self.current)}" if self.current is not None else ""
        return f"{self.done}/{self.total}{here}"


def step_position(rollout: Rollout) -> StepPosition:
    all_steps = steps.of(rollout)
    index = rollout.status.current_step_index
    done = min(index or 0, len(all_steps))
    return StepPosition(done, len(all_steps), all_steps[done] if done < len(all_steps) else None)


def weights(rollout: Rollout, observed: Observed) -> tuple[float, float]:
    """(canary, stable) percent of traffic, to one decimal: as reported (in units of
    maxTrafficWeight), else as the pods split it (no router)."""
    reported = rollout.status.canary.weights
    if reported is not None:
        max_weight = rollout.spec.strategy.max_weight
        return _percent(reported.canary.weight, max_weight), _percent(reported.stable.weight, max_weight)
    canary = observed.replica_set(rollout.status.current_pod_hash)
    total = sum(rs.available for rs in observed.replica_sets)
    if canary is None or total == 0 or rollout.status.current_pod_hash == rollout.status.stable_rs:
        return 0, 100
    share = round(100 * canary.available / total)
    return share, 100 - share


def _percent(weight: int, max_weight: int) -> float:
    return round(100 * weight / max_weight, 1)


def images(template: object) -> list[str]:
    spec = template.get("spec", {}) if isinstance(template, dict) else {}
    return [f"{c.get('name')}={c.get('image')}" for c in spec.get("containers", [])]


def role_of(rollout: Rollout, rs: ReplicaSetView) -> str:
    if rollout.spec.strategy.blue_green is not None:
        return _blue_green_role(rollout, rs)
    if rs.pod_template_hash == rollout.status.stable_rs:
        return "stable"
    if rs.pod_template_hash == rollout.status.current_pod_hash:
        return "canary"
    return "old"


def _blue_green_role(rollout: Rollout, rs: ReplicaSetView) -> str:
    """Argo's blue-green roles: the revision the active Service selects is `active` (and `stable`),
    the one the preview Service selects `preview`."""
    selectors = rollout.status.blue_green
    roles = []
    if rs.pod_template_hash == rollout.status.stable_rs:
        roles.append("stable")
    if rs.pod_template_hash == selectors.active_selector:
        roles.append("active")
    if rs.pod_template_hash == selectors.preview_selector and "active" not in roles:
        roles.append("preview")
    return ",".join(roles) or "old"


ROLE_STYLE = {"stable": "green", "canary": "yellow", "old": "dim", "active": "green", "preview": "yellow"}


def replica_set_line(rollout: Rollout, rs: ReplicaSetView) -> Text:
    role = role_of(rollout, rs)
    line = Text.assemble(
        (f"{rs.name}", "bold"),
        (f" {role}", ROLE_STYLE[role.split(",")[-1]]),
        f"  rev {rs.revision}",
        f"  ready {rs.ready}/{rs.replicas}",
        f"  available {rs.available}",
    )
    shown = images(dict(rs.template))
    if shown:
        line.append("  " + ", ".join(shown), style="blue")
    if rs.failure:  # a quota or an admission webhook refuses its pods: why `ready` does not move
        line.append(f"  ✖ {rs.failure_reason}: {rs.failure}", style="red")
    return line


def current_run(rollout: Rollout, observed: Observed) -> AnalysisRun | None:
    """The step's AnalysisRun if one is running, else the background one, else the newest one."""
    canary, blue_green = rollout.status.canary, rollout.status.blue_green
    for ref in (
        canary.current_step_analysis_run_status,
        canary.current_background_analysis_run_status,
        blue_green.post_promotion_analysis_run_status,
        blue_green.pre_promotion_analysis_run_status,
    ):
        run = observed.analysis_run(ref.name) if ref is not None else None
        if run is not None:
            return run
    return None


def metric_line(result: MetricResult) -> Text:
    latest = [m.value if m.value is not None else m.phase for m in result.measurements[-LATEST_MEASUREMENTS:]]
    line = Text.assemble((result.name, "bold"), "  ", analysis_text(result.phase))
    if result.dry_run:
        line.append("  (dry run)", style="dim")
    line.append(f"  latest: {', '.join(map(str, latest)) or '—'}")
    line.append(
        f"  ✔{result.successful} ✖{result.failed} ?{result.inconclusive} ⚠{result.error}", style="dim"
    )
    if result.message:
        line.append(f"  {result.message}", style="italic")
    return line


def analysis_tree(run: AnalysisRun) -> Tree:
    label = Text.assemble("AnalysisRun ", (run.metadata.name, "bold"), "  ", analysis_text(run.status.phase))
    if run.status.message:
        label.append(f"  {run.status.message}", style="italic")
    tree = Tree(label)
    results = {r.name: r for r in run.status.metric_results}
    for metric in run.spec.metrics:
        tree.add(metric_line(results.get(metric.name, MetricResult(name=metric.name))))
    return tree


def pause_note(rollout: Rollout, now: datetime) -> str:
    position = step_position(rollout)
    step = position.current
    if not rollout.status.pause_conditions or step is None or step.pause is None:
        return ""
    if step.pause.duration is None:
        return "waiting for `promote`"
    started = rollout.status.pause_conditions[0].start_time
    left = parse_duration(step.pause.duration) - (now - started).total_seconds()
    return f"resumes in {max(0, round(left))}s"


def summary(rollout: Rollout, observed: Observed, now: datetime) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    phase, message = client_status(rollout)
    shown = phase_text(phase)
    if message:
        shown.append(f"  {message}")
    grid.add_row("Status", shown)
    if rollout.spec.strategy.blue_green is not None:
        grid.add_row("Strategy", "BlueGreen")
        grid.add_row("Services", _blue_green_services(rollout, observed))
    else:
        position = step_position(rollout)
        note = pause_note(rollout, now)
        grid.add_row("Step", str(position) + (f"  ({note})" if note else ""))
        canary_weight, stable_weight = weights(rollout, observed)
        grid.add_row("Weights", f"canary {canary_weight:g}%  stable {stable_weight:g}%")
    status = rollout.status
    grid.add_row(
        "Replicas",
        f"desired {rollout.spec.replicas}  updated {status.updated_replicas}  "
        f"ready {status.ready_replicas}  available {status.available_replicas}",
    )
    flags = [name for name, on in (("paused", rollout.spec.paused), ("aborted", status.abort)) if on]
    if flags:
        grid.add_row("Flags", ", ".join(flags))
    return grid


def _blue_green_services(rollout: Rollout, observed: Observed) -> str:
    """`active <service> -> <ReplicaSet>  preview <service> -> <ReplicaSet>`, as the Services select now."""
    spec = rollout.spec.strategy.blue_green
    assert spec is not None
    shown = []
    for role, service in (("active", spec.active_service), ("preview", spec.preview_service)):
        if service:
            rs = observed.replica_set(observed.service_selectors.get(service))
            shown.append(f"{role} {service} -> {rs.name if rs is not None else 'none'}")
    return "  ".join(shown)


def rollout_view(rollout: Rollout, observed: Observed, now: datetime) -> RenderableType:
    """The whole `get rollout` view: a summary, then ReplicaSets and the current AnalysisRun as a tree."""
    meta = rollout.metadata
    tree = Tree(Text.assemble("Rollout ", (f"{meta.namespace}/{meta.name}", "bold")))
    tree.add(summary(rollout, observed, now))
    sets = tree.add(Text("ReplicaSets", style="bold"))
    for rs in sorted(observed.replica_sets, key=lambda rs: -rs.revision):
        sets.add(replica_set_line(rollout, rs))
    if not observed.replica_sets:
        sets.add(Text("none yet", style="dim"))
    run = current_run(rollout, observed)
    if run is not None:
        tree.add(analysis_tree(run))
    return tree


def rollout_table(rollouts: Sequence[Rollout]) -> RenderableType:
    """`list rollouts`: one line each."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAMESPACE", "NAME", "STATUS", "STEP", "REPLICAS", "MESSAGE"):
        table.add_column(column)
    for rollout in rollouts:
        position = step_position(rollout)
        phase, message = client_status(rollout)
        table.add_row(
            rollout.metadata.namespace or "",
            rollout.metadata.name,
            phase_text(phase),
            f"{position.done}/{position.total}",
            f"{rollout.status.available_replicas}/{rollout.spec.replicas}",
            message,
        )
    return table if rollouts else Text("No rollouts found.", style="dim")
