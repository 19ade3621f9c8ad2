"""`encaisse letters` (and the ribbon's « Générer les relances »): the day's reminders, end to end.

Load the workbook and its rules, take the day's communications from dunning (one per customer, at
its highest due step), skip those the Journal already shows done today (unless `force`), write each
one's documents into OUT/AAAA-MM-JJ/, and:
- by default (dry run): nothing is sent and the Journal is left alone — the files are there to read;
- with `send`: the e-mails go out through SMTP, and the Journal gets one row per invoice of each
  communication: `envoye` for an e-mail the server accepted, `echec` for one it refused (not done:
  the next run retries it), `genere` for a letter to post or a call sheet.
A customer whose e-mail address is invalid is reported with its Clients cell and skipped; the others
are produced. Problems are collected and reported together.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from encaisse import journal
from encaisse.dunning import run_dunning
from encaisse.dunning.records import Communication
from encaisse.errors import InputError, Problem
from encaisse.jobs.explain import resolve_rules_dir
from encaisse.letters.context import customers_by_id, listed_invoices, sender_from_params
from encaisse.letters.message import InvalidAddress
from encaisse.letters.render import Rendered, Renderer
from encaisse.letters.smtp import Envelope, Outcome, send_all, smtp_settings
from encaisse.letters.templates import TemplateFailure
from encaisse.ledger import Ledger
from encaisse.rules import Rules, load
from encaisse.workbook.append import Appended
from encaisse.workbook.loader import load_workbook

PROGRESS_FROM = 20  # communications from which a progress bar is shown

WRITTEN = "ecrit"  # dry run: the files are written, nothing is sent or journaled


@dataclass(frozen=True)
class Produced:
    customer_id: str
    step: str
    channel: str
    files: tuple[str, ...]  # relative to the output folder
    status: str  # ecrit (dry run) | envoye | genere | echec
    reason: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LettersRun:
    folder: Path  # OUT/AAAA-MM-JJ
    as_of: dt.date
    send: bool
    produced: tuple[Produced, ...]
    already_done: tuple[tuple[str, str], ...] = ()  # (customer, step) journaled today, skipped
    problems: tuple[Problem, ...] = ()  # customers skipped, with where (Clients!F12…)
    warnings: tuple[str, ...] = ()
    journal: Appended | None = None
    rules_note: str = ""

    def summary(self) -> str:
        return summarize(self)


def communications_for(ledger: Ledger, rules: Rules, as_of: dt.date) -> list[Communication]:
    """The day's communications: one per customer due a reminder, at its highest due step."""
    return list(run_dunning(ledger, rules, as_of).communications)


def run_letters(book: str | Path, out: str | Path, *, as_of: dt.date | None = None, send: bool = False, force: bool = False,
                rules_dir: str | Path | None = None, communications: Sequence[Communication] | None = None,
                environ: Mapping[str, str] | None = None, sent_at: dt.datetime | None = None,
                progress: bool | None = None, keyring_lookup: Callable[[str, str], str | None] | None = None) -> LettersRun:
    """Write (and with `send`, send and journal) the day's reminders; see the module's docstring.

    `communications` replaces dunning's (tests, or a caller that already has them); `sent_at`
    dates the e-mails really sent (the command passes the time of sending); `environ` defaults to
    the process's environment (the ENCAISSE_SMTP_* variables).
    """
    book = Path(book)
    ledger = load_workbook(book)
    day = as_of or ledger.params.as_of
    if day is None:
        raise InputError([Problem("Paramètres › DateArrete", "date d'arrêté absente : renseignez-la ou passez --as-of")],
                         title="Relances impossibles")
    day = pd.Timestamp(day).date()
    folder, note = resolve_rules_dir(book, ledger.params.rules_dir, rules_dir)
    rules = load(folder)
    comms = list(communications) if communications is not None else communications_for(ledger, rules, day)
    environ = os.environ if environ is None else environ

    done = frozenset() if force else journal.done_on(ledger.journal, day, ledger.invoices)
    skipped = tuple(sorted((c.customer_id, c.step.id) for c in comms if (c.customer_id, c.step.id) in done))
    todo = [c for c in comms if (c.customer_id, c.step.id) not in done]

    sender = sender_from_params(ledger.params)
    customers = customers_by_id(ledger.customers)
    problems: list[Problem] = []
    if any(c.step.channel == "email" for c in todo) and not sender.email:
        problems.append(Problem("Paramètres › ExpediteurEmail", "e-mail de l'expéditeur non renseigné : les e-mails ne "
                                                                "sont pas écrits"))
        todo = [c for c in todo if c.step.channel != "email"]
    settings = None
    if send:
        settings, smtp_problems = smtp_settings(ledger.params, environ, keyring_lookup) if any(
            c.step.channel == "email" for c in todo) else (None, [])
        if smtp_problems:
            raise InputError(smtp_problems, title="Envoi impossible")
        if not os.access(book, os.W_OK) or not os.access(book.parent, os.W_OK):
            raise InputError([Problem(str(book), "classeur en lecture seule : le journal des relances ne pourrait pas "
                                                 "être mis à jour ; rien n'a été envoyé")], title="Envoi impossible")

    day_folder = Path(out) / day.isoformat()
    day_folder.mkdir(parents=True, exist_ok=True)
    invoices_dir = _invoices_dir(book, ledger.params.invoices_dir)
    renderer = Renderer(folder / "modeles", day_folder, sender, invoices_dir)
    labels = {s.id: s.label for t in rules.dunning.timelines.values() for s in t.steps}

    rendered: list[Rendered] = []
    bar = _progress(len(todo), progress)
    try:
        for communication in todo:
            customer = customers.get(communication.customer_id)
            if customer is None:
                problems.append(Problem("Clients", f"client « {communication.customer_id} » absent des Clients : relance non écrite"))
                continue
            try:
                rendered.append(renderer.render(communication, customer, labels, sent_at if send else None))
            except InvalidAddress as error:
                problems.append(Problem(customer.email_cell, f"client {customer.customer_id} : {error} ; relance par e-mail "
                                                             "non écrite"))
            except TemplateFailure as failure:
                raise InputError([failure.problem], title="Modèle de relance invalide") from None
            finally:
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    outcomes: dict[int, Outcome] = {}
    if send and settings is not None:
        emails = [(i, Envelope(sender.email, r.recipients, r.email_bytes)) for i, r in enumerate(rendered) if r.email is not None]
        results = send_all(settings, [m for _, m in emails])
        outcomes = {i: result for (i, _), result in zip(emails, results)}

    produced = [_produced(r, day_folder, send, outcomes.get(i)) for i, r in enumerate(rendered)]
    appended = None
    if send:
        entries = [journal.JournalEntry(day, invoice.invoice_id, r.communication.customer_id, r.communication.step.id,
                                        r.communication.step.channel, p.files[0], p.status)
                   for r, p in zip(rendered, produced) for invoice in listed_invoices(r.communication)[0]]
        appended = journal.append(book, entries)
    warnings = tuple(dict.fromkeys(w for c in todo for w in c.warnings))
    return LettersRun(day_folder, day, send, tuple(produced), skipped, tuple(problems), warnings, appended, note)


