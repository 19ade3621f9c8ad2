"""The rules: policy a controller edits in YAML (rules/*.yaml), loaded into immutable records.

`load(folder) -> Rules` reads every rule file with positions, validates it against its JSON
Schema (rules/schema/), then runs the checks a schema cannot express (offsets increasing,
references defined, legal maxima...). Every problem of every file is collected and reported
together in a `RulesError`, each named 'rules/relances.yaml:14:7'. Nothing is built from a
folder that has a problem, so a run never works from half-valid rules.

Percentages are written as percentages in YAML (30 = 30 %) and held as fractions (0.30) in
the records. Each record keeps `where` ('file:line:column' of its entry) and `Rules.where()`
gives the position of any single value, for `encaisse rules explain`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import MappingProxyType

from encaisse.errors import EncaisseError, Problem, listed
from encaisse.fr import as_written, rate as shown_rate
from encaisse.rules.legal import LegalData, legal_from_data
from encaisse.rules.document import Document, Unreadable, load_schema, read_document, schema_problems, suggestion
from encaisse.rules.records import (
    Factor,
    ScoringPolicy,
    LimitAction,
    RiskPolicy,
    PaymentTerms,
    SegmentPolicy,
    ClassPolicy,
    DepositTier,
    Discount,
    LatePenalty,
    PaymentPolicy,
    Step,
    Timeline,
    CustomerPause,
    PauseConditions,
    WorklistPriority,
    EscalationRoute,
    Escalation,
    DunningPolicy,
    DisputeCategory,
    RiskClass,
    Rules,
    CashAction,
    CashPolicy,
    Scenario,
    WEEKDAYS,
)
from encaisse.resources import DEFAULT_LEGAL_FILE, SCHEMA_DIR
from encaisse.tables import CHANNELS, DISPUTE_CATEGORIES, PAYABLE_PRIORITIES, normalize_header

TEMPLATES_DIR = "modeles"
DOCX_TEMPLATE = "lettre.docx"  # the Word letter of the steps with `docx: true`

# file name -> schema name, in the order they are read
FILES: tuple[str, ...] = ("conditions.yaml", "relances.yaml", "litiges.yaml", "risque.yaml", "scoring.yaml", "legal.yaml",
                          "tresorerie.yaml")


class RulesError(EncaisseError):
    """The rule files have problems; `problems` lists every one, sorted by file, line and column."""

    def __init__(self, problems, title: str = "Les règles contiennent des erreurs"):
        self.problems: tuple[Problem, ...] = tuple(sorted(dict.fromkeys(problems), key=problem_order))
        self.title = title
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        head = f"{self.title} ({count} problème{'s' if count > 1 else ''}) :"
        return "\n".join([head, *listed([format_problem(p) for p in self.problems])])


def format_problem(problem: Problem) -> str:
    """'rules/relances.yaml:14:7: message' — the compiler-style line editors and CI understand."""
    return f"{problem.where}: {problem.message}" if problem.where else problem.message


def problem_order(problem: Problem) -> tuple:
    file, line, column = problem.where, 0, 0
    parts = problem.where.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        file, line, column = parts[0], int(parts[1]), int(parts[2])
    return (file, line, column, problem.message)


# --- loading --------------------------------------------------------------------------------


def load(folder: str | Path) -> Rules:
    """Read, validate and build the rules of `folder`; raise RulesError listing every problem."""
    folder_path = Path(folder)
    docs, problems = _read_all(folder_path)
    if problems:
        raise RulesError(problems)
    return _build(folder_path, docs)


def check(folder: str | Path) -> tuple[tuple[str, ...], list[Problem]]:
    """(files read, problems) without raising — what `encaisse rules check` reports."""
    docs, problems = _read_all(Path(folder))
    return tuple(d.display for d in docs.values()), sorted(problems, key=problem_order)


def load_legal(path: str | Path | None = None) -> LegalData:
    """Read and validate rules/legal.yaml (or `path`) on its own; raise RulesError listing every problem."""
    path = Path(path) if path is not None else DEFAULT_LEGAL_FILE
    doc = read_document(path, display_path(path))
    if not doc.problems:
        doc.problems.extend(schema_problems(doc, load_schema(SCHEMA_DIR / "legal.schema.json")))
    if not doc.problems:
        _check_legal(doc)
    if doc.problems:
        raise RulesError(doc.problems)
    return _legal(doc)


def display_path(path: Path) -> str:
    """The path as a person would type it: relative to the working folder when inside it."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _read_all(folder: Path) -> tuple[dict[str, Document], list[Problem]]:
    problems: list[Problem] = []
    if not folder.is_dir():
        return {}, [Problem(display_path(folder), "dossier de règles introuvable")]
    docs: dict[str, Document] = {}
    valid: dict[str, Document] = {}
    for name in FILES:
        path = folder / name
        display = display_path(path)
        if not path.is_file():
            problems.append(Problem(display, "fichier de règles absent"))
            continue
        doc = read_document(path, display)
        docs[name] = doc
        if not doc.problems:
            validator = load_schema(SCHEMA_DIR / name.replace(".yaml", ".schema.json"))
            doc.problems.extend(schema_problems(doc, validator))
        if not doc.problems:
            valid[name] = doc
    for extra in sorted(p for p in folder.glob("*.y*ml") if p.name not in FILES):
        problems.append(Problem(display_path(extra), f"fichier de règles inconnu{suggestion(extra.name, FILES)}"
                                f" (fichiers attendus : {', '.join(FILES)})"))
    parsed = {name: doc for name, doc in docs.items() if doc.data is not None and not _syntax_broken(doc)}
    classes, segments = _defined_classes(parsed), _defined_segments(parsed)
    legal = _legal(valid["legal.yaml"]) if "legal.yaml" in valid and not _check_legal(valid["legal.yaml"]) else None
    for name, doc in docs.items():
        if name in valid:
            _own_checks(folder, name, doc, classes, segments, legal)
        elif name in parsed:
            _checks_on_invalid(folder, name, doc, classes, segments, legal)
    for doc in docs.values():
        problems.extend(doc.problems)
    return docs, problems


