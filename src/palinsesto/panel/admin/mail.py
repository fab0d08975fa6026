"""Outgoing mail over SMTP (``PALINSESTO_SMTP_URL``), with the standard library.

``smtp://host:port`` speaks plain SMTP and upgrades with STARTTLS when the server offers
it; ``smtps://`` opens TLS at once. Credentials in the URL are used for AUTH. Sending
blocks (DNS, TCP, the server's replies), so callers run :func:`send_mail` in a worker
thread; it raises :class:`MailNotSent` with a message fit for the panel.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from palinsesto.config import Settings

SMTP_TIMEOUT = 15.0


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused the message."""


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_url)


def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send a plain-text message to ``to`` through the configured SMTP server."""
    url = urlsplit(settings.smtp_url)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    implicit_tls = url.scheme == "smtps"
    port = url.port or (465 if implicit_tls else 25)
    host = url.hostname or "localhost"
    try:
        client: smtplib.SMTP
        if implicit_tls:
            client = smtplib.SMTP_SSL(
                host, port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if not implicit_tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(
            f"the mail server at {host}:{port} did not take the message: {exc}"
        ) from None