def _produced(rendered: Rendered, folder: Path, send: bool, outcome: Outcome | None) -> Produced:
    step = rendered.communication.step
    files = tuple(p.relative_to(folder.parent).as_posix() for p in rendered.files)
    if not send:
        status, reason = WRITTEN, ""
    elif rendered.email is not None and outcome is not None:
        status, reason = (journal.SENT, outcome.reason) if outcome.accepted else (journal.FAILED, outcome.reason)
    else:
        status, reason = journal.GENERATED, ""
    return Produced(rendered.customer.customer_id, step.id, step.channel, files, status, reason, rendered.notes)


def _invoices_dir(book: Path, configured: str | None) -> Path | None:
    if not configured or not str(configured).strip():
        return None
    folder = Path(str(configured).strip())
    return folder if folder.is_absolute() else book.parent / folder


def _progress(total: int, wanted: bool | None):
    if total < PROGRESS_FROM or wanted is False or (wanted is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="Relances", unit="doc", file=sys.stderr, leave=False)


KINDS = {".pdf": ("lettre PDF", "lettres PDF"), ".docx": ("lettre Word", "lettres Word"), ".eml": ("e-mail", "e-mails"),
         ".txt": ("fiche d'appel", "fiches d'appel")}
STATUS = {WRITTEN: "écrits", journal.SENT: "envoyés", journal.GENERATED: "à poster ou appeler", journal.FAILED: "en échec"}


def summarize(run: LettersRun) -> str:
    """What was produced, in French, for the command line."""
    lines = [f"Relances du {run.as_of:%d/%m/%Y} — dossier {run.folder}"]
    if run.rules_note:
        lines.append(f"  ({run.rules_note})")
    kinds = Counter(Path(f).suffix for p in run.produced for f in p.files)
    order = sorted(kinds.items(), key=lambda item: list(KINDS).index(item[0]) if item[0] in KINDS else len(KINDS))
    produced = ", ".join(f"{n} {KINDS.get(kind, (kind, kind))[n > 1]}" for kind, n in order)
    lines.append(f"  {len(run.produced)} communication{'s' if len(run.produced) != 1 else ''} : {produced or 'aucun document'}")
    if run.send:
        statuses = Counter(p.status for p in run.produced)
        lines.append("  " + ", ".join(f"{n} {STATUS[s]}" for s, n in statuses.items()) if statuses else "  rien à envoyer")
        if run.journal is not None:
            lines.append(f"  Journal : {run.journal.last_row - run.journal.first_row + 1} ligne(s) ajoutée(s) ({run.journal.where})")
    else:
        lines.append("  Simulation : rien n'a été envoyé ni inscrit au journal (ajoutez --send pour envoyer les e-mails "
                     "et journaliser)")
    if run.already_done:
        lines.append(f"  {len(run.already_done)} relance(s) déjà faite(s) aujourd'hui selon le Journal, non refaite(s) "
                     "(--force pour les refaire)")
    for p in run.produced:
        if p.status == journal.FAILED:
            lines.append(f"  ÉCHEC {p.customer_id} ({p.step}) : {p.reason}")
        elif p.reason:
            lines.append(f"  {p.customer_id} ({p.step}) : {p.reason}")
        for note in p.notes:
            lines.append(f"  {p.customer_id} ({p.step}) : {note}")
    for problem in run.problems:
        lines.append(f"  IGNORÉ {problem}")
    for warning in run.warnings:
        lines.append(f"  AVERTISSEMENT {warning}")
    return "\n".join(lines)