# --- checks a schema cannot express ---------------------------------------------------------


def _syntax_broken(doc: Document) -> bool:
    return any(p.message.startswith(("erreur de syntaxe", "le fichier n'est pas")) for p in doc.problems)


def _own_checks(folder: Path, name: str, doc: Document, classes, segments, legal) -> None:
    if name == "conditions.yaml":
        _check_conditions(doc, classes, legal)
    elif name == "relances.yaml":
        _check_dunning(doc, folder, classes, segments)
    elif name == "risque.yaml":
        _check_risk(doc, classes)
    elif name == "scoring.yaml":
        _check_scoring(doc)
    elif name == "tresorerie.yaml":
        _check_cash(doc)
    # legal.yaml is checked first, by the caller: the other checks need its figures


def _checks_on_invalid(folder: Path, name: str, doc: Document, classes, segments, legal) -> None:
    """Run a file's own checks despite its schema errors, so more problems show in one run.

    The data may have the wrong shape where the schema complained: a check that trips on it
    stops quietly (the schema error already says what is wrong there).
    """
    already = {(p.where, p.message) for p in doc.problems}
    before = len(doc.problems)
    try:
        if name == "legal.yaml":
            _check_legal(doc)
        else:
            _own_checks(folder, name, doc, classes, segments, legal)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
        pass
    fresh = [p for p in doc.problems[before:] if (p.where, p.message) not in already]
    del doc.problems[before:]
    doc.problems.extend(fresh)


def _check_class(doc: Document, path: tuple, name: str, classes: list[str] | None) -> None:
    if classes is None or name in classes:
        return
    doc.problem(path, f"classe de risque « {name} » non définie dans scoring.yaml{suggestion(name, classes)}"
                      f" (classes définies : {', '.join(classes)})", key=True)


