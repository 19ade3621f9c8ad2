"""The `encaisse` command: a thin adapter from the terminal to the engine.

Exit codes: 0 success, 1 invalid input (the message names where), 2 usage error.
Each sub-command is registered by one `_add_*` function below; its handler delegates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from encaisse.errors import EncaisseError, os_reason

from encaisse.resources import DEFAULT_RULES_DIR, DEMO_WORKBOOK


# argparse's own words (usage line, help titles, usage errors) in French: argparse looks every
# one of them up through gettext, and Python ships no French catalogue for it.
_ARGPARSE_FR = {
    "usage: ": "usage : ",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "affiche cette aide",
    "show program's version number and exit": "affiche la version et quitte",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "the following arguments are required: %s": "arguments obligatoires absents : %s",
    "unrecognized arguments: %s": "arguments inconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix %(value)r invalide (choix possibles : %(choices)s)",
    "invalid %(type)s value: %(value)r": "valeur %(value)r invalide (%(type)s attendu)",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "au plus une valeur attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
}


def _french(text: str) -> str:
    return _ARGPARSE_FR.get(text, text)


def build_parser() -> argparse.ArgumentParser:
    argparse._ = _french
    argparse.ngettext = lambda singular, plural, n: _french(singular if n == 1 else plural)
    parser = argparse.ArgumentParser(prog="encaisse", description="Poste clients et trésorerie depuis un classeur Excel.")
    parser.add_argument("--version", action=_VersionAction, help="affiche la version et quitte")
    parser.add_argument("--debug", action="store_true", help="en cas d'erreur inattendue, affiche aussi la trace Python (pour nous la signaler)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


SUBCOMMANDS: list = []


class _VersionAction(argparse.Action):
    """--version, the version read only when asked (reading the installed distribution's metadata
    costs every other command a few hundredths of a second)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"encaisse {_version()}")
        parser.exit()


def _version() -> str:
    """The installed distribution's version; the package's own when it is not installed (a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("encaisse")
    except PackageNotFoundError:
        from encaisse import __version__

        return __version__


def _as_of(text: str | None):
    """--as-of as a date, by the engine's one as-of parser (None when not given)."""
    from encaisse.workbook.coerce import as_of_date

    return as_of_date(text)


def _as_of_argument(parser) -> None:
    parser.add_argument("--as-of", metavar="DATE", help="date d'arrêté AAAA-MM-JJ, JJ/MM/AAAA ou JJ.MM.AAAA (défaut : DateArrete du classeur)")


def _add_recalc(sub) -> None:
    parser = sub.add_parser(
        "recalc", help="recalcule toutes les formules du classeur sans Excel et enregistre les valeurs",
        description="Évalue chaque formule (fonctions Excel et fonctions encaisse) dans l'ordre des dépendances "
                    "et enregistre les valeurs dans le classeur ; le reste du fichier est conservé tel quel.")
    parser.add_argument("book", metavar="CLASSEUR", type=Path, help="classeur .xlsx ou .xlsm")
    parser.add_argument("-o", "--output", metavar="SORTIE", type=Path, help="fichier (ou dossier) de sortie ; "
                        "sans -o le classeur est remplacé (écriture atomique)")
    parser.add_argument("--as-of", metavar="DATE", help="date d'arrêté pour ce calcul (AAAA-MM-JJ, JJ/MM/AAAA ou JJ.MM.AAAA), à la place de DateArrete ; "
                        "la cellule DateArrete du classeur n'est pas modifiée")
    parser.add_argument("--rules", metavar="DOSSIER", type=Path, help="dossier des règles YAML pour les fonctions qui en dépendent")
    parser.set_defaults(handler=_recalc)


