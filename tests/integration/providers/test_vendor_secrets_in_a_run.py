"""A vendor key stays out of everything an AnalysisRun records and logs: a whole run advanced by the
runner with the shipped registry, Datadog's client against a loopback server answering as Datadog's
API reference documents a refusal (quoting the key back, as a careless proxy might)."""

from __future__ import annotations

from structlog.testing import capture_logs
from vendor_servers import LoopbackAPI
from vendor_specs import NOW, secrets

from canary.analysis import runner
from canary.analysis.providers.registry import default_registry
from canary.api.analysis import AnalysisPhase, AnalysisRun

API_KEY = "dd-api-0a9b8c7d6e5f"


def test_datadog_against_loopback_server_answering_as_api_reference_documents_a_refusal_masks_the_key_everywhere(
    loopback_api: LoopbackAPI,
) -> None:
    loopback_api.answer(
        "GET", "/api/v1/query", {"errors": [f"Forbidden: API key {API_KEY} is invalid"]}, status=403
    )
    read_secret = secrets(
        {"datadog": {"address": loopback_api.address, "api-key": API_KEY, "app-key": "dd-app-1"}}
    )
    run = AnalysisRun.model_validate(
        {
            "metadata": {"name": "checkout-7d9f", "namespace": "shop"},
            "spec": {
                "metrics": [
                    {
                        "name": "errors",
                        "consecutiveErrorLimit": 0,
                        "successCondition": "result < 0.01",
                        "provider": {"datadog": {"query": "sum:errors{service:checkout}.as_rate()"}},
                    }
                ]
            },
        }
    )
    with capture_logs() as logs:
        result = runner.advance(
            run, now=NOW, providers=default_registry(read_secret=read_secret), read_secret=read_secret
        )
    measurement = result.run.status.metric_results[0].measurements[-1]
    assert measurement.phase == AnalysisPhase.ERROR
    assert measurement.message.startswith(f"Datadog at {loopback_api.address}: HTTP 403:")
    assert "API key ***** is invalid" in measurement.message
    assert API_KEY not in result.run.model_dump_json()
    assert logs and all(API_KEY not in str(event) for event in logs)
