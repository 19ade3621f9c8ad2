"""The controllers' templates (rules/modeles/*.j2), rendered in a Jinja2 sandbox.

One template per step holds the wording: its first line is « Objet : … », the rest is the text. An
e-mail's HTML part is the same template rendered again with autoescape (every value escaped), its
paragraphs and « - » lists turned into HTML and the payment link made a link, then laid out by
`email.html.j2`. Letters and call sheets are plain text (letters are then laid out by Typst, see
`encaisse.letters.pdf`). Templates see the fields of `context.FIELDS` only: an unknown field or
attribute is an error (StrictUndefined) with its file and line, which `check_templates` reports for
`encaisse rules check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from encaisse.errors import EncaisseError, Problem
from encaisse.letters.context import FIELDS, sample_context
from encaisse.rules.document import suggestion
from encaisse.rules.loader import display_path

HTML_LAYOUT = "email.html.j2"
LAYOUT_FIELDS = ("objet", "corps")
CALL_SHEET = "appel_relance.txt.j2"  # the call sheet of an e-mail step with `appel: true`
BARE_LAYOUT = '<!DOCTYPE html>\n<html lang="fr">\n<head><meta charset="utf-8"><title>{{ objet }}</title></head>\n<body>\n{{ corps }}\n</body>\n</html>\n'

_SUBJECT = re.compile(r"^\s*(?:objet|subject)\s*:\s*(.*)$", re.I)
_BULLET = re.compile(r"^\s*[-•]\s+")


class TemplateFailure(EncaisseError):
    """A template of rules/modeles (Jinja, the Typst layout, the Word letter) could not be rendered;
    `problem.where` is 'rules/modeles/x.j2:12'."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedText:
    subject: str
    body: str


class Templates:
    """The templates of one folder, compiled once per run."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        common = {"loader": FileSystemLoader(str(self.folder)), "undefined": StrictUndefined, "keep_trailing_newline": True}
        self._text = SandboxedEnvironment(autoescape=False, **common)
        self._html = SandboxedEnvironment(autoescape=True, **common)

    def where(self, name: str, line: int | None = None) -> str:
        shown = display_path(self.folder / name)
        return f"{shown}:{line}" if line else shown

    def _render(self, environment: SandboxedEnvironment, name: str, context: Mapping[str, object]) -> str:
        try:
            return environment.get_template(name).render(context)
        except TemplateSyntaxError as error:
            raise TemplateFailure(Problem(self.where(name, error.lineno), f"syntaxe du modèle : {error.message}")) from None
        except TemplateError as error:
            line = _template_line(error, self.folder / name)
            raise TemplateFailure(Problem(self.where(name, line), _message(error))) from None
        except (TypeError, ValueError, AttributeError, ArithmeticError) as error:
            line = _template_line(error, self.folder / name)
            raise TemplateFailure(Problem(self.where(name, line), f"erreur dans le modèle : {error}")) from None

    def text(self, name: str, context: Mapping[str, object]) -> RenderedText:
        """A letter or a call sheet: subject (its « Objet : » line, if any) and text."""
        subject, body = split_subject(self._render(self._text, name, context))
        return RenderedText(subject, body)

    def email(self, name: str, context: Mapping[str, object]) -> RenderedEmail:
        subject, text = split_subject(self._render(self._text, name, context))
        _, escaped = split_subject(self._render(self._html, name, context))
        link = str(context.get("societe", {}).get("lien_paiement", "")) if isinstance(context.get("societe"), Mapping) else ""
        body = text_to_html(escaped, link)
        layout = {**context, "objet": subject, "corps": body}
        if (self.folder / HTML_LAYOUT).is_file():
            html = self._render(self._html, HTML_LAYOUT, layout)
        else:  # a rules folder without its own layout: the message's paragraphs alone
            html = self._html.from_string(BARE_LAYOUT).render(layout)
        return RenderedEmail(subject, text, html)


def split_subject(text: str) -> tuple[str, str]:
    """('subject', 'text') from a rendered template whose first line is « Objet : … »."""
    head, _, rest = text.partition("\n")
    match = _SUBJECT.match(head)
    if match is None:
        return "", text.strip("\n") + "\n"
    return " ".join(match.group(1).split()), rest.strip("\n") + "\n"


def text_to_html(escaped: str, link: str = "") -> Markup:
    """Text whose values are already HTML-escaped -> paragraphs, « - » lists, the payment link as a link."""
    blocks = [b for b in re.split(r"\n\s*\n", escaped.strip("\n")) if b.strip()]
    out: list[str] = []
    for block in blocks:
        items: list[str] = []
        lines: list[str] = []
        for raw in block.split("\n"):
            if _BULLET.match(raw):
                if lines:
                    out.append("<p>" + "<br>\n".join(lines) + "</p>")
                    lines = []
                items.append(_BULLET.sub("", raw, count=1))
            else:
                if items:
                    out.append("<ul>\n" + "\n".join(f"<li>{item}</li>" for item in items) + "\n</ul>")
                    items = []
                lines.append(raw.strip())
        if items:
            out.append("<ul>\n" + "\n".join(f"<li>{item}</li>" for item in items) + "\n</ul>")
        if lines:
            out.append("<p>" + "<br>\n".join(lines) + "</p>")
    html = "\n".join(out)
    if link and re.match(r"https?://[^\s\"'<>]+$", link):
        shown = str(escape(link))
        html = html.replace(shown, f'<a href="{shown}">{shown}</a>')
    return Markup(html)


def _template_line(error: BaseException, path: Path) -> int | None:
    """The template line the error was raised at: Jinja maps the traceback's frames to template lines."""
    wanted = {str(path), str(path.resolve())}
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in wanted:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _message(error: TemplateError) -> str:
    text = str(error.message or error)
    match = re.match(r"'(\w+)' is undefined", text)
    if match:
        return f"champ inconnu « {match.group(1)} » (champs connus : {', '.join(FIELDS)})"
    match = re.match(r"'(.+?)' has no attribute '(\w+)'", text)
    if match:
        return f"attribut inconnu « {match.group(2)} »"
    return f"erreur dans le modèle : {text}"


