"""French legal data for late payment, as dated and editable data (rules/legal.yaml).

- ECB main refinancing rate history (taux des opérations principales de refinancement).
- Legal interest rate (taux de l'intérêt légal) for professional creditors, by half-year.
- Code de commerce L441-10: default penalty rate = ECB rate in force on 1 January or 1 July
  of the half-year + 10 points; a contractual rate may not be below 3 × the legal interest
  rate; fixed recovery indemnity of 40 € per invoice.
- L441-10 I: maximum B2B terms, 60 days from the invoice date or 45 days end of month.

Rates are fractions (0.0215 for 2.15 %); the YAML holds percentages, which is how they
are published. `LegalData` is a plain immutable record: tests build one directly,
the application reads rules/legal.yaml with `encaisse.rules.load_legal`.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass

from encaisse.errors import EncaisseError
from encaisse.fr import date

class LegalDataError(EncaisseError):
    """A date falls outside the legal data of rules/legal.yaml (the file must be completed)."""


def _fraction(percent: float) -> float:
    # 2.5 / 100 + 0.10 is 0.12500000000000003 in binary; rounding keeps published figures exact.
    return round(percent / 100.0, 12)


def half_year_start(day: dt.date) -> dt.date:
    """1 January or 1 July of the half-year containing `day`."""
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


def half_year_label(day: dt.date) -> str:
    """'2026-S2' for any day of July–December 2026."""
    return f"{day.year}-S{1 if day.month <= 6 else 2}"


def half_year_from_label(label: str) -> dt.date:
    """'2026-S2' -> 2026-07-01."""
    year, half = label.split("-S")
    return dt.date(int(year), 1 if half == "1" else 7, 1)


@dataclass(frozen=True)
class EcbRate:
    """An ECB main refinancing rate, in force from `effective` (date of effect, not of the decision)."""

    effective: dt.date
    rate: float  # fraction
    verified: bool = True
    source: str = ""
    where: str = ""  # 'rules/legal.yaml:12:5'


@dataclass(frozen=True)
class LegalRate:
    """Legal interest rate for a half-year starting on `start` (1 January or 1 July)."""

    start: dt.date
    professional: float  # fraction, « tous les autres cas » (créanciers professionnels)
    consumer: float | None = None  # fraction, créanciers personnes physiques non professionnels
    verified: bool = True
    source: str = ""
    where: str = ""

    @property
    def label(self) -> str:
        return half_year_label(self.start)


@dataclass(frozen=True)
class LegalData:
    ecb_rates: tuple[EcbRate, ...]  # sorted by effective date
    legal_rates: tuple[LegalRate, ...]  # sorted by half-year
    penalty_margin: float = 0.10  # « BCE + 10 points »
    minimum_penalty_multiple: float = 3.0  # pénalités ≥ 3 × taux d'intérêt légal
    recovery_indemnity: float = 40.0  # € per invoice, B2B
    max_terms_days: int = 60  # days from the invoice date
    max_terms_end_of_month_days: int = 45  # days end of month
    ecb_checked_until: dt.date | None = None  # ECB history checked against published decisions up to this day
    source: str = ""  # file the data came from

    def __post_init__(self) -> None:
        object.__setattr__(self, "ecb_rates", tuple(sorted(self.ecb_rates, key=lambda r: r.effective)))
        object.__setattr__(self, "legal_rates", tuple(sorted(self.legal_rates, key=lambda r: r.start)))

    def ecb_entry_on(self, day: dt.date) -> EcbRate:
        starts = [r.effective for r in self.ecb_rates]
        index = bisect_right(starts, _as_date(day)) - 1
        if index < 0:
            first = date(starts[0]) if starts else "aucun"
            raise LegalDataError(
                f"taux BCE inconnu au {date(_as_date(day))} : l'historique de {self._file()} "
                f"commence le {first}"
            )
        return self.ecb_rates[index]

    def ecb_rate_on(self, day: dt.date) -> float:
        """ECB main refinancing rate in force on `day` (fraction)."""
        return self.ecb_entry_on(day).rate

    def legal_entry(self, day: dt.date) -> LegalRate:
        start = half_year_start(_as_date(day))
        for entry in self.legal_rates:
            if entry.start == start:
                return entry
        raise LegalDataError(
            f"taux d'intérêt légal du semestre {half_year_label(start)} absent de {self._file()}"
        )

    def legal_interest_rate(self, day: dt.date) -> float:
        """Legal interest rate for professional creditors for the half-year containing `day` (fraction)."""
        return self.legal_entry(day).professional

    def penalty_rate(self, day: dt.date) -> float:
        """L441-10 default rate for the half-year containing `day`: ECB rate on 1 Jan/1 Jul + 10 points."""
        reference = self.ecb_rate_on(half_year_start(_as_date(day)))
        return round(reference + self.penalty_margin, 12)

    def minimum_penalty_rate(self, day: dt.date) -> float:
        """Lowest contractual penalty rate allowed for the half-year containing `day` (3 × legal rate)."""
        return round(self.minimum_penalty_multiple * self.legal_interest_rate(day), 12)

    def penalty_warnings(self, first_late_day: dt.date | None, as_of: dt.date, contractual: bool = False) -> tuple[str, ...]:
        """What a penalty computed as of `as_of` rests on that is not verified, in French (empty when all is).

        - `as_of` after `ecb_checked_until`: a later ECB decision may be missing from the file;
        - a half-year from the one containing `first_late_day` (the first day late of the
          invoices concerned; None: only `as_of`'s half-year) to `as_of`'s whose ECB rate
          (in force on its 1 January / 1 July) is marked `verifie: false`, or absent;
        - with a contractual rate (`contractual`), a half-year whose legal interest rate (the
          minimum is 3 × it) is unverified or absent.
        """
        as_of = _as_date(as_of)
        found: list[str] = []
        if self.ecb_checked_until is None or as_of > self.ecb_checked_until:
            checked = f"jusqu'au {self.ecb_checked_until:%d/%m/%Y} seulement" if self.ecb_checked_until else "sans date de vérification"
            found.append(f"taux BCE vérifiés {checked} ({self._file()}, taux_bce_verifie_jusqu_au) : une décision "
                         f"plus récente de la BCE n'y figure peut-être pas (date d'arrêté {as_of:%d/%m/%Y})")
        start = half_year_start(_as_date(first_late_day) if first_late_day is not None and _as_date(first_late_day) <= as_of else as_of)
        while start <= as_of:  # a handful of half-years
            label = half_year_label(start)
            try:
                entry = self.ecb_entry_on(start)
                if not entry.verified:
                    found.append(f"taux BCE du semestre {label} ({entry.rate * 100:.2f} %".replace(".", ",")
                                 + f") non vérifié ({entry.where or self._file()})")
            except LegalDataError as error:
                found.append(str(error))
            if contractual:
                entry = next((r for r in self.legal_rates if r.start == start), None)
                if entry is None or not entry.verified:
                    where = entry.where if entry is not None and entry.where else self._file()
                    found.append(f"taux d'intérêt légal du semestre {label} {'absent' if entry is None else 'non vérifié'} "
                                 f"({where}) : le minimum légal du taux contractuel (3 × ce taux) est incertain")
            start = dt.date(start.year, 7, 1) if start.month == 1 else dt.date(start.year + 1, 1, 1)
        return tuple(found)

    def _file(self) -> str:
        return self.source or "rules/legal.yaml"


def _as_date(day: object) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if hasattr(day, "date") and callable(day.date):  # pandas Timestamp, numpy datetime64 via pandas
        return day.date()
    return dt.date.fromisoformat(str(day)[:10])


def legal_from_data(data: dict, source: str = "", where: dict | None = None) -> LegalData:
    """Build LegalData from the (already validated) content of legal.yaml.

    `where` maps ('taux_bce', i) / ('taux_interet_legal', i) to a 'file:line:col' position.
    """
    where = where or {}
    ecb = tuple(
        EcbRate(
            effective=_as_date(item["date"]),
            rate=_fraction(float(item["taux"])),
            verified=bool(item.get("verifie", False)),
            source=str(item.get("source", "")),
            where=where.get(("taux_bce", i), ""),
        )
        for i, item in enumerate(data.get("taux_bce", []))
    )
    legal = tuple(
        LegalRate(
            start=half_year_from_label(str(item["semestre"])),
            professional=_fraction(float(item["professionnels"])),
            consumer=_fraction(float(item["particuliers"])) if item.get("particuliers") is not None else None,
            verified=bool(item.get("verifie", False)),
            source=str(item.get("source", "")),
            where=where.get(("taux_interet_legal", i), ""),
        )
        for i, item in enumerate(data.get("taux_interet_legal", []))
    )
    penalties = data.get("penalites", {})
    terms = data.get("delais_maximum", {})
    return LegalData(
        ecb_rates=ecb,
        legal_rates=legal,
        penalty_margin=_fraction(float(penalties.get("majoration_points_bce", 10))),
        minimum_penalty_multiple=float(penalties.get("multiple_minimum_taux_legal", 3)),
        recovery_indemnity=float(penalties.get("indemnite_forfaitaire", 40)),
        max_terms_days=int(terms.get("jours_date_facture", 60)),
        max_terms_end_of_month_days=int(terms.get("jours_fin_de_mois", 45)),
        ecb_checked_until=_as_date(data["taux_bce_verifie_jusqu_au"]) if data.get("taux_bce_verifie_jusqu_au") else None,
        source=source,
    )
