"""Letters as Word documents for hand editing (docxtpl), when a step of relances.yaml says `docx: true`.

The template is rules/modeles/lettre.docx, a Word document with Jinja tags ({{ objet }},
{%p for l in paragraphes %}…) that a controller edits in Word. It gets the same data as the Typst
layout, with the body as one paragraph per line. Values are XML-escaped (autoescape) and rendered
in a Jinja2 sandbox.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Mapping

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from encaisse.errors import Problem
from encaisse.letters.templates import TemplateFailure
from encaisse.rules.loader import DOCX_TEMPLATE as TEMPLATE, display_path
from encaisse.workbook.splice import write_package


def paragraphs(data: Mapping[str, object]) -> list[str]:
    out: list[str] = []
    for block in data["blocs"]:
        if block["type"] == "liste":
            out += [f"– {item}" for item in block["items"]]
        else:
            out += list(block["lignes"])
    return out


class DocxWriter:
    """The Word template prepared once (docxtpl's clean-up of Word's split runs, one Jinja compile),
    then each letter's body rendered into a copy of the template's package.

    docxtpl's `render()` reopens, re-parses and recompiles the document for every letter (a quarter
    of a second each); the template has no tables, images, headers or footers to fix, so only the
    body is rendered and spliced into word/document.xml, every other part copied as it is.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / TEMPLATE
        if not self.path.is_file():
            raise TemplateFailure(Problem(display_path(self.path), "modèle Word des lettres introuvable"))
        from docxtpl import DocxTemplate

        self._docx = DocxTemplate(str(self.path))
        self._docx.init_docx()
        body = re.sub(r"<w:p([ >])", r"\n<w:p\1", self._docx.patch_xml(self._docx.get_xml()))
        environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
        try:
            self._body = environment.from_string(body)
        except TemplateError as error:
            raise TemplateFailure(Problem(display_path(self.path), f"modèle Word : {error}")) from None
        with zipfile.ZipFile(self.path) as package:
            document = package.read("word/document.xml").decode("utf-8")
        match = re.search(r"<w:body\b.*</w:body>", document, re.S)
        if match is None:
            raise TemplateFailure(Problem(display_path(self.path), "modèle Word sans corps de document"))
        self._head, self._tail = document[:match.start()], document[match.end():]

    def document_xml(self, data: Mapping[str, object]) -> bytes:
        """word/document.xml of the letter."""
        try:
            body = self._body.render({**data, "paragraphes": paragraphs(data)})
        except TemplateError as error:
            raise TemplateFailure(Problem(display_path(self.path), f"modèle Word : {error}")) from None
        body = re.sub(r"\n<w:p([ >])", r"<w:p\1", body)
        body = body.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        return (self._head + self._docx.resolve_listing(body) + self._tail).encode("utf-8")

    def write(self, data: Mapping[str, object], target: Path) -> None:
        """The letter as a .docx at `target`: the template's parts copied as they are, the body replaced."""
        write_package(self.path, target, {"word/document.xml": self.document_xml(data)})


def check_docx(folder: str | Path, data: Mapping[str, object]) -> list[Problem]:
    path = Path(folder) / TEMPLATE
    if not path.is_file():
        return []  # optional: only the steps with `docx: true` need it, and the rules check says so
    try:
        DocxWriter(folder).document_xml(data)
    except TemplateFailure as failure:
        return [failure.problem]
    return []