def _defined_classes(docs: dict[str, Document]) -> list[str] | None:
    """Class names of scoring.yaml when its list is readable (even if another part of the file is wrong)."""
    doc = docs.get("scoring.yaml")
    try:
        names = [c["classe"] for c in doc.data["classes"]]
    except (AttributeError, KeyError, TypeError):
        return None
    return names if all(isinstance(n, str) for n in names) else None


def _defined_segments(docs: dict[str, Document]) -> list[str] | None:
    doc = docs.get("conditions.yaml")
    segments = doc.data.get("segments") if doc is not None and isinstance(doc.data, dict) else None
    return list(segments) if isinstance(segments, dict) else None


def _check_terms(doc: Document, path: tuple, delai: dict, legal: LegalData | None) -> None:
    max_net = legal.max_terms_days if legal else 60
    max_eom = legal.max_terms_end_of_month_days if legal else 45
    days, eom = delai["jours"], delai["fin_de_mois"]
    if eom and days > max_eom:
        doc.problem(path + ("jours",), f"délai de {days} jours fin de mois supérieur au maximum légal de "
                                       f"{max_eom} jours fin de mois (code de commerce L441-10)")
    elif not eom and days > max_net:
        doc.problem(path + ("jours",), f"délai de {days} jours supérieur au maximum légal de {max_net} jours "
                                       f"à compter de la date de facture (code de commerce L441-10)")


def _check_conditions(doc: Document, classes: list[str] | None, legal: LegalData | None) -> None:
    data = doc.data
    segments = list(data["segments"])
    default = data["segment_par_defaut"]
    if default not in segments:
        doc.problem(("segment_par_defaut",), f"segment « {default} » non défini dans « segments »"
                                             f"{suggestion(default, segments)} (segments définis : {', '.join(segments)})")
    for name, segment in data["segments"].items():
        _check_terms(doc, ("segments", name, "delai"), segment["delai"], legal)
    for name, policy in data.get("par_classe", {}).items():
        _check_class(doc, ("par_classe", name), name, classes)
        if "delai" in policy:
            _check_terms(doc, ("par_classe", name, "delai"), policy["delai"], legal)
    tiers = data.get("acomptes_par_montant", [])
    for index in range(1, len(tiers)):
        if tiers[index]["a_partir_de"] <= tiers[index - 1]["a_partir_de"]:
            doc.problem(("acomptes_par_montant", index, "a_partir_de"),
                        f"les paliers d'acompte doivent avoir des montants strictement croissants "
                        f"({tiers[index]['a_partir_de']} après {tiers[index - 1]['a_partir_de']})")
    penalty = data["penalites_retard"]
    rate = penalty.get("taux_contractuel_pct")
    if penalty["mode"] == "contractuel" and rate is None:
        doc.problem(("penalites_retard", "mode"), "mode « contractuel » : clé « taux_contractuel_pct » obligatoire")
    elif penalty["mode"] == "bce_plus_10" and rate is not None:
        doc.problem(("penalites_retard", "taux_contractuel_pct"),
                    "« taux_contractuel_pct » n'est utilisé qu'avec « mode: contractuel » (mode actuel : bce_plus_10)", key=True)
    elif rate is not None and legal is not None and legal.legal_rates:
        latest = legal.legal_rates[-1]
        minimum = round(legal.minimum_penalty_multiple * latest.professional * 100, 6)
        if rate < minimum:
            doc.problem(("penalites_retard", "taux_contractuel_pct"),
                        f"taux contractuel de {shown_rate(rate / 100)} inférieur au minimum légal de {shown_rate(minimum / 100)} "
                        f"({as_written(legal.minimum_penalty_multiple)} × taux de l'intérêt légal de "
                        f"{shown_rate(latest.professional)} du semestre {latest.label}, code de commerce L441-10)")


