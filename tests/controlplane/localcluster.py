"""A real Kubernetes control plane on loopback for the ``controlplane`` test tier.

``LocalControlPlane`` starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
(fake nodes whose pods really go through scheduling and become Running/Ready) from the binaries that
``tests/controlplane/build.sh`` caches, with generated certificates, RBAC+Node authorization and
service-account tokens, all on 127.0.0.1 with free ports.

    with LocalControlPlane(bin_dir, nodes=3) as cp:
        api = cp.api_client()                         # admin (system:masters) ApiClient
        cp.apply_manifests(["manifests/crds/"])
        path = cp.kubeconfig_for_service_account("ns", "canary-controller")

Every component runs in its own process group, dies with the Python process (PR_SET_PDEATHSIG) and is
stopped on ``__exit__`` even if the body raised. Component logs live in ``<work_dir>/logs/`` (see
:meth:`LocalControlPlane.logs`).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import functools
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build.sh"

FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = "canary-test-admin"

T = TypeVar("T")


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (the message carries the tail of the component logs)."""


# --------------------------------------------------------------------------------------------------
# binaries


@dataclass(frozen=True)
class Binaries:
    """Paths of the cached binaries produced by ``build.sh``."""

    bin_dir: Path

    @property
    def kwok_stages(self) -> Path:
        return self.bin_dir.parent / "kwok" / "stages.yaml"

    def path(self, name: str) -> Path:
        return self.bin_dir / name

    def missing(self) -> list[str]:
        names = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
        out = [n for n in names if not os.access(self.path(n), os.X_OK)]
        if not self.kwok_stages.is_file():
            out.append(str(self.kwok_stages))
        return out


