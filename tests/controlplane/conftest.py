"""Fixtures for the ``controlplane`` tier: a real etcd/kube-apiserver/controller-manager/scheduler/kwok.

Every test under this directory is marked ``controlplane`` (deselect locally with
``-m 'not controlplane'``). The binaries come from ``tests/controlplane/build.sh``; if they are missing
and at least one test here is selected, they are built once after collection (outside any test
timeout, progress streamed to the terminal). If that is impossible, the tests fail in CI (``CI=true``)
and are skipped locally with the reason.

Fixtures:
- ``control_plane`` (session): a started :class:`LocalControlPlane` (``.kubeconfig`` admin kubeconfig
  path, ``.server``, ``.kubeconfig_for_service_account(ns, name)``, ``.apply_manifests(paths)``,
  ``.create_namespace(name)``, ``.logs()``, ...).
- ``admin_api`` (session): a ``kubernetes.client.ApiClient`` authenticated as ``system:masters``.
- ``namespace`` (function): a fresh namespace (with its default ServiceAccount) deleted afterwards.
- ``canary_installed`` (session): ``manifests/crds``, ``manifests/base/{namespace,rbac}.yaml`` and the
  cluster-wide install's ``manifests/cluster-wide/rbac.yaml``
  and the test HTTPRoute CRD applied; yields the controller ServiceAccount's kubeconfig.
- ``controllers`` (function): a factory of :class:`canarytier.ControllerProcess` (started by the test,
  stopped afterwards).
- ``namespace_controller`` (function): a ready controller for ``namespace``, with the "search" app's
  Services, HTTPRoute and the ``web-health`` template there.
- ``health_endpoint`` (session): a loopback HTTP endpoint for ``web`` analysis metrics.

Environment: ``CANARY_CONTROLPLANE_CACHE`` (cache root), ``CANARY_CONTROLPLANE_BUILD=0`` (never build
from pytest), ``CANARY_CONTROLPLANE_KEEP=1`` (keep the work dir with logs and kubeconfigs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import canarytier  # noqa: E402
from health import HealthEndpoint  # noqa: E402
from localcluster import BUILD_SCRIPT, ControlPlaneError, LocalControlPlane  # noqa: E402

_BIN_DIR = pytest.StashKey[Path]()
_BUILD_ERROR = pytest.StashKey[str]()
_FAILED = pytest.StashKey[bool]()
_INSTANCE = pytest.StashKey[LocalControlPlane]()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _ours(item: pytest.Item) -> bool:
    return HERE in Path(item.path).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _ours(item):
            item.add_marker(pytest.mark.controlplane)


def _ensure_built(config: pytest.Config) -> None:
    """Build the binaries if missing; record the bin dir or the reason it is unavailable."""
    check = subprocess.run(["bash", str(BUILD_SCRIPT), "--check"], check=False)
    bin_dir = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-bin-dir"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if check.returncode == 0:
        config.stash[_BIN_DIR] = Path(bin_dir)
        return
    if os.environ.get("CANARY_CONTROLPLANE_BUILD", "1") == "0":
        config.stash[_BUILD_ERROR] = (
            f"control-plane binaries not built ({bin_dir}) and CANARY_CONTROLPLANE_BUILD=0; run {BUILD_SCRIPT}"
        )
        return
    if shutil.which("go") is None:
        config.stash[_BUILD_ERROR] = (
            f"control-plane binaries not built ({bin_dir}) and no Go toolchain to build them; "
            f"install Go >= 1.26 and run {BUILD_SCRIPT}"
        )
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    say(f"controlplane: building binaries with {BUILD_SCRIPT} (cold: ~7 min on 2 cores) ...")
    t0 = time.monotonic()
    tail: list[str] = []
    with subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            say("  " + line.rstrip())
            tail = [*tail[-30:], line.rstrip()]
    if proc.returncode != 0:
        config.stash[_BUILD_ERROR] = f"{BUILD_SCRIPT} failed (exit {proc.returncode}):\n" + "\n".join(tail)
        return
    say(f"controlplane: built in {time.monotonic() - t0:.0f}s")
    config.stash[_BIN_DIR] = Path(bin_dir)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Runs after -m/-k deselection: build only if a control-plane test will actually run.
    if not session.config.option.collectonly and any(_ours(i) for i in session.items):
        _ensure_built(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if _ours(item) and report.failed:
        item.config.stash[_FAILED] = True
        cp = item.config.stash.get(_INSTANCE, None)
        if cp is not None:
            report.sections.append(("control-plane component logs", cp.logs(lines=30)))
    return report


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"control plane unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"control plane unavailable: {reason}")


@pytest.fixture(scope="session")
def control_plane(pytestconfig: pytest.Config) -> Iterator[LocalControlPlane]:
    """A running control plane with 3 kwok fake nodes, shared by the whole test session."""
    if _BUILD_ERROR in pytestconfig.stash:
        _unavailable(pytestconfig.stash[_BUILD_ERROR])
    if _BIN_DIR not in pytestconfig.stash:  # e.g. collection hook skipped: try again now
        _ensure_built(pytestconfig)
        if _BUILD_ERROR in pytestconfig.stash:
            _unavailable(pytestconfig.stash[_BUILD_ERROR])
    cp = LocalControlPlane(
        pytestconfig.stash[_BIN_DIR], nodes=3, keep_work_dir=os.environ.get("CANARY_CONTROLPLANE_KEEP") == "1"
    )
    try:
        cp.start()
    except ControlPlaneError as exc:
        cp.keep_work_dir = True
        cp.stop()
        pytest.fail(f"control plane failed to start:\n{exc}", pytrace=False)
    pytestconfig.stash[_INSTANCE] = cp
    try:
        yield cp
    finally:
        if pytestconfig.stash.get(_FAILED, False):
            cp.keep_work_dir = True
        del pytestconfig.stash[_INSTANCE]
        cp.stop()
        if cp.keep_work_dir:
            print(f"\ncontrol-plane work dir kept (logs, kubeconfigs): {cp.work_dir}", file=sys.stderr)


@pytest.fixture(scope="session")
def admin_api(control_plane: LocalControlPlane) -> Iterator[Any]:
    """A ``kubernetes.client.ApiClient`` authenticated as cluster admin (``system:masters``)."""
    api = control_plane.api_client()
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def namespace(control_plane: LocalControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test (its default ServiceAccount exists); deleted afterwards."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:6]}"
    control_plane.create_namespace(name)
    yield name
    if control_plane.components:
        control_plane.core_v1().delete_namespace(name)


@pytest.fixture(scope="session")
def canary_installed(control_plane: LocalControlPlane) -> Path:
    """The manifests a cluster admin installs (CRDs, namespace, the cluster-wide install's RBAC) plus
    the test HTTPRoute CRD; the path of a kubeconfig for the controller's ServiceAccount, which has
    only what that RBAC grants."""
    manifests = canarytier.ROOT / "manifests"
    control_plane.apply_manifests(
        [
            manifests / "crds",
            manifests / "base" / "namespace.yaml",
            manifests / "base" / "rbac.yaml",
            manifests / "cluster-wide" / "rbac.yaml",  # the tests' controllers watch any namespace
            canarytier.DATA / "httproute-crd.yaml",
        ]
    )
    return control_plane.kubeconfig_for_service_account(
        canarytier.CONTROLLER_NAMESPACE, canarytier.CONTROLLER_ACCOUNT, create=False
    )


@pytest.fixture
def controllers(
    control_plane: LocalControlPlane, canary_installed: Path
) -> Iterator[Callable[..., canarytier.ControllerProcess]]:
    """``controllers(namespace=ns, name="controller", extra_args=...)``: an unstarted controller process
    with the ServiceAccount's kubeconfig; every one made is stopped after the test."""
    made: list[canarytier.ControllerProcess] = []
    log_dir = control_plane.work_dir / "controllers"
    log_dir.mkdir(exist_ok=True)

    def make(**kwargs: Any) -> canarytier.ControllerProcess:
        name = kwargs.pop("name", "controller")
        proc = canarytier.ControllerProcess(
            canary_installed, log_dir=log_dir, name=f"{name}-{uuid.uuid4().hex[:6]}", **kwargs
        )
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.stop()


@pytest.fixture
def namespace_controller(
    control_plane: LocalControlPlane, namespace: str, controllers: Callable[..., canarytier.ControllerProcess]
) -> canarytier.ControllerProcess:
    """A ready controller watching ``namespace``, where the Services and HTTPRoute of
    ``canarytier.routing_for("search")`` and the ``web-health`` AnalysisTemplate exist."""
    control_plane.apply_manifests(
        [*canarytier.routing_for("search"), canarytier.DATA / "web-analysis-template.yaml"],
        namespace=namespace,
    )
    proc = controllers(namespace=namespace)
    proc.start()
    proc.wait_ready()
    return proc


@pytest.fixture(scope="session")
def health_endpoint() -> Iterator[HealthEndpoint]:
    with HealthEndpoint() as endpoint:
        yield endpoint