def _check_dunning(doc: Document, folder: Path, classes: list[str] | None, segments: list[str] | None) -> None:
    data = doc.data
    templates_dir = folder / TEMPLATES_DIR
    available = sorted(p.name for p in templates_dir.iterdir() if p.is_file()) if templates_dir.is_dir() else []
    for name, timeline in data["calendriers"].items():
        seen: dict[str, int] = {}
        previous = None
        for index, step in enumerate(timeline["etapes"]):
            here = ("calendriers", name, "etapes", index)
            if step["id"] in seen:
                first = doc.values[("calendriers", name, "etapes", seen[step["id"]], "id")].line
                doc.problem(here + ("id",), f"identifiant d'étape « {step['id']} » en double dans le calendrier "
                                            f"« {name} » (déjà utilisé ligne {first})")
            else:
                seen[step["id"]] = index
            if previous is not None and step["jour"] <= previous["jour"]:
                doc.problem(here + ("jour",), f"étape « {step['id']} » : le jour ({step['jour']}) doit être strictement "
                                              f"supérieur à celui de l'étape précédente « {previous['id']} » ({previous['jour']})")
            previous = step
            template = step["modele"]
            if "/" in template or "\\" in template or template not in available:
                doc.problem(here + ("modele",), f"modèle « {template} » introuvable dans "
                                                f"{display_path(templates_dir)}/{suggestion(template, available)}")
            elif step["canal"] in CHANNELS and (step["canal"] == "email") != _is_email_template(template):
                wanted = "un modèle d'e-mail (.eml ou .eml.j2)" if step["canal"] == "email" else "un modèle de document (pas .eml)"
                doc.problem(here + ("modele",), f"étape « {step['id']} » : le canal « {step['canal']} » demande {wanted}, "
                                                f"pas « {template} »")
            if step.get("docx") and step["canal"] not in ("courrier", "recommande"):
                doc.problem(here + ("docx",), f"étape « {step['id']} » : docx ne vaut que pour une lettre "
                                              f"(canal courrier ou recommande), pas « {step['canal']} »")
            elif step.get("docx") and DOCX_TEMPLATE not in available:
                doc.problem(here + ("docx",), f"étape « {step['id']} » : modèle Word « {DOCX_TEMPLATE} » introuvable dans "
                                              f"{display_path(templates_dir)}/")
    timelines = list(data["calendriers"])
    assignment = data["affectation"]
    if assignment["par_defaut"] not in timelines:
        _undefined_timeline(doc, ("affectation", "par_defaut"), assignment["par_defaut"], timelines)
    for risk_class, timeline in assignment.get("par_classe", {}).items():
        _check_class(doc, ("affectation", "par_classe", risk_class), risk_class, classes)
        if timeline not in timelines:
            _undefined_timeline(doc, ("affectation", "par_classe", risk_class), timeline, timelines)
    for segment, timeline in assignment.get("par_segment", {}).items():
        if segments is not None and segment not in segments:
            doc.problem(("affectation", "par_segment", segment),
                        f"segment « {segment} » non défini dans conditions.yaml{suggestion(segment, segments)}"
                        f" (segments définis : {', '.join(segments)})", key=True)
        if timeline not in timelines:
            _undefined_timeline(doc, ("affectation", "par_segment", segment), timeline, timelines)
    routes = data["escalade"]["voies"]
    seen_routes: set[str] = set()
    for index, route in enumerate(routes):
        here = ("escalade", "voies", index)
        if route["id"] in seen_routes:
            doc.problem(here + ("id",), f"voie d'escalade « {route['id']} » en double")
        seen_routes.add(route["id"])
        low, high = route.get("montant_min"), route.get("montant_max")
        if low is not None and high is not None and low >= high:
            doc.problem(here + ("montant_max",), f"montant_max ({high}) doit être supérieur à montant_min ({low})")


def _is_email_template(name: str) -> bool:
    return name.endswith((".eml", ".eml.j2"))


