"""Sending one e-mail: SMTP when configured (seed 001's SMTP_* variables), the log otherwise."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

from flask import current_app

log = logging.getLogger(__name__)


def mode() -> str:
    """ "smtp", or "log" when no SMTP server is configured (development): the health page says which."""
    return "smtp" if current_app.config.get("SMTP_ADDRESS") else "log"


def build(to_address: str, subject: str, text: str, html: str) -> MimeMessage:
    message = MimeMessage()
    message["From"] = current_app.config["MAILER_SENDER_EMAIL"]
    message["To"] = to_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="chamados")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(message: MimeMessage) -> None:
    """Deliver or raise (smtplib.SMTPException / OSError): the caller decides about retrying."""
    config = current_app.config
    if mode() == "log":
        log.info(
            "e-mail (no SMTP configured) to=%s subject=%s\n%s",
            message["To"],
            message["Subject"],
            _text(message),
        )
        return
    host, port, timeout = config["SMTP_ADDRESS"], config["SMTP_PORT"], config["SMTP_TIMEOUT_SECONDS"]
    context = ssl.create_default_context()
    if config["SMTP_TLS"]:
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if not config["SMTP_TLS"] and config["SMTP_ENABLE_STARTTLS_AUTO"]:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
        if config["SMTP_USERNAME"]:
            client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
        client.send_message(message)


def _text(message: MimeMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""
