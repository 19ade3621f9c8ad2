"""File names of the documents: from a sanitised customer code and the rules' step id, never from a name.

A customer code may hold anything (« ../x », « C:1 », « A/B »): only letters, digits, - and _ are
kept; a code that had to change gets a short hash of itself, so two codes never share a file.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_stem(customer_id: str, step_id: str) -> str:
    code = _UNSAFE.sub("_", customer_id).strip("_")[:40]
    if code != customer_id or not code:
        code = f"{code or 'client'}-{hashlib.sha256(customer_id.encode()).hexdigest()[:8]}"
    step = _UNSAFE.sub("_", step_id).strip("_")[:40] or "etape"
    return f"{code}-{step}"


def safe_invoice_file(invoice_id: str) -> str | None:
    """'<N° facture>.pdf' when the invoice number is a plain file name, else None (never a path)."""
    name = f"{invoice_id}.pdf"
    if not invoice_id or invoice_id in (".", "..") or re.search(r"[/\\:\x00-\x1f]", invoice_id):
        return None
    return name
