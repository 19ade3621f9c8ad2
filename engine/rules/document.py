"""One YAML rule file read safely with the position of every key and value, checked by its JSON Schema.

PyYAML's `compose` (SafeLoader) gives the node tree with start marks; we build the plain data
ourselves so that duplicate keys are caught (a plain load keeps the last one silently) and
each key/value keeps its line and column. Dates become ISO strings ('2026-07-01') so the data
is JSON as the schema sees it. Schema errors from `jsonschema` (Draft 2020-12, every error via
`iter_errors`) are translated to French and placed on the offending key or value.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

from encaisse.errors import Problem, shorten
from encaisse.fr import as_written

Path_ = tuple  # a path in the document: ('calendriers', 'standard', 'etapes', 2, 'jour')


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based

    @classmethod
    def of(cls, mark: yaml.Mark) -> "Position":
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class Document:
    """A rule file's content as JSON-like data, with positions, and the problems found reading it."""

    display: str  # the file as shown in messages: 'rules/relances.yaml'
    data: Any = None
    keys: dict[Path_, Position] = field(default_factory=dict)  # position of the key naming the path
    values: dict[Path_, Position] = field(default_factory=dict)  # position of the value at the path
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path_ = (), *, key: bool = False) -> str:
        """'rules/relances.yaml:14:7' for the value at `path` (or its key); the nearest parent if absent."""
        table = self.keys if key else self.values
        path = tuple(path)
        while path not in table and path not in self.values and path:
            path = path[:-1]
        position = table.get(path) or self.values.get(path) or Position(1, 1)
        return f"{self.display}:{position.line}:{position.column}"

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        found = Problem(self.where(path, key=key), message)
        self.problems.append(found)
        return found


# --- reading --------------------------------------------------------------------------------

_YAML_MESSAGES = (
    ("could not find expected ':'", "« : » attendu après une clé"),
    ("mapping values are not allowed here", "« : » inattendu (une valeur contenant « : » doit être entre guillemets)"),
    ("found character '\\t' that cannot start any token", "tabulation interdite : indentez avec des espaces"),
    ("found character that cannot start any token", "caractère inattendu"),
    ("expected <block end>, but found", "indentation incohérente"),
    ("did not find expected key", "indentation incohérente : clé attendue"),
    ("did not find expected '-' indicator", "indentation incohérente : élément de liste « - » attendu"),
    ("did not find expected node content", "valeur attendue"),
    ("found unexpected end of stream", "fin de fichier inattendue (guillemet ou crochet non fermé ?)"),
    ("found undefined alias", "alias (*nom) non défini"),
    ("expected a single document", "un seul document YAML attendu (retirez « --- »)"),
    ("found duplicate anchor", "ancre (&nom) définie deux fois"),
    ("while scanning a quoted scalar", "guillemet non fermé"),
    ("found unexpected ':'", "« : » inattendu"),
    ("expected ',' or ']'", "« , » ou « ] » attendu"),
    ("expected ',' or '}'", "« , » ou « } » attendu"),
)


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    english = f"{error.context or ''} {error.problem or ''}"
    for pattern, french in _YAML_MESSAGES:
        if pattern in english:
            return f"erreur de syntaxe YAML : {french}"
    return f"erreur de syntaxe YAML ({(error.problem or error.context or '').strip()})"


_constructor = yaml.constructor.SafeConstructor()
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes and marks, faster


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError:
        if _LOADER is yaml.SafeLoader:
            raise
    # libyaml words its errors differently: the pure-Python parser gives the messages translated above
    return yaml.compose(text, Loader=yaml.SafeLoader)


# A rule file is a few kilobytes written by hand: these bounds only stop hostile or broken files
# (an alias "bomb" of 1 KB expands to billions of values; a self-referencing alias never ends).
MAX_FILE_BYTES = 1 << 20
MAX_VALUES = 100_000  # the message below says it in words
MAX_DEPTH = 64


class _TooBig(Exception):
    """The document expands beyond MAX_VALUES values (aliases), nests beyond MAX_DEPTH, or loops."""

    def __init__(self, node: yaml.Node, message: str):
        super().__init__(message)
        self.node, self.message = node, message


