"""What the dashboard shows, as JSON-ready values: pure functions of a Rollout as read, what the cluster
holds for it (`Observed`), its Events and the time.

The same functions as the CLI draw it: the phase is `client_status` (Argo's client-side phase), the
tree is `get rollout`'s rich tree exported as HTML, the plots are the analysis report's. So the page,
`canary get rollout` and `canary analyze --report` never disagree.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console

from canary.api.analysis import AnalysisRun, MetricResult
from canary.api.rollout import Rollout
from canary.cli import analysis_report, render_rollout
from canary.cluster.port import RecordedEvent
from canary.engine import steps
from canary.engine.observed import Observed

TREE_WIDTH = 120
"""Columns of the exported tree: as wide as a terminal a person would give `get rollout --watch`."""
EVENTS_SHOWN = 50
"""The newest Events listed on a Rollout's page."""


def evidence_run(rollout: Rollout, observed: Observed) -> AnalysisRun | None:
    """The run whose evidence to plot: the one `get rollout` shows, else the newest one (after an
    abort, the run that failed)."""
    current = render_rollout.current_run(rollout, observed)
    if current is not None:
        return current
    runs = sorted(
        observed.analysis_runs,
        key=lambda r: (
            r.metadata.creation_timestamp is not None,
            r.metadata.creation_timestamp or 0,
            r.metadata.name,
        ),
    )
    return runs[-1] if runs else None


def summary(rollout: Rollout, observed: Observed) -> dict[str, Any]:
    """One Rollout as the list shows it: phase, message, step, weights, analysis."""
    phase, message = render_rollout.client_status(rollout)
    position = render_rollout.step_position(rollout)
    canary_weight, stable_weight = render_rollout.weights(rollout, observed)
    run = evidence_run(rollout, observed)
    return {
        "namespace": rollout.metadata.namespace or "",
        "name": rollout.metadata.name,
        "phase": str(phase),
        "message": message,
        "strategy": "BlueGreen" if rollout.spec.strategy.blue_green is not None else "Canary",
        "step": f"{position.done}/{position.total}",
        "step_now": steps.describe(position.current) if position.current is not None else "",
        "canary_weight": canary_weight,
        "stable_weight": stable_weight,
        "analysis": str(run.status.phase) if run is not None else "",
        "analysis_run": run.metadata.name if run is not None else "",
        "aborted": rollout.status.abort,
        "paused": rollout.spec.paused,
        "replicas": f"{rollout.status.available_replicas}/{rollout.spec.replicas}",
    }


def tree_html(rollout: Rollout, observed: Observed, now: datetime) -> str:
    """`get rollout`'s tree, coloured as in a terminal, as a <pre> block."""
    console = Console(record=True, width=TREE_WIDTH, file=io.StringIO(), color_system="truecolor")
    console.print(render_rollout.rollout_view(rollout, observed, now))
    html: str = console.export_html(inline_styles=True, code_format='<pre class="tree">{code}</pre>')
    return html


def figures(run: AnalysisRun | None) -> list[dict[str, Any]]:
    """Each metric of the run as the report plots it (plotly JSON) with its caption."""
    if run is None:
        return []
    results = {r.name: r for r in run.status.metric_results}
    shown = []
    for index, metric in enumerate(run.spec.metrics):
        figure = analysis_report.metric_figure(
            metric, results.get(metric.name, MetricResult(name=metric.name))
        )
        shown.append(
            {"id": f"metric-{index}", "caption": figure.caption, "figure": json.loads(figure.plot.to_json())}
        )
    return shown


def events(recorded: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
    """The newest Events first."""
    return [
        {
            "time": event.timestamp.isoformat(),
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "count": event.count,
        }
        for event in reversed(recorded[-EVENTS_SHOWN:])
    ]


def rollout_page(
    rollout: Rollout, observed: Observed, recorded: Sequence[RecordedEvent], now: datetime
) -> dict[str, Any]:
    """Everything a Rollout's page shows."""
    run = evidence_run(rollout, observed)
    return {
        **summary(rollout, observed),
        "tree": tree_html(rollout, observed, now),
        "figures": figures(run),
        "events": events(recorded),
    }
