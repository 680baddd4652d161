"""A small in-process Kubernetes API server on 127.0.0.1 for unit tests of the adapter and the loop.

It speaks the subset of the REST API canary uses, with the semantics that matter: a global
resourceVersion that every write bumps; GET/LIST (with labelSelector), POST (409 AlreadyExists),
PUT (409 on a stale resourceVersion), JSON merge PATCH (409 when the patch carries a stale
`metadata.resourceVersion`), the `status` subresource (writes to the main resource ignore status and
vice versa), `metadata.generation` bumped on spec changes, DELETE, and watch streams from a
resourceVersion, answering 410 Gone once that version has been compacted.

Faults are injected explicitly: `fail(method, path_part, status, times)` answers the next matching
requests with that status; `compact()` forgets history so older watches get 410 and open watches end.

A real `kubernetes.client.ApiClient` is pointed at it (`api_client()`), so requests go through the
client's whole HTTP layer. This is a test double for unit tests, not an integration test.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes.client import ApiClient, Configuration

Obj = dict[str, Any]


@dataclass
class Fault:
    method: str
    path_part: str
    status: int
    times: int


@dataclass
class Store:
    objects: dict[tuple[str, str, str], dict[str, Obj]] = field(default_factory=dict)
    """(apiVersion, plural, namespace) -> name -> object"""
    events: list[tuple[int, str, str, str, str, Obj]] = field(default_factory=list)
    """(resourceVersion, type, apiVersion, plural, namespace, object)"""
    version: int = 100
    compacted_before: int = 0
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    closing: bool = False


@dataclass(frozen=True)
class Address:
    api_version: str
    plural: str
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def collection(self) -> tuple[str, str, str]:
        return self.api_version, self.plural, self.namespace or ""


def _parse(path: str) -> Address:
    """Which object or collection an API path names."""
    parts = [p for p in path.split("/") if p]
    if parts[0] == "api":
        api_version, rest = parts[1], parts[2:]
    else:
        api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    namespace = None
    if rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return Address(api_version, plural, namespace, name, sub)


def _merge(document: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


def _matches(obj: Obj, selector: str | None) -> bool:
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(
        labels.get(term.split("=", 1)[0]) == term.split("=", 1)[1] if "=" in term else term in labels
        for term in selector.split(",")
    )


def _status(code: int, reason: str, message: str) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


class FakeApiServer:
    def __init__(self) -> None:
        self.store = Store()
        handler = type("Handler", (_Handler,), {"store": self.store})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.store.lock:
            self.store.closing = True
            self.store.lock.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def api_client(self) -> ApiClient:
        config = Configuration()
        config.host = self.url
        return ApiClient(config)

    # test helpers, acting as another client of the API

    def put(self, obj: Obj) -> Obj:
        """Create or overwrite an object as a user would (kubectl apply)."""
        api_version, meta = obj["apiVersion"], obj["metadata"]
        plural = obj["kind"].lower() + ("es" if obj["kind"].endswith("s") else "s")
        with self.store.lock:
            return _write(
                self.store, (api_version, plural, meta.get("namespace", "")), copy.deepcopy(obj), "ADDED"
            )

    def read(self, api_version: str, plural: str, namespace: str, name: str) -> Obj | None:
        with self.store.lock:
            found = self.store.objects.get((api_version, plural, namespace), {}).get(name)
            return copy.deepcopy(found)

    def all(self, api_version: str, plural: str, namespace: str) -> list[Obj]:
        with self.store.lock:
            return copy.deepcopy(list(self.store.objects.get((api_version, plural, namespace), {}).values()))

    def fail(self, method: str, path_part: str, status: int, times: int = 1) -> None:
        with self.store.lock:
            self.store.faults.append(Fault(method, path_part, status, times))

    def compact(self) -> None:
        """Forget all history: watches from any earlier resourceVersion now get 410 Gone."""
        with self.store.lock:
            self.store.version += 1
            self.store.compacted_before = self.store.version
            self.store.events.clear()
            self.store.lock.notify_all()

    def count(self, method: str, path_part: str, status: int | None = None) -> int:
        with self.store.lock:
            return sum(
                1
                for m, p, s in self.store.requests
                if m == method and path_part in p and (status is None or s == status)
            )


def _write(store: Store, where: tuple[str, str, str], obj: Obj, kind: str) -> Obj:
    api_version, plural, namespace = where
    store.version += 1
    meta = obj.setdefault("metadata", {})
    meta["resourceVersion"] = str(store.version)
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("generation", 1)
    meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if namespace:
        meta["namespace"] = namespace
    collection = store.objects.setdefault((api_version, plural, namespace), {})
    if kind == "DELETED":
        collection.pop(meta["name"], None)
    else:
        collection[meta["name"]] = obj
    store.events.append((store.version, kind, api_version, plural, namespace, copy.deepcopy(obj)))
    store.lock.notify_all()
    return copy.deepcopy(obj)


class _Handler(BaseHTTPRequestHandler):
    store: Store
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add 40 ms each.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        fault = self._take_fault(method, url.path)
        if fault:
            self._send(
                fault, _status(fault, "InternalError" if fault >= 500 else "Injected", "injected fault")
            )
            return
        address = _parse(url.path)
        if method == "GET" and address.name is None and query.get("watch") == "true":
            self._watch(address, query)
            return
        with self.store.lock:
            if address.name is None and method == "GET" and address.namespace is None:
                status, payload = 200, _list_all(self.store, address, query)
            else:
                status, payload = _dispatch(self.store, method, address, query, body)
        self._send(status, payload)

    def _take_fault(self, method: str, path: str) -> int | None:
        with self.store.lock:
            for fault in self.store.faults:
                if fault.method == method and fault.path_part in path and fault.times > 0:
                    fault.times -= 1
                    return fault.status
        return None

    def _send(self, status: int, payload: Obj) -> None:
        data = json.dumps(payload).encode()
        with self.store.lock:
            self.store.requests.append((self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _watch(self, address: Address, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for line in _watch_lines(self.store, address, query):
                data = line.encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True


def _watch_lines(store: Store, address: Address, query: dict[str, str]) -> Iterator[str]:
    since = int(query.get("resourceVersion") or 0)
    deadline = threading.Event()
    timer = threading.Timer(float(query.get("timeoutSeconds", "30")), deadline.set)
    timer.start()
    try:
        with store.lock:
            if since < store.compacted_before:
                yield json.dumps(
                    {"type": "ERROR", "object": _status(410, "Expired", f"too old resource version: {since}")}
                )
                return
            generation = store.compacted_before
            while not deadline.is_set() and not store.closing:
                if store.compacted_before != generation:
                    return  # history compacted: end the stream; the client re-watches and gets 410
                pending = [
                    (rv, kind, obj)
                    for rv, kind, av, pl, ns, obj in store.events
                    if rv > since
                    and (av, pl) == (address.api_version, address.plural)
                    and address.namespace in (None, ns)
                ]
                for rv, kind, obj in pending:
                    since = rv
                    if _matches(obj, query.get("labelSelector")):
                        yield json.dumps({"type": kind, "object": obj})
                if not pending:
                    store.lock.wait(0.05)
    finally:
        timer.cancel()


def _list_all(store: Store, address: Address, query: dict[str, str]) -> Obj:
    items = [
        copy.deepcopy(obj)
        for (av, pl, _), objects in store.objects.items()
        if (av, pl) == (address.api_version, address.plural)
        for obj in objects.values()
        if _matches(obj, query.get("labelSelector"))
    ]
    return {"kind": "List", "metadata": {"resourceVersion": str(store.version)}, "items": items}


def _dispatch(
    store: Store, method: str, address: Address, query: dict[str, str], body: Obj | None
) -> tuple[int, Obj]:
    plural, name, where = address.plural, address.name, address.collection
    collection = store.objects.setdefault(where, {})
    if name is None:
        if method == "GET":
            items = [copy.deepcopy(o) for o in collection.values() if _matches(o, query.get("labelSelector"))]
            return 200, {"kind": "List", "metadata": {"resourceVersion": str(store.version)}, "items": items}
        assert method == "POST" and body is not None
        new_name = body["metadata"].get("name") or body["metadata"]["generateName"] + uuid.uuid4().hex[:5]
        if new_name in collection:
            return 409, _status(409, "AlreadyExists", f'{plural} "{new_name}" already exists')
        body["metadata"]["name"] = new_name
        return 201, _write(store, where, body, "ADDED")
    current = collection.get(name)
    if current is None:
        return 404, _status(404, "NotFound", f'{plural} "{name}" not found')
    if method == "GET":
        return 200, copy.deepcopy(current)
    if method == "DELETE":
        _write(store, where, copy.deepcopy(current), "DELETED")
        return 200, _status(200, "", "deleted") | {"status": "Success"}
    assert body is not None
    wanted_rv = body.get("metadata", {}).get("resourceVersion")
    if wanted_rv is not None and wanted_rv != current["metadata"]["resourceVersion"]:
        return 409, _status(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified',
        )
    updated = copy.deepcopy(body) if method == "PUT" else _merge(current, body)
    updated = _only_subresource(current, updated, address.sub)
    updated["metadata"] = {**updated["metadata"], "uid": current["metadata"]["uid"]}
    if updated.get("spec") != current.get("spec"):
        updated["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
    return 200, _write(store, where, updated, "MODIFIED")


def _only_subresource(current: Obj, updated: Obj, sub: str | None) -> Obj:
    """A status write changes only status; a main-resource write leaves status alone."""
    if sub == "status":
        return {**copy.deepcopy(current), "status": updated.get("status", {})}
    result = copy.deepcopy(updated)
    if "status" in current:
        result["status"] = copy.deepcopy(current["status"])
    else:
        result.pop("status", None)
    return result
