"""Controller scale benchmark: 1,000 Rollouts at once through the engine and the real reconcile loop.

Run ``python benchmarks/controller_scale.py`` (``--rollouts N`` to change the fleet size). Prints a
table and writes ``controller_scale.json`` into ``--out DIR`` (default ``benchmarks/results``), or
the file named by ``--result-name`` (the 10,000-Rollout figures go to ``controller_scale_10k.json``).

What runs: the controller's `RolloutReconciler`, `WorkQueue` and worker step (`process_one`) over the
in-memory cluster (`canary.cluster.memory`) on a virtual clock. Every Rollout is deployed, then
updated to a new image and goes through
``setWeight 20 -> pause 60s -> setWeight 60 -> pause 60s -> 100%`` with pods that become ready 5 s
after they start. By default every image changes at the same instant, so the timed pauses of all
Rollouts end at the same virtual instant too: the worst case for the queue. With
``--release-window S`` the image changes are spread over S virtual seconds instead, in equal batches
once a virtual second (a fleet whose teams release at different moments).

What is measured (one worker thread, since the in-memory cluster is single-threaded; in wall time,
or with ``--timer cpu`` in the thread's CPU time, which other processes on a shared machine do not
inflate):
- reconciles per second: all reconciles / time spent reconciling;
- delay from due to acted on: when the virtual clock reaches the instant something falls due (an
  image changes, a pause ends, pods become ready), the keys it concerns are queued; a key's delay is
  the wall time from that instant until its reconcile starts, so it counts the queue ahead of it
  (p50/p99/max). The virtual clock stands still while the worker reconciles, so work still queued
  when the next instant falls due is carried over as a backlog ahead of that instant's keys (one
  worker serving a FIFO queue: an overloaded controller shows as a growing delay, not a hidden one).
  "delay" counts every reconcile, including the one that the watch event of our own status write
  queues again behind the others; "first reconcile" counts only the reconcile that a due thing queued
  (the one whose decision acts on it), so it is the delay from a step being due to its action;
- resident memory per Rollout: growth of the process RSS while the fleet is created and rolled out,
  divided by the number of Rollouts (includes ReplicaSets, pods, events and status of each); and the
  process's peak RSS (interpreter and imports included).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import platform
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
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
        self.due_delays: list[float] = []
        self._echoes: set[Key] = set()  # keys queued by our own status write, not by something due
        self.releases: list[tuple[datetime, list[Rollout]]] = []
        self._batch_started = 0.0
        self._backlog = 0.0  # seconds of work still queued, at the instant the clock stands at

    def _virtual_seconds(self) -> float:
        return (self.clock.now() - self._origin).total_seconds()

    def reconcile(self, key: Key) -> Any:
        delay = self._backlog + self.timer() - self._batch_started
        self.delays.append(delay)
        if key in self._echoes:
            self._echoes.discard(key)
        else:
            self.due_delays.append(delay)
        self.reconciles += 1
        namespace, name = split_key(key)
        before = self.cluster.get_rollout(namespace, name).metadata.resource_version
        result = self.reconciler.reconcile(key)
        if self.cluster.get_rollout(namespace, name).metadata.resource_version != before:
            self.queue.add(key)  # the watch event of our own status write
            self._echoes.add(key)
        return result

    def enqueue(self, rollouts: list[Rollout]) -> None:
        for rollout in rollouts:
            self.queue.add(key_of(rollout.metadata.namespace or "default", rollout.metadata.name))

    def drain(self) -> None:
        """Process every key due now, as the workers would."""
        self._batch_started = started = self.timer()
        while process_one(self.queue, self.reconcile, name="rollout", timeout=0):
            pass
        elapsed = self.timer() - started
        self.busy_seconds += elapsed
        self._backlog += elapsed

    def advance(self) -> bool:
        """Jump the clock to the next due instant (a requeue, a cluster change, a release); False if none."""
        now = self.clock.now()
        candidates = []
        due_in = self.queue.seconds_until_next()
        if due_in is not None:
            candidates.append(now + timedelta(seconds=due_in))
        cluster_due = self.cluster.next_due()
        if cluster_due is not None:
            candidates.append(cluster_due)
        if self.releases:
            candidates.append(self.releases[0][0])
        if not candidates:
            return False
        target = max(now, min(candidates))
        self._backlog = max(0.0, self._backlog - (target - now).total_seconds())
        self.clock.set(target)
        if cluster_due is not None and cluster_due <= target:
            # Pods became ready: the watch queues their owners.
            for key in self.cluster.due_at(cluster_due):
                self.queue.add(key_of(*key))
        while self.releases and self.releases[0][0] <= target:
            self.enqueue(_release(self.cluster, self.releases.pop(0)[1]))
        return True


def _release(cluster: MemoryCluster, rollouts: list[Rollout]) -> list[Rollout]:
    """The new image for each of `rollouts` (an edit of spec.template, as `kubectl apply` makes)."""
    for rollout in rollouts:
        namespace, name = rollout.metadata.namespace or "default", rollout.metadata.name
        cluster.patch_rollout(namespace, name, Patch("spec", {"template": _template(name, "v2")}))
    return rollouts


def _batches(rollouts: list[Rollout], start: datetime, window: float) -> list[tuple[datetime, list[Rollout]]]:
    """`rollouts` in equal batches, one a virtual second over `window` seconds from `start`."""
    count = max(1, int(window))
    size = -(-len(rollouts) // count)
    return [
        (start + timedelta(seconds=batch), rollouts[batch * size : (batch + 1) * size])
        for batch in range(count)
        if rollouts[batch * size : (batch + 1) * size]
    ]


def run(
    count: int,
    max_virtual_seconds: float,
    timer: Callable[[], float] = time.perf_counter,
    release_window: float = 0.0,
) -> dict[str, Any]:
    """One fleet of `count` Rollouts deployed, then rolled out (every image changed at once, or over
    `release_window` virtual seconds). `timer` measures the time spent reconciling (wall time;
    `tests/perf` passes the thread's CPU time, which other processes on a shared machine do not
    inflate)."""
    gc.collect()
    rss_before = _rss_bytes()
    clock = ManualClock()
    cluster = MemoryCluster(clock, pods=ready_after(5.0))
    loop = Loop(cluster, clock, timer)
    rollouts = [_rollout(i) for i in range(count)]
    for rollout in rollouts:
        cluster.create(rollout)
    loop.enqueue(rollouts)
    _run_until_settled(loop, max_virtual_seconds)
    deploy_reconciles = loop.reconciles
    start_virtual = clock.now()
    if release_window > 0:
        loop.releases = _batches(rollouts, start_virtual, release_window)
    else:
        loop.enqueue(_release(cluster, rollouts))
    loop.delays.clear()
    loop.due_delays.clear()
    loop.busy_seconds, loop.reconciles = 0.0, 0
    _run_until_settled(loop, max_virtual_seconds)
    gc.collect()
    rss_after = _rss_bytes()
    done = [r for r in cluster.list_rollouts() if _promoted(r)]
    delays, due_delays = sorted(loop.delays), sorted(loop.due_delays)
    return {
        "rollouts": count,
        "release_window_seconds": release_window,
        "promoted": len(done),
        "virtual_seconds": (clock.now() - start_virtual).total_seconds(),
        "deploy_reconciles": deploy_reconciles,
        "rollout_reconciles": loop.reconciles,
        "reconciles_per_second": loop.reconciles / loop.busy_seconds if loop.busy_seconds else 0.0,
        "delay_p50_ms": _quantile(delays, 0.50) * 1000,
        "delay_p99_ms": _quantile(delays, 0.99) * 1000,
        "delay_max_ms": (delays[-1] if delays else 0.0) * 1000,
        "due_delay_p50_ms": _quantile(due_delays, 0.50) * 1000,
        "due_delay_p99_ms": _quantile(due_delays, 0.99) * 1000,
        "due_delay_max_ms": (due_delays[-1] if due_delays else 0.0) * 1000,
        "rss_growth_mib": (rss_after - rss_before) / 2**20,
        "rss_per_rollout_kib": (rss_after - rss_before) / count / 1024,
        "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _run_until_settled(loop: Loop, max_virtual_seconds: float) -> None:
    deadline = loop.clock.now() + timedelta(seconds=max_virtual_seconds)
    loop.drain()
    while loop.clock.now() < deadline and (
        loop.releases or not all(_settled(r) for r in loop.cluster.list_rollouts())
    ):
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


def _table(results: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    def released(result: dict[str, Any]) -> str:
        window = result["release_window_seconds"]
        return f"over {window:.0f} s" if window else "all at once"

    return [
        ("Rollouts (promoted)", [f"{r['rollouts']} ({r['promoted']})" for r in results]),
        ("time counted", [r["timer"] for r in results]),
        ("image changes", [released(r) for r in results]),
        ("virtual time of the rollout", [f"{r['virtual_seconds']:.0f} s" for r in results]),
        ("reconciles (rollout phase)", [f"{r['rollout_reconciles']}" for r in results]),
        ("reconciles per second", [f"{r['reconciles_per_second']:.0f}" for r in results]),
        ("queue delay, every reconcile, p50", [f"{r['delay_p50_ms']:.1f} ms" for r in results]),
        ("queue delay, every reconcile, p99", [f"{r['delay_p99_ms']:.1f} ms" for r in results]),
        ("queue delay, every reconcile, max", [f"{r['delay_max_ms']:.1f} ms" for r in results]),
        ("delay due -> acted on, p50", [f"{r['due_delay_p50_ms']:.1f} ms" for r in results]),
        ("delay due -> acted on, p99", [f"{r['due_delay_p99_ms']:.1f} ms" for r in results]),
        ("delay due -> acted on, max", [f"{r['due_delay_max_ms']:.1f} ms" for r in results]),
        ("resident memory per Rollout", [f"{r['rss_per_rollout_kib']:.1f} KiB" for r in results]),
        ("resident memory growth", [f"{r['rss_growth_mib']:.0f} MiB" for r in results]),
        ("peak resident memory (process)", [f"{r['rss_peak_mib']:.0f} MiB" for r in results]),
    ]


TIMERS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


def _runs_apart(
    count: int, max_virtual_seconds: float, windows: list[float], timer: str
) -> list[dict[str, Any]]:
    """One run per window, each in a fresh process so that its memory growth is its own; side by
    side when CPU time is counted (the runs do not count each other's), one after the other else."""
    spawn = multiprocessing.get_context("spawn")
    side_by_side = timer == "cpu"
    results: list[dict[str, Any]] = []
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=spawn) for _ in windows]
    try:
        futures = []
        for pool, window in zip(pools, windows, strict=True):
            futures.append(pool.submit(_quiet_run, count, max_virtual_seconds, window, timer))
            if not side_by_side:
                results.append(futures.pop().result())
        return results + [future.result() for future in futures]
    finally:
        for pool in pools:
            pool.shutdown()


