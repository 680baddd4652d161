"""The cloudWatch provider through boto3 against a moto server on loopback speaking the CloudWatch
API (GetMetricData, in the protocol botocore picks), reached through the AWS SDK's own settings
(AWS_ENDPOINT_URL_CLOUDWATCH, AWS_DEFAULT_REGION, keys in the environment). AWS cannot run here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from vendor_specs import context, metric

from canary.analysis.providers.base import MeasurementError, Reading, Verdict
from canary.analysis.providers.cloudwatch import CloudWatchMetricProvider
from canary.api.analysis import AnalysisPhase


def _put(now: datetime, track: str, values: list[float]) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Shop",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "Track", "Value": track}],
                "Value": value,
                "Timestamp": now - timedelta(minutes=index + 1),
            }
            for index, value in enumerate(values)
        ],
    )


def _stat(track: str, **query: object) -> dict[str, object]:
    return {
        "id": "errors",
        "metricStat": {
            "metric": {
                "namespace": "Shop",
                "metricName": "Errors",
                "dimensions": [{"name": "Track", "value": track}],
            },
            "period": "60",
            "stat": "Sum",
        },
        **query,
    }


def test_cloudwatch_against_moto_server_speaking_the_cloudwatch_api_is_metric_data_results_in_argos_shape(
    cloudwatch_api: str,
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _put(now, "canary", [3.0, 5.0])
    spec = {"cloudWatch": {"interval": "10m", "metricDataQueries": [_stat("canary")]}}
    reading = CloudWatchMetricProvider().measure(metric(spec), context(now))
    assert isinstance(reading, Reading)
    [result] = reading.value  # type: ignore[misc]
    assert (result["Id"], result["StatusCode"], sorted(result["Values"])) == (
        "errors",
        "Complete",
        [3.0, 5.0],
    )
    assert len(result["Timestamps"]) == 2 and all(isinstance(at, str) for at in result["Timestamps"])


def test_cloudwatch_against_moto_server_speaking_the_cloudwatch_api_no_datapoints_is_inconclusive(
    cloudwatch_api: str,
) -> None:
    spec = {"cloudWatch": {"metricDataQueries": [_stat("nobody")]}}
    outcome = CloudWatchMetricProvider().measure(metric(spec), context(datetime.now(UTC)))
    assert isinstance(outcome, Verdict)
    assert outcome.phase == AnalysisPhase.INCONCLUSIVE


def test_cloudwatch_against_moto_server_speaking_the_cloudwatch_api_conditions_read_values(
    cloudwatch_api: str,
) -> None:
    from canary.analysis.conditions import assess

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _put(now, "stable", [1.0])
    spec = {"cloudWatch": {"metricDataQueries": [_stat("stable")]}}
    reading = CloudWatchMetricProvider().measure(metric(spec), context(now))
    assert isinstance(reading, Reading)
    assert assess(reading.value, "result[0].Values.all(v, v <= 2.0)", None).phase == AnalysisPhase.SUCCESSFUL


def test_cloudwatch_without_a_region_is_an_error_from_the_sdk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(MeasurementError, match=r"CloudWatch at GetMetricData: .*region"):
        CloudWatchMetricProvider().measure(
            metric({"cloudWatch": {"metricDataQueries": [_stat("canary")]}}), context(datetime.now(UTC))
        )
