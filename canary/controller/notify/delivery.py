"""What every service module shares: the error it raises and the one HTTP POST they make.

A `DeliveryError` message is safe to log: it names the service and what went wrong (an HTTP status,
the receiver's error code, the exception class), never a URL, a header or a body, which may carry a
token (a Slack or Teams webhook URL is itself the credential).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

TIMEOUT_SECONDS = 10.0


class DeliveryError(RuntimeError):
    """A notification was not delivered; the message holds no credential."""


def post_json(
    url: str,
    body: Any,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    method: str = "POST",
    verify: bool = True,
    timeout: float = TIMEOUT_SECONDS,
) -> requests.Response:
    """Send `body` as JSON; the response if it is 2xx, else `DeliveryError` naming `what` and the status."""
    try:
        response = requests.request(
            method,
            url,
            json=body,
            headers=dict(headers or {}),
            auth=auth,
            timeout=timeout,
            verify=verify,
        )
    except requests.RequestException as error:
        # The exception's text contains the URL: only its class is reported.
        raise DeliveryError(f"{what}: request failed ({type(error).__name__})") from None
    if not 200 <= response.status_code <= 299:
        raise DeliveryError(f"{what}: HTTP {response.status_code}")
    return response


def setting(settings: Mapping[str, Any], name: str, *, what: str) -> Any:
    value = settings.get(name)
    if value in (None, ""):
        raise DeliveryError(f"{what}: no {name} in its service settings")
    return value
