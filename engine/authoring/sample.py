"""A realistic, deterministic sample ledger: "Atelier Dupont SAS", a Lyon distributor serving professionals.

`generate_sample(invoices, seed)` builds every table of the workbook as canonical DataFrames
(see `encaisse.tables`), vectorised with one seeded numpy Generator: a million invoices take a
few seconds. The as-of date is 2026-10-31; the history covers the 24 months before it, and a
few invoices issued after it show that they are ignored.

Customers behave differently on purpose, so that every KPI, bucket and dunning step has
something to show: on time, slightly late, chronically late, seasonal (late in summer and
December), dispute-prone, early payers (discount) and a few that stop paying altogether.
The behaviour is not a workbook column; it only shapes the payments.

Conventions chosen here (the contract is silent on them):
- `external_rating` (Note externe) is on a 0–20 scale, 20 = best (like French credit bureaus'
  scores); blank for about a third of the customers (mostly TPE).
- `payment_terms` (Conditions de paiement) is filled only for customers with terms that differ
  from their segment's default: TPE 30 jours, PME 45 jours fin de mois, Grand compte 60 jours,
  Secteur public 30 jours. "45 jours fin de mois" = invoice date + 45 days, then end of that month.
- E-mail and web addresses use the reserved `.example` top-level domain (RFC 2606) so that
  nothing generated from the demo can ever reach a real mailbox.
- Amounts are TTC in euros, to the cent; credit notes (avoirs, numbered AV-…) are negative
  with the due date equal to the issue date. Made-up amounts are cut to the cent with np.round
  (half-even), not encaisse.fr.round_cents: this is inventing data, not rounding a result, and
  half-up would move 574 HT amounts, 86 payments and 2 bills by a cent, hence every demo figure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from encaisse.ledger import Ledger, Params
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules import DunningPolicy, Rules, load as load_rules
from encaisse.tables import (
    ACTIVITY,
    CUSTOMERS,
    DISPUTE_CATEGORIES,
    FLOWS,
    INVOICES,
    JOURNAL,
    PAYABLES,
    PAYMENTS,
    PROMISE_DATE,
    Table,
)

AS_OF = np.datetime64("2026-10-31", "D")
HISTORY_START = np.datetime64("2024-11-01", "D")  # 24 months: Nov 2024 .. Oct 2026
MONTHS = np.arange(np.datetime64("2024-11", "M"), np.datetime64("2026-11", "M"))
FUTURE_DAYS = (np.datetime64("2026-11-02", "D"), np.datetime64("2026-11-21", "D"))
JOURNAL_OPEN_SINCE = np.datetime64("2026-04-01", "D")  # reminders logged for invoices still open
JOURNAL_SINCE = np.datetime64("2026-09-15", "D")  # ... and for every invoice

COMPANY = Params(
    as_of=dt.date(2026, 10, 31),
    company_name="Atelier Dupont SAS",
    siren="847129053",  # fictitious, passes the Luhn check
    company_address="14 rue des Tanneurs, 69007 Lyon",
    iban="FR76 3000 4019 2500 0123 4567 876",  # fictitious account, RIB key and mod-97 check valid
    payment_link="https://paiement.atelier-dupont.example/regler",
    rules_dir="../rules",  # the demo workbook lives in xlsx/, beside rules/
    sender_name="Claire Martin",
    sender_role="Responsable recouvrement",
    sender_phone="01 99 00 99 00",
    sender_email="recouvrement@atelier-dupont.example",
    smtp_port="587",
    smtp_security="starttls",
    bank_balance=None,  # set from the volume of business
)

SEGMENTS = np.array(["TPE", "PME", "Grand compte", "Secteur public"])
SEGMENT_SHARE = (0.45, 0.35, 0.08, 0.12)
SEGMENT_VOLUME = np.array([1.0, 3.0, 12.0, 4.0])  # relative number of invoices
SEGMENT_MEDIAN_TTC = np.array([180.0, 700.0, 2900.0, 1100.0])
SEGMENT_TERM = np.array([0, 1, 2, 0])  # index in TERMS
TERMS = np.array(["30 jours", "45 jours fin de mois", "60 jours"])

BEHAVIOURS = ("ponctuel", "léger retard", "retard chronique", "saisonnier", "litigieux", "escompte", "défaillant")
BEHAVIOUR_SHARE = (0.40, 0.20, 0.15, 0.10, 0.07, 0.05)  # défaillant: a few, counted apart
(PUNCTUAL, SLIGHTLY_LATE, CHRONIC, SEASONAL, DISPUTER, EARLY, DEFAULTER) = range(7)
BEHAVIOUR_RATING = np.array([14.0, 12.0, 8.0, 11.0, 10.0, 16.0, 5.0])

METHODS = np.array(["virement", "SEPA", "chèque", "CB"])
METHOD_SHARE = (0.55, 0.15, 0.18, 0.12)

HOLIDAYS = np.array(
    [
        "2024-11-01", "2024-11-11", "2024-12-25", "2025-01-01", "2025-04-21", "2025-05-01",
        "2025-05-08", "2025-05-29", "2025-06-09", "2025-07-14", "2025-08-15", "2025-11-01",
        "2025-11-11", "2025-12-25", "2026-01-01", "2026-04-06", "2026-05-01", "2026-05-08",
        "2026-05-14", "2026-05-25", "2026-07-14", "2026-08-15", "2026-11-01", "2026-11-11",
        "2026-12-25", "2027-01-01", "2027-03-29", "2027-05-01", "2027-05-06", "2027-05-08",
        "2027-05-17", "2027-07-14", "2027-08-15", "2027-11-01", "2027-11-11", "2027-12-25",
    ],
    dtype="datetime64[D]",
)
CALENDAR = np.busdaycalendar(weekmask="1111100", holidays=HOLIDAYS)
SEASON = np.array([0.9, 0.95, 1.05, 1.0, 0.95, 1.05, 0.9, 0.55, 1.1, 1.1, 1.05, 0.9])  # Jan..Dec

SURNAMES = np.array([
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Mercier", "Dupuis", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
    "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson",
    "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger",
    "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean", "Pérez", "Marchand", "Dufour",
    "Blanchard", "Marie", "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez",
])
FIRST_NAMES = np.array([
    "Marie", "Jean", "Nathalie", "Pierre", "Isabelle", "Michel", "Sylvie", "Philippe", "Catherine", "Alain",
    "Sophie", "Nicolas", "Valérie", "Christophe", "Sandrine", "Stéphane", "Céline", "Laurent", "Julie", "Olivier",
    "Aurélie", "Sébastien", "Émilie", "Frédéric", "Camille", "Thomas", "Claire", "Julien", "Hélène", "David",
    "Léa", "Antoine", "Chloé", "Maxime", "Élodie", "Hugo", "Manon", "Lucas", "Inès", "Karim",
])
TPE_TRADES = np.array([
    "Boulangerie", "Boucherie", "Garage", "Pharmacie", "Fleuriste", "Librairie", "Plomberie", "Salon de coiffure",
    "Café", "Restaurant", "Épicerie fine", "Cabinet", "Menuiserie", "Pressing", "Salon de thé", "Cave",
    "Atelier", "Taxis", "Auto-école", "Brasserie",
])
PME_TRADES = np.array([
    "Transports", "Menuiserie", "Imprimerie", "Bâtiment", "Électricité", "Charpentes", "Froid industriel", "Hôtel",
    "Clinique vétérinaire", "Laboratoire", "Maçonnerie", "Chaudronnerie", "Distribution", "Négoce",
    "Mécanique de précision", "Paysages", "Traiteur", "Nettoyage", "Informatique", "Ambulances",
])
GROUP_TRADES = np.array([
    "Industries", "Distribution", "Santé", "Hôtellerie", "Logistique", "Énergie", "Restauration", "Bâtiment",
])
PUBLIC_BODIES = np.array([
    "Mairie", "Centre hospitalier", "Lycée professionnel", "Centre communal d'action sociale",
    "Syndicat intercommunal des eaux", "EHPAD public", "Office de tourisme", "Communauté de communes",
])
CITIES = np.array([
    ("Lyon", "69003"), ("Villeurbanne", "69100"), ("Saint-Étienne", "42000"), ("Grenoble", "38000"),
    ("Annecy", "74000"), ("Chambéry", "73000"), ("Valence", "26000"), ("Clermont-Ferrand", "63000"),
    ("Bourg-en-Bresse", "01000"), ("Roanne", "42300"), ("Vienne", "38200"), ("Mâcon", "71000"),
    ("Villefranche-sur-Saône", "69400"), ("Vénissieux", "69200"), ("Bron", "69500"), ("Écully", "69130"),
    ("Dijon", "21000"), ("Paris", "75011"), ("Marseille", "13002"), ("Montpellier", "34000"),
    ("Toulouse", "31000"), ("Bordeaux", "33000"), ("Nantes", "44000"), ("Lille", "59000"),
    ("Strasbourg", "67000"), ("Besançon", "25000"), ("Aix-les-Bains", "73100"), ("Montélimar", "26200"),
    ("Oyonnax", "01100"), ("Thonon-les-Bains", "74200"), ("Vaulx-en-Velin", "69120"), ("Oullins", "69600"),
])
CITY_WEIGHT = np.array([8, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1], float)
STREETS = np.array([
    "rue de la République", "avenue Victor Hugo", "boulevard Jean Jaurès", "rue des Lilas",
    "avenue du Général de Gaulle", "rue Pasteur", "rue de la Gare", "place Bellecour", "cours Gambetta",
    "rue Émile Zola", "rue du Commerce", "impasse des Artisans", "zone artisanale des Platanes",
    "rue de l'Industrie", "rue Paul Bert", "boulevard Voltaire", "quai Édouard Herriot",
    "avenue des Frères Lumière", "chemin du Stade", "rue de la Liberté", "place Carnot", "allée des Tilleuls",
])
SUPPLIERS = (  # name, priority, term index (TERMS)
    ("Grossiste Rhône Équipement", "fournisseur critique", 1),
    ("Métallerie Giraud SAS", "fournisseur critique", 1),
    ("Emballages du Lyonnais", "fournisseur critique", 0),
    ("Quincaillerie Centrale Lyonnaise", "fournisseur critique", 1),
    ("Transports Faure Frères", "fournisseur critique", 0),
    ("Outillage Brunet SA", "autre", 2),
    ("Papeterie Moderne", "autre", 0),
    ("Électro-Composants Savoie", "autre", 1),
    ("Textiles Techniques Vienne", "autre", 2),
    ("Peintures Rousseau", "autre", 0),
    ("Bureautique Alpes Services", "autre", 0),
    ("Plasturgie de l'Ain", "autre", 2),
    ("Entretien Propreté Services", "autre", 0),
    ("Imprimerie Colin", "autre", 0),
)
SUPPLIER_WEIGHT = np.array([9, 6, 4, 5, 3, 2, 0.5, 2, 1.5, 1, 0.5, 1.5, 0.5, 0.5])


def generate_sample(invoices: int = 10000, seed: int = 7, customers: int | None = None, rules: Rules | None = None) -> Ledger:
    """The demo ledger: `invoices` invoices issued on or before the as-of date, plus about 1.5 % more
    rows of credit notes (negative amounts) and 0.4 % of invoices issued after the as-of date.
    The Journal's steps and channels are those of `rules` (default: encaisse's default rules)."""
    if invoices < 100:
        raise ValueError("generate_sample : au moins 100 factures")
    n_customers = customers if customers is not None else max(150, invoices // 60)
    if n_customers < 10:
        raise ValueError("generate_sample : au moins 10 clients")
    rng = np.random.default_rng(seed)
    cust = _customers(rng, n_customers)
    inv = _invoices(rng, cust, invoices, seed)
    pay = _payments(rng, cust, inv)
    if rules is None:
        rules = load_rules(DEFAULT_RULES_DIR)
    journal = _journal(inv, pay, cust, rules.dunning)
    activity, monthly = _activity(rng, inv)
    payables = _payables(rng, monthly, invoices)
    flows, bank_balance = _flows(monthly)
    customers_df = _customer_frame(cust, inv)
    params = Params(**{**COMPANY.__dict__, "bank_balance": bank_balance})
    return Ledger(
        invoices=_canonical(INVOICES, inv["frame"]),
        payments=_canonical(PAYMENTS, pay["frame"]),
        customers=_canonical(CUSTOMERS, customers_df),
        payables=_canonical(PAYABLES, payables),
        activity=_canonical(ACTIVITY, activity),
        flows=_canonical(FLOWS, flows),
        journal=_canonical(JOURNAL, journal).assign(**{PROMISE_DATE: journal[PROMISE_DATE].to_numpy(dtype="datetime64[ns]")}),
        params=params,
        source=f"données de démonstration, graine {seed}",
    )


# --- helpers -------------------------------------------------------------------------------------

def _canonical(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in the table's key order (absent optional ones as NA), typed like the loader's, plus `row`."""
    out = {}
    for column in table.columns:
        values = frame[column.key] if column.key in frame else pd.Series([None] * len(frame), dtype=object)
        values = pd.Series(np.asarray(values), index=range(len(frame)))
        if column.kind == "date":
            values = values.astype("datetime64[ns]")
        elif column.kind in ("amount", "number"):
            values = values.astype("float64")
        else:
            values = values.astype("str") if values.notna().any() else values.astype(object).astype("str")
        out[column.key] = values
    result = pd.DataFrame(out)
    result["row"] = np.arange(2, len(result) + 2, dtype="int64")
    return result


