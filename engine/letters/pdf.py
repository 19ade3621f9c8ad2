"""Letters as PDF through Typst (the `typst` wheel): the layout is rules/modeles/lettre.typ, the data JSON.

Why Typst: one self-contained wheel on Windows, macOS and Linux (WeasyPrint needs Pango/GTK system
libraries, a hurdle on a finance team's Windows PC), about 25 ms a letter with a compiler reused
for the run, and the letter's data reaches the layout as a JSON string through `sys.inputs`, so
that nothing in a customer's name or address can ever be read as Typst markup. Only the fonts
embedded in the wheel are used (Libertinus Serif): the same PDF on every machine.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Mapping

import typst

from encaisse.errors import Problem
from encaisse.letters.templates import RenderedText, TemplateFailure
from encaisse.rules.loader import display_path

LAYOUT = "lettre.typ"
_BULLET = re.compile(r"^\s*[-•]\s+")


def address_lines(text: str) -> list[str]:
    """'14 rue des Tanneurs, 69007 Lyon' -> ['14 rue des Tanneurs', '69007 Lyon'] (also on line breaks)."""
    return [part.strip() for part in re.split(r"\n|,\s*", text) if part.strip()]


def body_blocks(body: str) -> list[dict[str, object]]:
    """The text as paragraphs (lines kept) and « - » lists, for the layout."""
    blocks: list[dict[str, object]] = []
    for chunk in re.split(r"\n\s*\n", body.strip("\n")):
        lines: list[str] = []
        items: list[str] = []
        for raw in chunk.split("\n"):
            if _BULLET.match(raw):
                if lines:
                    blocks.append({"type": "p", "lignes": lines})
                    lines = []
                items.append(_BULLET.sub("", raw, count=1).strip())
            elif raw.strip():
                if items:
                    blocks.append({"type": "liste", "items": items})
                    items = []
                lines.append(raw.strip())
        if items:
            blocks.append({"type": "liste", "items": items})
        if lines:
            blocks.append({"type": "p", "lignes": lines})
    return blocks


def letter_data(context: Mapping[str, object], text: RenderedText) -> dict[str, object]:
    """The JSON the layout reads: both parties, place and date, mentions, subject, body, signature."""
    company, sender, customer = context["societe"], context["expediteur"], context["client"]
    expediteur = [company["raison_sociale"], *address_lines(company["adresse"])]
    if company["siren"]:
        expediteur.append(f"SIREN {company['siren']}")
    if sender["nom"]:
        expediteur.append(f"Contact : {sender['nom']}")
    expediteur += [line for line in (sender["telephone"], sender["email"]) if line]
    destinataire = [customer["raison_sociale"]]
    if customer["contact"]:
        destinataire.append(f"À l'attention de {customer['contact']}")
    destinataire += address_lines(customer["adresse"])
    if customer["siren"]:
        destinataire.append(f"SIREN {customer['siren']}")
    place = context["lieu"]
    footer = " – ".join(part for part in (company["raison_sociale"], f"SIREN {company['siren']}" if company["siren"] else "",
                                         f"IBAN {company['iban']}" if company["iban"] else "") if part)
    return {
        "expediteur": [line for line in expediteur if line],
        "destinataire": [line for line in destinataire if line],
        "lieu_date": f"{place}, le {context['date']}" if place else f"Le {context['date']}",
        "mention": "Lettre recommandée avec accusé de réception" if context["recommande"] else "",
        "titre": text.subject if context["ton"] == "formel" else "",
        "objet": text.subject,
        "reference": f"Réf. client : {customer['code']}",
        "blocs": body_blocks(text.body),
        "signature": [line for line in (sender["nom"], sender["fonction"], company["raison_sociale"]) if line],
        "pied": footer,
    }


class LetterPrinter:
    """One Typst compiler for the run (fonts loaded once), fed each letter's JSON."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.layout = self.folder / LAYOUT
        if not self.layout.is_file():
            raise TemplateFailure(Problem(display_path(self.layout), "mise en page des lettres introuvable"))
        self._compiler = typst.Compiler(str(self.layout), root=str(self.folder), ignore_system_fonts=True)

    def pdf(self, data: Mapping[str, object], day: dt.date) -> bytes:
        stamp = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        try:
            return self._compiler.compile(sys_inputs={"lettre": json.dumps(data, ensure_ascii=False)}, timestamp=stamp)
        except typst.TypstError as error:
            where = display_path(self.layout)
            match = re.search(r"┌─\s*(\S+?):(\d+):(\d+)", str(getattr(error, "diagnostic", "") or ""))
            if match:
                where = f"{display_path(self.folder / match.group(1))}:{match.group(2)}:{match.group(3)}"
            raise TemplateFailure(Problem(where, f"mise en page impossible : {_typst_message(error)}")) from None


def _typst_message(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    return " ".join(str(message).split())[:400]


def check_layout(folder: str | Path, context: Mapping[str, object], text: RenderedText) -> list[Problem]:
    """The layout compiles with a complete example letter (for `encaisse rules check`)."""
    folder = Path(folder)
    if not (folder / LAYOUT).is_file():
        return [Problem(display_path(folder / LAYOUT), "mise en page des lettres introuvable")]
    try:
        LetterPrinter(folder).pdf(letter_data(context, text), dt.date(2026, 10, 31))
    except TemplateFailure as failure:
        return [failure.problem]
    return []