def read_document(path: Path, display: str) -> Document:
    doc = Document(display)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            doc.problems.append(Problem(display, f"fichier trop volumineux pour un fichier de règles ({size // 1024} Ko ; "
                                                 f"au plus {MAX_FILE_BYTES // 1024} Ko)"))
            return doc
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        doc.problems.append(Problem(f"{display}:1:1", f"le fichier n'est pas en UTF-8 (octet {error.start})"))
        return doc
    except OSError as error:
        doc.problems.append(Problem(display, f"lecture impossible : {error.strerror}"))
        return doc
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position.of(mark) if mark else Position(1, 1)
        doc.problems.append(Problem(f"{display}:{position.line}:{position.column}", _yaml_message(error)))
        return doc
    except yaml.YAMLError as error:
        doc.problems.append(Problem(f"{display}:1:1", f"erreur de syntaxe YAML ({shorten(str(error))})"))
        return doc
    except RecursionError:
        doc.problems.append(Problem(f"{display}:1:1", f"imbrication trop profonde (au plus {MAX_DEPTH} niveaux de listes ou de clés)"))
        return doc
    if root is None:
        doc.data = {}
        doc.values[()] = Position(1, 1)
        return doc
    doc.values[()] = Position.of(root.start_mark)
    try:
        doc.data = _plain(root, (), doc, _Walk())
    except _TooBig as error:
        position = Position.of(error.node.start_mark)
        doc.problems.append(Problem(f"{display}:{position.line}:{position.column}", error.message))
        doc.data = None
    return doc


@dataclass
class _Walk:
    """What the walk over the node graph has seen: values built, and the nodes being built (aliases)."""

    values: int = 0
    open_nodes: set = field(default_factory=set)


def _plain(node: yaml.Node, path: Path_, doc: Document, walk: _Walk) -> Any:
    walk.values += 1
    if walk.values > MAX_VALUES:
        raise _TooBig(node, "trop de valeurs une fois les alias (*nom) développés (au plus 100 000)")
    if len(path) > MAX_DEPTH:
        raise _TooBig(node, f"imbrication trop profonde (au plus {MAX_DEPTH} niveaux de listes ou de clés)")
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in walk.open_nodes:
            raise _TooBig(node, "alias (*nom) qui se contient lui-même")
        walk.open_nodes.add(id(node))
        try:
            return _plain_collection(node, path, doc, walk)
        finally:
            walk.open_nodes.discard(id(node))
    return _plain_scalar(node, doc)


def _plain_collection(node: yaml.Node, path: Path_, doc: Document, walk: _Walk) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                doc.problems.append(Problem(f"{doc.display}:{Position.of(key_node.start_mark).line}:"
                                            f"{Position.of(key_node.start_mark).column}", "une clé doit être un simple texte"))
                continue
            key = key_node.value  # keys stay text as written ('A', '2022', 'qualité')
            here = path + (key,)
            key_position = Position.of(key_node.start_mark)
            if key in result:
                first = doc.keys[here]
                doc.problems.append(Problem(
                    f"{doc.display}:{key_position.line}:{key_position.column}",
                    f"clé « {key} » en double (déjà définie ligne {first.line})",
                ))
                continue
            doc.keys[here] = key_position
            value_position = Position.of(value_node.start_mark)
            if isinstance(value_node, yaml.ScalarNode) and value_node.value == "" and value_node.tag.endswith(":null"):
                value_position = key_position  # an empty value has no place of its own: point at its key
            doc.values[here] = value_position
            result[key] = _plain(value_node, here, doc, walk)
        return result
    items = []
    for index, item in enumerate(node.value):
        here = path + (index,)
        doc.values[here] = doc.keys[here] = Position.of(item.start_mark)
        items.append(_plain(item, here, doc, walk))
    return items


