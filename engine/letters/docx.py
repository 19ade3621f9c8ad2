"""Letters as Word documents for hand editing (docxtpl), when a step of relances.yaml says `docx: true`.

The template is rules/modeles/lettre.docx, a Word document with Jinja tags ({{ objet }},
{%p for l in paragraphes %}…) that a controller edits in Word. It gets the same data as the Typst
layout, with the body as one paragraph per line. Values are XML-escaped (autoescape) and rendered
in a Jinja2 sandbox.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from encaisse.errors import EncaisseError, Problem
from encaisse.rules.loader import DOCX_TEMPLATE as TEMPLATE, display_path


class DocxFailure(EncaisseError):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def paragraphs(data: Mapping[str, object]) -> list[str]:
    out: list[str] = []
    for block in data["blocs"]:
        if block["type"] == "liste":
            out += [f"– {item}" for item in block["items"]]
        else:
            out += list(block["lignes"])
    return out


class DocxWriter:
    def __init__(self, folder: str | Path):
        self.path = Path(folder) / TEMPLATE
        if not self.path.is_file():
            raise DocxFailure(Problem(display_path(self.path), "modèle Word des lettres introuvable"))
        self.source = self.path.read_bytes()
        self._environment = SandboxedEnvironment(undefined=StrictUndefined)

    def docx(self, data: Mapping[str, object]) -> bytes:
        from docxtpl import DocxTemplate

        document = DocxTemplate(io.BytesIO(self.source))
        try:
            document.render({**data, "paragraphes": paragraphs(data)}, jinja_env=self._environment, autoescape=True)
        except TemplateError as error:
            raise DocxFailure(Problem(display_path(self.path), f"modèle Word : {error}")) from None
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()


def check_docx(folder: str | Path, data: Mapping[str, object]) -> list[Problem]:
    path = Path(folder) / TEMPLATE
    if not path.is_file():
        return []  # optional: only the steps with `docx: true` need it, and the rules check says so
    try:
        DocxWriter(folder).docx(data)
    except DocxFailure as failure:
        return [failure.problem]
    return []
