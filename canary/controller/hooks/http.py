"""A webhook hook over HTTP: Flagger's JSON body POSTed to the hook's URL; 2xx passes.

Each call gets the hook's timeout; `retries` more calls are made at once after a failure before it
counts. A failure's message carries the status and the start of the body (Flagger reports the body
too), never the URL, which may hold a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from canary.api.base import parse_duration
from canary.api.hooks import Webhook

Answer = tuple[bool, str]
"""Whether the hook passed, and what it said."""

_BODY_CHARS = 200


def call_url(hook: Webhook, payload: Mapping[str, Any]) -> Answer:
    assert hook.url is not None
    timeout = parse_duration(hook.timeout)
    answer: Answer = (False, "not called")
    for _ in range(hook.retries + 1):
        answer = _post(hook.url, payload, timeout)
        if answer[0]:
            return answer
    return answer


def _post(url: str, payload: Mapping[str, Any], timeout: float) -> Answer:
    try:
        response = requests.post(url, json=dict(payload), timeout=timeout)
    except requests.Timeout:
        return False, f"no answer within {timeout:g}s"
    except requests.RequestException as error:
        return False, f"request failed ({type(error).__name__})"
    body = response.text.strip()[:_BODY_CHARS]
    said = f"HTTP {response.status_code}" + (f" {body}" if body else "")
    return 200 <= response.status_code <= 299, said
