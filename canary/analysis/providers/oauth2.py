"""OAuth2 client credentials (RFC 6749, section 4.4), as Argo's `authentication.oauth2`: the token the
prometheus and web providers send as `Authorization: Bearer`.

The client authenticates with HTTP Basic (section 2.3.1, which every authorization server supports),
id and secret form-encoded first as the RFC says; `scopes` go space-separated in `scope`. A token is
asked for at each measurement, as each of Argo's measurements builds its client anew: measurements
are minutes apart and tokens are cheap. Errors name the token URL and status, never the secret or
the token (and the runner masks the secret in everything it records).
"""

from __future__ import annotations

from urllib.parse import quote_plus

import requests

from canary.analysis.providers.base import MeasurementError, unreachable_reason
from canary.api.analysis import OAuth2

BODY_EXCERPT = 200


def authorization(config: OAuth2, timeout: float) -> dict[str, str]:
    """The `Authorization` header carrying a fresh access token; MeasurementError if none is granted."""
    form = {"grant_type": "client_credentials"}
    if config.scopes:
        form["scope"] = " ".join(config.scopes)
    try:
        response = requests.post(
            config.token_url,
            data=form,
            auth=(quote_plus(config.client_id), quote_plus(config.client_secret)),
            headers={"Accept": "application/json"},
            timeout=timeout,
        )
    except requests.exceptions.RequestException as error:
        raise MeasurementError(
            f"cannot reach the OAuth2 token URL {config.token_url}: {unreachable_reason(error)}"
        ) from None
    with response:
        if not 200 <= response.status_code < 300:
            raise MeasurementError(
                f"the OAuth2 token URL {config.token_url} refused client '{config.client_id}': "
                f"HTTP {response.status_code} {_error_of(response)}"
            )
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            token = None
    if not isinstance(token, str) or not token:
        raise MeasurementError(f"the OAuth2 token URL {config.token_url} answered without an access_token")
    return {"Authorization": f"Bearer {token}"}


def _error_of(response: requests.Response) -> str:
    """RFC 6749's `error` (and description) of a refusal, else the start of the body."""
    try:
        body = response.json()
        return f"{body['error']}: {body.get('error_description', '')}".rstrip(": ")
    except (ValueError, KeyError, TypeError):
        text = " ".join(response.text.split())
        return text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + "…"