def _roll(days: np.ndarray) -> np.ndarray:
    """Next business day (French public holidays) on or after each date."""
    return np.busday_offset(days.astype("datetime64[D]"), 0, roll="forward", busdaycal=CALENDAR)


def _business_days(start: np.datetime64, stop: np.datetime64) -> np.ndarray:
    days = np.arange(start, stop, dtype="datetime64[D]")
    return days[np.is_busday(days, busdaycal=CALENDAR)]


def _end_of_month(days: np.ndarray) -> np.ndarray:
    return (days.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1


def _month_index(days: np.ndarray) -> np.ndarray:
    return (days.astype("datetime64[M]") - MONTHS[0]).astype(np.int64)


def _codes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width))


def _yearly_codes(prefix: str, days: np.ndarray, width: int) -> np.ndarray:
    """'FA-2025-000001' ...: numbered per calendar year, in the order given (chronological)."""
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    order = np.argsort(years, kind="stable")
    sorted_years = years[order]
    seq = np.empty(len(days), dtype=np.int64)
    seq[order] = np.arange(len(days)) - np.searchsorted(sorted_years, sorted_years, side="left") + 1
    year_text = np.strings.add(np.strings.add(prefix, years.astype(str)), "-")
    return np.strings.add(year_text, np.strings.zfill(seq.astype(str), width))