# --- checking, for `encaisse rules check` ----------------------------------------------------------


def check_templates(folder: str | Path) -> list[Problem]:
    """Every *.j2 of the templates folder compiles, uses known fields only and renders with a complete
    example; an e-mail template starts with its « Objet : » line. One problem per template at most."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    templates = Templates(folder)
    problems: list[Problem] = []
    context = sample_context()
    for path in sorted(folder.glob("*.j2")):
        name = path.name
        known = set(FIELDS) | (set(LAYOUT_FIELDS) if name == HTML_LAYOUT else set())
        environment = templates._html if name.endswith(".html.j2") else templates._text
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(templates.where(name), f"modèle illisible ({error})"))
            continue
        try:
            tree = environment.parse(source, name, str(path))
        except TemplateSyntaxError as error:
            problems.append(Problem(templates.where(name, error.lineno), f"syntaxe du modèle : {error.message}"))
            continue
        unknown = sorted(meta.find_undeclared_variables(tree) - known)
        if unknown:
            for field in unknown:
                line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == field), None)
                problems.append(Problem(templates.where(name, line), f"champ inconnu « {field} »{suggestion(field, known)} "
                                                                     f"(champs connus : {', '.join(sorted(known))})"))
            continue
        try:
            if name == HTML_LAYOUT:
                templates._render(templates._html, name, {**context, "objet": "Objet", "corps": Markup("<p>texte</p>")})
            elif name.endswith(".eml.j2"):
                rendered = templates._render(templates._text, name, context)
                if _SUBJECT.match(rendered.partition("\n")[0]) is None:
                    problems.append(Problem(templates.where(name, 1), "la première ligne d'un modèle d'e-mail doit être "
                                                                      "« Objet : … » (l'objet du message)"))
                templates.email(name, context)
            else:
                templates.text(name, context)
        except TemplateFailure as failure:
            problems.append(failure.problem)
    return problems
