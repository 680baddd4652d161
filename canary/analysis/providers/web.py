"""The `web` provider: one HTTP request whose JSON answer (or a part of it) is the measured value.

`jsonPath` picks the value: `$.data.ratio`, `{$.data.ratio}` (Argo's form), `$.items[0].value`,
`$['key with spaces']`; without it the whole JSON document is the result. A non-2xx answer, a body
that is not JSON, a path that selects nothing, a timeout or an unreachable host raise
MeasurementError (an Error measurement) with the status and the start of the body. With
`authentication.oauth2` (as Argo's) the request carries a client-credentials token (see oauth2.py).
"""

from __future__ import annotations

import re
from typing import Any

import requests

from canary.analysis.conditions import MeasuredValue
from canary.analysis.providers import oauth2
from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Reading
from canary.api.analysis import Metric, WebProvider

BODY_EXCERPT = 200
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


class WebMetricProvider:
    """Measures `metric.provider.web`."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.web
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no web provider")
        document = fetch_json(config)
        return Reading(select(document, config.json_path) if config.json_path else document)


def fetch_json(config: WebProvider) -> Any:
    headers = {h.key: h.value or "" for h in config.headers}
    if config.body is not None:
        headers.setdefault("Content-Type", "application/json")
    if config.authentication is not None:
        headers |= oauth2.authorization(config.authentication.oauth2, config.timeout_seconds)
    try:
        response = requests.request(
            config.method,
            config.url,
            headers=headers,
            data=config.body,
            timeout=config.timeout_seconds,
            verify=not config.insecure,
        )
    except requests.exceptions.Timeout:
        raise MeasurementError(f"{config.url} did not answer within {config.timeout_seconds}s") from None
    except requests.exceptions.RequestException as error:
        raise MeasurementError(f"cannot reach {config.url}: {error}") from None
    with response:
        if not 200 <= response.status_code < 300:
            raise MeasurementError(
                f"{config.method} {config.url} answered HTTP {response.status_code}: {_excerpt(response.text)}"
            )
        try:
            return response.json()
        except ValueError:
            raise MeasurementError(f"{config.url} did not answer JSON: {_excerpt(response.text)}") from None


def select(document: Any, json_path: str) -> MeasuredValue:
    """The value at `json_path` in `document`; MeasurementError when the path selects nothing."""
    path = json_path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1].strip()
    if not path.startswith("$"):
        raise MeasurementError(f"jsonPath '{json_path}' must start with $ (e.g. $.data.ratio)")
    node, position = document, 1
    for match in _STEP.finditer(path, 1):
        if match.start() != position:
            break
        position = match.end()
        name, index, quoted = match.groups()
        key: str | int = int(index) if index is not None else (name or quoted)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise MeasurementError(
                f"jsonPath '{json_path}' selects nothing: no {key!r} in {_excerpt(str(node))}"
            ) from None
    if position != len(path):
        raise MeasurementError(
            f"jsonPath '{json_path}' is not understood at '{path[position:]}'; use $.a.b, $.a[0] or $['a b']"
        )
    return node  # type: ignore[no-any-return]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + "…"
