"""Vendor provider specs (Argo's field names) and what the vendor providers share: credentials read
from Secrets and masked, a judge arm's samples shaped as the judge reads them, the registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from canary.analysis.providers import arms
from canary.analysis.providers.base import MeasureContext, MeasurementError
from canary.analysis.providers.registry import default_registry
from canary.analysis.providers.vendor import calling, read_credentials
from canary.api.analysis import JudgeSource, MetricProvider

CONTEXT = MeasureContext(run_name="r", namespace="shop", now=datetime(2026, 12, 7, 12, tzinfo=UTC), index=0)


def provider(spec: dict[str, object]) -> MetricProvider:
    return MetricProvider.model_validate(spec)


def refusal(spec: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as raised:
        provider(spec)
    return str(raised.value)


@pytest.mark.parametrize(
    ("wire", "spec"),
    [
        ("datadog", {"query": "avg:latency{service:checkout}"}),
        ("newRelic", {"query": "SELECT count(*) FROM Transaction"}),
        ("cloudWatch", {"metricDataQueries": [{"id": "e", "expression": "SUM(METRICS())"}]}),
        ("influxdb", {"query": 'from(bucket: "shop")'}),
        ("graphite", {"address": "http://graphite", "query": "target=a.b"}),
    ],
)
def test_a_vendor_provider_is_keyed_by_argos_field_name(wire: str, spec: dict[str, object]) -> None:
    assert provider({wire: spec}).kind == wire


def test_datadog_defaults_are_argos_v1_five_minutes_secret_datadog() -> None:
    datadog = provider({"datadog": {"query": "avg:x{*}"}}).datadog
    assert datadog is not None
    assert (datadog.api_version, datadog.interval, datadog.secret_ref.name, datadog.request_timeout) == (
        "v1",
        "5m",
        "datadog",
        "10s",
    )


def test_datadog_needs_query_or_queries() -> None:
    assert "set exactly one of query or queries" in refusal({"datadog": {"apiVersion": "v2"}})


def test_datadog_several_queries_need_a_formula_and_the_message_suggests_one() -> None:
    message = refusal({"datadog": {"apiVersion": "v2", "queries": {"a": "x", "b": "y"}}})
    assert "queries a, b need a formula combining them, e.g. formula: a / b" in message


def test_datadog_rejects_an_unknown_aggregator() -> None:
    assert "aggregator" in refusal({"datadog": {"apiVersion": "v2", "query": "x", "aggregator": "median"}})


def test_cloudwatch_query_needs_expression_or_metric_stat() -> None:
    assert "query 'e': set exactly one of expression or metricStat" in refusal(
        {"cloudWatch": {"metricDataQueries": [{"id": "e"}]}}
    )


def test_cloudwatch_queries_that_all_return_no_data_are_refused_with_the_fix() -> None:
    spec = {"cloudWatch": {"metricDataQueries": [{"id": "e", "expression": "m1", "returnData": False}]}}
    assert "set returnData: true (or leave it out)" in refusal(spec)


@pytest.mark.parametrize("period", [0, "5s", True])
def test_cloudwatch_period_must_be_whole_seconds(period: object) -> None:
    stat = {"metric": {"metricName": "Errors"}, "period": period, "stat": "Sum"}
    assert "must be whole seconds" in refusal(
        {"cloudWatch": {"metricDataQueries": [{"id": "e", "metricStat": stat}]}}
    )


def test_cloudwatch_period_may_be_an_argument() -> None:
    stat = {"metric": {"metricName": "Errors"}, "period": "{{args.period}}", "stat": "Sum"}
    provider({"cloudWatch": {"metricDataQueries": [{"id": "e", "metricStat": stat}]}})


def test_flux_names_its_bucket_itself_so_database_is_refused() -> None:
    assert "remove database" in refusal({"influxdb": {"query": 'from(bucket: "b")', "database": "shop"}})


def test_judge_source_names_exactly_one_store() -> None:
    with pytest.raises(
        ValidationError, match="set exactly one source: datadog, newRelic, cloudWatch, influxdb or graphite"
    ):
        JudgeSource.model_validate({})


def test_kayenta_judge_reads_prometheus_only() -> None:
    spec = {
        "judge": {
            "kind": "kayenta",
            "source": {"graphite": {"address": "http://graphite"}},
        }
    }
    assert "judge kind kayenta reads Prometheus: set address instead of source" in refusal(spec)


def test_missing_credentials_name_the_secret_namespace_and_the_command_to_create_it() -> None:
    def nothing(namespace: str, name: str, key: str) -> str:
        raise KeyError(name)

    with pytest.raises(MeasurementError) as raised:
        read_credentials(
            nothing, "shop", "newrelic", required=("personal-api-key", "account-id"), provider="newRelic"
        )
    assert str(raised.value) == (
        "newRelic: key 'personal-api-key' of Secret 'newrelic' in namespace 'shop' cannot be read (it is missing); "
        "create it: kubectl create secret generic newrelic -n shop --from-literal=personal-api-key=... "
        "--from-literal=account-id=..."
    )


def test_optional_keys_are_left_out_when_missing_and_only_credentials_are_masked() -> None:
    stored = {"api-key": "k-8d7c6b5a", "app-key": "a-1f2e3d4c", "address": "https://api.datadoghq.eu"}

    def read(namespace: str, name: str, key: str) -> str:
        return stored[key]

    credentials = read_credentials(
        read,
        "shop",
        "datadog",
        required=("api-key", "app-key"),
        optional=("address", "site"),
        provider="datadog",
    )
    assert dict(credentials.values) == stored
    assert credentials.secrets == {"k-8d7c6b5a", "a-1f2e3d4c"}


def test_a_client_library_failure_becomes_a_masked_measurement_error() -> None:
    with (
        pytest.raises(MeasurementError) as raised,
        calling("Datadog", "https://api.datadoghq.com", frozenset({"k-8d7c6b5a"})),
    ):
        raise ConnectionError("refused while sending DD-API-KEY k-8d7c6b5a")
    assert str(raised.value) == "Datadog at https://api.datadoghq.com: refused while sending DD-API-KEY *****"


def test_an_openapi_client_error_is_its_status_and_body() -> None:
    class GeneratedClientError(Exception):
        status = 403
        body = b'{"errors": ["Forbidden"]}'

    with (
        pytest.raises(MeasurementError, match=r'^Datadog at x: HTTP 403: \{"errors": \["Forbidden"\]\}$'),
        calling("Datadog", "x", frozenset()),
    ):
        raise GeneratedClientError("(403)\nReason: Forbidden\nHTTP response headers: ...")


def test_a_sample_judge_gets_a_vendor_arms_samples_as_a_range_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(arms.ARM_SAMPLES, "graphite", lambda *_: [(10.0, 0.25), (20.0, 0.5)])
    source = JudgeSource.model_validate({"graphite": {"address": "http://graphite"}})
    result = arms.arm_result("mann-whitney", source, "target=a", CONTEXT, arms.no_secrets)
    assert result == [{"values": [[10.0, "0.25"], [20.0, "0.5"]]}]


def test_a_count_judge_gets_the_sum_of_a_vendor_arms_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(arms.ARM_SAMPLES, "graphite", lambda *_: [(10.0, 3.0), (20.0, 4.0)])
    source = JudgeSource.model_validate({"graphite": {"address": "http://graphite"}})
    assert arms.arm_result("sequential-counts", source, "target=a", CONTEXT, arms.no_secrets) == [
        CONTEXT.now.timestamp(),
        "7.0",
    ]


def test_an_arm_without_samples_is_an_empty_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(arms.ARM_SAMPLES, "graphite", lambda *_: [])
    source = JudgeSource.model_validate({"graphite": {"address": "http://graphite"}})
    assert arms.arm_result("sequential-counts", source, "target=a", CONTEXT, arms.no_secrets) == []


def test_the_registry_offers_secret_backed_providers_only_with_a_secret_reader() -> None:
    assert {"cloudWatch", "graphite"} <= set(default_registry())
    assert not {"datadog", "newRelic", "influxdb"} & set(default_registry())
    assert {"datadog", "newRelic", "influxdb"} <= set(default_registry(read_secret=arms.no_secrets))


def test_a_secret_the_controller_may_not_read_says_why() -> None:
    from canary.analysis.args import SecretUnavailableError

    def unlabelled(namespace: str, name: str, key: str) -> str:
        raise SecretUnavailableError(
            f"Secret {namespace}/{name} is not labelled canary.dev/analysis-secret=true"
        )

    with pytest.raises(
        MeasurementError, match=r"\(Secret shop/datadog is not labelled canary.dev/analysis-secret=true\)"
    ):
        read_credentials(unlabelled, "shop", "datadog", required=("api-key",), provider="datadog")
