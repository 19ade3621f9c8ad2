"""One communication's documents, written into the day's folder.

By the step's channel: `email` -> an .eml (text and HTML, invoice PDFs attached when found);
`courrier` / `recommande` -> a PDF letter (and a .docx when the step says `docx: true`);
`telephone` -> a call sheet (.txt). An e-mail step with `appel: true` also gets a call sheet.
File names are `<customer code, sanitised>-<step id>` (see `naming`), never taken from a name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Mapping

from encaisse.dunning.records import Communication
from encaisse.letters.context import Customer, Sender, document_context, listed_invoices
from encaisse.letters.docx import DocxWriter
from encaisse.letters.message import build_email, recipients
from encaisse.letters.naming import safe_invoice_file, safe_stem
from encaisse.letters.pdf import LetterPrinter, letter_data
from encaisse.letters.templates import CALL_SHEET, Templates

LETTER_CHANNELS = ("courrier", "recommande")


@dataclass(frozen=True)
class Rendered:
    communication: Communication
    customer: Customer
    files: tuple[Path, ...]  # every file written, the main document first
    email: EmailMessage | None = None
    email_bytes: bytes = b""  # the message as written to the .eml, and as sent
    recipients: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the person should know (an invoice PDF not found…)

    @property
    def document(self) -> Path:
        return self.files[0]


class Renderer:
    """Renders communications into `folder` with the templates of `templates_dir` (compiled once)."""

    def __init__(self, templates_dir: str | Path, folder: str | Path, sender: Sender, invoices_dir: Path | None = None):
        self.templates = Templates(templates_dir)
        self.templates_dir = Path(templates_dir)
        self.folder = Path(folder)
        self.sender = sender
        self.invoices_dir = invoices_dir
        self._printer: LetterPrinter | None = None
        self._docx: DocxWriter | None = None

    def _target(self, name: str) -> Path:
        path = self.folder / name
        if path.resolve().parent != self.folder.resolve():  # names are sanitised; this is the proof
            raise ValueError(f"nom de fichier hors du dossier de sortie : {name!r}")
        return path

    def _write(self, name: str, content: bytes) -> Path:
        path = self._target(name)
        path.write_bytes(content)
        return path

    def render(self, communication: Communication, customer: Customer, step_labels: Mapping[str, str] | None = None,
               sent_at: dt.datetime | None = None) -> Rendered:
        """Write the documents; raises InvalidAddress (e-mail step, bad address) before writing anything."""
        step = communication.step
        stem = safe_stem(customer.customer_id, step.id)
        context = document_context(communication, customer, self.sender, step_labels)
        files: list[Path] = []
        notes: list[str] = []
        message, raw, to = None, b"", []
        if step.channel == "email":
            to = recipients(customer.email)
            rendered = self.templates.email(step.template, context)
            attachments, missing = self._invoice_pdfs(communication)
            if missing:
                notes.append(f"facture{'s' if len(missing) > 1 else ''} PDF absente{'s' if len(missing) > 1 else ''} "
                             f"du dossier des factures : {', '.join(missing)}")
            message = build_email(rendered, self.sender, customer, to, communication.as_of, attachments, sent_at)
            raw = bytes(message)
            files.append(self._write(f"{stem}.eml", raw))
        elif step.channel in LETTER_CHANNELS:
            text = self.templates.text(step.template, context)
            data = letter_data(context, text)
            if self._printer is None:
                self._printer = LetterPrinter(self.templates_dir)
            files.append(self._write(f"{stem}.pdf", self._printer.pdf(data, communication.as_of)))
            if step.docx:
                if self._docx is None:
                    self._docx = DocxWriter(self.templates_dir)
                target = self._target(f"{stem}.docx")
                self._docx.write(data, target)
                files.append(target)
            if step.channel == "recommande" and not customer.siren:
                notes.append("SIREN du client non renseigné (colonne « SIREN » des Clients) : la mise en demeure ne le mentionne pas")
        if step.channel == "telephone" or step.phone_task:
            template = step.template if step.channel == "telephone" else CALL_SHEET
            sheet = self.templates.text(template, context)
            body = (sheet.subject + "\n\n" if sheet.subject else "") + sheet.body
            files.append(self._write(f"{stem}-appel.txt", body.encode("utf-8")))
        return Rendered(communication, customer, tuple(files), message, raw, tuple(to) if message else (), tuple(notes))

    def _invoice_pdfs(self, communication: Communication) -> tuple[list[Path], list[str]]:
        if self.invoices_dir is None:
            return [], []
        found, missing = [], []
        listed, _ = listed_invoices(communication)
        for invoice in listed:
            name = safe_invoice_file(invoice.invoice_id)
            path = self.invoices_dir / name if name else None
            if path is not None and path.is_file():
                found.append(path)
            else:
                missing.append(f"{invoice.invoice_id}.pdf")
        return found, missing
