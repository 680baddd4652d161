"""Secret arguments in a job metric reach the Job as references to their Secret, never as text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from canary.analysis.args import ArgumentError, resolve_metric, resolve_values
from canary.api.analysis import Argument, Metric

SECRET = "tok-3x4mpl3-S3CR3T"
ARGS = [
    Argument.model_validate(
        {"name": "api-token", "valueFrom": {"secretKeyRef": {"name": "smoke", "key": "token"}}}
    ),
    Argument.model_validate({"name": "url", "value": "http://checkout.shop"}),
]
TOKEN_REF = {"secretKeyRef": {"name": "smoke", "key": "token"}}


def read_secret(namespace: str, name: str, key: str) -> str:
    return {("shop", "smoke", "token"): SECRET}[(namespace, name, key)]


def job_metric(container: dict[str, Any], **pod: Any) -> Metric:
    spec = {
        "backoffLimit": 0,
        "template": {"spec": {"restartPolicy": "Never", "containers": [container], **pod}},
    }
    return Metric.model_validate({"name": "smoke", "provider": {"job": {"spec": spec}}})


def resolved_job(metric: Metric, secret: str = SECRET) -> dict[str, Any]:
    values = resolve_values(ARGS, "shop", lambda namespace, name, key: secret)
    resolved, held = resolve_metric(metric, values, "shop", read_secret)
    assert secret in held  # still masked in messages, values and logs
    job = resolved.provider.job
    assert job is not None
    return job.spec


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec["template"]["spec"]["containers"])


def test_a_secret_in_a_containers_args_is_an_env_var_from_the_secret() -> None:
    spec = resolved_job(
        job_metric(
            {
                "name": "smoke",
                "image": "curl",
                "args": ["-H", "Authorization: Bearer {{ args.api-token }}", "{{args.url}}"],
            }
        )
    )
    (container,) = containers(spec)
    assert container["args"] == [
        "-H",
        "Authorization: Bearer $(CANARY_SECRET_API_TOKEN)",
        "http://checkout.shop",
    ]
    assert container["env"] == [{"name": "CANARY_SECRET_API_TOKEN", "valueFrom": TOKEN_REF}]
    assert SECRET not in json.dumps(spec)


def test_an_env_var_that_is_only_the_secret_takes_the_secrets_key_itself() -> None:
    spec = resolved_job(
        job_metric(
            {"name": "smoke", "image": "smoke", "env": [{"name": "TOKEN", "value": "{{args.api-token}}"}]}
        )
    )
    assert containers(spec)[0]["env"] == [{"name": "TOKEN", "valueFrom": TOKEN_REF}]


def test_an_env_var_that_embeds_the_secret_reads_a_variable_declared_before_it() -> None:
    container = {
        "name": "smoke",
        "image": "smoke",
        "command": ["sh", "-c", "run --token {{args.api-token}}"],
        "env": [
            {"name": "HEADER", "value": "Bearer {{args.api-token}}"},
            {"name": "URL", "value": "{{args.url}}"},
        ],
    }
    (resolved,) = containers(resolved_job(job_metric(container)))
    assert resolved["command"] == ["sh", "-c", "run --token $(CANARY_SECRET_API_TOKEN)"]
    assert resolved["env"] == [
        {"name": "CANARY_SECRET_API_TOKEN", "valueFrom": TOKEN_REF},
        {"name": "HEADER", "value": "Bearer $(CANARY_SECRET_API_TOKEN)"},
        {"name": "URL", "value": "http://checkout.shop"},
    ]


def test_init_containers_get_their_own_variable() -> None:
    init = {"name": "login", "image": "login", "args": ["{{args.api-token}}"]}
    spec = resolved_job(job_metric({"name": "smoke", "image": "smoke"}, initContainers=[init]))
    (login,) = spec["template"]["spec"]["initContainers"]
    assert login["env"] == [{"name": "CANARY_SECRET_API_TOKEN", "valueFrom": TOKEN_REF}]
    assert "env" not in containers(spec)[0]


@pytest.mark.parametrize(
    "metric",
    [
        job_metric({"name": "smoke", "image": "registry/{{args.api-token}}:1"}),
        job_metric({"name": "smoke", "image": "smoke"}, nodeSelector={"token": "{{args.api-token}}"}),
        Metric.model_validate(
            {
                "name": "smoke",
                "provider": {
                    "job": {
                        "metadata": {"labels": {"t": "{{args.api-token}}"}},
                        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "c"}]}}},
                    }
                },
            }
        ),
    ],
    ids=["image", "node-selector", "job-label"],
)
def test_a_secret_anywhere_else_in_the_job_is_refused_naming_the_argument(metric: Metric) -> None:
    with pytest.raises(ArgumentError, match=r"metric 'smoke': secret argument 'api-token' is used outside"):
        resolved_job(metric)


@given(
    secret=st.from_regex(r"[A-Za-z0-9!#%&*+/=~ -]{8,40}", fullmatch=True),
    place=st.sampled_from(["command", "args", "env"]),
    prefix=st.text(alphabet="abc -=", max_size=8),
)
def test_the_job_never_holds_the_secrets_value(secret: str, place: str, prefix: str) -> None:
    reference = prefix + "{{args.api-token}}"
    container: dict[str, Any] = {"name": "c", "image": "c"}
    container[place] = [{"name": "V", "value": reference}] if place == "env" else [reference]
    metric = job_metric(container)
    assume(secret not in json.dumps(metric.to_wire()) + "CANARY_SECRET_API_TOKEN smoke token")
    spec = resolved_job(metric, secret=secret)
    assert secret not in json.dumps(spec)
    assert TOKEN_REF in [var.get("valueFrom") for var in containers(spec)[0]["env"]]
