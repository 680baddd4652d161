"""The `prometheus` provider: one PromQL query, instant at the runner's `now`, or (`rangeQuery`, as
Argo's) evaluated every `step` from `start` to `end`, time expressions evaluated at that `now`.

What a query result becomes:

    scalar                    -> that number
    vector of one series      -> that series' number
    vector of several series  -> a list of numbers (conditions can use result[0], len(result), ...)
    empty vector              -> the metric's `onEmptyResult`: Inconclusive (default), Failed or Error;
                                 never Successful, since nothing was measured
    NaN / +Inf / -Inf         -> passed on as such; conditions.assess makes it Inconclusive unless a
                                 condition handles it with isNaN/isInf
    range vector, string      -> Error: write an instant query returning numbers
    range query (matrix)      -> every sample of every series, in order, as one list (as Argo);
                                 no sample at all is an empty result (`onEmptyResult`)

With `authentication.oauth2` each request carries a client-credentials token (see oauth2.py).

Unreachable server, timeout, an error answer (its message is kept) or a malformed body raise
MeasurementError, recorded as an Error measurement.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from canary.analysis.conditions import MeasuredValue
from canary.analysis.providers import oauth2
from canary.analysis.providers.base import (
    MeasureContext,
    MeasurementError,
    ProviderResult,
    Reading,
    Verdict,
    unreachable_reason,
)
from canary.api import time_expression
from canary.api.analysis import AnalysisPhase, Metric, PrometheusProvider, PrometheusRangeQuery
from canary.api.base import parse_duration

_EMPTY_PHASE = {"inconclusive": AnalysisPhase.INCONCLUSIVE, "failed": AnalysisPhase.FAILED}


class PrometheusMetricProvider:
    """Measures `metric.provider.prometheus`; one HTTP request per measurement, no retries of its own."""

    def measure(self, metric: Metric, context: MeasureContext) -> ProviderResult:
        config = metric.provider.prometheus
        if config is None:
            raise MeasurementError(f"metric '{metric.name}' has no prometheus provider")
        if config.range_query is None:
            value = value_of(query(config, config.query, at=context.now.timestamp()))
        else:
            value = values_of_range(query_range(config, config.range_query, now=context.now))
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


# PromQL's only string-typed expressions are string literals (in any parentheses), and the server
# sends a string result in the shape of a scalar, which the client cannot tell apart: so a string
# is caught from the query text.
_STRING_LITERAL = re.compile(r"""^[\s(]*["'`]""")


def query(config: PrometheusProvider, promql: str, *, at: float) -> list[Any]:
    """The raw `data.result` of an instant query at unix time `at`; MeasurementError when it fails."""
    if _STRING_LITERAL.match(promql):
        raise MeasurementError(
            f"the query {promql.strip()} is a string, not a number; write a query returning numbers "
            '(a number has no quotes: 1, not "1")'
        )
    return _ask(config, lambda client: client.custom_query(promql, params={"time": at}))


def query_range(config: PrometheusProvider, window: PrometheusRangeQuery, *, now: datetime) -> list[Any]:
    """The raw `data.result` (a matrix) of `config.query` over `window`, its times evaluated at `now`.

    The model has checked that the times and the step can be evaluated (once substituted, too)."""
    start, end = time_expression.evaluate(window.start, now), time_expression.evaluate(window.end, now)
    if end < start:
        raise MeasurementError(
            f"rangeQuery.end ({end.isoformat()}) is before rangeQuery.start ({start.isoformat()})"
        )
    step = f"{parse_duration(window.step):g}"
    return _ask(config, lambda client: client.custom_query_range(config.query, start, end, step))


def _ask(config: PrometheusProvider, call: Callable[[PrometheusConnect], Any]) -> list[Any]:
    """`call`'s `data.result` through a client for `config`; MeasurementError when it fails."""
    timeout = parse_duration(config.timeout)
    headers = {h.key: h.value or "" for h in config.headers}
    if config.authentication is not None:
        headers |= oauth2.authorization(config.authentication.oauth2, timeout)
    with requests.Session() as session:
        session.verify = not config.insecure
        client = PrometheusConnect(
            url=config.address.rstrip("/"),
            headers=headers or None,
            session=session,
            # No retries here (the run's schedule retries); read=False lets a read timeout surface as one.
            retry=Retry(total=0, read=False),
            timeout=timeout,
        )
        try:
            result = call(client)
        except requests.exceptions.Timeout:
            raise MeasurementError(
                f"Prometheus at {config.address} did not answer within {config.timeout}"
            ) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as error:
            raise MeasurementError(
                f"cannot reach Prometheus at {config.address}: {unreachable_reason(error)}"
            ) from None
        except PrometheusApiClientException as error:
            raise MeasurementError(
                f"Prometheus at {config.address} rejected the query: {_server_message(error)}"
            ) from None
        except (ValueError, KeyError, TypeError) as error:
            raise MeasurementError(
                f"Prometheus at {config.address} sent a malformed answer: {error}"
            ) from None
    if not isinstance(result, list):
        raise MeasurementError(
            f"Prometheus at {config.address} sent a malformed answer: result is not a list"
        )
    return result


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


def values_of_range(result: list[Any]) -> MeasuredValue:
    """A range query's matrix as one list of every series' samples, in order; None without any."""
    if any(not isinstance(series, dict) or "values" not in series for series in result):
        raise MeasurementError("the range query did not return a matrix; write a query of instant vectors")
    numbers = [_number(sample, "sample") for series in result for sample in series["values"]]
    return numbers or None


def _number(sample: Any, what: str) -> float:
    """Prometheus encodes a sample as [timestamp, "text"]; the text may be NaN, +Inf or -Inf."""
    try:
        _, text = sample
        return float(text)
    except (TypeError, ValueError):
        raise MeasurementError(f"the query returned a {what} that is not a number: {sample!r}") from None


def _server_message(error: PrometheusApiClientException) -> str:
    """The `error` field of the JSON body the client quotes as a bytes literal: `HTTP Status Code 400 (b'...')`."""
    text = str(error)
    status, _, quoted = text.partition(" (")
    try:
        body = json.loads(ast.literal_eval(quoted.removesuffix(")")))
        return f"{body['error']} ({status})"
    except (ValueError, SyntaxError, TypeError, KeyError):
        return text
