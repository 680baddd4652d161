"""The ``live`` tier: real requests through Traefik to kwok pods served by the pod runner, measured by a
real Prometheus, judged by our controller while the rollout runs.

Everything runs inside a network namespace the tier makes itself (netns.py), so pod IPs are local
addresses and no packet leaves. A pytest process cannot move into a namespace half-way through a
session (other tiers' servers live outside it), so when live tests are selected the session builds
what they need outside (the control plane, Traefik: the Go module proxy is outside), then runs those
tests in a second pytest inside the namespace and reports each one's outcome as its own.

Inside, the session fixture ``live_stack`` starts the control plane, Traefik, the pod runner and
Prometheus once (stack.LiveStack).

Environment: CANARY_LIVE_KEEP=1 keeps the work dir (logs of every component).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.reports import TestReport

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import netns  # noqa: E402
import stack  # noqa: E402
from localcluster import BUILD_SCRIPT  # noqa: E402

REPORT_ENV = "CANARY_LIVE_REPORT"
_RESULTS = pytest.StashKey[dict[str, list[dict[str, Any]]]]()
_OUTPUT = pytest.StashKey[str]()
INNER_TIMEOUT = 40 * 60


def _ours(item: pytest.Item) -> bool:
    return HERE in Path(item.path).resolve().parents


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _ours(item):
            item.add_marker(pytest.mark.live)


# --------------------------------------------------------------------------------------------------
# outside the namespace: build, run the live tests inside, report their outcomes


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr)


def _unavailable() -> str | None:
    """Why the tier cannot run here, after building what is missing; None when it can."""
    if shutil.which("prometheus") is None:
        return "no `prometheus` on PATH (scripts/install-test-deps.sh installs it)"
    reason = netns.available()
    if reason:
        return reason
    for script in (BUILD_SCRIPT, stack.TRAEFIK_BUILD, stack.PROMETHEUS_BUILD):
        if subprocess.run(["bash", str(script), "--check"], check=False).returncode == 0:
            continue
        if os.environ.get("CANARY_CONTROLPLANE_BUILD", "1") == "0" or shutil.which("go") is None:
            return f"{script} has not been built and cannot be built here (Go, CANARY_CONTROLPLANE_BUILD)"
        built = subprocess.run(["bash", str(script)], check=False, stdout=subprocess.DEVNULL)
        if built.returncode != 0:
            return f"{script} failed (exit {built.returncode})"
    return None


def _run_inside(config: pytest.Config, nodeids: list[str]) -> None:
    results: dict[str, list[dict[str, Any]]] = {}
    config.stash[_RESULTS] = results
    reason = _unavailable()
    if reason:
        config.stash[_OUTPUT] = f"live tier unavailable: {reason}"
        return
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", prefix="canary-live-") as report:
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *nodeids]
        _say(config, f"live: running {len(nodeids)} test(s) inside a network namespace ...")
        tail: list[str] = []
        env = {**os.environ, REPORT_ENV: report.name}
        with subprocess.Popen(
            netns.command(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                _say(config, "  live| " + line.rstrip())
                tail = [*tail[-60:], line.rstrip()]
        config.stash[_OUTPUT] = "\n".join(tail)
        for line in report:
            record = json.loads(line)
            results.setdefault(record["nodeid"], []).append(record)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if netns.inside() or session.config.option.collectonly:
        return
    nodeids = [item.nodeid for item in session.items if _ours(item)]
    if nodeids:
        _run_inside(session.config, nodeids)


def _replayed(item: pytest.Item, record: dict[str, Any]) -> TestReport:
    longrepr: Any = record["longrepr"] or None
    if record["outcome"] == "skipped":
        longrepr = (str(item.path), item.location[1] or 0, record["longrepr"])
    report = TestReport(
        item.nodeid,
        item.location,
        {k: 1 for k in item.keywords},
        record["outcome"],
        longrepr,
        record["when"],
        sections=[],
        duration=record["duration"],
    )
    if record.get("wasxfail") is not None:  # xfailed / xpassed inside: reported as such outside
        report.wasxfail = record["wasxfail"]
    return report


def _missing(item: pytest.Item) -> list[dict[str, Any]]:
    output = item.config.stash.get(_OUTPUT, "")
    unavailable = output.startswith("live tier unavailable")
    outcome = "failed" if not unavailable or _in_ci() else "skipped"
    why = output if unavailable else f"no outcome from the live session inside the namespace:\n{output}"
    return [{"when": "setup", "outcome": outcome, "longrepr": why, "duration": 0.0}]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if netns.inside() or not _ours(item):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    records = item.config.stash.get(_RESULTS, {}).get(item.nodeid) or _missing(item)
    for record in records:
        item.ihook.pytest_runtest_logreport(report=_replayed(item, record))
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


# --------------------------------------------------------------------------------------------------
# inside the namespace


def pytest_runtest_logreport(report: TestReport) -> None:
    path = os.environ.get(REPORT_ENV)
    if not netns.inside() or not path:
        return
    record = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "longrepr": report.longreprtext if report.outcome == "failed" else _skip_reason(report),
        "duration": report.duration,
        "wasxfail": getattr(report, "wasxfail", None),
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def _skip_reason(report: TestReport) -> str:
    if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return ""


@pytest.fixture(scope="session")
def live_stack() -> Iterator[stack.LiveStack]:
    if not netns.inside():
        pytest.fail("the live tier runs only inside its network namespace (see tests/live/conftest.py)")
    work_dir = Path(tempfile.mkdtemp(prefix="canary-live-"))
    live = stack.LiveStack(work_dir)
    try:
        live.start()
    except Exception as error:
        live.stop()
        pytest.fail(f"live stack failed to start: {error}\n{live.logs()}", pytrace=False)
    try:
        yield live
    finally:
        live.stop()
        if os.environ.get("CANARY_LIVE_KEEP") == "1":
            print(f"\nlive work dir kept: {work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
