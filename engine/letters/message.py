"""E-mails as `email.message.EmailMessage` (policy SMTP, CRLF, RFC 5322 headers from Address objects).

Headers are built from values, never from template text: the recipients are the customer's
addresses checked one by one (`recipients`), display names lose their line breaks, and the subject
is one line. A malformed address is reported with its Clients cell instead of being sent.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Iterable

from encaisse.letters.context import Customer, Sender, one_line
from encaisse.letters.templates import RenderedEmail

POLICY = email.policy.SMTP.clone(max_line_length=78)

# A practical address check (RFC 5322 minus quoted local parts and IP literals): local part of
# atext and dots, a domain of labels with a letter-only top-level label.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")


class InvalidAddress(ValueError):
    pass


def recipients(text: str) -> list[str]:
    """The addresses of a Clients « E-mail » cell (several separated by ; or ,); InvalidAddress otherwise."""
    if any(ch in text for ch in "\r\n\x00"):
        raise InvalidAddress("saut de ligne dans l'adresse e-mail")
    parts = [part.strip() for part in re.split(r"[;,]", text) if part.strip()]
    if not parts:
        raise InvalidAddress("adresse e-mail absente")
    for part in parts:
        if not _ADDRESS.fullmatch(part):
            raise InvalidAddress(f"adresse e-mail « {part} » invalide")
    return parts


def _address(display: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=one_line(display), username=local, domain=domain)


def build_email(rendered: RenderedEmail, sender: Sender, customer: Customer, to: Iterable[str], day: dt.date,
                attachments: Iterable[Path] = (), sent_at: dt.datetime | None = None) -> EmailMessage:
    """The message: From/Reply-To the sender, To the customer, text and HTML alternatives, invoice PDFs attached.

    `sent_at` (given when the message is really sent) dates it; a dry run dates it at the as-of day.
    The Message-ID is derived from the content, so a dry run writes the same file twice.
    """
    message = EmailMessage(policy=POLICY)
    sender_address = sender.email
    message["From"] = _address(sender.company if not sender.name else f"{sender.name} – {sender.company}", sender_address)
    message["Reply-To"] = _address(sender.name or sender.company, sender_address)
    message["To"] = [_address(customer.contact or customer.name, addr) for addr in to]
    message["Subject"] = one_line(rendered.subject)
    moment = sent_at or dt.datetime(day.year, day.month, day.day, 9, 0, tzinfo=dt.timezone.utc)
    message["Date"] = format_datetime(moment)
    digest = hashlib.sha256("\x1f".join([customer.customer_id, rendered.subject, rendered.text, moment.isoformat()]).encode()).hexdigest()[:20]
    message["Message-ID"] = f"<{day:%Y%m%d}.{digest}@{sender_address.rpartition('@')[2] or 'encaisse.invalid'}>"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    attached = [Path(p) for p in attachments]
    if attached:
        message.make_mixed()
        for path in attached:
            message.add_attachment(path.read_bytes(), maintype="application", subtype="pdf", filename=path.name)
    return message