def _undefined_timeline(doc: Document, path: tuple, name: str, timelines: list[str]) -> None:
    doc.problem(path, f"calendrier « {name} » non défini dans « calendriers »{suggestion(name, timelines)}"
                      f" (calendriers définis : {', '.join(timelines)})")


def _check_risk(doc: Document, classes: list[str] | None) -> None:
    for risk_class in doc.data["limites_par_classe"]:
        _check_class(doc, ("limites_par_classe", risk_class), risk_class, classes)
    actions = doc.data["actions"]
    for index in range(1, len(actions)):
        if actions[index]["au_dela_pct"] <= actions[index - 1]["au_dela_pct"]:
            doc.problem(("actions", index, "au_dela_pct"),
                        f"les seuils d'action doivent être strictement croissants "
                        f"({shown_rate(actions[index]['au_dela_pct'] / 100)} après {shown_rate(actions[index - 1]['au_dela_pct'] / 100)})")


def _check_scoring(doc: Document) -> None:
    classes = doc.data["classes"]
    seen: set[str] = set()
    for index, entry in enumerate(classes):
        if entry["classe"] in seen:
            doc.problem(("classes", index, "classe"), f"classe « {entry['classe']} » en double")
        seen.add(entry["classe"])
        if index and entry["score_min"] >= classes[index - 1]["score_min"]:
            doc.problem(("classes", index, "score_min"),
                        f"classe « {entry['classe']} » : score_min ({as_written(entry['score_min'])}) doit être strictement "
                        f"inférieur à celui de la classe précédente « {classes[index - 1]['classe']} » "
                        f"({as_written(classes[index - 1]['score_min'])})")
    if classes[-1]["score_min"] != 0:
        doc.problem(("classes", len(classes) - 1, "score_min"),
                    f"la dernière classe « {classes[-1]['classe']} » doit avoir score_min: 0 pour que tout score ait une classe")
    total = 0.0
    for name, factor in doc.data["facteurs"].items():
        total += factor["poids"]
        if factor["meilleur"] == factor["pire"]:
            doc.problem(("facteurs", name, "pire"), f"facteur « {name} » : « meilleur » et « pire » doivent être différents")
    if total <= 0:
        doc.problem(("facteurs",), "la somme des poids des facteurs doit être positive")

# the figures each action type uses (the schema requires them); any other figure is a mistake
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "relance_prioritaire": ("nombre", "taux_succes_pct", "delai_jours"),
    "escompte": ("adhesion_pct",),
    "acompte": ("acompte_pct",),
    "delai_fournisseurs": ("jours",),
    "affacturage": ("part_pct", "financement_pct", "commission_pct", "delai_jours"),
    "reduction_stock": ("jours",),
}
_ACTION_KEYS = ("id", "libelle", "type", "effort")


def _check_cash(doc: Document) -> None:
    data = doc.data
    priorities = list(PAYABLE_PRIORITIES) + [k for k in data["priorites_dettes"] if k not in PAYABLE_PRIORITIES]
    for index, priority in enumerate(data["paiements"]["a_echeance"]):
        if priority not in priorities:
            doc.problem(("paiements", "a_echeance", index), f"priorité « {priority} » inconnue{suggestion(priority, priorities)}"
                                                           f" (priorités de la table Dettes : {', '.join(priorities)})")
    seen: dict[str, int] = {}
    for index, action in enumerate(data["actions"]):
        here = ("actions", index)
        if action["id"] in seen:
            doc.problem(here + ("id",), f"identifiant d'action « {action['id']} » en double "
                                       f"(déjà utilisé ligne {doc.values[('actions', seen[action['id']], 'id')].line})")
        else:
            seen[action["id"]] = index
        used = ACTION_PARAMS.get(action["type"], ())
        for key in action:
            if key not in _ACTION_KEYS and key not in used:
                doc.problem(here + (key,), f"« {key} » n'est pas utilisé par une action de type « {action['type']} »"
                                           f" (valeurs utilisées : {', '.join(used)})", key=True)
    for name, scenario in data["scenarios"].items():
        if not any(k != "libelle" for k in scenario):
            doc.problem(("scenarios", name), f"scénario « {name} » sans levier (dso, dpo, dio, marge ou acompte)", key=True)


