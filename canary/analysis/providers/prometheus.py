"""The `prometheus` provider: one instant PromQL query, evaluated at the runner's `now`.

What a query result becomes:

    scalar                    -> that number
    vector of one series      -> that series' number
    vector of several series  -> a list of numbers (conditions can use result[0], len(result), ...)
    empty vector              -> the metric's `onEmptyResult`: Inconclusive (default), Failed or Error;
                                 never Successful, since nothing was measured
    NaN / +Inf / -Inf         -> passed on as such; conditions.assess makes it Inconclusive unless a
                                 condition handles it with isNaN/isInf
    range vector              -> Error: write an instant query (no [5m] selector at the end)
    string (e.g. `"1"`)       -> Error: write a query returning numbers; the provider tells it from
                                 a scalar by the answer's `resultType`, as both look like [ts, "1"]

Unreachable server, timeout, an error answer (its message is kept) or a malformed body raise
MeasurementError, recorded as an Error measurement.
"""

from __future__ import annotations

import re
from typing import Any

import requests
import urllib3

from canary.analysis.conditions import MeasuredValue
from canary.analysis.providers.base import MeasureContext, MeasurementError, ProviderResult, Reading, Verdict
from canary.api.analysis import AnalysisPhase, Metric, PrometheusProvider
from canary.api.base import parse_duration

_EMPTY_PHASE = {"inconclusive": AnalysisPhase.INCONCLUSIVE, "failed": AnalysisPhase.FAILED}


class PrometheusMetricProvider:
    """Measures `metric.provider.prometheus`; one HTTP request per measurement, no retries of its own."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.prometheus
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no prometheus provider")
        data = query(config, config.query, at=context.now.timestamp())
        value = value_of(data)
        if value is None:
            return empty_result(config)
        return Reading(value)


def empty_result(config: PrometheusProvider) -> Verdict:
    """The outcome of a query that matched no series, as `onEmptyResult` says."""
    message = (
        f"query returned no data (onEmptyResult: {config.on_empty_result}); check the metric and label "
        f"names and that the workload receives traffic: {config.query}"
    )
    if config.on_empty_result == "error":
        raise MeasurementError(message)
    return Verdict(_EMPTY_PHASE[config.on_empty_result], message)


def query(config: PrometheusProvider, promql: str, *, at: float) -> list[Any]:
    """The `data.result` of an instant query at unix time `at`: a scalar, vector or range vector.
    MeasurementError when the query fails or returns a string."""
    response = _ask(config, promql, at)
    try:
        return numeric_result(response.json())
    except ValueError as error:
        raise MeasurementError(f"Prometheus at {config.address} sent a malformed answer: {error}") from None


def numeric_result(body: Any) -> list[Any]:
    """`data.result` of a query's JSON answer when `data.resultType` says it holds numbers.

    A string result is a MeasurementError: by its shape alone, `[ts, "1"]`, it would pass for a scalar.
    A body without a known resultType is a ValueError.
    """
    match body:
        case {"data": {"resultType": "scalar" | "vector" | "matrix", "result": list() as result}}:
            return result
        case {"data": {"resultType": "string", "result": [_, str() as text]}}:
            raise MeasurementError(
                f"the query returned the string {text!r}, not a number; write a query returning "
                'numbers (a number has no quotes: 1, not "1")'
            )
    raise ValueError(f"no data.resultType scalar, vector, matrix or string with its result in {body!r:.200}")


def _ask(config: PrometheusProvider, promql: str, at: float) -> requests.Response:
    """The server's 200 answer to an instant query; MeasurementError for any other outcome.

    requests does not retry by default, as wanted: the run's schedule retries.
    """
    address = config.address.rstrip("/")
    params: dict[str, str | float] = {"query": promql, "time": at}
    try:
        response = requests.get(
            f"{address}/api/v1/query",
            params=params,
            headers={h.key: h.value or "" for h in config.headers},
            timeout=parse_duration(config.timeout),
            verify=not config.insecure,
        )
    except requests.exceptions.Timeout:
        raise MeasurementError(
            f"Prometheus at {config.address} did not answer within {config.timeout}"
        ) from None
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as error:
        raise MeasurementError(f"cannot reach Prometheus at {config.address}: {_reason(error)}") from None
    if response.status_code != 200:
        raise MeasurementError(
            f"Prometheus at {config.address} rejected the query: {_server_message(response)}"
        )
    return response


def value_of(result: list[Any]) -> MeasuredValue:
    """A query's `data.result` as a measured value (see the module docstring); None when empty."""
    if not result:
        return None
    if not isinstance(result[0], dict):
        return _number(result, "scalar")
    if any("values" in series for series in result):
        raise MeasurementError(
            "the query returned a range vector; write an instant query (no [5m] selector at the end)"
        )
    numbers = [_number(series.get("value"), "vector sample") for series in result]
    return numbers[0] if len(numbers) == 1 else numbers


def _number(sample: Any, what: str) -> float:
    """Prometheus encodes a sample as [timestamp, "text"]; the text may be NaN, +Inf or -Inf."""
    try:
        _, text = sample
        return float(text)
    except (TypeError, ValueError):
        raise MeasurementError(f"the query returned a {what} that is not a number: {sample!r}") from None


def _server_message(response: requests.Response) -> str:
    """The `error` field of Prometheus' JSON error body and the HTTP status, e.g. `parse error ... (HTTP 400)`."""
    try:
        return f"{response.json()['error']} (HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"


def _reason(error: Exception) -> str:
    # urllib3 nests the useful part ("Connection refused") deep inside its MaxRetryError text.
    text = str(error)
    refused = re.search(r"\[Errno \d+\] ([^')\]]+)", text)
    return refused.group(1) if refused else text
