"""Controller scale benchmark: 1,000 Rollouts at once through the engine and the real reconcile loop.

Run ``python benchmarks/controller_scale.py`` (``--rollouts N`` to change the fleet size). Prints a
table and writes ``controller_scale.json`` into ``--out DIR`` (default ``benchmarks/results``).

What runs: the controller's `RolloutReconciler`, `WorkQueue` and worker step (`process_one`) over the
in-memory cluster (`canary.cluster.memory`) on a virtual clock. Every Rollout is deployed, then
updated to a new image at the same instant, and goes through
``setWeight 20 -> pause 60s -> setWeight 60 -> pause 60s -> 100%`` with pods that become ready 5 s
after they start. Timed pauses of all Rollouts end at the same virtual instant, the worst case for
the queue.

What is measured (wall clock, one worker thread, since the in-memory cluster is single-threaded):
- reconciles per second: all reconciles / time spent reconciling;
- delay from due to acted on: when the virtual clock reaches the instant something falls due (a
  pause ends, pods become ready), every key due then is queued; a key's delay is the wall time from
  that instant until its reconcile starts, so it counts the queue ahead of it (p50/p99/max);
- resident memory per Rollout: growth of the process RSS while the fleet is created and rolled out,
  divided by the number of Rollouts (includes ReplicaSets, pods, events and status of each).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from out_dir import add_out_argument

from canary import logs
from canary.api.rollout import Rollout, RolloutPhase
from canary.cluster.memory import MemoryCluster, ready_after
from canary.controller.queue import Key, WorkQueue, key_of, split_key
from canary.controller.reconciler import RolloutReconciler
from canary.controller.workers import process_one
from canary.engine.clock import ManualClock
from canary.engine.commands import Patch

STEPS = [{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 60}, {"pause": {"duration": "60s"}}]


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096


def _rollout(index: int) -> Rollout:
    name = f"app-{index:05d}"
    return Rollout.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": f"team-{index % 20:02d}", "uid": f"uid-{index}"},
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": name}},
                "template": _template(name, "v1"),
                "strategy": {"canary": {"steps": STEPS, "maxSurge": 1, "maxUnavailable": 0}},
            },
        }
    )


def _template(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": f"registry.example/app:{version}"}]},
    }


class Loop:
    """The controller's queue and worker step, driven against the virtual clock."""

    def __init__(
        self, cluster: MemoryCluster, clock: ManualClock, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self.cluster, self.clock, self.timer = cluster, clock, timer
        self._origin = clock.now()
        self.queue = WorkQueue(clock=self._virtual_seconds)
        self.reconciler = RolloutReconciler(cluster, clock.now)
        self.reconciles = 0
        self.busy_seconds = 0.0
        self.delays: list[float] = []
        self._batch_started = 0.0

    def _virtual_seconds(self) -> float:
        return (self.clock.now() - self._origin).total_seconds()

    def reconcile(self, key: Key) -> Any:
        self.delays.append(self.timer() - self._batch_started)
        self.reconciles += 1
        namespace, name = split_key(key)
        before = self.cluster.get_rollout(namespace, name).metadata.resource_version
        result = self.reconciler.reconcile(key)
        if self.cluster.get_rollout(namespace, name).metadata.resource_version != before:
            self.queue.add(key)  # the watch event of our own status write
        return result

    def enqueue_all(self) -> None:
        for rollout in self.cluster.list_rollouts():
            self.queue.add(key_of(rollout.metadata.namespace or "default", rollout.metadata.name))

    def drain(self) -> None:
        """Process every key due now, as the workers would."""
        self._batch_started = started = self.timer()
        while process_one(self.queue, self.reconcile, name="rollout", timeout=0):
            pass
        self.busy_seconds += self.timer() - started

    def advance(self) -> bool:
        """Jump the clock to the next due instant (a requeue or a cluster change); False if none."""
        now = self.clock.now()
        candidates = []
        due_in = self.queue.seconds_until_next()
        if due_in is not None:
            candidates.append(now + timedelta(seconds=due_in))
        cluster_due = self.cluster.next_due()
        if cluster_due is not None:
            candidates.append(cluster_due)
            # Pods became ready: in a real cluster the watch would queue their owners.
        if not candidates:
            return False
        target = min(candidates)
        if target > now:
            self.clock.set(target)
        if cluster_due is not None and cluster_due <= target:
            self.enqueue_all()
        return True


def run(
    count: int, max_virtual_seconds: float, timer: Callable[[], float] = time.perf_counter
) -> dict[str, Any]:
    """One fleet of `count` Rollouts deployed, then rolled out. `timer` measures the time spent
    reconciling (wall time; `tests/perf` passes the thread's CPU time, which other processes on a
    shared machine do not inflate)."""
    gc.collect()
    rss_before = _rss_bytes()
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(5.0))
    loop = Loop(cluster, clock, timer)
    rollouts = [_rollout(i) for i in range(count)]
    for rollout in rollouts:
        cluster.create(rollout)
    loop.enqueue_all()
    _run_until_settled(loop, max_virtual_seconds)
    deploy_reconciles = loop.reconciles
    start_virtual = clock.now()
    for rollout in rollouts:
        namespace, name = rollout.metadata.namespace or "default", rollout.metadata.name
        cluster.patch_rollout(namespace, name, Patch("spec", {"template": _template(name, "v2")}))
    loop.enqueue_all()
    loop.delays.clear()
    loop.busy_seconds, loop.reconciles = 0.0, 0
    _run_until_settled(loop, max_virtual_seconds)
    gc.collect()
    rss_after = _rss_bytes()
    done = [r for r in cluster.list_rollouts() if _promoted(r)]
    delays = sorted(loop.delays)
    return {
        "rollouts": count,
        "promoted": len(done),
        "virtual_seconds": (clock.now() - start_virtual).total_seconds(),
        "deploy_reconciles": deploy_reconciles,
        "rollout_reconciles": loop.reconciles,
        "reconciles_per_second": loop.reconciles / loop.busy_seconds if loop.busy_seconds else 0.0,
        "delay_p50_ms": _quantile(delays, 0.50) * 1000,
        "delay_p99_ms": _quantile(delays, 0.99) * 1000,
        "delay_max_ms": (delays[-1] if delays else 0.0) * 1000,
        "rss_growth_mib": (rss_after - rss_before) / 2**20,
        "rss_per_rollout_kib": (rss_after - rss_before) / count / 1024,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _run_until_settled(loop: Loop, max_virtual_seconds: float) -> None:
    deadline = loop.clock.now() + timedelta(seconds=max_virtual_seconds)
    loop.drain()
    while loop.clock.now() < deadline and not all(_settled(r) for r in loop.cluster.list_rollouts()):
        if not loop.advance():
            break
        loop.drain()


def _settled(rollout: Rollout) -> bool:
    return rollout.status.phase == RolloutPhase.HEALTHY and _promoted(rollout)


def _promoted(rollout: Rollout) -> bool:
    status = rollout.status
    return status.stable_rs is not None and status.stable_rs == status.current_pod_hash


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--max-virtual-seconds", type=float, default=3600.0)
    add_out_argument(parser, ["controller_scale.json"])
    args = parser.parse_args(argv)
    logs.configure("warning")  # one event per step per Rollout would drown the table
    result = run(args.rollouts, args.max_virtual_seconds)
    rows = [
        ("Rollouts (promoted)", f"{result['rollouts']} ({result['promoted']})"),
        ("virtual time of the rollout", f"{result['virtual_seconds']:.0f} s"),
        ("reconciles (rollout phase)", f"{result['rollout_reconciles']}"),
        ("reconciles per second", f"{result['reconciles_per_second']:.0f}"),
        ("delay due -> acted on, p50", f"{result['delay_p50_ms']:.1f} ms"),
        ("delay due -> acted on, p99", f"{result['delay_p99_ms']:.1f} ms"),
        ("delay due -> acted on, max", f"{result['delay_max_ms']:.1f} ms"),
        ("resident memory per Rollout", f"{result['rss_per_rollout_kib']:.1f} KiB"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    args.out.mkdir(parents=True, exist_ok=True)
    written = args.out / "controller_scale.json"
    written.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