def _check_legal(doc: Document) -> list[Problem]:
    before = len(doc.problems)
    rates = doc.data["taux_bce"]
    for index in range(1, len(rates)):
        if rates[index]["date"] <= rates[index - 1]["date"]:
            doc.problem(("taux_bce", index, "date"), f"dates des taux BCE non strictement croissantes "
                                                     f"({rates[index]['date']} après {rates[index - 1]['date']})")
    for index, entry in enumerate(rates):
        _check_iso_date(doc, ("taux_bce", index, "date"), entry["date"])
    halves = doc.data["taux_interet_legal"]
    for index in range(1, len(halves)):
        if halves[index]["semestre"] <= halves[index - 1]["semestre"]:
            doc.problem(("taux_interet_legal", index, "semestre"),
                        f"semestres non strictement croissants ({halves[index]['semestre']} après {halves[index - 1]['semestre']})")
    return doc.problems[before:]


def _check_iso_date(doc: Document, path: tuple, text: str) -> None:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        if not isinstance(text, Unreadable):
            doc.problem(path, f"date invalide « {text} »")


# --- building -------------------------------------------------------------------------------


def _terms(doc: Document, path: tuple, delai: dict) -> PaymentTerms:
    return PaymentTerms(int(delai["jours"]), bool(delai["fin_de_mois"]), doc.where(path))


def _legal(doc: Document) -> LegalData:
    where = {}
    for section in ("taux_bce", "taux_interet_legal"):
        for index, _ in enumerate(doc.data.get(section, [])):
            where[(section, index)] = doc.where((section, index))
    return legal_from_data(doc.data, source=doc.display, where=where)


def _priority(data: dict | None, where: str) -> WorklistPriority:
    """relances.yaml « priorite » (optional: the defaults of WorklistPriority without it)."""
    if not data:
        return WorklistPriority()
    weights, severity = data["poids"], data["severite"]
    return WorklistPriority(
        weight_amount=float(weights["montant"]), weight_days=float(weights["retard"]), weight_risk=float(weights["risque"]),
        weight_severity=float(weights["etape"]), weight_broken_promise=float(weights["promesse_non_tenue"]),
        full_amount=float(data["montant_plein"]), full_days=int(data["retard_plein_jours"]),
        severity_by_tone=tuple((tone, float(severity[tone])) for tone in ("courtois", "amical", "ferme", "formel")),
        severity_escalation=float(severity["escalade"]), severity_dispute=float(severity["litige"]), where=where,
    )