def _slug(values: pd.Series) -> pd.Series:
    plain = values.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower()
    return plain.str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")


def _counts(shares: tuple[float, ...], n: int) -> np.ndarray:
    counts = np.floor(np.asarray(shares) * n).astype(np.int64)
    counts[0] += n - counts.sum()
    return counts


# --- customers -----------------------------------------------------------------------------------

def _customers(rng: np.random.Generator, n: int) -> dict:
    segment = rng.permutation(np.repeat(np.arange(4), _counts(SEGMENT_SHARE, n)))
    n_defaulters = max(2, round(n * 0.012))
    behaviour = np.full(n, -1)
    pme = np.flatnonzero(segment == 1)
    behaviour[rng.choice(pme, n_defaulters, replace=False)] = DEFAULTER
    others = np.flatnonzero(behaviour < 0)
    behaviour[others] = rng.permutation(np.repeat(np.arange(6), _counts(BEHAVIOUR_SHARE, len(others))))
    behaviour[(segment == 3) & (behaviour == EARLY)] = PUNCTUAL  # public bodies never pay early

    city = rng.choice(len(CITIES), n, p=CITY_WEIGHT / CITY_WEIGHT.sum())
    city_name = CITIES[city, 0]
    surname = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    form = np.array(["", " EURL", " SARL", " SAS", " SA"])
    tpe_form = form[rng.choice(3, n, p=[0.6, 0.2, 0.2])]
    pme_form = form[rng.choice([2, 3, 4], n, p=[0.45, 0.4, 0.15])]
    group_form = form[rng.choice([3, 4], n)]
    vowel = pd.Series(city_name).str[0].isin(list("AEÉIOUY")).to_numpy()
    of_city = np.where(vowel, np.strings.add(" d'", city_name), np.strings.add(" de ", city_name))
    names = np.select(
        [segment == 0, segment == 1, segment == 2],
        [
            np.strings.add(np.strings.add(np.strings.add(TPE_TRADES[rng.integers(0, len(TPE_TRADES), n)], " "), surname), tpe_form),
            np.strings.add(np.strings.add(np.strings.add(PME_TRADES[rng.integers(0, len(PME_TRADES), n)], " "), surname), pme_form),
            np.strings.add(np.strings.add(np.strings.add(np.strings.add("Groupe ", surname), " "), GROUP_TRADES[rng.integers(0, len(GROUP_TRADES), n)]), group_form),
        ],
        np.strings.add(PUBLIC_BODIES[rng.integers(0, len(PUBLIC_BODIES), n)], of_city),
    ).astype(object)
    names = pd.Series(names)
    duplicate = names.duplicated()
    names[duplicate] = names[duplicate] + " (" + pd.Series(city_name)[duplicate] + ")"
    rank = names.groupby(names).cumcount()
    names[rank > 0] = names[rank > 0] + " " + (rank[rank > 0] + 1).astype(str)

    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    last = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    core = names.str.replace(r" (EURL|SARL|SAS|SA)$", "", regex=True)
    email = _slug(pd.Series(first)) + "." + _slug(pd.Series(last)) + "@" + _slug(core) + ".example"
    number = rng.integers(1, 150, n).astype(str)
    street = STREETS[rng.integers(0, len(STREETS), n)]
    address = pd.Series(number) + " " + pd.Series(street) + ", " + pd.Series(CITIES[city, 1]) + " " + pd.Series(city_name)

    volume = SEGMENT_VOLUME[segment] * rng.lognormal(0.0, 0.8, n)
    volume[behaviour == DEFAULTER] = np.maximum(volume[behaviour == DEFAULTER], 5.0)
    term = SEGMENT_TERM[segment].copy()
    special = rng.random(n) < 0.06
    term[special] = (term[special] + rng.integers(1, 3, special.sum())) % 3
    method = rng.choice(4, n, p=METHOD_SHARE)
    method[segment == 3] = 0
    grouped = rng.random(n) < np.array([0.0, 0.1, 0.6, 0.6])[segment]
    stop_date = np.datetime64("2026-03-01") + rng.integers(0, 107, n)
    rating = np.clip(np.round(BEHAVIOUR_RATING[behaviour] + rng.normal(0.0, 2.0, n)), 0, 20)
    rating[rng.random(n) < np.array([0.6, 0.2, 0.05, 0.3])[segment]] = np.nan
    width = max(4, len(str(n)))
    return {
        "n": n,
        "id": _codes("C", np.arange(1, n + 1), width),
        "name": names.to_numpy(),
        "segment": segment,
        "behaviour": behaviour,
        "first": first,
        "last": last,
        "email": email.to_numpy(),
        "address": address.to_numpy(),
        "volume": volume,
        "term": term,
        "special_terms": special,
        "method": method,
        "grouped": grouped,
        "stop_date": stop_date,
        "rating": rating,
    }