def role_binding(
    name: str, *, role: str, account: str, namespace: str, cluster: bool = True
) -> dict[str, Any]:
    """A (Cluster)RoleBinding of the (Cluster)Role `role` to the ServiceAccount `namespace/account`."""
    prefix = "Cluster" if cluster else ""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{prefix}RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": f"{prefix}Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def cached_bin_dir() -> Path:
    """The bin directory for the pinned versions (whether or not it has been built yet)."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-bin-dir"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def build(log: Path | None = None, timeout: float = 3600) -> Path:
    """Run ``build.sh`` (a no-op when cached) and return the bin directory. Raises on failure."""
    with contextlib.ExitStack() as stack:
        stderr = stack.enter_context(log.open("ab")) if log else None
        out = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, stderr=stderr, timeout=timeout
        )
    return Path(out.stdout.decode().strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# certificates


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


class CertificateAuthority:
    """A throwaway CA issuing the serving certificate and the client certificates (CN=user, O=groups)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "canary-test-ca")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pair = KeyPair(directory / "ca.crt", directory / "ca.key")
        self.pair.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        _write_key(self.pair.key, self._key)

    def issue(
        self,
        stem: str,
        common_name: str,
        organizations: Iterable[str] = (),
        *,
        server: bool = False,
        dns_names: Iterable[str] = (),
        ips: Iterable[str] = (),
    ) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    content_commitment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        pair = KeyPair(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(pair.key, key)
        return pair


# --------------------------------------------------------------------------------------------------
# processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


try:  # resolved once in the parent, so the child only makes the one libc call
    _PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc: rely on stop() alone
    _PRCTL = None


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when the parent dies (PR_SET_PDEATHSIG).

    Note that the "parent" is the thread that forked: start the control plane from a long-lived thread
    (the main thread, as pytest fixtures do).
    """
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str] | None = None) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg reaches anything it forks
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - one prctl call, no locks taken
                env=dict(env) if env is not None else None,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM to the component's process group without waiting."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL whatever is left."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # Always sweep the group: a SIGTERMed leader may leave children behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.1,
    check: Callable[[], None] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None/False; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        if check is not None:
            check()
        try:
            result = probe()
            if result is not None and result is not False:
                return result
        except Exception as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc!r})"
            )
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------
# the control plane


class LocalControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok on 127.0.0.1.

    Attributes after ``start()``: ``server`` (https URL), ``kubeconfig`` (admin, ``system:masters``),
    ``ca_file``, ``work_dir``, ``log_dir``, ``node_names``.
    """

    def __init__(
        self,
        bin_dir: Path | str | None = None,
        *,
        work_dir: Path | str | None = None,
        nodes: int = 3,
        node_cpu: str = "64",
        node_memory: str = "256Gi",
        node_pods: str = "500",
        startup_timeout: float = 90.0,
        keep_work_dir: bool = False,
        extra_apiserver_args: Iterable[str] = (),
    ) -> None:
        self.binaries = Binaries(Path(bin_dir) if bin_dir else cached_bin_dir())
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="canary-controlplane-"))
        self.log_dir = self.work_dir / "logs"
        self.pki_dir = self.work_dir / "pki"
        self.kubeconfig = self.work_dir / "admin.kubeconfig"
        self.ca_file = self.pki_dir / "ca.crt"
        self.nodes = nodes
        self.node_capacity = {"cpu": node_cpu, "memory": node_memory, "pods": node_pods}
        self.startup_timeout = startup_timeout
        self.keep_work_dir = keep_work_dir
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.components: dict[str, Component] = {}
        self.node_names: list[str] = []
        self.server = ""
        self.timings: dict[str, float] = {}
        self._admin: KeyPair | None = None
        self._api: Any = None
        self._sa_counter = 0

    # -- context manager ----------------------------------------------------------------------------

    def __enter__(self) -> LocalControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        missing = self.binaries.missing()
        if missing:
            raise ControlPlaneError(
                f"control-plane binaries missing in {self.binaries.bin_dir}: {missing}; run {BUILD_SCRIPT}"
            )
        t0 = time.monotonic()
        for d in (self.log_dir, self.pki_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._write_pki()
        self.timings["pki"] = time.monotonic() - t0
        try:
            self._with_port_retry("etcd", self._launch_etcd, self._wait_for_etcd)
            self.timings["etcd"] = time.monotonic() - t0
            self._with_port_retry("kube-apiserver", self._launch_apiserver, self._wait_for_apiserver)
            self.timings["apiserver"] = time.monotonic() - t0
            # (Starting the controllers before the apiserver is ready was measured: no faster on 2 cores.)
            self._start_controllers()
            self._wait_for_default_service_account()
            self.timings["default-serviceaccount"] = time.monotonic() - t0
            self.create_fake_nodes(self.nodes)
            self.timings["nodes-ready"] = time.monotonic() - t0
        except (TimeoutError, ControlPlaneError) as exc:
            raise ControlPlaneError(f"{exc}\n\n{self.logs()}") from exc
        self.timings["total"] = time.monotonic() - t0

    def stop(self) -> None:
        """Stop every component (reverse start order); remove the work dir unless asked to keep it."""
        if self._api is not None:
            with contextlib.suppress(Exception):
                self._api.close()
            self._api = None
        # Clients of the apiserver together, then the apiserver, then etcd: an apiserver whose etcd is
        # gone takes seconds to shut down.
        clients = [c for n, c in self.components.items() if n not in ("kube-apiserver", "etcd")]
        for component in clients:
            component.terminate()
        for component in clients:
            component.stop(grace=10)
        for name in ("kube-apiserver", "etcd"):
            if name in self.components:
                self.components[name].stop(grace=10)
        if self._own_work_dir and not self.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def check_alive(self) -> None:
        """Raise ControlPlaneError if a component has exited."""
        dead = [c for c in self.components.values() if not c.running()]
        if dead:
            c = dead[0]
            code = c.process.returncode if c.process else None
            raise ControlPlaneError(f"{c.name} exited with code {code}; its log:\n{c.tail(60)}")

    def logs(self, lines: int = 40) -> str:
        """The last ``lines`` lines of every component's log, for printing on test failure."""
        parts = [f"control-plane work dir: {self.work_dir}"]
        for c in self.components.values():
            parts.append(f"----- {c.name} ({c.log_path}) -----\n{c.tail(lines)}")
        return "\n".join(parts)

    # -- internals ----------------------------------------------------------------------------------

    def _write_pki(self) -> None:
        ca = CertificateAuthority(self.pki_dir)
        self._ca = ca
        self.serving = ca.issue(
            "apiserver",
            "kube-apiserver",
            server=True,
            dns_names=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ips=["127.0.0.1", KUBERNETES_SERVICE_IP],
        )
        self._admin = ca.issue("admin", ADMIN_USER, ["system:masters"])
        self._clients = {
            "kube-controller-manager": ca.issue("controller-manager", "system:kube-controller-manager"),
            "kube-scheduler": ca.issue("scheduler", "system:kube-scheduler"),
            # kwok patches node and pod status on behalf of many fake kubelets: give it admin.
            "kwok": ca.issue("kwok", "kwok-controller", ["system:masters"]),
        }
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sa_key = self.pki_dir / "sa.key"
        self.sa_pub = self.pki_dir / "sa.pub"
        _write_key(self.sa_key, sa_key)
        self.sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def _add(self, name: str, argv: list[str]) -> Component:
        c = Component(name, argv, self.log_dir / f"{name}.log")
        self.components[name] = c
        c.start()
        return c

    def _with_port_retry(self, name: str, launch: Callable[[], None], wait: Callable[[], None]) -> None:
        """Free ports are picked before the process binds them: retry if another process won the race."""
        for attempt in range(3):
            launch()
            try:
                wait()
                return
            except ControlPlaneError:
                component = self.components[name]
                if attempt == 2 or "address already in use" not in component.tail(300):
                    raise
                component.stop()

    def _launch_etcd(self) -> None:
        shutil.rmtree(self.work_dir / "etcd", ignore_errors=True)  # fresh member on a retry
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._add(
            "etcd",
            [
                str(self.binaries.path("etcd")),
                "--name=default",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

    def _wait_for_etcd(self) -> None:
        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as r:
                return bool(json.load(r).get("health") == "true")

        wait_for("etcd /health", healthy, self.startup_timeout, check=self.check_alive)

    def _ssl_context(self) -> ssl.SSLContext:
        assert self._admin is not None
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(str(self._admin.cert), str(self._admin.key))
        return ctx

    def _launch_apiserver(self) -> None:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self._add(
            "kube-apiserver",
            [
                str(self.binaries.path("kube-apiserver")),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.work_dir / 'apiserver-certs'}",
                f"--tls-cert-file={self.serving.cert}",
                f"--tls-private-key-file={self.serving.key}",
                f"--client-ca-file={self.ca_file}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={self.sa_pub}",
                f"--service-account-signing-key-file={self.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # Without this the apiserver refuses 127.0.0.1 as its advertised endpoint and exits.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                *self.extra_apiserver_args,
            ],
        )
        self._write_admin_kubeconfig()

    def _wait_for_apiserver(self) -> None:
        ctx = self._ssl_context()

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", timeout=2, context=ctx) as r:
                    return bool(r.status == 200)
            except urllib.error.HTTPError:
                return False

        wait_for("kube-apiserver /readyz", ready, self.startup_timeout, check=self.check_alive)

    def _component_kubeconfig(self, name: str) -> Path:
        pair = self._clients[name]
        path = self.work_dir / f"{name}.kubeconfig"
        _write_kubeconfig(
            path,
            self.server,
            self.ca_file,
            user=name,
            auth={"client-certificate": str(pair.cert), "client-key": str(pair.key)},
        )
        return path

    def _write_admin_kubeconfig(self) -> None:
        assert self._admin is not None
        _write_kubeconfig(
            self.kubeconfig,
            self.server,
            self.ca_file,
            user=ADMIN_USER,
            auth={"client-certificate": str(self._admin.cert), "client-key": str(self._admin.key)},
        )

    def _start_controllers(self) -> None:
        self._add(
            "kube-controller-manager",
            [
                str(self.binaries.path("kube-controller-manager")),
                f"--kubeconfig={self._component_kubeconfig('kube-controller-manager')}",
                f"--service-account-private-key-file={self.sa_key}",
                f"--root-ca-file={self.ca_file}",
                f"--cluster-signing-cert-file={self.ca_file}",
                f"--cluster-signing-key-file={self.pki_dir / 'ca.key'}",
                "--use-service-account-credentials=true",
                # The default client rate limit (20 qps) makes start-up (one ServiceAccount + token per
                # controller) take ~6 s and throttles pod churn in large tests; loopback can take far more.
                "--kube-api-qps=200",
                "--kube-api-burst=400",
                "--leader-elect=false",
                "--secure-port=0",
                "--bind-address=127.0.0.1",
                "--controllers=*,-nodeipam",
            ],
        )
        self._add(
            "kube-scheduler",
            [
                str(self.binaries.path("kube-scheduler")),
                f"--kubeconfig={self._component_kubeconfig('kube-scheduler')}",
                "--leader-elect=false",
                "--secure-port=0",
                "--bind-address=127.0.0.1",
            ],
        )
        self._add(
            "kwok",
            [
                str(self.binaries.path("kwok")),
                f"--kubeconfig={self._component_kubeconfig('kwok')}",
                f"--config={self.binaries.kwok_stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
                "--cidr=10.128.0.0/16",  # pod IPs; the default /24 runs out past ~250 pods
                "--node-lease-duration-seconds=40",
            ],
        )

    def _wait_for_default_service_account(self) -> None:
        core = self.core_v1()
        wait_for(
            "namespace default",
            lambda: core.read_namespace("default"),
            self.startup_timeout,
            check=self.check_alive,
        )
        wait_for(
            "ServiceAccount default/default",
            lambda: core.read_namespaced_service_account("default", "default"),
            self.startup_timeout,
            check=self.check_alive,
        )

    # -- public helpers -----------------------------------------------------------------------------

    def api_client(self) -> Any:
        """A new admin ``kubernetes.client.ApiClient`` (caller closes it; or use ``.api``)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    @property
    def api(self) -> Any:
        """A shared admin ApiClient owned by the control plane (closed on stop)."""
        if self._api is None:
            self._api = self.api_client()
        return self._api

    def core_v1(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def create_fake_nodes(self, count: int, prefix: str = "kwok-node-", wait: bool = True) -> list[str]:
        """Create ``count`` kwok-managed Nodes; with ``wait`` block until they are Ready and untainted."""
        core = self.core_v1()
        start = len(self.node_names)
        names = [f"{prefix}{i}" for i in range(start, start + count)]
        for name in names:
            core.create_node(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {FAKE_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                        "labels": {
                            "type": "kwok",
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                        },
                    },
                    "status": {"allocatable": dict(self.node_capacity), "capacity": dict(self.node_capacity)},
                }
            )
        self.node_names += names
        if wait:
            for name in names:
                wait_for(
                    f"node {name} Ready",
                    functools.partial(_node_schedulable, core, name),
                    self.startup_timeout,
                    check=self.check_alive,
                )
        return names

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Create a namespace and wait until its ``default`` ServiceAccount exists (pods need it)."""
        core = self.core_v1()
        core.create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
        wait_for(
            f"ServiceAccount {name}/default",
            lambda: core.read_namespaced_service_account("default", name),
            30,
        )

    def kubeconfig_for_service_account(
        self, namespace: str, name: str, *, expiration_seconds: int = 24 * 3600, create: bool = True
    ) -> Path:
        """Write a kubeconfig authenticating as ServiceAccount ``namespace/name`` (TokenRequest API).

        With ``create`` the ServiceAccount is created if it does not exist. The kubeconfig has no
        permissions beyond what RBAC grants the ServiceAccount.
        """
        from kubernetes.client.exceptions import ApiException

        core = self.core_v1()
        if create:
            try:
                core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
            except ApiException as exc:
                if exc.status != 409:
                    raise
        token = core.create_namespaced_service_account_token(
            name,
            namespace,
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": expiration_seconds},
            },
        ).status.token
        self._sa_counter += 1
        path = self.work_dir / f"sa-{namespace}-{name}-{self._sa_counter}.kubeconfig"
        _write_kubeconfig(
            path,
            self.server,
            self.ca_file,
            user=f"system:serviceaccount:{namespace}:{name}",
            auth={"token": token},
            namespace=namespace,
        )
        path.chmod(0o600)
        return path

    def apply_manifests(
        self,
        sources: Iterable[Path | str | Mapping[str, Any]],
        *,
        namespace: str | None = None,
        field_manager: str = "canary-tests",
        wait_crds: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Server-side apply YAML files, directories (``*.yaml``/``*.yml``/``*.json``, sorted) or dicts.

        Namespaces and CustomResourceDefinitions go first (and CRDs are waited for until Established),
        then everything else in file order. ``namespace`` fills in namespaced objects that carry none.
        Returns the applied objects as the server returned them.
        """
        from kubernetes.dynamic import DynamicClient

        docs = list(_load_documents(sources))
        first = [d for d in docs if d.get("kind") in ("Namespace", "CustomResourceDefinition")]
        rest = [d for d in docs if d.get("kind") not in ("Namespace", "CustomResourceDefinition")]
        dyn = DynamicClient(self.api, cache_file=str(self.work_dir / "discovery-cache.json"))
        applied: list[dict[str, Any]] = []

        def apply(doc: Mapping[str, Any]) -> dict[str, Any]:
            resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            ns = None
            if resource.namespaced:
                ns = doc.get("metadata", {}).get("namespace") or namespace or "default"
            result = resource.server_side_apply(
                body=dict(doc), namespace=ns, field_manager=field_manager, force_conflicts=True
            )
            return dict(result.to_dict())

        for doc in first:
            applied.append(apply(doc))
        crds = [d["metadata"]["name"] for d in first if d["kind"] == "CustomResourceDefinition"]
        if crds:
            self.wait_for_crds(crds, timeout=wait_crds)
            dyn.resources.invalidate_cache()
        applied += [apply(doc) for doc in rest]
        return applied

    def wait_for_crds(self, names: Iterable[str], timeout: float = 30.0) -> None:
        """Block until the named CRDs are Established (their REST endpoints serve)."""
        from kubernetes import client

        ext = client.ApiextensionsV1Api(self.api)

        def established(name: str) -> bool:
            crd = ext.read_custom_resource_definition(name)
            conds = (crd.status.conditions or []) if crd.status else []
            return any(c.type == "Established" and c.status == "True" for c in conds)

        for name in names:
            wait_for(f"CRD {name} Established", functools.partial(established, name), timeout)


# --------------------------------------------------------------------------------------------------
# helpers


def _node_schedulable(core: Any, name: str) -> bool:
    """Ready, and without the node.kubernetes.io/* taints the node lifecycle controller sets."""
    node = core.read_node(name)
    conds = (node.status.conditions or []) if node.status else []
    ready = any(c.type == "Ready" and c.status == "True" for c in conds)
    taints = node.spec.taints or []
    return ready and not any(t.key.startswith("node.kubernetes.io/") for t in taints)


def _write_kubeconfig(
    path: Path,
    server: str,
    ca_file: Path,
    *,
    user: str,
    auth: Mapping[str, str],
    namespace: str | None = None,
) -> None:
    context: dict[str, Any] = {"cluster": "canary-test", "user": user}
    if namespace:
        context["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "canary-test", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": dict(auth)}],
        "contexts": [{"name": "canary-test", "context": context}],
        "current-context": "canary-test",
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _iter_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix in (".yaml", ".yml", ".json"):
                yield p
    else:
        yield path


def _load_documents(sources: Iterable[Path | str | Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for src in sources:
        if isinstance(src, Mapping):
            yield dict(src)
            continue
        for file in _iter_files(Path(src)):
            with file.open() as f:
                for doc in yaml.safe_load_all(f):
                    if not doc:
                        continue
                    if doc.get("kind", "").endswith("List") and "items" in doc:
                        yield from (dict(i) for i in doc["items"])
                    else:
                        yield dict(doc)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run a control plane in the foreground for manual poking: prints KUBECONFIG, stops on Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--nodes", type=int, default=3, help="kwok fake nodes (default 3)")
    parser.add_argument("--work-dir", type=Path, help="keep state and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    with LocalControlPlane(build(), work_dir=args.work_dir, nodes=args.nodes) as cp:
        print(f"control plane up in {cp.timings['total']:.1f}s: {cp.server}", flush=True)
        print(f"export KUBECONFIG={cp.kubeconfig}", flush=True)
        print(f"logs: {cp.log_dir}   (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(1)
                cp.check_alive()
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