def _cash(doc: Document) -> CashPolicy:
    d = doc.data
    scenarios = {
        name: Scenario(name, s.get("libelle", name), float(s.get("dso", 0)), float(s.get("dpo", 0)), float(s.get("dio", 0)),
                       float(s.get("marge", 0)), s.get("acompte", 0) / 100, doc.where(("scenarios", name), key=True))
        for name, s in d["scenarios"].items()
    }
    actions = tuple(
        CashAction(a["id"], a["libelle"], a["type"], a["effort"],
                   MappingProxyType({k: (a[k] / 100 if k.endswith("_pct") else a[k]) for k in ACTION_PARAMS[a["type"]]}),
                   doc.where(("actions", i)))
        for i, a in enumerate(d["actions"])
    )
    where = {key: doc.where((key,), key=True) for key in d}
    return CashPolicy(
        weeks=int(d["horizon_semaines"]),
        cushion_months=float(d["coussin"]["mois_opex"]),
        cushion_reference_months=int(d["coussin"]["mois_de_reference"]),
        payment_day=WEEKDAYS.index(d["paiements"]["jour_de_reglement"]),
        paid_on_due_date=tuple(normalize_header(p) for p in d["paiements"]["a_echeance"]),
        future_sales=bool(d["ventes_a_venir"]["inclure"]),
        future_reference_months=int(d["ventes_a_venir"]["mois_de_reference"]),
        dispute_treatment=d["litiges"]["traitement"],
        dispute_extra_days=int(d["litiges"].get("delai_apres_resolution_jours", 0)),
        plan_treatment=d["echeanciers"]["traitement"],
        plan_instalments=int(d["echeanciers"]["nombre_echeances"]),
        plan_interval_days=int(d["echeanciers"]["intervalle_jours"]),
        doubtful_days=int(d["creances_douteuses"]["jours_de_retard"]),
        flow_lines=MappingProxyType({normalize_header(k): v for k, v in d["categories_flux"].items()}),
        payable_lines=MappingProxyType({normalize_header(k): v for k, v in d["priorites_dettes"].items()}),
        scenarios=MappingProxyType(scenarios),
        actions=actions,
        backtest_months=int(d["backtest"]["mois"]),
        backtest_weeks=int(d["backtest"]["semaines_evaluees"]),
        where=MappingProxyType(where),
    )