def _plain_scalar(node: yaml.Node, doc: Document) -> Any:
    try:
        value = _constructor.construct_object(node, deep=True)
    except (yaml.constructor.ConstructorError, ValueError) as error:
        position = Position.of(node.start_mark)
        detail = "date invalide" if node.tag.endswith(":timestamp") else "valeur illisible"
        doc.problems.append(Problem(f"{doc.display}:{position.line}:{position.column}",
                                    f"{detail} « {shorten(node.value)} »" + ("" if detail == "date invalide" else f" ({shorten(str(error))})")))
        return Unreadable(node.value)
    if isinstance(value, float) and not math.isfinite(value):
        position = Position.of(node.start_mark)
        doc.problems.append(Problem(f"{doc.display}:{position.line}:{position.column}",
                                    f"nombre « {shorten(node.value)} » non fini : .nan et .inf ne sont pas des valeurs permises"))
        return Unreadable(node.value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class Unreadable(str):
    """A scalar that could not be read (already reported): schema errors on it are not repeated."""


# --- schema ---------------------------------------------------------------------------------

_TYPES = {
    "integer": "un nombre entier",
    "number": "un nombre",
    "string": "un texte",
    "boolean": "vrai ou faux (true/false)",
    "object": "une liste de clés « clé: valeur »",
    "array": "une liste d'éléments « - … »",
    "null": "vide",
}


def load_schema(path: Path) -> Draft202012Validator:
    """The validator of a schema file, kept per file version."""
    stat = path.stat()
    return _validator(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _validator(path: str, mtime_ns: int, size: int) -> Draft202012Validator:
    # The schemas ship with encaisse and are checked against the 2020-12 meta-schema by the test
    # suite; checking them again on every run cost 0,3 s, more than reading and validating the
    # rules themselves (the first WORKLIST or FORECAST of a recalculation paid it).
    # jsonschema imported here, when rules are read (0,1 s): importing the engine's functions,
    # which every recalculation does to recognise their calls, must not pay it.
    from jsonschema import Draft202012Validator

    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"« {shorten(value)} »"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return "une liste" if isinstance(value, list) else "un ensemble de clés"
    return str(value)


def field_name(path: Path_) -> str:
    """« jour » for ('calendriers', 'standard', 'etapes', 1, 'jour'); « etapes (élément 2) » for a list item."""
    if not path:
        return "le fichier"
    if isinstance(path[-1], int):
        parent = next((p for p in reversed(path[:-1]) if isinstance(p, str)), "")
        return f"« {parent} » (élément {path[-1] + 1})"
    return f"« {path[-1]} »"


def suggestion(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:  # accents and case forgotten: 'qualite' -> 'qualité'
        plain = {_fold(c): c for c in choices}
        if _fold(word) in plain:
            close = [plain[_fold(word)]]
    return f", vouliez-vous dire « {close[0]} » ?" if close else ""


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def schema_problems(doc: Document, validator: Draft202012Validator) -> list[Problem]:
    """Every schema error of the document, in French, placed on the offending key or value."""
    found: list[Problem] = []
    for error in validator.iter_errors(doc.data):
        path = tuple(error.absolute_path)
        if isinstance(error.instance, Unreadable):
            continue
        for key_path, message in _translate(error, path):
            is_key = key_path is not None
            problem = Problem(doc.where(key_path if is_key else path, key=is_key), message)
            if problem not in found:  # jsonschema reports each missing key once but names none of them
                found.append(problem)
    return found


def _translate(error, path: Path_) -> list[tuple[Path_ | None, str]]:
    kind = error.validator
    value = error.instance
    name = field_name(path)
    schema = error.schema
    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extras = [k for k in value if k not in allowed and not any(re.search(p, k) for p in schema.get("patternProperties", {}))]
        results = []
        for extra in extras:
            hint = suggestion(extra, allowed)
            if not hint and allowed:
                hint = f" (clés permises : {', '.join(allowed)})"
            where = f" dans {name}" if path else ""
            results.append((path + (extra,), f"clé inconnue « {extra} »{where}{hint}"))
        return results
    if kind == "required":
        missing = error.validator_value
        absent = [k for k in missing if k not in value]
        where = f" dans {name}" if path else ""
        return [(None, f"clé obligatoire « {k} » absente{where}") for k in absent]
    if kind == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        wanted = " ou ".join(_TYPES.get(t, t) for t in expected)
        if not path:
            return [(None, f"le fichier doit contenir {wanted}, pas {_show(value)}")]
        if value is None:
            return [(None, f"{name} : valeur vide, {wanted} attendu")]
        return [(None, f"{name} : {_show(value)} n'est pas {wanted}")]
    if kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        hint = suggestion(str(value), [str(a) for a in allowed]) if isinstance(value, str) else ""
        listing = ", ".join(str(a) for a in allowed)
        return [(None, f"{name} : {_show(value)} n'est pas une valeur permise{hint} (valeurs permises : {listing})")]
    if kind == "minimum":
        return [(None, f"{name} : {as_written(value)} est inférieur au minimum permis ({as_written(error.validator_value)})")]
    if kind == "maximum":
        return [(None, f"{name} : {as_written(value)} est supérieur au maximum permis ({as_written(error.validator_value)})")]
    if kind == "exclusiveMinimum":
        return [(None, f"{name} : {as_written(value)} doit être strictement supérieur à {as_written(error.validator_value)}")]
    if kind == "exclusiveMaximum":
        return [(None, f"{name} : {as_written(value)} doit être strictement inférieur à {as_written(error.validator_value)}")]
    if kind == "pattern":
        shape = schema.get("x-format", error.validator_value)
        return [(None, f"{name} : {_show(value)} n'a pas le format attendu ({shape})")]
    if kind == "minLength":
        return [(None, f"{name} : texte vide")]
    if kind == "maxLength":
        return [(None, f"{name} : {_show(value)} est trop long ({error.validator_value} caractères au plus)")]
    if kind == "minItems":
        return [(None, f"{name} : au moins {error.validator_value} élément(s) attendu(s)")]
    if kind == "maxItems":
        return [(None, f"{name} : au plus {error.validator_value} élément(s) permis")]
    if kind == "uniqueItems":
        return [(None, f"{name} : la liste contient des éléments en double")]
    if kind == "minProperties":
        return [(None, f"{name} : au moins {error.validator_value} entrée(s) attendue(s)")]
    if kind == "propertyNames":
        return [(None, f"{name} : nom de clé invalide")]
    return [(None, f"{name} : valeur non conforme ({error.message})")]
