"""--send against an SMTP server started by the test on 127.0.0.1 (aiosmtpd): accepted messages are
journaled `envoye`, a refused recipient is reported and journaled `echec` (not done), a second run
the same day sends nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from encaisse.errors import InputError
from encaisse.jobs.letters import run_letters
from encaisse.letters.smtp import smtp_settings
from encaisse.workbook import load_workbook

from letters_fixtures import PARAMS, communication, write_book

REFUSED = "paul@garage-petit.example"
SENT_AT = dt.datetime(2026, 10, 31, 10, 15, tzinfo=dt.timezone.utc)


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 Boîte inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


def environment(port: int) -> dict[str, str]:
    return {"ENCAISSE_SMTP_HOST": "127.0.0.1", "ENCAISSE_SMTP_PORT": str(port), "ENCAISSE_SMTP_SECURITY": "aucune"}


COMMS = [communication("C1", "amiable"), communication("C2", "ferme"), communication("C3", "mise_en_demeure")]


def test_accepted_mails_are_journaled_sent_and_a_refused_one_failed(tmp_path, server):
    mailbox, port = server
    book = write_book(tmp_path / "b.xlsx")
    run = run_letters(book, tmp_path / "out", send=True, communications=COMMS, environ=environment(port), sent_at=SENT_AT,
                      progress=False)
    assert [(p.customer_id, p.status) for p in run.produced] == [("C1", "envoye"), ("C2", "echec"), ("C3", "genere")]
    assert run.produced[1].reason == f"destinataire refusé par le serveur : {REFUSED} (550 5.1.1 Boîte inconnue)"
    assert [rcpt for rcpt, _ in mailbox.messages] == [["julie@boulangerie-martin.example"]]
    received = email.message_from_bytes(mailbox.messages[0][1], policy=email.policy.default)
    assert received["Date"] == "Sat, 31 Oct 2026 10:15:00 +0000"
    assert "F-C1-1" in received.get_body(("plain",)).get_content()
    journal = load_workbook(book).journal
    assert journal[["customer_id", "step", "channel", "outcome"]].values.tolist() == [
        ["C1", "amiable", "email", "envoye"], ["C2", "ferme", "email", "echec"], ["C3", "mise_en_demeure", "recommande", "genere"]]
    assert journal["document"].tolist() == ["2026-10-31/C1-amiable.eml", "2026-10-31/C2-ferme.eml", "2026-10-31/C3-mise_en_demeure.pdf"]
    summary = run.summary()
    assert f"ÉCHEC C2 (ferme) : destinataire refusé par le serveur : {REFUSED}" in summary
    assert "Journal : 3 ligne(s) ajoutée(s) (Journal!2:4)" in summary

    again = run_letters(book, tmp_path / "out", send=True, communications=COMMS, environ=environment(port), sent_at=SENT_AT,
                        progress=False)
    assert [(p.customer_id, p.status) for p in again.produced] == [("C2", "echec")]  # only the failure is retried
    assert again.already_done == (("C1", "amiable"), ("C3", "mise_en_demeure"))
    assert len(mailbox.messages) == 1
    assert len(load_workbook(book).journal) == 4


def test_server_down_nothing_journaled_as_sent(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    run = run_letters(book, tmp_path / "out", send=True, communications=COMMS[:1], environ=environment(free_port()),
                      progress=False)
    assert run.produced[0].status == "echec" and "connexion au serveur SMTP 127.0.0.1" in run.produced[0].reason
    assert load_workbook(book).journal["outcome"].tolist() == ["echec"]


def test_settings_come_from_environment_then_workbook_and_password_never_from_it():
    params = dataclasses.replace(PARAMS, smtp_host="smtp.atelier.example", smtp_port="587", smtp_security="starttls", smtp_user="claire")
    settings, problems = smtp_settings(params, {"ENCAISSE_SMTP_PASSWORD": "s3cret"})
    assert problems == [] and (settings.host, settings.port, settings.security, settings.user, settings.password) == (
        "smtp.atelier.example", 587, "starttls", "claire", "s3cret")
    assert "s3cret" not in repr(settings)
    settings, _ = smtp_settings(params, {"ENCAISSE_SMTP_HOST": "relais.example", "ENCAISSE_SMTP_SECURITY": "ssl",
                                         "ENCAISSE_SMTP_PORT": "465", "ENCAISSE_SMTP_PASSWORD": "x"})
    assert (settings.host, settings.port, settings.security) == ("relais.example", 465, "ssl")
    settings, _ = smtp_settings(params, {}, keyring_lookup=lambda service, account: "du-trousseau" if account == "claire@smtp.atelier.example" else None)
    assert settings.password == "du-trousseau"
    settings, problems = smtp_settings(params, {}, keyring_lookup=lambda service, account: None)
    assert settings is None and [p.where for p in problems] == ["ENCAISSE_SMTP_PASSWORD"]
    _, problems = smtp_settings(dataclasses.replace(params, smtp_port="cinq", smtp_security="quantique"), {"ENCAISSE_SMTP_PASSWORD": "x"})
    assert [p.where for p in problems] == ["Paramètres › SmtpSecurite", "Paramètres › SmtpPort"]


def test_send_without_a_server_configured_stops_before_anything(tmp_path):
    book = write_book(tmp_path / "b.xlsx", params=dataclasses.replace(PARAMS, smtp_host=None))
    before = book.read_bytes()
    with pytest.raises(InputError, match="SmtpServeur"):
        run_letters(book, tmp_path / "out", send=True, communications=COMMS, environ={}, progress=False)
    assert book.read_bytes() == before and not (tmp_path / "out").exists()