def _build(folder: Path, docs: dict[str, Document]) -> Rules:
    conditions = docs["conditions.yaml"]
    c = conditions.data
    segments = {
        name: SegmentPolicy(name, _terms(conditions, ("segments", name, "delai"), s["delai"]), s["acompte_pct"] / 100,
                            conditions.where(("segments", name), key=True))
        for name, s in c["segments"].items()
    }
    by_class = {
        name: ClassPolicy(
            name,
            _terms(conditions, ("par_classe", name, "delai"), p["delai"]) if "delai" in p else None,
            p["acompte_pct"] / 100 if "acompte_pct" in p else None,
            conditions.where(("par_classe", name), key=True),
        )
        for name, p in c.get("par_classe", {}).items()
    }
    tiers = tuple(
        DepositTier(float(t["a_partir_de"]), t["acompte_pct"] / 100, conditions.where(("acomptes_par_montant", i)))
        for i, t in enumerate(c.get("acomptes_par_montant", []))
    )
    penalty = c["penalites_retard"]
    payment = PaymentPolicy(
        segments=MappingProxyType(segments),
        default_segment=c["segment_par_defaut"],
        by_class=MappingProxyType(by_class),
        deposit_tiers=tiers,
        discount=Discount(c["escompte"]["taux_pct"] / 100, int(c["escompte"]["delai_jours"]), conditions.where(("escompte",))),
        penalty=LatePenalty(
            penalty["mode"],
            penalty["taux_contractuel_pct"] / 100 if penalty.get("taux_contractuel_pct") is not None else None,
            float(penalty["indemnite_forfaitaire"]),
            conditions.where(("penalites_retard",)),
        ),
    )

    dunning_doc = docs["relances.yaml"]
    d = dunning_doc.data
    timelines = {}
    for name, timeline in d["calendriers"].items():
        steps = tuple(
            Step(
                id=s["id"], offset=int(s["jour"]), channel=s["canal"], template=s["modele"], tone=s["ton"],
                label=s.get("libelle", ""), payment_link=bool(s.get("lien_paiement", False)),
                phone_task=bool(s.get("appel", False)), docx=bool(s.get("docx", False)),
                where=dunning_doc.where(("calendriers", name, "etapes", i)),
            )
            for i, s in enumerate(timeline["etapes"])
        )
        timelines[name] = Timeline(name, steps, timeline.get("description", ""), dunning_doc.where(("calendriers", name), key=True))
    pauses = d["pauses"]
    assignment = d["affectation"]
    dunning = DunningPolicy(
        timelines=MappingProxyType(timelines),
        default=assignment["par_defaut"],
        order=tuple(assignment.get("ordre", ("classe", "segment"))),
        by_class=MappingProxyType(dict(assignment.get("par_classe", {}))),
        by_segment=MappingProxyType(dict(assignment.get("par_segment", {}))),
        pauses=PauseConditions(
            bool(pauses["litige_ouvert"]),
            bool(pauses["echeancier_respecte"]),
            tuple(
                CustomerPause(str(p["client"]), dt.date.fromisoformat(p["jusqu_au"]) if p.get("jusqu_au") else None,
                              p.get("motif", ""), dunning_doc.where(("pauses", "clients", i)))
                for i, p in enumerate(pauses.get("clients", []))
            ),
            int(pauses.get("echeancier_jours_sans_versement", PauseConditions.plan_max_gap_days)),
            int(pauses.get("promesse_delai_grace_jours", PauseConditions.promise_grace_days)),
        ),
        escalation=Escalation(
            int(d["escalade"]["delai_mise_en_demeure_jours"]),
            tuple(
                EscalationRoute(r["id"], r["libelle"], r.get("montant_min"), r.get("montant_max"),
                                dunning_doc.where(("escalade", "voies", i)))
                for i, r in enumerate(d["escalade"]["voies"])
            ),
        ),
        priority=_priority(d.get("priorite"), dunning_doc.where(("priorite",), key=True) if "priorite" in d else ""),
    )

    disputes_doc = docs["litiges.yaml"]
    disputes = {
        name: DisputeCategory(name, entry.get("libelle", name), int(entry["delai_resolution_jours"]), entry["equipe"],
                              entry["effet_relance"], bool(entry.get("reprise_apres_delai", False)),
                              disputes_doc.where(("categories", name), key=True))
        for name, entry in disputes_doc.data["categories"].items()
    }
    assert set(disputes) == set(DISPUTE_CATEGORIES)  # the schema requires exactly these

    scoring_doc = docs["scoring.yaml"]
    s = scoring_doc.data
    f = s["facteurs"]

    def factor(key: str, scale: float = 1.0) -> Factor:
        return Factor(weight=float(f[key]["poids"]), best=f[key]["meilleur"] / scale, worst=f[key]["pire"] / scale)

    risk_classes = tuple(
        RiskClass(c["classe"], float(c["score_min"]), c.get("libelle", ""), scoring_doc.where(("classes", i)))
        for i, c in enumerate(s["classes"])
    )
    defaults = ScoringPolicy()
    scoring = ScoringPolicy(
        days_late=factor("retard_moyen_jours"),
        late_share=factor("part_en_retard_pct", 100.0),
        unpaid_count=factor("factures_impayees"),
        dispute_rate=factor("taux_litige_pct", 100.0),
        volume=factor("volume_affaires"),
        external_rating=factor("note_externe"),
        classes=tuple((c.name, c.min_score) for c in risk_classes),
        neutral_score=float(s.get("score_neutre", defaults.neutral_score)),
        window_days=int(s.get("fenetre_jours", defaults.window_days)),
    )

    risk_doc = docs["risque.yaml"]
    risk = RiskPolicy(
        class_limits=tuple((name, float(limit)) for name, limit in risk_doc.data["limites_par_classe"].items()),
        actions=tuple(LimitAction(a["au_dela_pct"] / 100, a["action"]) for a in risk_doc.data["actions"]),
    )

    positions: dict[tuple, str] = {}
    for name, doc in docs.items():
        for path, position in doc.values.items():
            positions[(name, *path)] = f"{doc.display}:{position.line}:{position.column}"
    return Rules(
        folder=display_path(folder),
        payment=payment,
        dunning=dunning,
        disputes=MappingProxyType(disputes),
        risk_classes=risk_classes,
        scoring=scoring,
        risk=risk,
        legal=_legal(docs["legal.yaml"]),
        files=tuple(doc.display for doc in docs.values()),
        positions=MappingProxyType(positions),
        cash=_cash(docs["tresorerie.yaml"]),
    )
