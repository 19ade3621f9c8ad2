"""Sending the e-mails by SMTP: settings from Paramètres or ENCAISSE_SMTP_* variables, the password
only from ENCAISSE_SMTP_PASSWORD or the system keyring, one connection for the run.

Every message gets its own `Outcome`: accepted or not, and why (a refused recipient, a rejected
message, a connection lost). A message with several recipients of which the server refused some is
accepted for the others, and the refusals are still reported.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from encaisse.errors import Problem
from encaisse.ledger import Params

SECURITY = ("starttls", "ssl", "aucune")
_SECURITY_ALIASES = {"starttls": "starttls", "tls": "starttls", "ssl": "ssl", "smtps": "ssl", "aucune": "aucune",
                     "none": "aucune", "non": "aucune", "": "starttls"}
KEYRING_SERVICE = "encaisse-smtp"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | ssl | aucune
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0


def smtp_settings(params: Params, environ: Mapping[str, str],
                  keyring_lookup: Callable[[str, str], str | None] | None = None) -> tuple[SmtpSettings | None, list[Problem]]:
    """The settings, environment variables first (ENCAISSE_SMTP_HOST, _PORT, _SECURITY, _USER, _PASSWORD),
    then the Paramètres cells (SmtpServeur, SmtpPort, SmtpSecurite, SmtpUtilisateur)."""
    def pick(variable: str, value: str | None) -> str:
        return (environ.get(variable) or value or "").strip()

    problems: list[Problem] = []
    host = pick("ENCAISSE_SMTP_HOST", params.smtp_host)
    if not host:
        problems.append(Problem("Paramètres › SmtpServeur", "serveur SMTP non renseigné (ou variable ENCAISSE_SMTP_HOST) : "
                                                            "impossible d'envoyer les e-mails"))
    security_text = pick("ENCAISSE_SMTP_SECURITY", params.smtp_security).lower()
    security = _SECURITY_ALIASES.get(security_text)
    if security is None:
        problems.append(Problem("Paramètres › SmtpSecurite", f"sécurité « {security_text} » inconnue ; attendu : {', '.join(SECURITY)}"))
        security = "starttls"
    port_text = pick("ENCAISSE_SMTP_PORT", params.smtp_port)
    default_port = {"ssl": 465, "starttls": 587, "aucune": 25}[security]
    try:
        port = int(float(port_text.replace(",", "."))) if port_text else default_port
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        problems.append(Problem("Paramètres › SmtpPort", f"port « {port_text} » invalide (un nombre, par exemple 587)"))
        port = default_port
    user = pick("ENCAISSE_SMTP_USER", params.smtp_user)
    password = environ.get("ENCAISSE_SMTP_PASSWORD", "")
    if user and not password:
        lookup = keyring_lookup if keyring_lookup is not None else _keyring_password
        password = lookup(KEYRING_SERVICE, f"{user}@{host}") or ""
        if not password:
            problems.append(Problem("ENCAISSE_SMTP_PASSWORD", f"mot de passe SMTP de « {user} » introuvable : variable "
                                                              f"ENCAISSE_SMTP_PASSWORD, ou trousseau système (keyring set "
                                                              f"{KEYRING_SERVICE} {user}@{host})"))
    if problems:
        return None, problems
    return SmtpSettings(host, port, security, user, password), []


def _keyring_password(service: str, account: str) -> str | None:
    try:
        import keyring  # optional: the system keyring (Windows Credential Manager, macOS Keychain, Secret Service)
    except ImportError:
        return None
    try:
        return keyring.get_password(service, account)
    except Exception:  # noqa: BLE001 - no usable keyring backend is the same as no password stored
        return None


@dataclass(frozen=True)
class Envelope:
    """One message as sent: the envelope's sender and recipients, and the bytes written to its .eml."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    reason: str = ""  # why it was refused, or which recipients were refused when accepted for the others


def send_all(settings: SmtpSettings, messages: Sequence[Envelope],
             on_sent: Callable[[int], None] | None = None) -> list[Outcome]:
    """Send each message over one connection; an `Outcome` per message, in order."""
    if not messages:
        return []
    try:
        client = _connect(settings)
    except (OSError, smtplib.SMTPException) as error:
        reason = f"connexion au serveur SMTP {settings.host}:{settings.port} impossible ({_reason(error)})"
        return [Outcome(False, reason)] * len(messages)
    outcomes: list[Outcome] = []
    try:
        for message in messages:
            try:
                refused = client.sendmail(message.sender, list(message.recipients), message.data)
            except smtplib.SMTPRecipientsRefused as error:
                outcomes.append(Outcome(False, "destinataire refusé par le serveur : " + _refusals(error.recipients)))
            except smtplib.SMTPServerDisconnected as error:
                lost = Outcome(False, f"connexion SMTP perdue ({_reason(error)})")
                outcomes += [lost] * (len(messages) - len(outcomes))
                break
            except (smtplib.SMTPException, OSError) as error:
                outcomes.append(Outcome(False, f"message refusé par le serveur ({_reason(error)})"))
            else:
                outcomes.append(Outcome(True, "refusé pour " + _refusals(refused) if refused else ""))
            if on_sent is not None:
                on_sent(len(outcomes) - 1)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return outcomes


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.starttls(context=context)
    if settings.user:
        client.login(settings.user, settings.password)
    return client


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
        return f"{error.smtp_code} {text}"
    return str(error) or type(error).__name__


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{addr} ({code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text})"
                     for addr, (code, text) in refused.items())
