"""Slack: an incoming webhook per channel (`recipientUrls: {<channel>: $<secret key>}`), or the Web
API's chat.postMessage with a bot token (`token: $slack-token`, optional `apiURL`, `username`, `icon`)
to the channel the subscription names."""

from __future__ import annotations

from typing import Any

from canary.controller.notify.delivery import DeliveryError, post_json
from canary.engine.notifications import Notification

DEFAULT_API_URL = "https://slack.com/api"


def payload(notification: Notification) -> dict[str, Any]:
    content = notification.content
    slack = content.get("slack") or {}
    body: dict[str, Any] = {"text": str(content.get("message", ""))}
    for field in ("attachments", "blocks"):
        if slack.get(field):
            body[field] = slack[field]
    settings = notification.service.settings
    if settings.get("username"):
        body["username"] = settings["username"]
    icon = str(settings.get("icon") or "")
    if icon:
        body["icon_url" if icon.startswith("http") else "icon_emoji"] = icon
    return body


def send(notification: Notification) -> None:
    settings = notification.service.settings
    recipient = notification.subscription.recipient
    what = f"slack service {notification.service.name!r}"
    webhooks = settings.get("recipientUrls") or {}
    body = payload(notification)
    if recipient in webhooks:
        post_json(str(webhooks[recipient]), body, what=what)
        return
    token = settings.get("token")
    if not token:
        raise DeliveryError(f"{what}: no token, and no recipientUrls entry for {recipient!r}")
    api = str(settings.get("apiURL") or DEFAULT_API_URL).rstrip("/")
    response = post_json(
        f"{api}/chat.postMessage",
        {**body, "channel": recipient},
        what=what,
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryError(f"{what}: chat.postMessage answered something other than JSON") from None
    if not answer.get("ok"):
        raise DeliveryError(f"{what}: chat.postMessage error {str(answer.get('error', 'unknown'))[:80]}")
