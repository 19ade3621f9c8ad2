"""The Ledger: the workbook's tables as canonical DataFrames, and the receivables as of a date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Params:
    """The named cells of Paramètres (and SoldeBanque on Trésorerie); None where blank or absent."""

    as_of: dt.date | None = None
    company_name: str | None = None
    siren: str | None = None
    company_address: str | None = None
    iban: str | None = None
    payment_link: str | None = None
    ecb_rate: float | None = None
    rules_dir: str | None = None
    bank_balance: float | None = None


@dataclass(frozen=True)
class Ledger:
    """Every table of the workbook with canonical columns (see encaisse.tables).

    Each DataFrame keeps a column `row` with the Excel row number of its line, so that a
    problem found later can still name its cell. Absent optional tables are empty
    DataFrames with the canonical columns.
    """

    invoices: pd.DataFrame
    payments: pd.DataFrame
    customers: pd.DataFrame
    payables: pd.DataFrame
    activity: pd.DataFrame
    flows: pd.DataFrame
    journal: pd.DataFrame
    params: Params = field(default_factory=Params)
    source: str = ""
