"""A stop request ends the controller cleanly in every state: exit code 0, no traceback.

The states a SIGTERM can find a replica in (a rolling update or a node drain sends one to each):
leading, standing by while another replica holds the Lease, and not yet past its informers' first
list. The `canary controller` process is run against the in-process fake apiserver and signalled as
the kubelet does; the before-the-informers state is driven on the `Controller` itself, since a signal
cannot be aimed at that instant from outside.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_apiserver import FakeApiServer

from canary.cluster.kube_api import KubeApi
from canary.controller.leader import LeaderElector
from canary.controller.manager import Controller, Settings

ROOT = Path(__file__).resolve().parents[3]
LEASES = ("coordination.k8s.io/v1", "leases", "default", "canary-controller")


def _eventually(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{server}"}}}}]
users: [{{name: fake, user: {{token: fake}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]
current-context: fake
"""
    )
    return path


def _lease_held_by(holder: str) -> dict[str, object]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "canary-controller", "namespace": "default"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 3600,
            "acquireTime": now,
            "renewTime": now,
        },
    }


def _holder(apiserver: FakeApiServer) -> str | None:
    lease = apiserver.read(*LEASES)
    return None if lease is None else lease["spec"].get("holderIdentity")


@pytest.fixture
def start_replica(
    apiserver: FakeApiServer, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Starts `canary controller --leader-elect` as replica NAME; its stderr goes to tmp_path/NAME.log."""
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", apiserver.url)
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        argv = [
            sys.executable, "-m", "canary.cli.main", "controller", "--kubeconfig", str(kubeconfig),
            "--leader-elect", "--lease-namespace", "default", "--lease-duration", "3.5",
            "--metrics-port", str(_free_port()), "--workers", "1",
        ]  # fmt: skip
        with (tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "POD_NAME": name}
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _stop(process: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=15)
    return code, log.read_text(errors="replace")


def test_a_standby_replica_exits_0_on_sigterm(
    apiserver: FakeApiServer, start_replica: Callable[[str], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    apiserver.put(_lease_held_by("the-leader"))
    standby = start_replica("standby")
    _eventually(lambda: apiserver.count("GET", "/leases/") >= 2, "the standby read the Lease twice")
    code, log = _stop(standby, tmp_path / "standby.log")
    assert (code, "Traceback" in log) == (0, False), log
    assert _holder(apiserver) == "the-leader"


def test_the_leader_exits_0_on_sigterm_and_releases_the_lease(
    apiserver: FakeApiServer, start_replica: Callable[[str], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    leader = start_replica("leader")
    _eventually(lambda: "controller working" in (tmp_path / "leader.log").read_text(), "the leader works")
    code, log = _stop(leader, tmp_path / "leader.log")
    assert (code, "Traceback" in log) == (0, False), log
    assert _holder(apiserver) == ""


def _run_in_thread(
    controller: Controller, stop: threading.Event
) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            controller.run(stop)
        except BaseException as error:  # the test reports whatever escaped
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def test_a_stop_before_the_informers_started_returns_without_ever_starting_to_work(api: KubeApi) -> None:
    controller = Controller(api, Settings(workers=1, resync_seconds=60))
    stop = threading.Event()
    stop.set()
    thread, errors = _run_in_thread(controller, stop)
    thread.join(5)
    assert (thread.is_alive(), errors) == (False, [])
    assert controller.metrics.registry.get_sample_value("canary_leader") == 0


def test_a_stop_while_the_informers_cannot_list_returns_at_once(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    apiserver.fail("GET", "/rollouts", 503, times=1000)  # the first list never succeeds
    controller = Controller(api, Settings(workers=1, resync_seconds=60))
    stop = threading.Event()
    thread, errors = _run_in_thread(controller, stop)
    _eventually(lambda: apiserver.count("GET", "/rollouts", 503) >= 1, "a failed list")
    started = time.monotonic()
    stop.set()
    thread.join(5)
    assert (thread.is_alive(), errors) == (False, [])
    assert time.monotonic() - started < 2


def test_a_standby_controller_stopped_in_process_raises_nothing(
    apiserver: FakeApiServer, api: KubeApi
) -> None:
    apiserver.put(_lease_held_by("the-leader"))
    leader = LeaderElector(
        api, namespace="default", name="canary-controller", identity="standby",
        lease_duration=3, renew_deadline=2, retry_period=0.2,
    )  # fmt: skip
    controller = Controller(api, Settings(workers=1, resync_seconds=60), leader=leader)
    stop = threading.Event()
    thread, errors = _run_in_thread(controller, stop)
    _eventually(lambda: apiserver.count("GET", "/leases/") >= 2, "the standby read the Lease twice")
    stop.set()
    thread.join(5)
    assert (thread.is_alive(), errors, controller.lost_leadership) == (False, [], False)
