"""What both conformance backends share: reading a `Snapshot` through the ClusterPort, and the
patches a person applies (a release, a spec change)."""

from __future__ import annotations

from typing import Any

from scenario import ACTIVE, NAME, PREVIEW, UNSCHEDULABLE, Snapshot

from canary.api.analysis import AnalysisRun
from canary.api.rollout import Rollout
from canary.cluster.port import ClusterPort, RecordedEvent
from canary.engine.commands import Patch
from canary.engine.hashing import HASH_LABEL
from canary.engine.observed import Observed


def release_patch(image: str, *, ready: bool) -> Patch:
    """`kubectl set image` (and, for a revision that must never start, a nodeSelector no node has)."""
    spec: dict[str, Any] = {
        "containers": [{"name": NAME, "image": image}],
        "nodeSelector": None if ready else dict(UNSCHEDULABLE),
    }
    return Patch("spec", {"template": {"spec": spec}})


def snapshot(
    rollout: Rollout, observed: Observed, events: list[RecordedEvent], runs: list[AnalysisRun]
) -> Snapshot:
    images = {rs.pod_template_hash: _image(rs.template) for rs in observed.replica_sets}
    status = rollout.status
    return Snapshot(
        phase=str(status.phase or ""),
        message=status.message,
        step=status.current_step_index,
        abort=status.abort,
        stable=images.get(status.stable_rs or ""),
        current=images.get(status.current_pod_hash or ""),
        pods={
            images[rs.pod_template_hash]: (rs.replicas, rs.available)
            for rs in observed.replica_sets
            if rs.replicas > 0
        },
        weight=observed.router_weight,
        events=tuple(e.reason for e in events),
        runs=tuple(str(r.status.phase) for r in sorted(runs, key=lambda r: _created(r, observed))),
        pause_reasons=tuple(str(c.reason) for c in status.pause_conditions),
        active=images.get(observed.service_selectors.get(ACTIVE) or ""),
        preview=images.get(observed.service_selectors.get(PREVIEW) or ""),
        replica_sets=tuple(sorted(images.values())),
    )


def read(port: ClusterPort, namespace: str) -> Snapshot:
    rollout = port.get_rollout(namespace, NAME)
    observed = port.observe(rollout)
    return snapshot(rollout, observed, port.list_events(namespace, NAME), list(observed.analysis_runs))


def _image(template: Any) -> str:
    return str(template["spec"]["containers"][0]["image"])


def _created(run: AnalysisRun, observed: Observed) -> tuple[str, int, str]:
    """Oldest first. The apiserver stamps creation to the second, so runs created in the same
    second are told apart by the revision they judge (a newer revision's run is newer), then by
    name (a retry's attempt number)."""
    created = run.metadata.creation_timestamp
    judged = observed.replica_set(run.metadata.labels.get(HASH_LABEL))
    return (created.isoformat() if created else "", judged.revision if judged else 0, run.metadata.name)
