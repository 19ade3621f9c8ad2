"""encaisse letters: the documents of the day's communications, their content, and untrusted text kept as data."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import shutil

import docx
import pytest
from pypdf import PdfReader

from encaisse.cli import main
from encaisse.jobs.letters import run_letters
from encaisse.letters.context import SAMPLE_CUSTOMER, SAMPLE_SENDER, document_context, sample_communication
from encaisse.letters.naming import safe_stem
from encaisse.letters.templates import check_templates, text_to_html
from encaisse.resources import DEFAULT_RULES_DIR

from letters_fixtures import AS_OF, PREVIOUS, communication, invoice, write_book

DAY = "2026-10-31"


def pdf_text(path) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def parse(path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def readable(text: str) -> str:
    """What a reader sees: no-break spaces as spaces, lines as lines (an .eml has CRLF line ends)."""
    return text.replace("\u202f", " ").replace("\u00a0", " ").replace("\r\n", "\n")


def plain(message) -> str:
    return readable(message.get_body(("plain",)).get_content())


def html(message) -> str:
    return readable(message.get_body(("html",)).get_content())


# --- a run on a small workbook ---------------------------------------------------------------------

NOTICE = communication(
    "C2", "mise_en_demeure",
    invoice("F-C2-1", 1200.0, 1200.0, dt.date(2026, 8, 31), penalty=24.87),
    invoice("F-C2-2", 830.5, 330.5, dt.date(2026, 10, 1), penalty=3.37),
    previous=PREVIOUS,
)
FRIENDLY = communication("C1", "amiable", invoice("F-C1-1", 1001.0, 601.0, dt.date(2026, 10, 28)),
                         not_yet_due=(invoice("F-C1-2", 1002.0, 1002.0, dt.date(2026, 11, 20), indemnity=0.0),))
FIRM = communication("C3", "ferme", invoice("F-C3-1", 1001.0, 1001.0, dt.date(2026, 10, 21)), previous=PREVIOUS[:1])


@pytest.fixture()
def run(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    before = book.read_bytes()
    result = run_letters(book, tmp_path / "out", communications=[FRIENDLY, NOTICE, FIRM], progress=False)
    return tmp_path, book, before, result


def test_dry_run_writes_each_document_and_leaves_the_journal(run):
    tmp_path, book, before, result = run
    folder = tmp_path / "out" / DAY
    assert sorted(p.name for p in folder.iterdir()) == [
        "C1-amiable.eml", "C2-mise_en_demeure.docx", "C2-mise_en_demeure.pdf", "C3-ferme-appel.txt", "C3-ferme.eml"]
    assert book.read_bytes() == before  # a dry run journals nothing
    assert [(p.customer_id, p.step, p.status) for p in result.produced] == [
        ("C1", "amiable", "ecrit"), ("C2", "mise_en_demeure", "ecrit"), ("C3", "ferme", "ecrit")]
    assert result.produced[1].files == (f"{DAY}/C2-mise_en_demeure.pdf", f"{DAY}/C2-mise_en_demeure.docx")
    summary = result.summary()
    assert "3 communications : 1 lettre PDF, 1 lettre Word, 2 e-mails, 1 fiche d'appel" in summary
    assert "Simulation : rien n'a été envoyé ni inscrit au journal" in summary


def test_formal_notice_pdf_holds_the_legal_mentions_and_the_amounts(run):
    tmp_path, *_ = run
    text = pdf_text(tmp_path / "out" / DAY / "C2-mise_en_demeure.pdf")
    flat = " ".join(text.split())
    for expected in [
        "MISE EN DEMEURE DE PAYER", "Lettre recommandée avec accusé de réception", "Lyon, le 31/10/2026",
        "Atelier Dupont SAS", "SIREN 847129053", "Garage Petit SAS", "SIREN 410079198", "À l'attention de Paul Petit",
        "Facture F-C2-1 du 01/08/2026, échue le 31/08/2026 : 1 200,00 € TTC, reste dû 1 200,00 €",
        "Facture F-C2-2 du 01/09/2026, échue le 01/10/2026 : 830,50 € TTC, reste dû 330,50 €",
        "Principal restant dû : 1 530,50 €",
        # 24,87 + 3,37 = 28,24 € of L441-10 penalties; 2 × 40 € of indemnities; 1 530,50 + 28,24 + 80 = 1 638,74 €
        "(taux annuel 12,40 %, article L441-10 du code de commerce) : 28,24 €",
        "(40 € × 2 factures, article D441-5 du code de commerce) : 80,00 €",
        "Total exigible : 1 638,74 €",
        "dans un délai de 15 jours à compter de la réception",
        "nous saisirons la juridiction compétente (Procédure simplifiée de recouvrement des petites créances)",
        "Malgré nos relances du 04/09/2026 (e-mail), 10/09/2026 (e-mail)".replace("10/09", "11/09"),
        "IBAN FR76 3000 4019 2500 0123 4567 876", "https://paiement.atelier-dupont.example/regler",
        "Claire Martin", "Responsable recouvrement", "01 99 00 99 00", "recouvrement@atelier-dupont.example",
        "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations distinguées.",
    ]:
        assert expected in flat, expected


def test_formal_notice_docx_is_the_same_letter(run):
    tmp_path, *_ = run
    document = docx.Document(str(tmp_path / "out" / DAY / "C2-mise_en_demeure.docx"))
    text = "\n".join(p.text for p in document.paragraphs).replace("\u202f", " ").replace("\u00a0", " ")
    assert "MISE EN DEMEURE DE PAYER" in text and "Total exigible : 1 638,74 €" in text
    assert "Lettre recommandée avec accusé de réception" in text and "SIREN 410079198" in text
    assert "{{" not in text and "{%" not in text


def test_email_parses_back_with_both_parts_and_everything_owed(run):
    tmp_path, *_ = run
    message = parse(tmp_path / "out" / DAY / "C1-amiable.eml")
    assert readable(message["Subject"]) == "Atelier Dupont SAS – facture échue non réglée (601,00 €)"
    assert message["To"].addresses[0].addr_spec == "julie@boulangerie-martin.example"
    assert message["To"].addresses[0].display_name == "Julie Martin"
    assert message["From"].addresses[0].addr_spec == "recouvrement@atelier-dupont.example"
    assert message["Reply-To"].addresses[0].addr_spec == "recouvrement@atelier-dupont.example"
    assert message["Date"] == "Sat, 31 Oct 2026 09:00:00 +0000"
    assert message.get_content_type() == "multipart/alternative"
    text = plain(message)
    assert text.startswith("Bonjour Julie Martin,\n")
    assert "- Facture F-C1-1 du 28/09/2026 : 1 001,00 € TTC, échue le 28/10/2026, reste dû 601,00 €" in text
    assert "Montant restant dû : 601,00 €" in text
    assert "- Facture F-C1-2 du 21/10/2026 : 1 002,00 €, échéance le 20/11/2026" in text  # not yet due, apart
    assert "Pour régler en quelques clics : https://paiement.atelier-dupont.example/regler" in text
    assert "IBAN FR76 3000 4019 2500 0123 4567 876 (référence : C1)" in text
    assert "Claire Martin, Responsable recouvrement\nAtelier Dupont SAS – 01 99 00 99 00 – recouvrement@atelier-dupont.example" in text
    page = html(message)
    assert "<li>Facture F-C1-1 du 28/09/2026 : 1 001,00 € TTC, échue le 28/10/2026, reste dû 601,00 €</li>" in page
    assert '<a href="https://paiement.atelier-dupont.example/regler"' in page and "Régler 601,00 € en ligne" in page


def test_firm_email_lists_previous_reminders_and_gets_a_call_sheet(run):
    tmp_path, *_ = run
    text = plain(parse(tmp_path / "out" / DAY / "C3-ferme.eml"))
    assert text.startswith("Madame, Monsieur,\n\nMalgré nos relances du 04/09/2026 (e-mail), la facture suivante reste impayée :")
    assert "(10 jours de retard)" in text and "Notre service vous appellera" in text
    sheet = (tmp_path / "out" / DAY / "C3-ferme-appel.txt").read_text(encoding="utf-8")
    assert sheet.startswith("FICHE D'APPEL – Menuiserie Roux (C3) – 31/10/2026\n")
    assert "Relances déjà faites : 04/09/2026 (e-mail)" in sheet


def test_each_tone_opens_and_closes_in_its_own_words(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    comms = [communication("C1", "courtoisie"), communication("C2", "amiable"), communication("C3", "ferme")]
    run_letters(book, tmp_path / "out", communications=comms, progress=False)
    folder = tmp_path / "out" / DAY
    courteous, friendly, firm = (plain(parse(folder / name)) for name in ("C1-courtoisie.eml", "C2-amiable.eml", "C3-ferme.eml"))
    assert courteous.startswith("Bonjour Julie Martin,") and "Si le règlement est déjà parti" in courteous
    assert courteous.rstrip().endswith("recouvrement@atelier-dupont.example") and "Bien cordialement," in courteous
    assert friendly.startswith("Bonjour Paul Petit,") and "Un oubli est vite arrivé" in friendly
    assert firm.startswith("Madame, Monsieur,") and "sous huit jours" in firm and "salutations distinguées" in firm


def test_not_yet_due_only_reminder_lists_those_invoices(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    early = communication("C1", "courtoisie", overdue=(), not_yet_due=(invoice("F-C1-1", 1001.0, 1001.0, dt.date(2026, 11, 5), indemnity=0.0),))
    run_letters(book, tmp_path / "out", communications=[early], progress=False)
    message = parse(tmp_path / "out" / DAY / "C1-courtoisie.eml")
    assert message["Subject"] == "Atelier Dupont SAS – échéance prochaine de votre facture F-C1-1"
    assert "- Facture F-C1-1 du 06/10/2026 : 1 001,00 € TTC, reste dû 1 001,00 €, échéance le 05/11/2026" in plain(message)


def test_invoice_pdfs_attached_from_the_invoices_folder(tmp_path):
    from letters_fixtures import PARAMS
    import dataclasses

    (tmp_path / "factures").mkdir()
    (tmp_path / "factures" / "F-C1-1.pdf").write_bytes(b"%PDF-1.4 facture")
    book = write_book(tmp_path / "b.xlsx", params=dataclasses.replace(PARAMS, invoices_dir="factures"))
    two = communication("C1", "amiable", invoice("F-C1-1", 10.0, 10.0, dt.date(2026, 10, 1)), invoice("F-C1-2", 20.0, 20.0, dt.date(2026, 10, 2)))
    result = run_letters(book, tmp_path / "out", communications=[two], progress=False)
    message = parse(tmp_path / "out" / DAY / "C1-amiable.eml")
    attachments = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content()) for a in attachments] == [("F-C1-1.pdf", b"%PDF-1.4 facture")]
    assert result.produced[0].notes == ("facture PDF absente du dossier des factures : F-C1-2.pdf",)


def test_already_journaled_today_is_skipped_unless_forced(tmp_path):
    import pandas as pd

    journal = pd.DataFrame({"date": [pd.Timestamp(AS_OF)], "invoice_id": ["F-C1-1"], "customer_id": ["C1"], "step": ["amiable"],
                            "channel": ["email"], "document": ["x.eml"], "outcome": ["envoye"]})
    book = write_book(tmp_path / "b.xlsx", journal=journal)
    first = run_letters(book, tmp_path / "out", communications=[FRIENDLY, FIRM], progress=False)
    assert [p.customer_id for p in first.produced] == ["C3"] and first.already_done == (("C1", "amiable"),)
    forced = run_letters(book, tmp_path / "out", communications=[FRIENDLY, FIRM], force=True, progress=False)
    assert [p.customer_id for p in forced.produced] == ["C1", "C3"]


# --- untrusted text ------------------------------------------------------------------------------

NASTY_NAME = "{{ societe.iban }} {% if true %}X{% endif %} #eval(\"1+1\") #import \"x.typ\" [*gras*] $x^2$ <script>alert(1)</script>"
NASTY_ADDRESS = "{{ 7*7 }} rue ../../etc/passwd, C:\\Windows\\ 75001 Paris"


def nasty_book(tmp_path, **overrides):
    rows = {
        "C1": ("C1", NASTY_NAME, "Jean{{x}}", "<b>Nom</b>", "jean@exemple.example", NASTY_ADDRESS, "410000004"),
        "../../evil": ("../../evil", "Sortie SARL", "", "", "sortie@exemple.example", "1 rue, 75001 Paris", ""),
        "C:\\x/y": ("C:\\x/y", "Chemin SAS", "", "", "chemin@exemple.example", "2 rue, 75001 Paris", ""),
        "C4": ("C4", "Injection\r\nBcc: victime@exemple.example", "Eve\r\nBcc: x@exemple.example", "", "eve@exemple.example", "3 rue", ""),
        "C5": ("C5", "Mauvaise adresse", "", "", "pas-une-adresse", "4 rue", ""),
        "C6": ("C6", "Saut de ligne", "", "", "ok@exemple.example\r\nBcc: pirate@exemple.example", "5 rue", ""),
    }
    rows.update(overrides)
    return write_book(tmp_path / "b.xlsx", customers=list(rows.values()))


def test_template_and_markup_in_a_customer_are_printed_literally(tmp_path):
    book = nasty_book(tmp_path)
    comms = [communication("C1", "amiable"), communication("C1", "mise_en_demeure", previous=PREVIOUS)]
    run_letters(book, tmp_path / "out", communications=comms, progress=False)
    folder = tmp_path / "out" / DAY
    message = parse(folder / "C1-amiable.eml")
    text, page = plain(message), html(message)
    assert "Bonjour Jean{{x}} <b>Nom</b>," in text  # rendered once: a value is never a template
    assert "FR76" not in message["To"].addresses[0].display_name
    assert "<script>" not in page and "&lt;b&gt;Nom&lt;/b&gt;" in page and "<b>Nom</b>" not in page
    letter = " ".join(pdf_text(folder / "C1-mise_en_demeure.pdf").split())
    assert NASTY_NAME.replace("\r", "") in letter  # Typst read it as a string: no markup, no evaluation
    assert "{{ 7*7 }} rue ../../etc/passwd" in letter and "49" not in letter
    document = docx.Document(str(folder / "C1-mise_en_demeure.docx"))
    assert NASTY_NAME in "\n".join(p.text for p in document.paragraphs)


def test_customer_codes_never_escape_the_output_folder(tmp_path):
    book = nasty_book(tmp_path)
    out = tmp_path / "out"
    comms = [communication("../../evil", "mise_en_demeure"), communication("C:\\x/y", "amiable")]
    result = run_letters(book, out, communications=comms, progress=False)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".xlsx")
    evil, path = safe_stem("../../evil", "mise_en_demeure"), safe_stem("C:\\x/y", "amiable")
    assert written == sorted(f"out/{DAY}/{name}" for name in (f"{evil}.pdf", f"{evil}.docx", f"{path}.eml"))
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", p.name.rsplit(".", 1)[0]) for p in (out / DAY).iterdir())
    assert safe_stem("../../evil", "x") != safe_stem("__evil", "x")  # a sanitised code never collides
    assert [p.customer_id for p in result.produced] == ["../../evil", "C:\\x/y"]


def test_line_breaks_in_names_never_add_a_header(tmp_path):
    book = nasty_book(tmp_path)
    run_letters(book, tmp_path / "out", communications=[communication("C4", "amiable")], progress=False)
    raw = (tmp_path / "out" / DAY / "C4-amiable.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None and b"\nBcc:" not in raw
    assert [a.addr_spec for a in message["To"].addresses] == ["eve@exemple.example"]
    assert message["To"].addresses[0].display_name == "Eve Bcc: x@exemple.example"


def test_invalid_addresses_are_reported_with_their_cell_and_the_others_produced(tmp_path):
    book = nasty_book(tmp_path)
    comms = [communication("C5", "amiable"), communication("C6", "amiable"), communication("C1", "amiable"),
             communication("C5", "mise_en_demeure")]
    result = run_letters(book, tmp_path / "out", communications=comms, progress=False)
    assert [(p.customer_id, p.step) for p in result.produced] == [("C1", "amiable"), ("C5", "mise_en_demeure")]
    # Clients: A code, B name, C segment, D first name, E last name, F e-mail; rows 2.. in the order written
    assert [(p.where, p.message) for p in result.problems] == [
        ("Clients!F6", "client C5 : adresse e-mail « pas-une-adresse » invalide ; relance par e-mail non écrite"),
        ("Clients!F7", "client C6 : saut de ligne dans l'adresse e-mail ; relance par e-mail non écrite"),
    ]
    assert not (tmp_path / "out" / DAY / "C5-amiable.eml").exists()
    assert "IGNORÉ Clients!F6 : client C5" in result.summary()


def test_several_addresses_in_one_cell(tmp_path):
    book = nasty_book(tmp_path, C5=("C5", "Deux SARL", "", "", "a@deux.example; b@deux.example", "4 rue", ""))
    run_letters(book, tmp_path / "out", communications=[communication("C5", "amiable")], progress=False)
    message = parse(tmp_path / "out" / DAY / "C5-amiable.eml")
    assert [a.addr_spec for a in message["To"].addresses] == ["a@deux.example", "b@deux.example"]


def test_html_conversion_escapes_what_it_is_given():
    assert str(text_to_html("a &lt;b&gt;\n\n- x\n- y\nz", "")) == "<p>a &lt;b&gt;</p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul>\n<p>z</p>"


# --- templates and rules check -------------------------------------------------------------------

def test_bundled_templates_check_clean():
    from encaisse.letters.checks import check_letter_templates

    assert check_letter_templates(DEFAULT_RULES_DIR / "modeles") == []


def test_rules_check_names_the_template_line_of_an_unknown_field(tmp_path, capsys):
    folder = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    (folder / "modeles" / "relance_ferme.eml.j2").write_text("Objet : x\n\nBonjour\n{{ client.fax }}\n", encoding="utf-8")
    (folder / "modeles" / "relance_amiable.eml.j2").write_text("Objet : x\n\n{{ clientt.nom }}\n", encoding="utf-8")
    (folder / "modeles" / "lettre.typ").write_text("#let d = json(bytes(sys.inputs.lettre))\n#d.inconnu\n", encoding="utf-8")
    assert main(["rules", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"modeles/relance_ferme\.eml\.j2:4: attribut inconnu « fax »", err)
    assert re.search(r"modeles/relance_amiable\.eml\.j2:3: champ inconnu « clientt », vouliez-vous dire « client » \?", err)
    assert re.search(r"modeles/lettre\.typ:2:\d+: mise en page impossible : dictionary does not contain key \"inconnu\"", err)


def test_sandbox_refuses_python_internals(tmp_path):
    (tmp_path / "x.txt.j2").write_text("{{ client.__class__.__mro__ }}", encoding="utf-8")
    problems = check_templates(tmp_path)
    assert len(problems) == 1 and problems[0].where.endswith("x.txt.j2:1")


def test_sample_context_amounts():
    context = document_context(sample_communication(), SAMPLE_CUSTOMER, SAMPLE_SENDER)
    assert context["total"] == "1\u202f530,50\u00a0€"
    assert context["penalites"]["montant"] == "28,24\u00a0€" and context["total_exigible"] == "1\u202f638,74\u00a0€"
    assert context["lieu"] == "Lyon" and context["date_limite"] == "15/11/2026"


# --- the command ---------------------------------------------------------------------------------

def test_cli_takes_the_communications_from_dunning(tmp_path, monkeypatch, capsys):
    from encaisse.jobs import letters as job

    book = write_book(tmp_path / "b.xlsx")
    seen = {}

    def communications(ledger, rules, as_of):
        seen["as_of"] = as_of
        return [FRIENDLY]

    monkeypatch.setattr(job, "communications_for", communications)
    assert main(["letters", str(book), "--out", str(tmp_path / "out"), "--as-of", "31/10/2026"]) == 0
    assert seen["as_of"] == AS_OF
    assert "1 communication : 1 e-mail" in capsys.readouterr().out
    assert (tmp_path / "out" / DAY / "C1-amiable.eml").is_file()


def test_demo_writes_the_days_letters_into_its_output_folder(tmp_path, monkeypatch, capsys):
    from encaisse.jobs import letters as job

    monkeypatch.setattr(job, "communications_for", lambda ledger, rules, as_of: [
        communication("C0001", "amiable"), communication("C0002", "mise_en_demeure")])
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Relances du 31/10/2026 — dossier {tmp_path / 'relances' / DAY}" in out
    assert sorted(p.name for p in (tmp_path / "relances" / DAY).iterdir()) == [
        "C0001-amiable.eml", "C0002-mise_en_demeure.docx", "C0002-mise_en_demeure.pdf"]