def _recalc(args) -> int:
    import gc

    from encaisse.recalc import recalc

    # recalc() turns the cyclic garbage collector off while it works and back on at its end; the
    # first collection then walks every object the imports and the formula library left (0,04 s).
    # When the process ends right after (the `encaisse` command), the collector stays off.
    if args.rules is not None and not args.rules.is_dir():
        raise EncaisseError(f"Dossier de règles introuvable : {args.rules} (option --rules)")
    enabled = gc.isenabled()
    gc.disable()
    try:
        report = recalc(args.book, out=args.output, as_of=args.as_of, rules_dir=args.rules)
    finally:
        if enabled and not args.exiting:
            gc.enable()
    print(report.summary())
    return 0


SUBCOMMANDS.append(_add_recalc)


def _add_rules(sub) -> None:
    rules = sub.add_parser("rules", help="vérifier et expliquer les règles YAML")
    commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = commands.add_parser("check", help="valider un dossier de règles (fichier:ligne:colonne par problème)")
    check.add_argument("folder", metavar="DOSSIER", nargs="?", default=DEFAULT_RULES_DIR,
                       help="dossier des règles YAML (défaut : les règles fournies avec encaisse)")
    check.set_defaults(handler=_rules_check)
    explain = commands.add_parser("explain", help="politique effective d'un client et d'où vient chaque valeur")
    explain.add_argument("book", metavar="CLASSEUR", help="classeur .xlsx ou .xlsm (tables Clients, Factures, Règlements)")
    explain.add_argument("customer", metavar="CODE_CLIENT", help="code du client dans la table Clients (ex. C0001)")
    explain.add_argument("--rules", metavar="DOSSIER", help="dossier des règles (défaut : DossierRegles du classeur, sinon rules/)")
    _as_of_argument(explain)
    explain.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard (clés anglaises, "
                         "nombres, fractions pour les taux, dates ISO)")
    explain.set_defaults(handler=_rules_explain)


def _rules_check(args) -> int:
    from encaisse.letters.checks import check_letter_templates
    from encaisse.rules import TEMPLATES_DIR, check, format_problem

    files, problems = check(args.folder)
    problems = problems + check_letter_templates(Path(args.folder) / TEMPLATES_DIR)
    if problems:
        from encaisse.errors import listed

        problems = list(dict.fromkeys(problems))  # a value read as many items (a text taken for a list) counts once
        for line in listed([format_problem(p) for p in problems]):
            print(line, file=sys.stderr)
        count = len(problems)
        print(f"Règles invalides : {count} problème{'s' if count > 1 else ''}", file=sys.stderr)
        return 1
    print(f"Règles valides : {len(files)} fichiers")
    return 0


def _rules_explain(args) -> int:
    import json

    from encaisse.jobs.explain import explain_customer

    explanation = explain_customer(args.book, args.customer, args.rules, _as_of(args.as_of))
    print(json.dumps(explanation.to_json(), ensure_ascii=False, indent=2) if args.json else explanation.text())
    return 0


SUBCOMMANDS.append(_add_rules)


def _add_template(sub) -> None:
    parser = sub.add_parser(
        "template", help="écrit le classeur modèle (vide) ou le classeur de démonstration",
        description="Écrit un classeur .xlsx avec toutes les tables (Factures, Règlements, Clients, Dettes, Activité, "
                    "Trésorerie, Journal) et la feuille Paramètres. Avec --sample, les tables sont remplies de données "
                    "fictives réalistes (Atelier Dupont SAS, arrêté au 31/10/2026), identiques d'une fois à l'autre.")
    parser.add_argument("out", metavar="SORTIE", type=_xlsx_path, help="fichier .xlsx à écrire (un fichier existant n'est "
                        "remplacé qu'avec --force)")
    parser.add_argument("--force", action="store_true", help="remplacer SORTIE s'il existe déjà (ses données sont perdues)")
    parser.add_argument("--sample", action="store_true", help="remplir avec les données de démonstration")
    parser.add_argument("--invoices", metavar="N", type=_invoice_count, help="nombre de factures (défaut 10 000, au moins 100 ; implique --sample)")
    parser.add_argument("--seed", metavar="GRAINE", type=_seed, help="graine du générateur (défaut 7 ; implique --sample)")
    parser.set_defaults(handler=_template)


