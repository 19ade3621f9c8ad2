"""Dunning: due steps against the Journal, pauses, grouping, escalation, penalties and the worklist,
on small tables whose expected results are worked out by hand in each test."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from encaisse.dunning import communications, dunning_state, worklist
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules import CustomerPause, load
from encaisse.workbook.coerce import promise_dates
from frames import invoices, payments

D = dt.date
RULES = load(DEFAULT_RULES_DIR)


def customers(*ids: str, segment: str = "PME") -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(ids), "name": [f"Société {i}" for i in ids], "segment": segment})


def scores(*ids: str, risk_class: str = "B", score: float = 60.0) -> pd.DataFrame:
    """Fixed classes, so that each test knows its timeline (B: the standard J−5/J+3/J+10/J+20)."""
    return pd.DataFrame({"customer_id": list(ids), "score": score, "risk_class": risk_class})


def journal(*rows) -> pd.DataFrame:
    """rows: (date, invoice_id, customer_id, step, channel, outcome) — promise dates read as the loader does."""
    frame = pd.DataFrame(list(rows), columns=["date", "invoice_id", "customer_id", "step", "channel", "outcome"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["promise_date"], bad = promise_dates(frame["outcome"].to_numpy(dtype=object))
    assert not bad.any()
    return frame


def run(inv, as_of, pay=None, log=None, rules=RULES, ids=("C1",), **kw):
    state = dunning_state(inv, pay if pay is not None else payments(), customers(*ids), log, rules, as_of,
                          scores=scores(*ids, **kw))
    return state, communications(state)


def steps(comms) -> dict[str, str]:
    return {c.customer_id: c.step.id for c in comms}


ONE = invoices(("F1", "C1", "2026-09-01", "2026-10-01", 1000.0))  # due 01/10/2026


# --- the timeline, just before and just after each step ------------------------------------------

@pytest.mark.parametrize("as_of, done, expected", [
    (D(2026, 9, 25), (), None),                                     # J−6
    (D(2026, 9, 26), (), "courtoisie"),                             # J−5
    (D(2026, 10, 3), ("courtoisie",), None),                        # J+2
    (D(2026, 10, 4), ("courtoisie",), "amiable"),                   # J+3
    (D(2026, 10, 10), ("courtoisie", "amiable"), None),             # J+9
    (D(2026, 10, 11), ("courtoisie", "amiable"), "ferme"),          # J+10
    (D(2026, 10, 20), ("courtoisie", "amiable", "ferme"), None),    # J+19
    (D(2026, 10, 21), ("courtoisie", "amiable", "ferme"), "mise_en_demeure"),  # J+20
])
def test_standard_timeline_around_each_step(as_of, done, expected):
    log = journal(*[("2026-09-26", "F1", "C1", step, "email", "envoye") for step in done]) if done else None
    _, comms = run(ONE, as_of, log=log)
    assert steps(comms) == ({} if expected is None else {"C1": expected})


def test_missed_runs_propose_only_the_highest_due_step():
    """Nothing sent and J+12: J−5, J+3 and J+10 are all due; only J+10 (ferme) is proposed, once."""
    _, comms = run(ONE, D(2026, 10, 13))
    (comm,) = comms
    assert comm.step.id == "ferme" and comm.step.phone_task
    assert comm.journal_entries == (("F1", "ferme"),)
    assert [i.invoice_id for i in comm.overdue] == ["F1"] and comm.overdue[0].days_past_due == 12


def test_a_journaled_step_is_not_proposed_again_unless_it_failed():
    sent = journal(("2026-10-13", "F1", "C1", "ferme", "email", "envoye"))
    assert run(ONE, D(2026, 10, 13), log=sent)[1] == ()
    assert run(ONE, D(2026, 10, 19), log=sent)[1] == ()  # nothing new until J+20
    failed = journal(("2026-10-13", "F1", "C1", "ferme", "email", "échec : destinataire refusé"))
    assert steps(run(ONE, D(2026, 10, 13), log=failed)[1]) == {"C1": "ferme"}
    later = journal(("2026-11-02", "F1", "C1", "ferme", "email", "envoye"))  # a row after the as-of date does not exist yet
    assert steps(run(ONE, D(2026, 10, 13), log=later)[1]) == {"C1": "ferme"}


def test_a_lower_step_is_never_proposed_after_a_higher_one():
    log = journal(("2026-10-11", "F1", "C1", "mise_en_demeure", "recommande", "envoye"))
    assert run(ONE, D(2026, 10, 25), log=log)[1] == ()


def test_class_a_follows_the_soft_timeline():
    """Class A: souple (J+5 amiable, J+15 phone call, J+30 formal notice): nothing at J+4, amiable at J+5."""
    assert run(ONE, D(2026, 10, 5), risk_class="A")[1] == ()
    (comm,) = run(ONE, D(2026, 10, 6), risk_class="A")[1]
    assert (comm.timeline, comm.step.id, comm.step.tone) == ("souple", "amiable", "courtois")


# --- grouping ------------------------------------------------------------------------------------

def test_three_overdue_invoices_grouped_at_the_highest_step():
    """As of 31/10: F1 due 01/09 (ferme done, formal notice due), F2 due 20/10 (J+11: ferme),
    F3 due 28/10 (J+3: amiable), F4 due 20/11 (not yet due, J−20: nothing). One communication, at
    the formal notice, listing F1, F2, F3 overdue and F4 apart; all three move to the notice."""
    inv = invoices(
        ("F1", "C1", "2026-08-01", "2026-09-01", 1000.0),
        ("F2", "C1", "2026-09-20", "2026-10-20", 2000.0),
        ("F3", "C1", "2026-09-28", "2026-10-28", 500.0),
        ("F4", "C1", "2026-10-21", "2026-11-20", 800.0),
    )
    log = journal(("2026-09-04", "F1", "C1", "amiable", "email", "envoye"),
                  ("2026-09-11", "F1", "C1", "ferme", "email", "message laissé"))
    state, comms = run(inv, D(2026, 10, 31), log=log)
    (comm,) = comms
    assert comm.step.id == "mise_en_demeure" and comm.step.channel == "recommande"
    assert comm.invoice_ids == ("F1", "F2", "F3")
    assert [i.invoice_id for i in comm.not_yet_due] == ["F4"]
    assert comm.journal_entries == (("F1", "mise_en_demeure"), ("F2", "mise_en_demeure"), ("F3", "mise_en_demeure"))
    assert comm.open_total == 3500.0
    assert comm.notice_days == 15
    assert comm.escalation.id == "procedure_simplifiee"  # 3 500 € < 5 000 €
    assert [(p.date, p.step, p.channel) for p in comm.previous] == [(D(2026, 9, 4), "amiable", "email"), (D(2026, 9, 11), "ferme", "email")]
    rows = worklist(state)
    assert rows["action"].tolist() == ["recommande"]
    assert (rows["invoices"].iloc[0], rows["amount_due"].iloc[0], rows["days_past_due"].iloc[0]) == (3, 3500.0, 60)


# --- escalation after the formal notice ----------------------------------------------------------

def test_escalation_after_the_formal_notice_deadline_then_not_again_once_journaled():
    """Notice sent 05/10 with 15 days to pay: still within on 20/10, escalation on 21/10; 6 000 € → injonction."""
    inv = invoices(("F1", "C1", "2026-08-01", "2026-09-01", 6000.0))
    notice = ("2026-10-05", "F1", "C1", "mise_en_demeure", "recommande", "accusé de réception signé")
    assert worklist(run(inv, D(2026, 10, 20), log=journal(notice))[0]).empty
    rows = worklist(run(inv, D(2026, 10, 21), log=journal(notice))[0])
    assert rows[["action", "step", "amount_due"]].to_dict("records") == [{"action": "escalade", "step": "injonction_de_payer", "amount_due": 6000.0}]
    started = journal(notice, ("2026-10-22", "F1", "C1", "injonction_de_payer", "courrier", "requête déposée"))
    assert worklist(run(inv, D(2026, 10, 23), log=started)[0]).empty


# --- pauses --------------------------------------------------------------------------------------

def test_price_dispute_pauses_then_resumes_after_its_deadline():
    """Dispute « prix » (8 days, resumes after the deadline) dated 05/10: deadline 13/10. Paused on
    12/10 and 13/10; on 14/10 (J+13) dunning resumes at the highest due step, ferme, and the
    dispute past its deadline is a task for the Administration des ventes."""
    inv = invoices(("F1", "C1", "2026-09-01", "2026-10-01", 1000.0, "prix", "2026-10-05"))
    log = journal(("2026-09-26", "F1", "C1", "courtoisie", "email", "envoye"))
    for day in (D(2026, 10, 12), D(2026, 10, 13)):
        state, comms = run(inv, day, log=log)
        assert comms == () and worklist(state).empty
    state, comms = run(inv, D(2026, 10, 14), log=log)
    assert steps(comms) == {"C1": "ferme"}
    assert comms[0].overdue[0].dispute == "prix"
    tasks = worklist(state).set_index("action")
    assert tasks.loc["litige", "team"] == "Administration des ventes"
    assert tasks.loc["litige", "step"] == "prix"


def test_quality_dispute_pauses_until_resolved():
    """« qualité » does not resume after its 30 days: still paused on 15/12, but chased internally."""
    inv = invoices(("F1", "C1", "2026-09-01", "2026-10-01", 1000.0, "qualité", "2026-10-05"))
    state, comms = run(inv, D(2026, 12, 15))
    assert comms == ()
    assert worklist(state)[["action", "team"]].to_dict("records") == [{"action": "litige", "team": "Service qualité"}]
    resolved = inv.assign(dispute=None)  # Litige blank again: resolved
    assert steps(run(resolved, D(2026, 12, 15))[1]) == {"C1": "mise_en_demeure"}


def test_a_disputed_invoice_is_left_out_of_its_customers_reminder():
    inv = invoices(("F1", "C1", "2026-09-01", "2026-10-01", 1000.0, "qualité", "2026-10-05"),
                   ("F2", "C1", "2026-09-10", "2026-10-10", 400.0))
    (comm,) = run(inv, D(2026, 10, 14))[1]
    assert comm.invoice_ids == ("F2",) and comm.step.id == "amiable"
    assert [(i.invoice_id, i.pause) for i in comm.paused] == [("F1", "litige « qualité » en cours : relance suspendue jusqu'à sa résolution")]


def test_payment_plan_respected_then_broken():
    """Plan ECH-1 on F1 (900 €, due 30/06): instalments of 300 € on 10/09 and 10/10. On 31/10 the
    last instalment is 21 days old (≤ 35): paused. On 15/11 it is 36 days old: the plan is broken
    and dunning resumes at the formal notice (J+138)."""
    inv = invoices(("F1", "C1", "2026-05-31", "2026-06-30", 900.0)).assign(payment_plan="ECH-1")
    pay = payments(("2026-09-10", "C1", "F1", 300.0), ("2026-10-10", "C1", "F1", 300.0))
    state, comms = run(inv, D(2026, 10, 31), pay=pay)
    assert comms == () and worklist(state).empty
    assert run(inv, D(2026, 11, 14), pay=pay)[1] == ()  # 35 days: still respected
    (comm,) = run(inv, D(2026, 11, 15), pay=pay)[1]
    assert comm.step.id == "mise_en_demeure" and comm.overdue[0].open_amount == 300.0


def test_payment_plan_agreed_in_the_journal_before_its_first_instalment():
    inv = invoices(("F1", "C1", "2026-05-31", "2026-06-30", 900.0)).assign(payment_plan="ECH-1")
    agreed = journal(("2026-10-20", "F1", "C1", "ferme", "telephone", "échéancier accordé (3 × 300 €)"))
    assert run(inv, D(2026, 10, 31), log=agreed)[1] == ()
    assert steps(run(inv, D(2026, 10, 31))[1]) == {"C1": "mise_en_demeure"}  # no instalment, no agreement: not respected


def test_promise_kept_and_broken():
    """Promise logged on 11/10 to pay on 20/10; grace 3 days: paused up to 23/10 included.
    Kept: paid on 19/10, nothing is owed. Broken: unpaid on 24/10, the formal notice (J+23) is due
    and the action ranks above the same one of a customer who made no promise."""
    inv = invoices(("F1", "C1", "2026-09-01", "2026-10-01", 1000.0), ("G1", "C2", "2026-09-01", "2026-10-01", 1000.0))
    log = journal(("2026-10-04", "F1", "C1", "amiable", "email", "envoye"),
                  ("2026-10-11", "F1", "C1", "ferme", "email", "promesse 20/10/2026"),
                  ("2026-10-04", "G1", "C2", "amiable", "email", "envoye"),
                  ("2026-10-11", "G1", "C2", "ferme", "email", "message laissé"))
    ids = ("C1", "C2")
    state, comms = run(inv, D(2026, 10, 23), log=log, ids=ids)
    assert steps(comms) == {"C2": "mise_en_demeure"}
    assert worklist(state)["broken_promise"].tolist() == [False]
    kept = payments(("2026-10-19", "C1", "F1", 1000.0))
    state, comms = run(inv, D(2026, 10, 24), pay=kept, log=log, ids=ids)
    assert steps(comms) == {"C2": "mise_en_demeure"}
    state, comms = run(inv, D(2026, 10, 24), log=log, ids=ids)
    assert steps(comms) == {"C1": "mise_en_demeure", "C2": "mise_en_demeure"}
    rows = worklist(state)
    assert rows["customer_id"].tolist() == ["C1", "C2"]  # same amount, days, class and step: the promise decides
    assert rows["broken_promise"].tolist() == [True, False]
    assert rows["priority"].iloc[0] - rows["priority"].iloc[1] == pytest.approx(10.0)  # weight 10 of 100 × 100


def test_customer_paused_in_the_rules_until_a_date():
    paused = dataclasses.replace(RULES, dunning=dataclasses.replace(RULES.dunning, pauses=dataclasses.replace(
        RULES.dunning.pauses, customers=(CustomerPause("C1", D(2026, 11, 15), "Négociation en cours"),))))
    state, comms = run(ONE, D(2026, 11, 15), rules=paused)
    assert comms == ()
    assert steps(run(ONE, D(2026, 11, 16), rules=paused)[1]) == {"C1": "mise_en_demeure"}


# --- penalties and legal warnings ----------------------------------------------------------------

def test_penalties_by_hand_with_the_june_2026_ecb_rise():
    """10 000 € due 31/05/2026, as of 31/10/2026: 153 days late.
    - 2026-S1, 01/06–30/06: 30 days at 2,15 % (ECB on 01/01/2026) + 10 = 12,15 %;
    - 2026-S2, 01/07–31/10: 31 + 31 + 30 + 31 = 123 days at 2,40 % (in force since 17/06/2026) + 10 = 12,40 %.
    interest = 10 000 × (0,1215 × 30 + 0,124 × 123) / 365 = 10 000 × 18,897 / 365 = 517,7260… → 517,73 €
    Second invoice 2 000 € due 30/06/2026: 123 days at 12,40 %: 2 000 × 0,124 × 123 / 365 = 83,5726… → 83,57 €.
    40 € of indemnity each."""
    inv = invoices(("F1", "C1", "2026-04-30", "2026-05-31", 10_000.0), ("F2", "C1", "2026-05-31", "2026-06-30", 2_000.0))
    (comm,) = run(inv, D(2026, 10, 31))[1]
    assert [(i.invoice_id, i.days_past_due, i.penalty, i.indemnity) for i in comm.overdue] == [
        ("F1", 153, 517.73, 40.0), ("F2", 123, 83.57, 40.0)]
    assert comm.penalty_rate == 0.124
    assert (comm.penalty_total, comm.indemnity_total) == (pytest.approx(601.30), 80.0)
    assert len(comm.warnings) == 1 and "01/07/2026" in comm.warnings[0]  # as of 31/10, past the verified date


def test_no_legal_warning_within_the_verified_dates():
    (comm,) = run(invoices(("F1", "C1", "2026-04-30", "2026-05-31", 1000.0)), D(2026, 6, 30))[1]
    assert comm.warnings == () and comm.penalty_rate == 0.1215


def test_unverified_ecb_rate_warns():
    legal = RULES.legal
    rates = tuple(dataclasses.replace(r, verified=False) if r.effective == D(2026, 6, 17) else r for r in legal.ecb_rates)
    rules = dataclasses.replace(RULES, legal=dataclasses.replace(legal, ecb_rates=rates, ecb_checked_until=D(2026, 12, 31)))
    (comm,) = run(invoices(("F1", "C1", "2026-04-30", "2026-05-31", 1000.0)), D(2026, 10, 31), rules=rules)[1]
    assert len(comm.warnings) == 1 and comm.warnings[0].startswith("taux BCE du semestre 2026-S2 (2,40 %) non vérifié (rules/legal.yaml:")


# --- the worklist --------------------------------------------------------------------------------

def test_worklist_priority_by_hand():
    """C1: 10 000 € due 16/10, as of 31/10 (J+15, amiable done): ferme by e-mail plus a call.
    Sub-scores: amount 10 000 / 20 000 → 50; days 15 / 90 → 16,67; risk 100 − 60 → 40; ferme → 65;
    no broken promise → 0. Priority = (35 × 50 + 25 × 16,667 + 15 × 40 + 15 × 65 + 10 × 0) / 100 = 37,4167."""
    inv = invoices(("F1", "C1", "2026-09-16", "2026-10-16", 10_000.0))
    log = journal(("2026-10-19", "F1", "C1", "amiable", "email", "envoye"))
    rows = worklist(run(inv, D(2026, 10, 31), log=log)[0])
    assert rows[["rank", "action", "step", "channel"]].to_dict("records") == [
        {"rank": 1, "action": "appel", "step": "ferme", "channel": "email"},
        {"rank": 2, "action": "email", "step": "ferme", "channel": "email"},
    ]
    assert rows["priority"].tolist() == pytest.approx([37.416667, 37.416667])
    assert rows["penalty"].iloc[0] == pytest.approx(round(10_000 * 0.124 * 15 / 365, 2))  # 50,96 €
    assert rows["invoice_ids"].iloc[0] == "F1"


def test_the_demo_worklist_is_ranked_and_names_every_kind_of_action():
    from encaisse.authoring.sample import generate_sample
    from encaisse.dunning import run_dunning

    ledger = generate_sample(invoices=3000)
    result = run_dunning(ledger, RULES)
    rows = result.worklist
    assert set(rows["action"]) >= {"email", "recommande", "escalade", "litige"}
    assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
    assert (np.diff(rows["priority"].to_numpy()) <= 1e-9).all()
    assert len({c.customer_id for c in result.communications}) == len(result.communications)  # one per customer
    journaled = {(i, s) for c in result.communications for i, s in c.journal_entries}
    again = run_dunning(dataclasses.replace(ledger, journal=pd.concat([ledger.journal, pd.DataFrame(
        [{"date": pd.Timestamp(result.as_of), "invoice_id": i, "customer_id": None, "step": s, "channel": "email",
          "outcome": "envoye", "promise_date": pd.NaT} for i, s in journaled])], ignore_index=True)), RULES)
    # Idempotent: once journaled, the day's communications are not proposed again.
    assert again.communications == ()


def test_promise_dates_in_the_journal():
    dates, bad = promise_dates(np.array(["promesse 15/12/2026", "Promesse de paiement au 2026-12-16", "promesse", "payé", None], dtype=object))
    assert [None if np.isnat(d) else pd.Timestamp(d).date() for d in dates] == [D(2026, 12, 15), D(2026, 12, 16), None, None, None]
    assert bad.tolist() == [False, False, True, False, False]


# --- the command and the Excel function ------------------------------------------------------------

def test_worklist_command_json_and_text(capsys):
    from encaisse.cli import main
    from encaisse.resources import DEMO_WORKBOOK

    assert main(["worklist", str(DEMO_WORKBOOK), "--json", "--top", "3"]) == 0
    captured = capsys.readouterr()
    import json

    document = json.loads(captured.out)
    assert document["as_of"] == "2026-10-31" and len(document["actions"]) == 3 and document["count"] > 3
    first = document["actions"][0]
    assert set(first) >= {"rank", "priority", "action", "customer_id", "amount_due", "days_past_due", "penalty", "indemnity", "invoice_ids"}
    assert isinstance(first["amount_due"], float) and isinstance(first["invoice_ids"], list) and first["rank"] == 1
    assert document["warnings"] and "01/07/2026" in captured.err  # legal data checked up to 01/07/2026 only
    assert main(["worklist", str(DEMO_WORKBOOK), "--top", "2", "--as-of", "2026-10-31"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Atelier Dupont SAS — relances du jour au 31/10/2026 : ") and "(les 2 plus prioritaires)" in text
    assert main(["worklist", str(DEMO_WORKBOOK), "--as-of", "31/02/2026"]) == 1
    assert "--as-of" in capsys.readouterr().err


def test_worklist_excel_function_spills_a_header_and_the_actions():
    from encaisse.excel import FUNCTIONS

    inv = invoices(("F1", "C1", "2026-09-16", "2026-10-16", 10_000.0))
    grid = lambda frame: [list(frame.columns)] + frame.astype(object).where(frame.notna(), None).values.tolist()  # noqa: E731
    rows = FUNCTIONS["WORKLIST"](grid(inv), [["Date", "Code client", "N° facture", "Montant"]], grid(customers("C1")),
                                 None, D(2026, 10, 31))
    assert rows[0][:3] == ["Rang", "Priorité", "Action"]
    assert [r[2] for r in rows[1:]] == ["appel", "e-mail"] and rows[1][8] == 10_000.0  # ferme: e-mail + call
    assert FUNCTIONS["WORKLIST"](grid(inv), None, grid(customers("C1")), None, D(2026, 10, 31), 1)[1:] == [rows[1]]
    assert FUNCTIONS["WORKLIST"](grid(inv), None, None, None, D(2026, 10, 31), "x").startswith("#VALEUR! nombre")
