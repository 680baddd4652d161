"""`canary dashboard --cluster memory`: the demo's two releases played on the embedded cluster while
the page watches, paced to be watched (virtual seconds per real second).

After the script the cluster keeps running, so a verb pressed on the page (abort, retry, ...) plays
out too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from canary.api.rollout import Rollout
from canary.cli import commands_demo
from canary.sim.driver import Simulation
from canary.sim.workload import Behaviour

RELEASE_SECONDS = 900.0
"""Virtual seconds a release may take before the script moves on (the demo's own bound)."""
SETTLED_SECONDS = 30.0
"""Virtual seconds the page shows a promoted release Healthy before the next release starts."""


class DemoDriver(threading.Thread):
    """Ticks the simulation under the dashboard's lock: a good release promoted, a bad one aborted."""

    def __init__(self, simulation: Simulation, lock: threading.Lock, speed: float) -> None:
        super().__init__(name="canary-demo", daemon=True)
        self.simulation, self.lock, self.speed = simulation, lock, speed
        self.stopped = threading.Event()

    def run(self) -> None:
        self._until(lambda r: r.status.phase == "Healthy")
        good = self._release("checkout:1.1", commands_demo.GOOD)
        self._until(lambda r: r.status.stable_rs == good and r.status.phase == "Healthy")
        self._for(SETTLED_SECONDS)
        self._release("checkout:1.2", commands_demo.BAD)
        self._until(lambda r: r.status.abort and r.status.phase == "Degraded")
        while not self.stopped.is_set():
            self._tick()

    def stop(self) -> None:
        self.stopped.set()

    def _release(self, image: str, behaviour: Behaviour) -> str:
        with self.lock:
            return commands_demo.release(self.simulation, image, behaviour)

    def _for(self, seconds: float) -> None:
        self._until(lambda _: False, seconds)

    def _until(self, done: Callable[[Rollout], bool], seconds: float = RELEASE_SECONDS) -> None:
        clock = self.simulation.clock
        deadline = clock.now().timestamp() + seconds
        while not self.stopped.is_set() and clock.now().timestamp() < deadline:
            self._tick()
            with self.lock:
                rollout = self.simulation.cluster.get_rollout(commands_demo.NAMESPACE, commands_demo.NAME)
            if done(rollout):
                return

    def _tick(self) -> None:
        with self.lock:
            before = self.simulation.clock.now()
            self.simulation.tick()
            step = (self.simulation.clock.now() - before).total_seconds()
        self.stopped.wait(step / self.speed)
