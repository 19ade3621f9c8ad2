"""`encaisse kpi BOOK [--as-of DATE] [--json]` and the demo summary on a small generated workbook."""

from __future__ import annotations

import dataclasses
import json

import pytest

from encaisse.cli import main
from encaisse.errors import EncaisseError
from encaisse.kpi import kpi_summary
from encaisse.fr import euros
from encaisse.report import demo_summary
from encaisse.authoring.sample import generate_sample
from encaisse.authoring.template import write_template
from encaisse.workbook import load_workbook


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = tmp_path_factory.mktemp("kpi") / "petit.xlsx"
    write_template(path, generate_sample(invoices=300))
    return path


def test_json_keys_are_engine_function_names_and_as_of_defaults_to_date_arrete(book, capsys):
    assert main(["kpi", str(book), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    ledger = load_workbook(book)
    assert document == json.loads(json.dumps(kpi_summary(ledger, ledger.params.as_of)))
    assert document["as_of"] == "2026-10-31"
    assert {"dso", "best_possible_dso", "average_days_delinquent", "cei", "dpo", "dio", "ccc", "aging", "recovery_rate",
            "dispute_rate", "dunning_success_rate", "mean_payment_delay", "mean_days_late", "gross_margin",
            "operating_cash_flow", "cash_released"} <= set(document)
    assert main(["kpi", str(book), "--json", "--as-of", "30/09/2026"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of"] == "2026-09-30"


def test_text_output_is_french(book, capsys):
    assert main(["kpi", str(book)]) == 0
    out = capsys.readouterr().out
    summary = kpi_summary(load_workbook(book))
    assert "situation au 31/10/2026" in out
    assert "Créances clients ouvertes" in out and euros(summary["open_amount"]) in out
    assert "DSO (méthode par épuisement)" in out and "Balance âgée" in out


def test_errors_exit_1_with_a_french_message(book, tmp_path, capsys):
    assert main(["kpi", str(book), "--as-of", "32/01/2026"]) == 1
    assert "--as-of : date « 32/01/2026 » illisible" in capsys.readouterr().err
    ledger = load_workbook(book)
    with pytest.raises(EncaisseError, match="DateArrete"):
        kpi_summary(dataclasses.replace(ledger, params=dataclasses.replace(ledger.params, as_of=None)))


def test_demo_summary_lists_customers_invoices_receivables_and_kpis(book):
    ledger = load_workbook(book)
    text = demo_summary(ledger)
    summary = kpi_summary(ledger)
    assert f"Clients                 {len(ledger.customers)}" in text
    assert f"Créances ouvertes       {euros(summary['open_amount'])}" in text
    for bucket in summary["aging"]:
        assert bucket["bucket"] in text
    assert "Taux de litige" in text and "Cycle de conversion de trésorerie" in text

