"""Sending one email: to the console in development, over SMTP in production."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from app.config import MailSettings

log = logging.getLogger("confide.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    # How logs name the recipient: "staff <id>" or "reporter of case <id>", never an address.
    who: str


class MailError(Exception):
    """The message could not be handed to the mail server."""


def send(settings: MailSettings, mail: Mail) -> None:
    if settings.backend == "console":
        # The body is printed (it holds no content); the address is not.
        log.info("mail to %s: %s\n%s", mail.who, mail.subject, mail.body)
        return
    try:
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        with smtplib.SMTP(settings.host, settings.port, timeout=15) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(message)
    except Exception as error:  # noqa: BLE001 - any failure; its text may hold the address
        raise MailError(f"{mail.who}: {error.__class__.__name__}") from None
    log.info("mail to %s sent: %s", mail.who, mail.subject)
