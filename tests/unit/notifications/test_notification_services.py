"""Each service against a real receiver on loopback: the JSON bodies Slack (incoming webhook and
chat.postMessage), Teams and a generic webhook receive, and the mail an SMTP server (aiosmtpd) gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from receivers import basic_auth, http_receiver, smtp_receiver

from canary.controller.notify import email, slack, teams, webhook
from canary.controller.notify.delivery import DeliveryError
from canary.engine import notifications as notes
from canary.sim import scenarios

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ABORT = (
    "Rollout aborted update to revision 3: AnalysisRun 'web-abc-2-1' Failed: metric 'error-rate' "
    'Failed: sequential-counts: fail (e_value=43.63, p_value=0.02292) "quoted"'
)


@dataclass(frozen=True)
class Ev:
    type: str
    reason: str
    message: str
    timestamp: datetime


def notification(
    data: dict[str, str], secret: dict[str, str], service: str, recipient: str
) -> notes.Notification:
    config, problems = notes.parse_config(data, secret)
    assert problems == []
    base = scenarios.rollout("web", namespace="shop")
    key = f"notifications.canary.dev/subscribe.on-rollout-aborted.{service}"
    metadata = base.metadata.model_copy(update={"annotations": {key: recipient}, "creation_timestamp": NOW})
    rollout = base.model_copy(update={"metadata": metadata})
    (one,) = notes.plan(
        rollout, [Ev("Warning", "RolloutAborted", ABORT, NOW)], config, {}, now=NOW
    ).notifications
    return one


def test_slack_incoming_webhook() -> None:
    with http_receiver() as receiver:
        n = notification(
            {"service.slack": "recipientUrls:\n  releases: $releases-url\n"},
            {"releases-url": f"{receiver.url}/services/T0/B0/secret"},
            "slack",
            "releases",
        )
        slack.send(n)
    (request,) = receiver.requests
    assert request.path == "/services/T0/B0/secret"
    assert request.body["text"].startswith("Rollout aborted update to revision 3: AnalysisRun")
    assert "kubectl canary retry web -n shop" in request.body["text"]
    (attachment,) = request.body["attachments"]
    assert attachment["title"] == "Rollout shop/web aborted"
    assert attachment["color"] == "#E01E5A"
    assert [f["title"] for f in attachment["fields"]] == ["What", "Why", "Next"]
    assert (
        "e_value=43.63" in attachment["fields"][1]["value"] and '"quoted"' in attachment["fields"][1]["value"]
    )
    assert "channel" not in request.body


def test_slack_chat_post_message_with_a_bot_token() -> None:
    with http_receiver() as receiver:
        receiver.default = (200, {"ok": True})
        n = notification(
            {
                "service.slack": f"token: $slack-token\napiURL: {receiver.url}/api\nusername: canary\nicon: ':bird:'\n"
            },
            {"slack-token": "xoxb-123-secret"},
            "slack",
            "C0RELEASES",
        )
        slack.send(n)
        receiver.default = (200, {"ok": False, "error": "channel_not_found"})
        with pytest.raises(DeliveryError) as failure:
            slack.send(n)
    request = receiver.requests[0]
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-123-secret"
    assert request.body["channel"] == "C0RELEASES"
    assert request.body["username"] == "canary" and request.body["icon_emoji"] == ":bird:"
    assert "e_value=43.63" in request.body["text"]
    assert "channel_not_found" in str(failure.value) and "xoxb" not in str(failure.value)


def test_teams_message_card() -> None:
    with http_receiver() as receiver:
        n = notification(
            {"service.teams": "recipientUrls:\n  releases: $teams-url\n"},
            {"teams-url": f"{receiver.url}/webhookb2/secret"},
            "teams",
            "releases",
        )
        teams.send(n)
    (request,) = receiver.requests
    card = request.body
    assert request.path == "/webhookb2/secret"
    assert card["@type"] == "MessageCard" and card["title"] == "Rollout shop/web aborted"
    assert card["themeColor"] == "E01E5A"
    facts = {fact["name"]: fact["value"] for fact in card["sections"][0]["facts"]}
    assert "e_value=43.63" in facts["Why"]
    assert "kubectl canary retry web -n shop" in facts["Next"]
    assert "\n\nWhy: " in card["text"]


def test_generic_webhook_default_body_headers_and_basic_auth() -> None:
    with http_receiver() as receiver:
        n = notification(
            {
                "service.webhook.ops": (
                    f"url: {receiver.url}/hook\nheaders:\n- name: X-Token\n  value: $hook-token\n"
                    "basicAuth:\n  username: canary\n  password: $hook-password\n"
                )
            },
            {"hook-token": "tok-1", "hook-password": "pw-2"},
            "ops",
            "",
        )
        webhook.send(n)
    (request,) = receiver.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["X-Token"] == "tok-1"
    assert request.headers["Authorization"] == basic_auth("canary", "pw-2")
    body = request.body
    assert body["rollout"] == {"namespace": "shop", "name": "web"}
    assert body["trigger"] == "on-rollout-aborted"
    assert body["event"]["reason"] == "RolloutAborted" and body["event"]["message"] == ABORT
    assert "e_value=43.63" in body["why"] and "kubectl canary retry web -n shop" in body["action"]


def test_generic_webhook_with_a_template_of_its_own() -> None:
    with http_receiver() as receiver:
        n = notification(
            {
                "service.webhook.ops": f"url: {receiver.url}\n",
                "template.rollout-aborted": (
                    "webhook:\n  ops:\n    method: PUT\n    path: /status/{{.rollout.metadata.name}}\n"
                    '    body: |\n      {"state": "error", "description": "{{.why}}"}\n'
                ),
            },
            {},
            "ops",
            "",
        )
        webhook.send(n)
    (request,) = receiver.requests
    assert request.method == "PUT" and request.path == "/status/web"
    assert request.body["state"] == "error"
    assert request.body["description"].endswith('(e_value=43.63, p_value=0.02292) "quoted"')


def test_email_over_smtp() -> None:
    with smtp_receiver(auth=True) as server:
        n = notification(
            {
                "service.email": (
                    f"host: {server.host}\nport: {server.port}\nfrom: canary@example.com\n"
                    "username: canary\npassword: $mail-password\n"
                )
            },
            {"mail-password": "mail-pass"},
            "email",
            "sre@example.com",
        )
        email.send(n)
    (mail,) = server.mails
    assert server.logins == [("canary", "mail-pass")]
    assert mail.sender == "canary@example.com" and mail.recipients == ["sre@example.com"]
    assert mail.message["Subject"] == "Rollout shop/web aborted"
    assert "e_value=43.63" in mail.body and "kubectl canary retry web -n shop" in mail.body


def test_a_failure_names_the_service_never_the_secret_url() -> None:
    with http_receiver() as receiver:
        receiver.default = (500, "boom")
        n = notification(
            {"service.teams": "recipientUrls:\n  releases: $teams-url\n"},
            {"teams-url": f"{receiver.url}/webhookb2/the-secret"},
            "teams",
            "releases",
        )
        with pytest.raises(DeliveryError) as failure:
            teams.send(n)
    assert str(failure.value) == "teams service 'teams': HTTP 500"
    closed = notification(
        {"service.webhook.ops": "url: $url\n"}, {"url": "http://127.0.0.1:9/the-secret"}, "ops", ""
    )
    with pytest.raises(DeliveryError) as refused:
        webhook.send(closed)
    assert "the-secret" not in str(refused.value) and "ConnectionError" in str(refused.value)
