"""French formats for the documents sent to customers: 1 234,56 €, 31/12/2026, 12,40 %.

The one place the letters format numbers and dates, so that it can give way to the package-wide
French formatter without touching a template. Cents are rounded half-up, once, here.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"  # before €, % and between the day and the unit: never split across lines
NARROW_NBSP = "\u202f"  # thousands separator, as the Imprimerie nationale recommends


def cents(value: float) -> Decimal:
    """The amount rounded to the cent, half-up (2.005 -> 2.01), from its shortest decimal repr."""
    return Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money(value: float) -> str:
    """1234.5 -> '1 234,50 €' (narrow no-break space between thousands, no-break space before €)."""
    amount = cents(value)
    sign = "-" if amount < 0 else ""
    whole, part = f"{abs(amount):.2f}".split(".")
    groups = []
    while len(whole) > 3:
        whole, tail = whole[:-3], whole[-3:]
        groups.insert(0, tail)
    return f"{sign}{NARROW_NBSP.join([whole, *groups])},{part}{NBSP}€"


def date(value: dt.date) -> str:
    """31/12/2026."""
    return value.strftime("%d/%m/%Y")


def percent(fraction: float) -> str:
    """0.124 -> '12,40 %'."""
    return f"{Decimal(repr(float(fraction))) * 100:.2f}".replace(".", ",") + f"{NBSP}%"


def count_words(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"