def _customer_frame(cust: dict, inv: dict) -> pd.DataFrame:
    """Clients, with the credit limit set from each customer's business (≈ 2.5 months of average sales)."""
    regular = inv["regular"]
    monthly = np.bincount(inv["customer"][regular], weights=inv["amount"][regular], minlength=cust["n"]) / len(MONTHS)
    limit = np.maximum(2000.0, np.ceil(monthly * 2.5 / 1000.0) * 1000.0)
    return pd.DataFrame({
        "customer_id": cust["id"],
        "name": cust["name"],
        "segment": SEGMENTS[cust["segment"]],
        "contact_first_name": cust["first"],
        "contact_last_name": cust["last"],
        "email": cust["email"],
        "address": cust["address"],
        "phone": _phones(cust["n"]),
        "siren": _sirens(cust["n"]),
        "credit_limit": limit,
        "external_rating": cust["rating"],
        "payment_terms": np.where(cust["special_terms"], TERMS[cust["term"]], None),
    })


def _phones(n: int) -> np.ndarray:
    """Fictitious numbers, one per customer (no random draw: the rest of the sample stays as it was)."""
    i = np.arange(n)
    return np.strings.add(np.strings.add("01 99 00 ", np.char.zfill((i // 100 % 100).astype(str), 2)),
                          np.strings.add(" ", np.char.zfill((i % 100).astype(str), 2))).astype(object)


def _sirens(n: int) -> np.ndarray:
    """Fictitious 9-digit SIREN numbers that pass the Luhn check, as a real SIREN does."""
    base = 41_000_000 + np.arange(n) * 7_919  # 8 digits, then the check digit
    digits = np.stack([(base // 10 ** k) % 10 for k in range(8)], axis=1)  # units first
    doubled = digits[:, 0::2] * 2  # from the right, the digits next to the check digit are doubled
    total = (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return (base * 10 + check).astype(str).astype(object)


# --- invoices ------------------------------------------------------------------------------------

def _due_dates(issue: np.ndarray, term: np.ndarray) -> np.ndarray:
    return np.select(
        [term == 0, term == 1],
        [issue + 30, _end_of_month(issue + 45)],
        issue + 60,
    )


def _channels(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """Envoi: électronique for most invoices, papier more often for TPE and public bodies (a
    generator of its own, so the other columns stay as they were)."""
    paper_share = np.array([0.45, 0.20, 0.05, 0.35])[segment]
    return np.where(rng.random(len(segment)) < paper_share, "papier", "électronique").astype(object)


def _invoices(rng: np.random.Generator, cust: dict, n: int, seed: int = 7) -> dict:
    n_future = max(3, n // 250)
    n_credit = max(2, round(n * 0.015))
    n_regular = n
    n = n_regular + n_credit + n_future  # rows of Factures
    weights = cust["volume"] / cust["volume"].sum()
    weights_active = np.where(cust["behaviour"] == DEFAULTER, 0.0, cust["volume"])
    weights_active /= weights_active.sum()

    days = _business_days(HISTORY_START, AS_OF + 1)
    month_end = np.r_[days[1:].astype("datetime64[M]") != days[:-1].astype("datetime64[M]"), True]
    day_weight = SEASON[days.astype("datetime64[M]").astype(np.int64) % 12] * (1 + 0.08 * _month_index(days) / 12)
    day_weight = day_weight * np.where(month_end, 3.0, 1.0)
    issue = rng.choice(days, n_regular, p=day_weight / day_weight.sum())
    customer = np.empty(n_regular, dtype=np.int64)
    first = min(cust["n"], n_regular)
    customer[:first] = rng.permutation(cust["n"])[:first]
    customer[first:] = rng.choice(cust["n"], n_regular - first, p=weights)
    # a defaulting customer is no longer invoiced two months after it stopped paying
    blocked = issue > cust["stop_date"][customer] + 60
    blocked &= cust["behaviour"][customer] == DEFAULTER
    customer[blocked] = rng.choice(cust["n"], blocked.sum(), p=weights_active)

    credit_issue = rng.choice(days, n_credit)
    credit_customer = rng.choice(cust["n"], n_credit, p=weights_active)
    future_issue = rng.choice(_business_days(*FUTURE_DAYS), n_future)
    future_customer = rng.choice(cust["n"], n_future, p=weights_active)

    kind = np.repeat([0, 1, 2], [n_regular, n_credit, n_future])  # 0 invoice, 1 credit note, 2 after as-of
    issue = np.concatenate([issue, credit_issue, future_issue])
    customer = np.concatenate([customer, credit_customer, future_customer])
    segment = cust["segment"][customer]
    median = SEGMENT_MEDIAN_TTC[segment]
    amount = np.maximum(15.0, np.round(median * rng.lognormal(0.0, 0.85, n), 2))
    amount[kind == 1] = -np.maximum(10.0, np.round(median[kind == 1] * rng.lognormal(-1.0, 0.6, n_credit), 2))
    vat = np.array([0.20, 0.10, 0.055])[rng.choice(3, n, p=[0.86, 0.09, 0.05])]
    vat[kind == 1] = 0.20
    due = np.where(kind == 1, issue, _due_dates(issue, cust["term"][customer]))

    # order of the table: by issue date; numbering per year, invoices and credit notes apart
    order = np.lexsort((np.arange(n), issue))
    kind, issue, customer, amount, vat, due = (a[order] for a in (kind, issue, customer, amount, vat, due))
    invoice_id = np.empty(n, dtype="U16")
    credit = kind == 1
    invoice_id[credit] = _yearly_codes("AV-", issue[credit], 5)
    invoice_id[~credit] = _yearly_codes("FA-", issue[~credit], 6)
    regular = kind == 0
    behaviour = cust["behaviour"][customer]

    dispute_rate = np.where(behaviour == DISPUTER, 0.22, 0.02)
    raised_late = rng.random(n) < 0.3  # some disputes only come up when the customer is reminded
    dispute_date = np.where(raised_late, due + rng.integers(4, 25, n), issue + rng.integers(3, 36, n))
    disputed = regular & (rng.random(n) < dispute_rate) & (dispute_date <= AS_OF)
    category = rng.choice(len(DISPUTE_CATEGORIES), n, p=[0.30, 0.25, 0.15, 0.08, 0.12, 0.10])
    resolved_on = dispute_date + rng.integers(10, 70, n)
    resolved = disputed & (resolved_on <= AS_OF) & (rng.random(n) < 0.93)

    # payment plans: a few chronically late customers, for their invoices due in summer 2026
    candidate = regular & ~disputed & (behaviour == CHRONIC)
    candidate &= (due >= np.datetime64("2026-06-01")) & (due <= np.datetime64("2026-08-31"))
    plan_customers = np.unique(customer[candidate])
    n_plans = min(len(plan_customers), max(2, n // 2500))
    chosen = np.sort(rng.choice(plan_customers, n_plans, replace=False)) if n_plans else np.array([], dtype=np.int64)
    plan_number = np.full(cust["n"], -1)
    plan_number[chosen] = np.arange(1, n_plans + 1)
    plan_start_of = np.full(cust["n"], np.datetime64("NaT"), dtype="datetime64[D]")
    plan_start_of[chosen] = _roll(np.datetime64("2026-09-07") + rng.integers(0, 28, n_plans))
    in_plan = candidate & (plan_number[customer] > 0)
    plan_ref = np.where(in_plan, _codes("ECH-2026-", np.maximum(plan_number[customer], 0), 3), None)

    frame = pd.DataFrame({
        "invoice_id": invoice_id,
        "customer_id": cust["id"][customer],
        "issue_date": issue,
        "due_date": due,
        "amount": amount,
        "amount_excl_tax": np.round(amount / (1 + vat), 2),
        "currency": "EUR",
        "dispute": np.where(disputed, np.asarray(DISPUTE_CATEGORIES, dtype=object)[category], None),
        "dispute_date": np.where(disputed, dispute_date, np.datetime64("NaT")),
        "payment_plan": plan_ref,
        "channel": _channels(np.random.default_rng([seed, 1]), cust["segment"][customer]),
    })
    return {
        "frame": frame,
        "n": n,
        "id": invoice_id,
        "kind": kind,
        "regular": regular,
        "issue": issue,
        "due": due,
        "customer": customer,
        "amount": amount,
        "disputed": disputed,
        "dispute_date": np.where(disputed, dispute_date, np.datetime64("NaT")),
        "resolved": resolved,
        "resolved_on": resolved_on,
        "in_plan": in_plan,
        "plan_start": np.where(in_plan, plan_start_of[customer], np.datetime64("NaT")),
    }


# --- payments ------------------------------------------------------------------------------------

def _instalments(total: np.ndarray, parts: np.ndarray, first_share: np.ndarray):
    """Split each amount in `parts` instalments (the first `first_share`, the rest equal), exact to the cent.

    Returns, per instalment: the position of its amount in `total`, its number (0..parts-1), its amount.
    """
    position = np.repeat(np.arange(len(total)), parts)
    j = np.arange(len(position)) - np.repeat(np.cumsum(parts) - parts, parts)
    k = parts[position]
    share0 = first_share[position]

    def paid_after(m):  # cumulative share after instalment m (m = -1: nothing yet)
        return np.where(m < 0, 0.0, np.where(m + 1 >= k, 1.0, share0 + (1 - share0) * m / np.maximum(k - 1, 1)))

    whole = total[position]
    return position, j, np.round(np.round(whole * paid_after(j), 2) - np.round(whole * paid_after(j - 1), 2), 2)


def _payments(rng: np.random.Generator, cust: dict, inv: dict) -> dict:
    n = inv["n"]
    customer, issue, due, amount = inv["customer"], inv["issue"], inv["due"], inv["amount"]
    behaviour = cust["behaviour"][customer]
    segment = cust["segment"][customer]
    regular = inv["regular"]

    due_month = due.astype("datetime64[M]").astype(np.int64) % 12 + 1
    summer_or_december = np.isin(due_month, (7, 8, 12))
    delay = np.select(
        [
            behaviour == PUNCTUAL,
            behaviour == SLIGHTLY_LATE,
            behaviour == CHRONIC,
            behaviour == SEASONAL,
            behaviour == DISPUTER,
            behaviour == DEFAULTER,
        ],
        [
            np.clip(rng.normal(-1.0, 3.0, n), -10, 8),
            3 + rng.exponential(8.0, n),
            15 + rng.exponential(20.0, n),
            np.where(summer_or_december, 20 + rng.exponential(15.0, n), np.clip(rng.normal(0.0, 3.0, n), -8, 8)),
            5 + rng.exponential(10.0, n),
            10 + rng.exponential(12.0, n),
        ],
        0.0,
    )
    delay = delay + np.where(segment == 3, rng.exponential(6.0, n), 0.0)  # public bodies: slower circuits
    intended = due + np.round(delay).astype(np.int64)
    intended = np.where(behaviour == EARLY, issue + rng.integers(5, 11, n), intended)
    intended = np.where(inv["resolved"], inv["resolved_on"] + rng.integers(3, 20, n), intended)
    intended = _roll(intended)

    never = ~regular | (inv["disputed"] & ~inv["resolved"]) | inv["in_plan"]
    never |= (behaviour == DEFAULTER) & (intended > cust["stop_date"][customer])
    never |= rng.random(n) < 0.006  # forgotten invoices, still open months later
    normal = ~never

    u = rng.random(n)
    grouped = normal & cust["grouped"][customer]
    partial = normal & ~grouped & (u < 0.05)
    single = normal & ~grouped & ~partial
    unmatched = single & (u > 0.988)

    rows = []  # (invoice index, date, amount, kind, unmatched) ; kind 0 single, 1 grouped, 2 partial, 3 plan

    idx = np.flatnonzero(single)
    rows.append((idx, intended[idx], amount[idx], np.zeros(len(idx), int), unmatched[idx]))

    idx = np.flatnonzero(grouped)
    day = intended[idx]
    tenth = day.astype("datetime64[M]").astype("datetime64[D]") + 9
    batch = np.where(day <= tenth, tenth, (day.astype("datetime64[M]") + 1).astype("datetime64[D]") + 9)
    rows.append((idx, _roll(batch), amount[idx], np.ones(len(idx), int), np.zeros(len(idx), bool)))

    idx = np.flatnonzero(partial)
    parts = rng.choice([2, 3], len(idx), p=[0.6, 0.4])
    first_share = rng.choice([0.3, 0.4, 0.5], len(idx))
    row, j, part_amount = _instalments(amount[idx], parts, first_share)
    dates = _roll(intended[idx][row] + j * rng.integers(18, 32, len(row)))
    rows.append((idx[row], dates, part_amount, np.full(len(row), 2), np.zeros(len(row), bool)))

    idx = np.flatnonzero(inv["in_plan"])
    row, j, part_amount = _instalments(amount[idx], np.full(len(idx), 3), np.full(len(idx), 1 / 3))
    dates = _roll(inv["plan_start"][idx][row] + 30 * j)
    rows.append((idx[row], dates, part_amount, np.full(len(row), 3), np.zeros(len(row), bool)))

    invoice = np.concatenate([r[0] for r in rows])
    date = np.concatenate([r[1] for r in rows]).astype("datetime64[D]")
    paid = np.concatenate([r[2] for r in rows])
    kind = np.concatenate([r[3] for r in rows])
    blank = np.concatenate([r[4] for r in rows])
    keep = date <= AS_OF
    invoice, date, paid, kind, blank = invoice[keep], date[keep], paid[keep], kind[keep], blank[keep]
    payer = customer[invoice]

    # one transfer per (customer, date) for grouped payments and plan instalments: same N° règlement
    together = (kind == 1) | (kind == 3)
    group = np.where(together, payer * 4 + kind, cust["n"] * 4 + np.arange(len(kind)))
    order = np.lexsort((invoice, group, date))
    invoice, date, paid, kind, blank, payer, group = (a[order] for a in (invoice, date, paid, kind, blank, payer, group))
    first_row = np.r_[True, (date[1:] != date[:-1]) | (group[1:] != group[:-1])]
    transfer = np.cumsum(first_row) - 1
    transfer_codes = _yearly_codes("RG-", date[first_row], 6)
    payment_id = transfer_codes[transfer]

    method = cust["method"][payer]
    switch = (kind == 0) & (rng.random(len(kind)) < 0.08) & (cust["segment"][payer] != 3)
    method = np.where(switch, rng.integers(0, 4, len(kind)), method)
    method = np.where(kind == 3, 0, method)

    frame = pd.DataFrame({
        "payment_id": payment_id,
        "payment_date": date,
        "customer_id": cust["id"][payer],
        "invoice_id": np.where(blank, None, inv["id"][invoice].astype(object)),
        "amount": paid,
        "method": METHODS[method],
    })
    matched_paid = np.bincount(invoice[~blank], weights=paid[~blank], minlength=n)
    last_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    matched = ~blank
    pd_last = pd.Series(date[matched]).groupby(invoice[matched]).max()
    last_date[pd_last.index.to_numpy()] = pd_last.to_numpy().astype("datetime64[D]")
    settled = regular & (matched_paid >= amount - 0.005)
    return {
        "frame": frame,
        "settled_on": np.where(settled, last_date, np.datetime64("NaT")),
    }


# --- dunning journal -----------------------------------------------------------------------------

def _journal(inv: dict, pay: dict, cust: dict, dunning: DunningPolicy) -> pd.DataFrame:
    """Reminders already sent: every step reached by a still-open invoice, and recent ones for the settled.

    The steps are those of the rules' timelines (`dunning`, the default rules unless given): the
    Étape column holds the step id and Canal its channel, the vocabulary the dunning engine reads
    back. Each customer follows the timeline the rules assign to its segment, else the default one;
    the assignment by risk class is not applied here, the class being a scoring result as of a date.
    Issue follows the Journal's vocabulary (encaisse.dunning.records): « envoye », or what followed
    — « échéancier accordé », « payé », « promesse JJ/MM/AAAA » after a call (a third of the
    promises made on invoices still open are not kept), « message laissé », the registered
    letter's receipt.
    """
    regular = inv["regular"] & (inv["issue"] <= AS_OF)
    settled_on = pay["settled_on"]
    far = np.datetime64("2100-01-01")
    settle = np.where(np.isnat(settled_on), far, settled_on)
    dispute = np.where(np.isnat(inv["dispute_date"]), far, inv["dispute_date"])
    plan = np.where(np.isnat(inv["plan_start"]), far, inv["plan_start"])
    still_open = settle > AS_OF
    timeline_of_segment = np.array([dunning.timeline_for(str(s), None)[0].name for s in SEGMENTS], dtype=object)
    timeline = timeline_of_segment[cust["segment"][inv["customer"]]]
    parts = []
    for name in dict.fromkeys(timeline_of_segment):
        for step in dunning.timelines[name].steps:
            date = _roll(inv["due"] + step.offset)
            sent = regular & (timeline == name) & (date <= AS_OF) & (date < settle) & (date < dispute) & (date < plan)
            sent &= (still_open & (date >= JOURNAL_OPEN_SINCE)) | (date >= JOURNAL_SINCE)
            idx = np.flatnonzero(sent)
            d = date[idx]
            called = step.channel == "telephone" or step.phone_task
            letter = step.channel in ("courrier", "recommande")
            promised = _roll(np.where(settle[idx] <= d + 30, settle[idx], d + 14))  # kept: the day it was paid
            promise = pd.Series(promised.astype("datetime64[ns]")).dt.strftime("promesse %d/%m/%Y").to_numpy(dtype=object)
            outcome = np.select(
                [
                    dispute[idx] <= d + 10,
                    plan[idx] <= d + 15,
                    settle[idx] <= d + 10,
                    np.full(len(idx), called) & (settle[idx] <= d + 30),
                    np.full(len(idx), called) & still_open[idx] & (idx % 3 == 0),
                    np.full(len(idx), called),
                    np.full(len(idx), step.channel == "recommande") & (d <= AS_OF - 5),
                    np.full(len(idx), step.channel == "recommande"),
                ],
                ["litige signalé", "échéancier accordé", "payé", promise, promise, "message laissé",
                 "accusé de réception signé", "en attente de l'accusé de réception"],
                "envoye",
            )
            stamp = np.datetime_as_string(d.astype("datetime64[D]"), unit="D").astype(object)
            base = stamp + "_" + cust["id"][inv["customer"][idx]].astype(object)
            document = (np.full(len(idx), step.id.replace("_", "-") + "-", dtype=object) + base
                        + (".eml" if step.channel == "email" else ".pdf"))
            parts.append(pd.DataFrame({
                "date": d,
                "invoice_id": inv["id"][idx],
                "customer_id": cust["id"][inv["customer"][idx]],
                "step": step.id,
                "channel": step.channel,
                "offset": step.offset,
                "outcome": outcome,
                PROMISE_DATE: np.where(np.char.startswith(outcome.astype(str), "promesse"), promised, np.datetime64("NaT")),
                "document": document if (step.channel == "email" or letter) else None,
            }))
    journal = pd.concat(parts, ignore_index=True)
    journal = journal.sort_values(["date", "customer_id", "offset", "invoice_id"], kind="stable", ignore_index=True)
    return journal.drop(columns="offset")


# --- activity, payables, cash flows --------------------------------------------------------------

def _activity(rng: np.random.Generator, inv: dict) -> tuple[pd.DataFrame, dict]:
    past = inv["issue"] <= AS_OF
    month = _month_index(inv["issue"][past])
    sales = np.round(np.bincount(month, weights=inv["amount"][past], minlength=len(MONTHS)), 2)
    cogs = np.round(sales * 0.64 * (1 + rng.normal(0.0, 0.015, len(MONTHS))), 2)
    # stock ≈ 45 days of cost of sales, smoothed; stock(m) = stock(m-1) + purchases(m) - cogs(m) exactly
    smooth = pd.Series(cogs).rolling(3, min_periods=1, center=True).mean().to_numpy()
    target = smooth * 1.5 * (1 + rng.normal(0.0, 0.03, len(MONTHS)))
    opening_inventory = round(float(target[0]), 2)
    # never negative: a small sample can have a month of credit notes only (negative sales and cost)
    purchases = np.round(np.maximum(cogs + target - np.r_[opening_inventory, target[:-1]], 0.3 * np.maximum(cogs, 0.0)), 2)
    inventory = np.round(opening_inventory + np.cumsum(purchases - cogs), 2)
    level = sales[-12:].mean()
    salaries = np.round(np.where(MONTHS >= np.datetime64("2026-01", "M"), 1.03, 1.0) * round(level * 0.085, -2), 2)
    social = np.round(salaries * 0.55, 2)
    rent = np.full(len(MONTHS), round(level * 0.012, -2))
    other = np.round(level * 0.05 * (1 + rng.normal(0.0, 0.08, len(MONTHS))), 2)
    opex = np.round(salaries + social + rent + other, 2)
    vat_due = np.round(np.maximum(0.0, (sales - purchases - other) * 0.2 / 1.2), 2)
    frame = pd.DataFrame({
        "month": MONTHS.astype("datetime64[D]"),
        "sales": sales,
        "purchases": purchases,
        "cogs": cogs,
        "inventory": inventory,
        "opex": opex,
    })
    monthly = {"sales": sales, "purchases": purchases, "salaries": salaries, "social": social,
               "rent": rent, "vat": vat_due, "level": level}
    return frame, monthly


def _payables(rng: np.random.Generator, monthly: dict, invoices: int) -> pd.DataFrame:
    n_months = len(MONTHS)
    n_bills = max(150, invoices // 12)
    per_month = 2 + rng.multinomial(n_bills - 2 * n_months, monthly["purchases"] / monthly["purchases"].sum())
    month = np.repeat(np.arange(n_months), per_month)
    supplier = rng.choice(len(SUPPLIERS), len(month), p=SUPPLIER_WEIGHT / SUPPLIER_WEIGHT.sum())
    weight = SUPPLIER_WEIGHT[supplier] * rng.lognormal(0.0, 0.7, len(month))
    share = weight / np.bincount(month, weights=weight, minlength=n_months)[month]
    amount = np.round(monthly["purchases"][month] * share, 2)
    last = np.cumsum(per_month) - 1
    amount[last] += np.round(monthly["purchases"] - np.bincount(month, weights=amount, minlength=n_months), 2)
    month_start = MONTHS.astype("datetime64[D]")
    days = _business_days(HISTORY_START, AS_OF + 1)
    first_day = np.searchsorted(_month_index(days), np.arange(n_months))
    day_count = np.diff(np.r_[first_day, len(days)])
    issue = days[first_day[month] + (rng.random(len(month)) * day_count[month]).astype(np.int64)]
    term = np.array([s[2] for s in SUPPLIERS])[supplier]
    due = _due_dates(issue, term)
    supplier_names = np.array([s[0] for s in SUPPLIERS], dtype=object)[supplier]
    priority = np.array([s[1] for s in SUPPLIERS], dtype=object)[supplier]
    bills = pd.DataFrame({"issue_date": issue, "due_date": due, "supplier": supplier_names,
                          "amount": amount, "priority": priority})
    bills = bills.iloc[np.argsort(issue, kind="stable")].reset_index(drop=True)
    bills["bill_id"] = _yearly_codes("FF-", bills["issue_date"].to_numpy().astype("datetime64[D]"), 5)

    # salaries, social charges, VAT and rent: one payable a month each
    end = _end_of_month(month_start)
    pay_day = np.busday_offset(end, 0, roll="backward", busdaycal=CALENDAR)
    next_month = (MONTHS + 1).astype("datetime64[D]")
    label = np.datetime_as_string(MONTHS, unit="M")
    fixed = pd.DataFrame({
        "issue_date": np.concatenate([pay_day, end, end, month_start]),
        "due_date": np.concatenate([pay_day, next_month + 14, next_month + 23, month_start + 4]),
        "supplier": np.repeat(["Personnel (salaires nets)", "URSSAF Rhône-Alpes", "DGFiP (TVA)", "SCI Les Tanneurs (loyer)"], n_months),
        "amount": np.concatenate([monthly["salaries"], monthly["social"], monthly["vat"], monthly["rent"]]),
        "priority": np.repeat(["salaires", "social", "fiscal", "autre"], n_months),
        "bill_id": np.concatenate([np.strings.add("PAIE-", label), np.strings.add("URSSAF-", label),
                                   np.strings.add("TVA-", label), np.strings.add("LOYER-", label)]),
    })
    table = pd.concat([bills, fixed], ignore_index=True)
    issue = table["issue_date"].to_numpy().astype("datetime64[D]")
    due = table["due_date"].to_numpy().astype("datetime64[D]")
    is_supplier = np.r_[np.ones(len(bills), bool), np.zeros(len(fixed), bool)]
    u = rng.random(len(table))
    paid = np.where(is_supplier, due + rng.integers(-3, 6, len(table)), due)
    paid = np.where(is_supplier & (u < 0.06), due + rng.integers(10, 40, len(table)), paid)
    paid = np.where(is_supplier & (due > AS_OF) & (u > 0.96), issue + 10, paid)  # a few paid early
    paid = _roll(paid)
    overdue = is_supplier & (due <= AS_OF) & (due > AS_OF - 45) & (u > 0.97)
    paid = np.where((paid > AS_OF) | overdue, np.datetime64("NaT"), paid)
    table["paid_date"] = paid
    table = table.iloc[np.lexsort((np.arange(len(table)), issue))].reset_index(drop=True)
    return table


def _flows(monthly: dict) -> tuple[pd.DataFrame, float]:
    level = monthly["level"]
    salaries = float(monthly["salaries"][-1])
    flows = [  # label, category, amount, direction, frequency, next date
        ("Salaires nets", "salaires", salaries, "décaissement", "mensuel", "2026-11-27"),
        ("Cotisations URSSAF", "social", round(salaries * 0.55, 2), "décaissement", "mensuel", "2026-12-15"),
        ("TVA à décaisser", "fiscal", round(float(monthly["vat"][-12:].mean()), -2), "décaissement", "mensuel", "2026-12-24"),
        ("Loyer entrepôt et bureaux", "loyer", float(monthly["rent"][-1]), "décaissement", "mensuel", "2026-11-05"),
        ("Remboursement emprunt Bpifrance", "financement", round(level * 0.006, -1), "décaissement", "mensuel", "2026-11-10"),
        ("Crédit-bail chariots élévateurs", "financement", round(level * 0.002, -1), "décaissement", "mensuel", "2026-11-16"),
        ("Abonnements logiciels (ERP, CRM)", "abonnements", round(level * 0.001, -1), "décaissement", "mensuel", "2026-11-03"),
        ("Carburant flotte de livraison", "exploitation", round(level * 0.0015, -1), "décaissement", "hebdomadaire", "2026-11-06"),
        ("Assurance multirisque", "assurance", round(level * 0.004, -1), "décaissement", "trimestriel", "2027-01-05"),
        ("Acompte d'impôt sur les sociétés", "fiscal", round(level * 0.01, -2), "décaissement", "trimestriel", "2026-12-15"),
        ("Cotisation foncière des entreprises", "fiscal", round(level * 0.004, -1), "décaissement", "annuel", "2026-12-15"),
        ("Sous-location d'un bureau", "exploitation", round(level * 0.0008, -1), "encaissement", "mensuel", "2026-11-05"),
        ("Aide régionale à l'embauche", "subvention", round(level * 0.003, -1), "encaissement", "trimestriel", "2027-01-15"),
    ]
    frame = pd.DataFrame(flows, columns=["label", "category", "amount", "direction", "frequency", "next_date"])
    frame["next_date"] = pd.to_datetime(frame["next_date"])
    return frame, float(round(level * 0.35, -2))
