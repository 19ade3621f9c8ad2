"""`encaisse rules check` for the templates folder: every Jinja template, the Typst layout of the
letters and the Word letter render with a complete example, and use known fields only."""

from __future__ import annotations

from pathlib import Path

from encaisse.errors import Problem
from encaisse.letters.context import sample_context
from encaisse.letters.docx import check_docx
from encaisse.letters.pdf import LAYOUT, check_layout, letter_data
from encaisse.letters.templates import RenderedText, check_templates


def check_letter_templates(folder: str | Path) -> list[Problem]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    problems = check_templates(folder)
    context = sample_context()
    example = RenderedText("mise en demeure de payer", "Madame, Monsieur,\n\n- Facture F1\n- Facture F2\n\nTexte.\n")
    if (folder / LAYOUT).is_file() or any(folder.glob("*.txt.j2")):
        problems += check_layout(folder, context, example)
    problems += check_docx(folder, letter_data(context, example))
    return problems