def _quiet_run(count: int, max_virtual_seconds: float, window: float, timer: str) -> dict[str, Any]:
    logs.configure("warning")  # one event per step per Rollout would drown the table
    return {**run(count, max_virtual_seconds, TIMERS[timer], release_window=window), "timer": timer}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--max-virtual-seconds", type=float, default=3600.0)
    parser.add_argument(
        "--release-window",
        type=float,
        nargs="+",
        default=[0.0],
        metavar="SECONDS",
        help="spread the image changes over this many virtual seconds (0: all at the same instant); "
        "several values: one run each, in a fresh process (side by side with --timer cpu), written "
        "together as {'runs': [...]}",
    )
    parser.add_argument(
        "--timer",
        choices=sorted(TIMERS),
        default="wall",
        help="what the rate and the delays count: wall time, or this thread's CPU time (what they "
        "would be with a core to itself, for a machine other processes share)",
    )
    parser.add_argument("--result-name", default="controller_scale.json", help="the JSON file written")
    add_out_argument(parser, ["controller_scale.json", "controller_scale_10k.json"])
    args = parser.parse_args(argv)
    if len(args.release_window) == 1:
        results = [_quiet_run(args.rollouts, args.max_virtual_seconds, args.release_window[0], args.timer)]
        written_result: dict[str, Any] = results[0]
    else:
        results = _runs_apart(args.rollouts, args.max_virtual_seconds, args.release_window, args.timer)
        written_result = {"rollouts": args.rollouts, "runs": results}
    rows = _table(results)
    width = max(len(label) for label, _ in rows)
    for label, values in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{value:>16}" for value in values))
    args.out.mkdir(parents=True, exist_ok=True)
    written = args.out / args.result_name
    written.write_text(json.dumps(written_result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
