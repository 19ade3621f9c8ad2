"""Time to write the day's reminders: 500 communications (250 formal-notice PDF letters, with their
Word copy, and 250 e-mails, a third of them with a call sheet) from a 500-customer workbook, as a dry
run, then with --send to a local SMTP server (aiosmtpd on 127.0.0.1) and the Journal written.
Target: under 30 s.

Run: .venv/bin/python bench/bench_letters.py [--count 500]
"""

from __future__ import annotations

import argparse
import os
import datetime as dt
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from encaisse.authoring.sample import generate_sample  # noqa: E402
from encaisse.authoring.template import write_template  # noqa: E402
from encaisse.dunning.records import Communication, DueInvoice, PreviousReminder  # noqa: E402
from encaisse.jobs.letters import run_letters  # noqa: E402
from encaisse.rules import DEFAULT_RULES_DIR, EscalationRoute, load  # noqa: E402
from encaisse.workbook import load_workbook  # noqa: E402

AS_OF = dt.date(2026, 10, 31)


def communications(book: Path, count: int) -> list[Communication]:
    ledger = load_workbook(book)
    steps = {s.id: s for s in load(DEFAULT_RULES_DIR).dunning.timelines["standard"].steps}
    invoices = ledger.invoices.groupby("customer_id").head(3)
    by_customer = {c: frame for c, frame in invoices.groupby("customer_id")}
    out = []
    for i, customer in enumerate(list(by_customer)[:count]):
        step = steps["mise_en_demeure"] if i % 2 == 0 else (steps["ferme"] if i % 3 == 0 else steps["amiable"])
        due = tuple(DueInvoice(str(r.invoice_id), r.issue_date.date(), r.due_date.date(), float(r.amount), float(r.amount),
                               (AS_OF - r.due_date.date()).days, round(float(r.amount) * 0.124 * 30 / 365, 2), 40.0)
                    for r in by_customer[customer].itertuples())
        out.append(Communication(customer, AS_OF, "standard", step, due,
                                 previous=(PreviousReminder(dt.date(2026, 10, 3), "amiable", "email"),),
                                 penalty_rate=0.124, notice_days=15,
                                 escalation=EscalationRoute("injonction_de_payer", "Requête en injonction de payer", min_amount=5000)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        book = folder / "b.xlsx"
        write_template(book, generate_sample(invoices=max(30_000, args.count * 60)))
        comms = communications(book, args.count)
        kinds = f"{sum(c.step.channel == 'recommande' for c in comms)} lettres PDF (+ Word), " \
                f"{sum(c.step.channel == 'email' for c in comms)} e-mails"
        start, cpu = time.perf_counter(), time.process_time()
        run = run_letters(book, folder / "sec", communications=comms, progress=False)
        dry, dry_cpu = time.perf_counter() - start, time.process_time() - cpu
        files = sum(len(p.files) for p in run.produced)
        print(f"{len(run.produced)} communications ({kinds}), {files} fichiers, simulation : {dry:.1f} s "
              f"({dry / len(run.produced) * 1000:.0f} ms par communication, chargement du classeur compris ; "
              f"temps processeur {dry_cpu:.1f} s ; charge de la machine {os.getloadavg()[0]:.1f})")

        from aiosmtpd.controller import Controller

        class Sink:
            async def handle_DATA(self, server, session, envelope):
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(Sink(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            start, cpu = time.perf_counter(), time.process_time()
            sent = run_letters(book, folder / "envoi", communications=comms, send=True, progress=False,
                               environ={"ENCAISSE_SMTP_HOST": "127.0.0.1", "ENCAISSE_SMTP_PORT": str(port),
                                        "ENCAISSE_SMTP_SECURITY": "aucune"})
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - cpu
        finally:
            controller.stop()
        statuses = {s: sum(p.status == s for p in sent.produced) for s in ("envoye", "genere", "echec")}
        rows = sent.journal.last_row - sent.journal.first_row + 1
        print(f"avec --send (SMTP local, serveur dans le même processus) et le Journal : {elapsed:.1f} s "
              f"(processeur {elapsed_cpu:.1f} s) — {statuses['envoye']} envoyés, "
              f"{statuses['genere']} générés, {statuses['echec']} en échec, {rows} lignes au Journal")


if __name__ == "__main__":
    main()
