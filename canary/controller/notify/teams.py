"""Microsoft Teams: an incoming webhook per channel (`recipientUrls: {<channel>: $<secret key>}`),
sent a MessageCard with the template's `teams` fields (title, text, themeColor, facts, sections,
potentialAction, summary)."""

from __future__ import annotations

from typing import Any

from canary.controller.notify.delivery import DeliveryError, post_json
from canary.engine.notifications import Notification


def payload(notification: Notification) -> dict[str, Any]:
    content = notification.content
    teams = content.get("teams") or {}
    message = str(content.get("message", ""))
    title = str(teams.get("title") or notification.context.get("title", ""))
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": str(teams.get("summary") or title),
        "title": title,
        # Teams renders Markdown: a single newline does not break a line.
        "text": str(teams.get("text") or message).replace("\n", "\n\n"),
    }
    if teams.get("themeColor"):
        card["themeColor"] = str(teams["themeColor"]).lstrip("#")
    sections = list(teams.get("sections") or [])
    if teams.get("facts"):
        sections.append({"facts": [fact for fact in teams["facts"] if fact.get("value")]})
    if sections:
        card["sections"] = sections
    if teams.get("potentialAction"):
        card["potentialAction"] = teams["potentialAction"]
    return card


def send(notification: Notification) -> None:
    what = f"teams service {notification.service.name!r}"
    recipient = notification.subscription.recipient
    urls = notification.service.settings.get("recipientUrls") or {}
    if recipient not in urls:
        raise DeliveryError(f"{what}: no recipientUrls entry for {recipient!r}")
    post_json(str(urls[recipient]), payload(notification), what=what)
