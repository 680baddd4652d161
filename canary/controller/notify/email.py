"""Email over SMTP with the standard library: `service.email[.<name>]` with `host`, `port` (587;
465 means implicit TLS), `from`, and `username` / `password` to log in. STARTTLS is used whenever the
server offers it (`insecure_skip_verify: true` skips checking its certificate). The recipient is the
address the subscription names; the template's `email.subject` / `email.body` (default: the title and
the message)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from canary.controller.notify.delivery import TIMEOUT_SECONDS, DeliveryError, setting
from canary.engine.notifications import Notification


def message(notification: Notification) -> EmailMessage:
    settings = notification.service.settings
    email = notification.content.get("email") or {}
    mail = EmailMessage()
    mail["From"] = str(settings.get("from") or settings.get("username") or "canary@localhost")
    mail["To"] = notification.subscription.recipient
    mail["Subject"] = str(email.get("subject") or notification.context.get("title", ""))
    mail.set_content(str(email.get("body") or notification.content.get("message", "")))
    return mail


def send(notification: Notification) -> None:
    settings = notification.service.settings
    what = f"email service {notification.service.name!r}"
    if not notification.subscription.recipient:
        raise DeliveryError(f"{what}: the subscription names no address")
    host = str(setting(settings, "host", what=what))
    port = int(settings.get("port") or 587)
    context = ssl.create_default_context()
    if settings.get("insecure_skip_verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        smtp = (
            smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=context)
            if port == 465
            else smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        )
        with smtp:
            smtp.ehlo()
            if port != 465 and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.get("username"):
                smtp.login(str(settings["username"]), str(settings.get("password", "")))
            smtp.send_message(message(notification))
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(f"{what}: SMTP {error.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"{what}: {type(error).__name__}") from None
