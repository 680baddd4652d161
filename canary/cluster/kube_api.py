"""Generic reads, watches and writes of any Kubernetes resource as plain dicts, on the official client.

Every object is addressed by (apiVersion, plural, namespace, name), so one small class serves
canary's custom resources, ReplicaSets, Services, Pods, Events, Leases and every router's resource.
Requests use `kubernetes.client.ApiClient`'s configuration, credentials and connection pool (its
TLS), with bodies and answers in JSON through orjson; writes are JSON merge patches with the field
manager `canary-controller`.

Errors callers act on become `NotFound`, `Conflict` (409: re-read and redo) and `Gone` (410: the
watch's resourceVersion was compacted, re-list); anything else stays an `ApiException` (transient,
retried with backoff by the work queue).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse

from canary.api.base import GROUP_VERSION
from canary.cluster.port import Conflict, NotFound

FIELD_MANAGER = "canary-controller"
MERGE_PATCH = "application/merge-patch+json"

Obj = dict[str, Any]

# (apiVersion, plural) of every resource canary reads or writes
ROLLOUTS = (GROUP_VERSION, "rollouts")
ANALYSIS_RUNS = (GROUP_VERSION, "analysisruns")
ANALYSIS_TEMPLATES = (GROUP_VERSION, "analysistemplates")
CLUSTER_ANALYSIS_TEMPLATES = (GROUP_VERSION, "clusteranalysistemplates")
REPLICA_SETS = ("apps/v1", "replicasets")
DEPLOYMENTS = ("apps/v1", "deployments")
PODS = ("v1", "pods")
SERVICES = ("v1", "services")
ENDPOINT_SLICES = ("discovery.k8s.io/v1", "endpointslices")
EVENTS = ("v1", "events")
SECRETS = ("v1", "secrets")
JOBS = ("batch/v1", "jobs")


class Gone(RuntimeError):  # noqa: N818 - the HTTP status name
    """410: the requested resourceVersion is too old; list again."""


@dataclass(frozen=True)
class ObjectList:
    items: list[Obj]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: Obj


def resource_path(api_version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
    """`/api/v1/namespaces/ns/pods/x` or `/apis/apps/v1/replicasets` (namespace None: all or cluster-scoped)."""
    root = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{root}{scope}/{plural}" + (f"/{name}" if name else "")


def label_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


class KubeApi:
    """Thin, stateless wrapper; safe to share between threads (the ApiClient pools connections)."""

    def __init__(self, client: ApiClient, request_timeout: float = 30.0) -> None:
        self._client = client
        self._timeout = urllib3.Timeout(total=request_timeout)
        self._host = client.configuration.host
        self._prefix = urlsplit(self._host).path.rstrip("/")
        """A path the apiserver is served under (behind some proxies), before every resource path."""
        self._pool: Any = None

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        try:
            return self._json("GET", resource_path(api_version, plural, namespace, name))
        except NotFound:
            return None

    def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        *,
        selector: str | None = None,
    ) -> ObjectList:
        """Objects matching `labels` (equality) and `selector` (any label selector, e.g. `key` for exists)."""
        terms = [t for t in (label_selector(labels) if labels else "", selector or "") if t]
        query = {"labelSelector": ",".join(terms)} if terms else {}
        body = self._json("GET", resource_path(api_version, plural, namespace), query=query)
        kind = body.get("kind", "List").removesuffix("List")
        items = [{"apiVersion": api_version, "kind": kind, **item} for item in body.get("items") or []]
        return ObjectList(items, str(body.get("metadata", {}).get("resourceVersion", "")))

    def watch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int,
        *,
        selector: str | None = None,
    ) -> Iterator[WatchEvent]:
        """Events after `resource_version` until the server ends the stream; `Gone` when it is too old."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if selector:
            query["labelSelector"] = selector
        response = self._send("GET", resource_path(api_version, plural, namespace), query=query, stream=True)
        try:
            for line in _lines(response):
                event = orjson.loads(line)
                if event["type"] == "ERROR":
                    _raise_status(event["object"])
                yield WatchEvent(event["type"], event["object"])
        finally:
            response.release_conn()

    def create(self, api_version: str, plural: str, namespace: str | None, body: Obj) -> Obj:
        return self._json(
            "POST",
            resource_path(api_version, plural, namespace),
            body=body,
            query={"fieldManager": FIELD_MANAGER},
        )

    def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Obj,
        *,
        subresource: str | None = None,
    ) -> Obj:
        """A JSON merge patch; a `metadata.resourceVersion` in it makes the write conditional (409)."""
        path = resource_path(api_version, plural, namespace, name) + (
            f"/{subresource}" if subresource else ""
        )
        return self._json(
            "PATCH", path, body=patch, content_type=MERGE_PATCH, query={"fieldManager": FIELD_MANAGER}
        )

    def replace(self, api_version: str, plural: str, namespace: str | None, name: str, body: Obj) -> Obj:
        """PUT: fails with `Conflict` unless `body.metadata.resourceVersion` is the current one."""
        path = resource_path(api_version, plural, namespace, name)
        return self._json("PUT", path, body=body, query={"fieldManager": FIELD_MANAGER})

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> None:
        try:
            self._json("DELETE", resource_path(api_version, plural, namespace, name))
        except NotFound:
            return

    def _json(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        response = self._send(method, path, query=query, body=body, content_type=content_type)
        # orjson: decoding answers and watch events was the controller's largest JSON cost
        decoded: Obj = orjson.loads(response.data or b"{}")
        return decoded

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
        stream: bool = False,
    ) -> Any:
        # Straight on the client's connection pool (its TLS, client certificate and credentials):
        # the client's own request building (sanitizing every body, json.dumps, per-request URL
        # parsing and pool lookup) was about a tenth of the controller's CPU in a fleet.
        headers = {**self._client.default_headers, "Accept": "application/json"}
        token = self._client.configuration.get_api_key_with_prefix("BearerToken")
        if token:
            headers["Authorization"] = token
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            payload = orjson.dumps(body)
        url = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        raw = self._urlopen(
            method,
            url,
            body=payload,
            headers=headers,
            timeout=None if stream else self._timeout,
            preload_content=False,
        )
        response: Any = RESTResponse(raw)
        if not 200 <= response.status <= 299:
            response.read()
            _raise_for(response.status, response.data, response)
        if stream:
            return raw
        response.read()
        return response

    def _urlopen(self, method: str, url: str, **options: Any) -> Any:
        manager = self._client.rest_client.pool_manager
        if isinstance(manager, urllib3.ProxyManager):  # it rewrites each request for its proxy
            return manager.urlopen(method, self._host + url, **options)
        pool = self._pool
        if pool is None or pool.pool is None:  # None once closed with the client: take it again
            pool = self._pool = manager.connection_from_url(self._host)
        return pool.urlopen(method, url, **options)


def _lines(response: Any) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        yield from (line for line in complete if line.strip())
    if buffer.strip():
        yield buffer


def _raise_for(status: int, data: bytes | None, response: Any) -> None:
    message = _message(data)
    if status == 404:
        raise NotFound(message)
    if status == 409:
        raise Conflict(message)
    if status == 410:
        raise Gone(message)
    raise ApiException(http_resp=response)


def _raise_status(status: Obj) -> None:
    code = int(status.get("code", 500))
    message = str(status.get("message", status))
    if code == 410:
        raise Gone(message)
    raise ApiException(status=code, reason=message)


def _message(data: bytes | None) -> str:
    try:
        return str(orjson.loads(data or b"{}").get("message", ""))
    except (ValueError, AttributeError):
        return (data or b"").decode(errors="replace")
