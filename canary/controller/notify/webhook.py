"""A generic webhook: `service.webhook.<name>` with `url`, `headers` ([{name, value}]) and
`basicAuth` ({username, password}); the template's `webhook.<name>` may set `method`, `path` (appended
to the url) and `body` (JSON text). Without one the body is canary's JSON: the Rollout, the trigger,
the Event, and the what / why / next of the message."""

from __future__ import annotations

import json
from typing import Any

from canary.controller.notify.delivery import post_json, setting
from canary.engine.notifications import Notification


def payload(notification: Notification) -> Any:
    custom = ((notification.content.get("webhook") or {}).get(notification.service.name)) or {}
    if custom.get("body"):
        try:
            return json.loads(custom["body"])
        except ValueError:
            return custom["body"]
    context = notification.context
    return {
        "rollout": {"namespace": notification.namespace, "name": notification.rollout},
        "trigger": notification.subscription.trigger,
        "recipient": notification.subscription.recipient,
        "event": context["event"],
        "title": context["title"],
        "what": context["what"],
        "why": context["why"],
        "action": context["action"],
        "message": notification.content.get("message", ""),
    }


def send(notification: Notification) -> None:
    settings = notification.service.settings
    what = f"webhook service {notification.service.name!r}"
    custom = ((notification.content.get("webhook") or {}).get(notification.service.name)) or {}
    url = str(setting(settings, "url", what=what)).rstrip("/") + str(custom.get("path") or "")
    headers = {str(h["name"]): str(h["value"]) for h in settings.get("headers") or [] if "name" in h}
    basic = settings.get("basicAuth") or {}
    auth = (str(basic["username"]), str(basic.get("password", ""))) if basic.get("username") else None
    post_json(
        url,
        payload(notification),
        what=what,
        headers=headers,
        auth=auth,
        method=str(custom.get("method") or "POST").upper(),
        verify=not settings.get("insecureSkipVerify", False),
    )
