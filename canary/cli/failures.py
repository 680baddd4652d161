"""Cluster failures turned into one line saying what went wrong and how to fix it.

The Kubernetes client raises transport errors, config errors and `ApiException`s with a JSON Status
body; people need "the CRDs are not installed: kubectl apply -f manifests/crds/", not a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from canary.api.analysis import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate
from canary.api.problems import problems_from_validation_error
from canary.api.rollout import Rollout
from canary.cli.errors import CLIError
from canary.cluster.port import Conflict, NotFound

CRD_FIX = "install them with `kubectl apply -f manifests/crds/` (or regenerate them with `canary crds`)"
RBAC_FIX = "ask a cluster admin to bind the canary role from manifests/ to your user or service account"


def _status_body(error: Any) -> dict[str, Any]:
    try:
        body = json.loads(getattr(error, "body", None) or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def api_error_message(status: int, body: dict[str, Any]) -> str:
    """The one line for an HTTP error the Kubernetes API answered with."""
    message = str(body.get("message") or "").strip()
    details = body.get("details") or {}
    if status == 401:
        return "the cluster rejected your credentials (401 Unauthorized); refresh them in your kubeconfig"
    if status == 403:
        return f"forbidden by RBAC: {message or 'access denied'}; {RBAC_FIX}"
    if status == 404 and not details.get("name"):
        return f"the canary CRDs are not installed in this cluster ({message or 'resource not found'}); {CRD_FIX}"
    if status == 404:
        return f"{details.get('kind', 'object')} '{details['name']}' not found"
    return f"the Kubernetes API answered {status}: {message or body or 'no details'}"


def unreachable_message(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return (
        f"cannot reach the Kubernetes API ({reason}); check that the cluster is up and that "
        "--kubeconfig/--context point at it, or use --cluster memory for the embedded demo cluster"
    )


def invalid_object_message(error: ValidationError) -> str:
    """The one line for an object read from the cluster that the models reject (the CRD schema
    admits more than they do, e.g. a successCondition that is not CEL)."""
    root = _MODELS.get(error.title, BaseModel)
    problems = "; ".join(str(p) for p in problems_from_validation_error(error, root))
    return (
        f"the cluster holds an invalid {error.title}: {problems}; fix it and apply it again "
        "(`canary lint FILE` shows every problem before it reaches the cluster)"
    )


_MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model for model in (Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun)
}


@contextmanager
def translated() -> Iterator[None]:
    """Run a command; known failures leave as `CLIError`, anything else is a bug and keeps its traceback."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as error:
        raise CLIError(api_error_message(int(error.status or 0), _status_body(error))) from None
    except ConfigException as error:
        raise CLIError(
            f"no usable kubeconfig ({error}); pass --kubeconfig or set KUBECONFIG, or pick one with --context"
        ) from None
    except (HTTPError, ConnectionError) as error:
        raise CLIError(unreachable_message(error)) from None
    except NotFound as error:
        raise CLIError(f"not found: {error}") from None
    except Conflict as error:
        raise CLIError(f"the object changed while this command ran ({error}); run it again") from None
    except ValidationError as error:
        raise CLIError(invalid_object_message(error)) from None