def _xlsx_path(text: str) -> Path:
    if not text.lower().endswith(".xlsx"):
        raise argparse.ArgumentTypeError(f"« {text} » : le fichier doit se terminer par .xlsx")
    return Path(text)


def _integer(text: str) -> int:
    try:
        return int(text.replace("_", "").replace(" ", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {text} » n'est pas un nombre entier") from None


def _at_least(minimum: int, what: str = ""):
    def check(text: str) -> int:
        count = _integer(text)
        if count < minimum:
            raise argparse.ArgumentTypeError(f"{count} : au moins {minimum}{what}")
        return count
    return check


MAX_SAMPLE_INVOICES = 1_000_000  # an Excel sheet holds 1 048 576 rows: room for the credit notes and later invoices too


def _invoice_count(text: str) -> int:
    count = _integer(text)
    if not 100 <= count <= MAX_SAMPLE_INVOICES:
        raise argparse.ArgumentTypeError(f"{count} : entre 100 et 1 000 000 factures (une feuille Excel a 1 048 576 lignes)")
    return count


def _seed(text: str) -> int:
    seed = _integer(text)
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"{seed} : la graine est un entier de 0 à 4 294 967 295")
    return seed


def _template(args) -> int:
    from encaisse.authoring.template import summary, write_template

    if args.out.is_dir():
        raise EncaisseError(f"{args.out} est un dossier : donnez le nom du fichier .xlsx à écrire")
    if args.out.exists() and not args.force:
        raise EncaisseError(f"{args.out} existe déjà : encaisse template ne remplace pas un classeur existant, dont les "
                            "données seraient perdues. Choisissez un autre nom, ou ajoutez --force pour le remplacer.")
    ledger = None
    if args.sample or args.invoices is not None or args.seed is not None:
        from encaisse.authoring.sample import generate_sample

        ledger = generate_sample(invoices=args.invoices or 10000, seed=7 if args.seed is None else args.seed)
    path = write_template(args.out, ledger)
    print(summary(path, ledger))
    return 0


SUBCOMMANDS.append(_add_template)


def _add_kpi(sub) -> None:
    parser = sub.add_parser(
        "kpi", help="affiche tous les indicateurs (DSO, balance âgée, CEI, DPO, DIO, marge…) à la date d'arrêté",
        description="Calcule tous les indicateurs du poste clients et de la trésorerie du classeur à la date d'arrêté "
                    "(DateArrete du classeur, ou --as-of). Avec --json : un document JSON dont les clés sont les noms "
                    "des fonctions du moteur (dso, aging, cei…).")
    parser.add_argument("book", metavar="CLASSEUR", type=Path, help="classeur .xlsx")
    _as_of_argument(parser)
    parser.add_argument("--rate", metavar="DEVISE=TAUX", action="append", default=[],
                        help="taux de change en euros pour une unité d'une autre devise (ex. --rate USD=0.92) ; répétable")
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.set_defaults(handler=_kpi)


def _kpi(args) -> int:
    import json

    from encaisse.errors import InputError, Problem
    from encaisse.kpi import kpi_summary
    from encaisse.report import kpi_report
    from encaisse.workbook import load_workbook
    from encaisse.workbook.coerce import coerce_amount

    as_of = _as_of(args.as_of)
    rates = {}
    for text in args.rate:
        code, _, value = text.partition("=")
        try:
            rate = coerce_amount(value)
        except ValueError:
            rate = None
        if not code.strip() or rate is None or not 0 < rate < 1e6:
            raise InputError([Problem("--rate", f"« {text} » : attendu DEVISE=TAUX avec un taux positif en euros pour une unité, "
                                                f"par exemple USD=0.92")], title="Option invalide")
        rates[code.strip().upper()] = rate
    ledger = load_workbook(args.book)
    if args.json:
        print(json.dumps(kpi_summary(ledger, as_of, rates=rates or None), ensure_ascii=False, indent=2))
    else:
        print(kpi_report(ledger, as_of, rates=rates or None))
    return 0


SUBCOMMANDS.append(_add_kpi)


def _add_worklist(sub) -> None:
    parser = sub.add_parser(
        "worklist", help="les actions de relance du jour, classées par priorité",
        description="Calcule les relances dues à la date d'arrêté (étapes des calendriers de relances.yaml non encore "
                    "faites selon le Journal, pauses, escalades, litiges en retard) et les classe par priorité "
                    "(pondérations de relances.yaml « priorite »). Avec --json : un document JSON (clés anglaises).")
    parser.add_argument("book", metavar="CLASSEUR", type=Path, help="classeur .xlsx ou .xlsm")
    _as_of_argument(parser)
    parser.add_argument("--top", metavar="N", type=_at_least(1), help="n'afficher que les N actions les plus prioritaires")
    parser.add_argument("--rules", metavar="DOSSIER", help="dossier des règles (défaut : DossierRegles du classeur, sinon rules/)")
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.set_defaults(handler=_worklist)


def _worklist(args) -> int:
    import json

    from encaisse.jobs.dunning import day_dunning
    from encaisse.report import worklist_document, worklist_report

    ledger, run, _ = day_dunning(args.book, args.rules, _as_of(args.as_of))
    for warning in run.warnings:
        print(f"Attention : {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(worklist_document(run, args.top), ensure_ascii=False, indent=2))
    else:
        print(worklist_report(run, ledger.params.company_name, args.top))
    return 0


SUBCOMMANDS.append(_add_worklist)


def _add_forecast(sub) -> None:
    parser = sub.add_parser(
        "forecast", help="prévision de trésorerie à 13 semaines, alertes, scénarios « et si » et actions classées",
        description="Plan de trésorerie hebdomadaire à partir de la date d'arrêté : encaissements clients aux dates de paiement "
                    "prévues (fourchette P10–P90), dettes, flux récurrents, solde de clôture, alertes sous le coussin de sécurité "
                    "et actions classées par impact / effort (règles : tresorerie.yaml).")
    parser.add_argument("book", metavar="CLASSEUR", type=Path, help="classeur .xlsx")
    _as_of_argument(parser)
    parser.add_argument("--weeks", metavar="N", type=_at_least(1), help="nombre de semaines (défaut : horizon_semaines des règles, 13)")
    parser.add_argument("--rules", metavar="DOSSIER", help="dossier des règles (défaut : DossierRegles du classeur, sinon rules/)")
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.add_argument("--plot", metavar="PNG", type=Path, help="écrit le graphique de la prévision (PNG)")
    parser.add_argument("--what-if", metavar="LEVIERS", help="scénario des règles (ex. objectifs_6_mois) ou leviers "
                        "« dso=-15,dpo=+10,dio=-20,marge=+2,acompte=30 »")
    parser.add_argument("--backtest", action="store_true", help="rejoue la prévision sur l'historique du classeur et affiche sa précision")
    parser.set_defaults(handler=_forecast)


def _forecast(args) -> int:
    import json

    from encaisse.jobs.forecast import run_forecast

    outcome = run_forecast(args.book, as_of=_as_of(args.as_of), weeks=args.weeks, rules_dir=args.rules, what_if=args.what_if,
                           plot=args.plot, backtest=args.backtest)
    if args.json:
        print(json.dumps(outcome.document(), ensure_ascii=False, indent=2))
    else:
        print(outcome.text())
    return 0


SUBCOMMANDS.append(_add_forecast)


def _add_demo(sub) -> None:
    parser = sub.add_parser(
        "demo", help="le travail principal de bout en bout sur le classeur de démonstration",
        description="Charge et valide xlsx/encaisse-demo.xlsx, affiche la synthèse du poste clients et les "
                    "indicateurs, vérifie les règles par défaut, affiche les 10 relances du jour les plus prioritaires "
                    "et recalcule le classeur dans un dossier de sortie.")
    parser.add_argument("--book", metavar="CLASSEUR", type=Path, default=DEMO_WORKBOOK,
                        help="classeur à utiliser (défaut : le classeur de démonstration)")
    parser.add_argument("--out", metavar="DOSSIER", type=Path, default=Path("out"),
                        help="dossier où écrire le classeur recalculé (défaut : ./out)")
    parser.set_defaults(handler=_demo)


def _demo(args) -> int:
    import time

    from encaisse.fr import number
    from encaisse.jobs.dunning import day_dunning
    from encaisse.recalc import recalc
    from encaisse.report import demo_summary, worklist_report
    from encaisse.rules import check
    from encaisse.workbook import load_workbook

    started = time.perf_counter()
    ledger = load_workbook(args.book)
    if ledger.params.as_of is None:  # demo has no --as-of: the workbook must carry its date
        raise EncaisseError(f"Date d'arrêté absente dans {args.book.name} : renseignez la cellule DateArrete (feuille Paramètres)")
    print(demo_summary(ledger))
    files, problems = check(DEFAULT_RULES_DIR)
    if problems:
        raise EncaisseError("Les règles par défaut sont invalides :\n" + "\n".join(f"  - {p}" for p in problems))
    print(f"\nRègles par défaut valides ({len(files)} fichiers, {DEFAULT_RULES_DIR}).")
    _, run, _ = day_dunning(args.book, str(DEFAULT_RULES_DIR), ledger=ledger)
    print("\n" + worklist_report(run, None, top=10))
    for warning in run.warnings:
        print(f"Attention : {warning}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{args.book.stem}-recalcule{args.book.suffix.lower()}"
    if target.resolve() == args.book.resolve():  # never write over the user's own workbook
        raise EncaisseError(f"Le dossier de sortie {args.out} contient déjà {target.name} : choisissez un autre dossier (--out)")
    report = recalc(args.book, out=target)
    print("\n" + report.summary())
    from encaisse.jobs.forecast import run_forecast
    from encaisse.jobs.letters import run_letters

    chart = args.out / f"{args.book.stem}-prevision.png"
    print("\n" + run_forecast(args.book, ledger=ledger, plot=chart).text())
    # a dry run: the day's letters and e-mails are written, nothing is sent or journaled
    print("\n" + run_letters(args.book, args.out / "relances", progress=False).summary())
    elapsed = number(time.perf_counter() - started, 1)
    print(f"\nDémonstration terminée en {elapsed} s. Le tableau de bord recalculé est dans {target}.")
    return 0


SUBCOMMANDS.append(_add_demo)


def _add_letters(sub) -> None:
    parser = sub.add_parser(
        "letters", help="écrit (et avec --send, envoie) les relances du jour : lettres PDF, e-mails, fiches d'appel",
        description="Pour chaque client à relancer à la date d'arrêté (une communication par client, à l'étape la plus "
                    "haute due), écrit dans DOSSIER/AAAA-MM-JJ/ la lettre PDF (courrier, recommandé), l'e-mail .eml "
                    "ou la fiche d'appel. Sans --send, simulation : rien n'est envoyé ni inscrit au journal. Avec "
                    "--send, les e-mails partent par SMTP et le Journal du classeur reçoit une ligne par facture.")
    parser.add_argument("book", metavar="CLASSEUR", type=Path, help="classeur .xlsx ou .xlsm")
    parser.add_argument("--out", metavar="DOSSIER", type=Path, required=True, help="dossier de sortie (un sous-dossier par jour)")
    parser.add_argument("--as-of", metavar="DATE", help="date d'arrêté AAAA-MM-JJ ou JJ/MM/AAAA (défaut : DateArrete du classeur)")
    parser.add_argument("--rules", metavar="DOSSIER", help="dossier des règles (défaut : DossierRegles du classeur, sinon rules/)")
    parser.add_argument("--send", action="store_true", help="envoyer les e-mails (SMTP) et inscrire les relances au Journal")
    parser.add_argument("--force", action="store_true", help="refaire les relances déjà inscrites au Journal aujourd'hui")
    parser.set_defaults(handler=_letters)


def _letters(args) -> int:
    import datetime as dt

    from encaisse.jobs.letters import run_letters

    sent_at = dt.datetime.now(dt.timezone.utc).astimezone() if args.send else None  # the adapter dates what it sends
    run = run_letters(args.book, args.out, as_of=_as_of(args.as_of), send=args.send, force=args.force,
                      rules_dir=args.rules, sent_at=sent_at)
    print(run.summary())
    return 1 if any(p.status == "echec" for p in run.produced) or run.problems else 0


SUBCOMMANDS.append(_add_letters)


def main(argv: list[str] | None = None, *, exiting: bool = False) -> int:
    """Run one command; `exiting` when the process ends right after (the console command).

    Whatever happens, the user gets a French message and an exit code — 1 for bad input or a
    failure, 2 for a usage error (argparse), 130 for Ctrl+C — and a traceback only with --debug.
    """
    _console_safe(sys.stdout)
    _console_safe(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.exiting = exiting
    try:
        return int(args.handler(args) or 0)
    except EncaisseError as error:
        _say(str(error))
        return 1
    except BrokenPipeError:  # `encaisse kpi … --json | head`: the reader has gone, no traceback
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        _say("Interrompu (Ctrl+C) : aucun fichier n'a été laissé à moitié écrit.")
        return 130
    except MemoryError:
        _say("Mémoire insuffisante pour traiter ce classeur.")
        return 1
    except OSError as error:  # a full disk, a read-only folder, stdout on a full device…
        if args.debug:
            raise
        _silence_stdout()
        _say(f"Opération impossible sur {error.filename or 'la sortie standard'} : {os_reason(error)}.")
        return 1
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as error:  # noqa: BLE001 - the last guard: never a traceback for a person
        # BaseException, not Exception: a panic in a Rust extension (IronCalc, calamine) reaches
        # Python as pyo3's PanicException, which derives from BaseException.
        if args.debug:
            raise
        _say(f"Erreur inattendue ({type(error).__name__}) : encaisse n'a pas pu terminer. "
             "Relancez avec --debug pour le détail technique et signalez-le nous.")
        return 1


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the final flush of what is left cannot fail again."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _console_safe(stream) -> None:
    """Never fail on a character the console cannot show (a cp1252 or ASCII console, output
    redirected on Windows): spaces of the French number format become plain spaces, others '?'."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    if not hasattr(stream, "reconfigure"):
        return
    if encoding in ("utf8", "utf16", "utf32"):
        try:  # a file name that is not UTF-8 (b'caf\xe9.xlsx' on Linux) is shown as its own bytes, as `ls` shows it
            stream.reconfigure(errors="surrogateescape")
        except (ValueError, OSError):
            pass
        return
    try:
        stream.reconfigure(errors="encaisse-console")
    except (ValueError, OSError):
        pass


def _console_replace(error: UnicodeEncodeError):
    text = error.object[error.start:error.end]
    return "".join(" " if ch in "\u00a0\u202f\u2009" else "?" for ch in text), error.end


import codecs  # noqa: E402  (registered once, at import: the handler above must exist first)

codecs.register_error("encaisse-console", _console_replace)


def run() -> None:
    """The `encaisse` console command: main(), then leave without tearing the interpreter down.

    Once the output is flushed there is nothing left to do, but a normal exit would free the
    millions of cell values read from a big workbook one by one (a quarter of a second on
    100 000 invoices, an eighth of `encaisse recalc`'s time). Every file has been written and
    closed and every thread joined by then (recalc writes through a temp file and a rename).
    """
    import os

    import signal

    def stopped(signum, frame):  # a stop from outside: unwind like Ctrl+C, so temporary files are removed
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stopped)
    code = main(exiting=True)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
