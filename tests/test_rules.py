"""Rules: default rules valid, one test per error kind with its exact file:line:column, explain, legal data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import xlsxwriter
from jsonschema import Draft202012Validator

from encaisse.cli import main
from encaisse.rules import load_legal
from encaisse.rules.legal import EcbRate, LegalData, LegalDataError, LegalRate
from encaisse.rules.records import LimitAction, RiskPolicy
from encaisse.rules import CHANNELS as rules_channels, DEFAULT_RULES_DIR, FILES, RulesError, check, load
from encaisse.tables import CHANNELS
from encaisse.rules.records import Factor, ScoringPolicy

# A small complete rule set whose line numbers the tests below rely on (line numbers in comments).
CRAFTED = {
    "conditions.yaml": """\
segment_par_defaut: PME
segments:
  PME:
    delai:
      jours: 45
      fin_de_mois: true
    acompte_pct: 30
  TPE:
    delai: {jours: 30, fin_de_mois: false}
    acompte_pct: 0
par_classe:
  D:
    delai: {jours: 30, fin_de_mois: false}
    acompte_pct: 50
escompte:
  taux_pct: 1.5
  delai_jours: 10
penalites_retard:
  mode: bce_plus_10
  indemnite_forfaitaire: 40
""",
    "relances.yaml": """\
calendriers:
  standard:
    etapes:
      - id: amiable
        jour: 3
        canal: email
        modele: amiable.eml.j2
        ton: amical
      - id: ferme
        jour: 10
        canal: email
        modele: ferme.eml.j2
        ton: ferme
  renforce:
    etapes:
      - {id: amiable, jour: 1, canal: email, modele: amiable.eml.j2, ton: ferme}
affectation:
  par_defaut: standard
  par_classe:
    D: renforce
pauses:
  litige_ouvert: true
  echeancier_respecte: true
escalade:
  delai_mise_en_demeure_jours: 15
  voies: []
""",
    "litiges.yaml": """\
categories:
  prix: {delai_resolution_jours: 8, equipe: ADV, effet_relance: suspendre}
  qualité: {delai_resolution_jours: 30, equipe: Qualité, effet_relance: suspendre}
  administratif: {delai_resolution_jours: 10, equipe: Compta, effet_relance: suspendre}
  date: {delai_resolution_jours: 8, equipe: Compta, effet_relance: continuer}
  manquant: {delai_resolution_jours: 15, equipe: Logistique, effet_relance: suspendre}
  double facturation: {delai_resolution_jours: 8, equipe: Compta, effet_relance: suspendre}
""",
    "risque.yaml": """\
limites_par_classe:
  B: 20000
  D: 2000
actions:
  - {au_dela_pct: 80, action: avertir}
  - {au_dela_pct: 100, action: exiger acompte}
  - {au_dela_pct: 120, action: bloquer commandes}
""",
    "scoring.yaml": """\
facteurs:
  retard_moyen_jours: {poids: 30, meilleur: 0, pire: 60}
  part_en_retard_pct: {poids: 20, meilleur: 0, pire: 100}
  factures_impayees: {poids: 20, meilleur: 0, pire: 5}
  taux_litige_pct: {poids: 10, meilleur: 0, pire: 25}
  volume_affaires: {poids: 10, meilleur: 50000, pire: 0}
  note_externe: {poids: 10, meilleur: 100, pire: 0}
classes:
  - {classe: A, score_min: 80, libelle: Solide}
  - {classe: B, score_min: 60, libelle: Ordinaire}
  - {classe: C, score_min: 40}
  - {classe: D, score_min: 0, libelle: À risque}
""",
    "legal.yaml": """\
taux_bce:
  - {date: 2022-12-21, taux: 2.50, verifie: true, source: BCE}
  - {date: 2023-06-21, taux: 4.00, verifie: true, source: BCE}
  - {date: 2025-06-11, taux: 2.15, verifie: true, source: BCE}
taux_interet_legal:
  - {semestre: 2023-S1, professionnels: 2.06, verifie: true, source: JO}
  - {semestre: 2023-S2, professionnels: 4.22, verifie: true, source: JO}
  - {semestre: 2026-S2, professionnels: 2.62, verifie: false, source: à vérifier}
penalites: {majoration_points_bce: 10, multiple_minimum_taux_legal: 3, indemnite_forfaitaire: 40}
delais_maximum: {jours_date_facture: 60, jours_fin_de_mois: 45}
""",
    "tresorerie.yaml": """\
horizon_semaines: 13
coussin: {mois_opex: 1.5, mois_de_reference: 3}
paiements:
  jour_de_reglement: lundi
  a_echeance: [fiscal, social, salaires]
ventes_a_venir: {inclure: true, mois_de_reference: 3}
litiges: {traitement: apres_resolution, delai_apres_resolution_jours: 7}
echeanciers: {traitement: echeances, nombre_echeances: 3, intervalle_jours: 30}
creances_douteuses: {jours_de_retard: 120}
categories_flux: {salaires: salaires_charges, fiscal: impots_taxes, financement: emprunts}
priorites_dettes: {fiscal: impots_taxes, social: salaires_charges, salaires: salaires_charges}
scenarios:
  objectifs:
    dso: -15
    acompte: 30
actions:
  - id: relance_top10
    libelle: Relancer
    type: relance_prioritaire
    nombre: 10
    taux_succes_pct: 60
    delai_jours: 10
    effort: faible
  - {id: fournisseurs, libelle: Délais, type: delai_fournisseurs, jours: 10, effort: moyen}
backtest: {mois: 6, semaines_evaluees: 4}
""",
}


def write_rules(folder: Path, **changes: tuple[str, str]) -> Path:
    """The crafted rules in `folder`; `changes` maps a file stem to (old text, new text) replaced once."""
    (folder / "modeles").mkdir(parents=True, exist_ok=True)
    for template in ("amiable.eml.j2", "ferme.eml.j2"):
        (folder / "modeles" / template).write_text("Objet : relance\n\nBonjour {{ client.raison_sociale }},\n", encoding="utf-8")
    for name, text in CRAFTED.items():
        stem = name.removesuffix(".yaml")
        if stem in changes:
            old, new = changes[stem]
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[str]:
    files, problems = check(folder)
    return [f"{p.where}: {p.message}" for p in problems]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "regles"


# --- the default rules ----------------------------------------------------------------------


def test_default_rules_are_valid_and_reproduce_the_seed_policy():
    files, problems = check(DEFAULT_RULES_DIR)
    assert problems == []
    assert len(files) == len(FILES) == 7
    rules = load(DEFAULT_RULES_DIR)
    standard = rules.dunning.timelines["standard"]
    assert [(s.id, s.offset, s.channel, s.tone) for s in standard.steps] == [
        ("courtoisie", -5, "email", "courtois"),
        ("amiable", 3, "email", "amical"),
        ("ferme", 10, "email", "ferme"),
        ("mise_en_demeure", 20, "recommande", "formel"),
    ]
    assert standard.steps[1].payment_link and standard.steps[2].phone_task
    assert [s.label for s in standard.steps][-1] == "Mise en demeure (lettre recommandée AR)"  # labels for people: the rules'
    assert [s.offset for s in rules.dunning.timelines["souple"].steps] == [5, 15, 30]
    assert [s.offset for s in rules.dunning.timelines["renforce"].steps] == [-5, 1, 15, 30]
    assert rules.dunning.timeline_for("PME", "D")[0].name == "renforce"
    assert rules.dunning.timeline_for("PME", "A")[0].name == "souple"
    assert rules.dunning.timeline_for("Secteur public", "B") == (rules.dunning.timelines["souple"], "segment")
    assert rules.dunning.timeline_for("PME", "B") == (standard, "defaut")
    segments = rules.payment.segments
    assert sorted(segments) == ["Grand compte", "PME", "Secteur public", "TPE"]
    assert (segments["PME"].terms.days, segments["PME"].terms.end_of_month, segments["PME"].terms.label) == (45, True, "45 jours fin de mois")
    assert segments["TPE"].terms.label == "30 jours net"
    assert [segments[s].deposit for s in ("TPE", "PME", "Grand compte")] == [0.30, 0.30, 0.0]
    assert [(t.from_amount, t.deposit) for t in rules.payment.deposit_tiers] == [(10000.0, 0.40), (50000.0, 0.50)]
    assert (rules.payment.discount.rate, rules.payment.discount.days) == (0.015, 10)
    assert (rules.payment.penalty.mode, rules.payment.penalty.recovery_indemnity) == ("bce_plus_10", 40.0)
    assert rules.disputes["prix"].resolution_days == 8
    assert set(rules.disputes) == {"prix", "qualité", "administratif", "date", "manquant", "double facturation"}
    assert [r.id for r in rules.dunning.escalation.routes] == ["procedure_simplifiee", "injonction_de_payer", "societe_de_recouvrement"]
    assert rules.dunning.escalation.routes[0].max_amount == 5000
    # The records C2's scoring and risk computations take, built from the YAML.
    assert rules.scoring == ScoringPolicy(
        days_late=Factor(30, 0, 60), late_share=Factor(20, 0, 1), unpaid_count=Factor(20, 0, 5),
        dispute_rate=Factor(10, 0, 0.25), volume=Factor(10, 50000, 0), external_rating=Factor(10, 100, 0),
        classes=(("A", 80.0), ("B", 60.0), ("C", 40.0), ("D", 0.0)), neutral_score=60.0, window_days=365,
    )
    assert rules.risk == RiskPolicy(
        class_limits=(("A", 50000.0), ("B", 25000.0), ("C", 10000.0), ("D", 2000.0)),
        actions=(LimitAction(0.8, "avertir"), LimitAction(1.0, "exiger acompte"), LimitAction(1.2, "bloquer commandes")),
    )


def test_every_rule_file_names_its_schema_and_every_schema_is_draft_2020_12():
    for name in FILES:
        first = (DEFAULT_RULES_DIR / name).read_text(encoding="utf-8").splitlines()[0]
        schema_name = name.replace(".yaml", ".schema.json")
        assert first == f"# yaml-language-server: $schema=schema/{schema_name}"
        schema = json.loads((DEFAULT_RULES_DIR / "schema" / schema_name).read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_every_template_of_the_default_timelines_exists():
    rules = load(DEFAULT_RULES_DIR)
    used = {s.template for t in rules.dunning.timelines.values() for s in t.steps}
    assert used == {"relance_courtoise.eml.j2", "relance_amiable.eml.j2", "relance_ferme.eml.j2",
                    "appel_relance.txt.j2", "mise_en_demeure.txt.j2"}
    for template in used:
        text = (DEFAULT_RULES_DIR / "modeles" / template).read_text(encoding="utf-8")
        assert "{{ total" in text or "{{ total_exigible" in text
    letter = (DEFAULT_RULES_DIR / "modeles" / "mise_en_demeure.txt.j2").read_text(encoding="utf-8")
    assert "penalites.montant" in letter and "40 €" in letter and "{{ delai_jours }}" in letter


def test_crafted_rules_are_valid_and_keep_positions(folder):
    rules = load(write_rules(folder))
    base = folder.as_posix()
    assert rules.where("relances.yaml", "calendriers", "standard", "etapes", 1, "jour") == f"{base}/relances.yaml:10:15"
    assert rules.dunning.timelines["standard"].steps[1].where == f"{base}/relances.yaml:9:9"
    assert rules.payment.segments["PME"].terms.where == f"{base}/conditions.yaml:5:7"
    assert rules.payment.by_class["D"].deposit == 0.5
    assert rules.legal.penalty_rate(dt.date(2026, 10, 31)) == 0.1215


# --- one test per error kind ----------------------------------------------------------------


def test_wrong_type(folder):
    write_rules(folder, conditions=("      jours: 45\n", "      jours: quarante\n"))
    assert problems_of(folder) == [f"{folder.as_posix()}/conditions.yaml:5:14: « jours » : « quarante » n'est pas un nombre entier"]


def test_empty_value_points_at_its_key(folder):
    write_rules(folder, conditions=("  taux_pct: 1.5\n", "  taux_pct:\n"))
    assert problems_of(folder) == [f"{folder.as_posix()}/conditions.yaml:16:3: « taux_pct » : valeur vide, un nombre attendu"]


def test_missing_required_key(folder):
    write_rules(folder, relances=("        ton: ferme\n", ""))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/relances.yaml:9:9: clé obligatoire « ton » absente dans « etapes » (élément 2)"
    ]


def test_unknown_key_with_suggestion(folder):
    write_rules(folder, conditions=("  delai_jours: 10\n", "  delai_jour: 10\n"))
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/conditions.yaml:16:3: clé obligatoire « delai_jours » absente dans « escompte »",
        f"{base}/conditions.yaml:17:3: clé inconnue « delai_jour » dans « escompte », vouliez-vous dire « delai_jours » ?",
    ]


def test_unknown_key_without_close_match_lists_the_allowed_keys(folder):
    write_rules(folder, risque=("actions:\n", "plafond: 3\nactions:\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/risque.yaml:4:1: clé inconnue « plafond » (clés permises : limites_par_classe, actions)"
    ]


def test_unknown_enum_value_with_suggestion(folder):
    write_rules(folder, relances=("        canal: email\n        modele: ferme", "        canal: emial\n        modele: ferme"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/relances.yaml:11:16: « canal » : « emial » n'est pas une valeur permise, vouliez-vous dire "
        "« email » ? (valeurs permises : email, telephone, courrier, recommande)"
    ]


def test_duplicate_key(folder):
    write_rules(folder, risque=("  D: 2000\n", "  D: 2000\n  B: 30000\n"))
    assert problems_of(folder) == [f"{folder.as_posix()}/risque.yaml:4:3: clé « B » en double (déjà définie ligne 2)"]


def test_offsets_not_increasing(folder):
    write_rules(folder, relances=("        jour: 10\n", "        jour: 3\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/relances.yaml:10:15: étape « ferme » : le jour (3) doit être strictement supérieur "
        "à celui de l'étape précédente « amiable » (3)"
    ]


def test_duplicate_step_id(folder):
    write_rules(folder, relances=("      - id: ferme\n", "      - id: amiable\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/relances.yaml:9:13: identifiant d'étape « amiable » en double dans le calendrier "
        "« standard » (déjà utilisé ligne 4)"
    ]


def test_missing_template(folder):
    write_rules(folder, relances=("        modele: ferme.eml.j2\n", "        modele: ferme.eml\n"))
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/relances.yaml:12:17: modèle « ferme.eml » introuvable dans {base}/modeles/, vouliez-vous dire « ferme.eml.j2 » ?"
    ]


def test_template_must_suit_the_channel(folder):
    write_rules(folder, relances=("        canal: email\n        modele: ferme", "        canal: recommande\n        modele: ferme"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/relances.yaml:12:17: étape « ferme » : le canal « recommande » demande un modèle de "
        "document (pas .eml), pas « ferme.eml.j2 »"
    ]


def test_undefined_segment_and_class(folder):
    write_rules(folder, relances=("    D: renforce\n", "    E: renforce\n  par_segment:\n    PMI: standard\n"))
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/relances.yaml:20:5: classe de risque « E » non définie dans scoring.yaml (classes définies : A, B, C, D)",
        f"{base}/relances.yaml:22:5: segment « PMI » non défini dans conditions.yaml, vouliez-vous dire « PME » ? "
        "(segments définis : PME, TPE)",
    ]


def test_undefined_default_segment_and_timeline(folder):
    write_rules(folder, conditions=("segment_par_defaut: PME\n", "segment_par_defaut: ETI\n"),
                relances=("  par_defaut: standard\n", "  par_defaut: standart\n"))
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/conditions.yaml:1:21: segment « ETI » non défini dans « segments » (segments définis : PME, TPE)",
        f"{base}/relances.yaml:18:15: calendrier « standart » non défini dans « calendriers », vouliez-vous dire "
        "« standard » ? (calendriers définis : standard, renforce)",
    ]


def test_percentage_out_of_range(folder):
    write_rules(folder, conditions=("    acompte_pct: 30\n", "    acompte_pct: 130\n"))
    assert problems_of(folder) == [f"{folder.as_posix()}/conditions.yaml:7:18: « acompte_pct » : 130 est supérieur au maximum permis (100)"]


def test_terms_above_the_legal_maximum(folder):
    write_rules(folder, conditions=("      jours: 45\n", "      jours: 50\n"))
    write_rules(folder / "net", conditions=("    delai: {jours: 30, fin_de_mois: false}\n    acompte_pct: 0\n",
                                            "    delai: {jours: 61, fin_de_mois: false}\n    acompte_pct: 0\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/conditions.yaml:5:14: délai de 50 jours fin de mois supérieur au maximum légal "
        "de 45 jours fin de mois (code de commerce L441-10)"
    ]
    assert problems_of(folder / "net") == [
        f"{(folder / 'net').as_posix()}/conditions.yaml:9:20: délai de 61 jours supérieur au maximum légal de 60 jours "
        "à compter de la date de facture (code de commerce L441-10)"
    ]


def test_contractual_penalty_rate_below_three_times_the_legal_rate(folder):
    write_rules(folder, conditions=("  mode: bce_plus_10\n", "  mode: contractuel\n  taux_contractuel_pct: 7.5\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/conditions.yaml:20:25: taux contractuel de 7,5\u00a0% inférieur au minimum légal de 7,86\u00a0% "
        "(3 × taux de l'intérêt légal de 2,62\u00a0% du semestre 2026-S2, code de commerce L441-10)"
    ]
    write_rules(folder, conditions=("  mode: bce_plus_10\n", "  mode: contractuel\n  taux_contractuel_pct: 7.86\n"))
    assert problems_of(folder) == []
    assert load(folder).payment.penalty.contractual_rate == 0.0786


def test_contractual_mode_without_a_rate(folder):
    write_rules(folder, conditions=("  mode: bce_plus_10\n", "  mode: contractuel\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/conditions.yaml:19:9: mode « contractuel » : clé « taux_contractuel_pct » obligatoire"
    ]


def test_yaml_syntax_error_with_its_position(folder):
    write_rules(folder, relances=("        canal: email\n        modele: ferme", "        canal: email: oui\n        modele: ferme"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/relances.yaml:11:21: erreur de syntaxe YAML : « : » inattendu "
        "(une valeur contenant « : » doit être entre guillemets)"
    ]


def test_tab_indentation(folder):
    write_rules(folder, risque=("  B: 20000\n", "\tB: 20000\n"))
    assert problems_of(folder) == [
        f"{folder.as_posix()}/risque.yaml:2:1: erreur de syntaxe YAML : tabulation interdite : indentez avec des espaces"
    ]


def test_empty_file_and_wrong_root(folder):
    write_rules(folder)
    (folder / "risque.yaml").write_text("# rien\n", encoding="utf-8")
    (folder / "litiges.yaml").write_text("- prix\n", encoding="utf-8")
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/litiges.yaml:1:1: le fichier doit contenir une liste de clés « clé: valeur », pas une liste",
        f"{base}/risque.yaml:1:1: clé obligatoire « actions » absente",
        f"{base}/risque.yaml:1:1: clé obligatoire « limites_par_classe » absente",
    ]


def test_invalid_date(folder):
    write_rules(folder, legal=("date: 2023-06-21", "date: 2023-06-31"))
    assert problems_of(folder) == [f"{folder.as_posix()}/legal.yaml:3:12: date invalide « 2023-06-31 »"]


def test_scoring_classes_and_risk_thresholds_in_order(folder):
    write_rules(folder, scoring=("{classe: D, score_min: 0, libelle: À risque}", "{classe: D, score_min: 45}"),
                risque=("{au_dela_pct: 120,", "{au_dela_pct: 90,"))
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/risque.yaml:7:19: les seuils d'action doivent être strictement croissants (90\u00a0% après 100\u00a0%)",
        f"{base}/scoring.yaml:12:28: classe « D » : score_min (45) doit être strictement inférieur à celui de la classe "
        "précédente « C » (40)",
        f"{base}/scoring.yaml:12:28: la dernière classe « D » doit avoir score_min: 0 pour que tout score ait une classe",
    ]


def test_missing_and_unknown_files(folder):
    write_rules(folder)
    (folder / "litiges.yaml").unlink()
    (folder / "relance.yaml").write_text("a: 1\n", encoding="utf-8")
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/litiges.yaml: fichier de règles absent",
        f"{base}/relance.yaml: fichier de règles inconnu, vouliez-vous dire « relances.yaml » ? (fichiers attendus : "
        "conditions.yaml, relances.yaml, litiges.yaml, risque.yaml, scoring.yaml, legal.yaml, tresorerie.yaml)",
    ]


def test_several_errors_in_several_files_are_reported_together_in_order(folder):
    write_rules(
        folder,
        relances=("        jour: 10\n", "        jour: 2\n"),
        conditions=("    acompte_pct: 30\n", "    acompte_pct: -5\n"),
        risque=("  D: 2000\n", "  D: deux mille\n"),
    )
    base = folder.as_posix()
    expected = [
        f"{base}/conditions.yaml:7:18: « acompte_pct » : -5 est inférieur au minimum permis (0)",
        f"{base}/relances.yaml:10:15: étape « ferme » : le jour (2) doit être strictement supérieur à celui de "
        "l'étape précédente « amiable » (3)",
        f"{base}/risque.yaml:3:6: « D » : « deux mille » n'est pas un nombre",
    ]
    assert problems_of(folder) == expected
    with pytest.raises(RulesError) as caught:
        load(folder)
    assert [f"{p.where}: {p.message}" for p in caught.value.problems] == expected
    assert str(caught.value) == "\n".join(["Les règles contiennent des erreurs (3 problèmes) :", *expected])


def test_semantic_checks_still_run_in_a_file_with_schema_errors(folder):
    write_rules(folder, relances=("        jour: 10\n        canal: email\n", "        jour: 2\n        canal: fax\n"))
    base = folder.as_posix()
    assert problems_of(folder) == [
        f"{base}/relances.yaml:10:15: étape « ferme » : le jour (2) doit être strictement supérieur à celui de "
        "l'étape précédente « amiable » (3)",
        f"{base}/relances.yaml:11:16: « canal » : « fax » n'est pas une valeur permise (valeurs permises : email, "
        "telephone, courrier, recommande)",
    ]


# --- command line ---------------------------------------------------------------------------


def test_cli_rules_check(folder, capsys):
    write_rules(folder)
    assert main(["rules", "check", str(folder)]) == 0
    assert capsys.readouterr().out == "Règles valides : 7 fichiers\n"
    write_rules(folder, risque=("  D: 2000\n", "  D: 2000\n  B: 30000\n"))
    assert main(["rules", "check", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"{folder.as_posix()}/risque.yaml:4:3: clé « B » en double (déjà définie ligne 2)\n"
                            "Règles invalides : 1 problème\n")


def test_cli_usage_error_exits_2():
    with pytest.raises(SystemExit) as caught:
        main(["rules", "explain", "classeur.xlsx"])  # CODE_CLIENT missing
    assert caught.value.code == 2


# --- explain ----------------------------------------------------------------------------------


def _workbook(path: Path, rules_dir: str) -> Path:
    book = xlsxwriter.Workbook(str(path))
    day = book.add_format({"num_format": "dd/mm/yyyy"})
    invoices = book.add_worksheet("Factures")
    invoices.write_row(0, 0, ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"])
    invoices.write_row(1, 0, ["F1", "C2"])
    invoices.write_datetime(1, 2, dt.datetime(2026, 7, 31), day)
    invoices.write_datetime(1, 3, dt.datetime(2026, 8, 31), day)
    invoices.write_number(1, 4, 1000)
    customers = book.add_worksheet("Clients")
    customers.write_row(0, 0, ["Code client", "Raison sociale", "Segment", "Prénom", "Nom", "E-mail", "Adresse",
                               "Encours max", "Note externe", "Conditions de paiement"])
    customers.write_row(1, 0, ["C1", "Alpha SARL", "PME", "Anne", "Martin", "anne@alpha.example", "1 rue A, Lyon",
                               15000, None, "30 jours fin de mois"])
    customers.write_row(2, 0, ["C2", "Beta SA", "TPE", "Paul", "Durand", "paul@beta.example", "2 rue B, Lyon"])
    params = book.add_worksheet("Paramètres")
    params.write_row(0, 0, ["Paramètre", "Valeur"])
    params.write(1, 0, "Date d'arrêté")
    params.write_datetime(1, 1, dt.datetime(2026, 10, 31), day)
    params.write_row(2, 0, ["Dossier des règles", rules_dir])
    book.define_name("DateArrete", "='Paramètres'!$B$2")
    book.define_name("DossierRegles", "='Paramètres'!$B$3")
    book.close()
    return path


def test_explain_customer_with_overrides_from_clients(tmp_path, capsys):
    write_rules(tmp_path / "regles")
    book = _workbook(tmp_path / "classeur.xlsx", "regles")
    base = (tmp_path / "regles").as_posix()
    assert main(["rules", "explain", str(book), "C1"]) == 0
    # C1 has no invoice: neutral score 60 -> class B; Clients overrides terms (J2) and limit (H2).
    assert capsys.readouterr().out == "\n".join([
        "Client C1 – Alpha SARL",
        f"Règles : {base}",
        "",
        "Segment : PME  [Clients!C2]",
        f"Classe de risque : B – Ordinaire (score 60 au 31/10/2026)  [{base}/scoring.yaml:10]",
        "Délai de paiement : 30 jours fin de mois (conditions particulières du client)  [Clients!J2]",
        f"Acompte : 30\u00a0% (segment PME)  [{base}/conditions.yaml:7]",
        f"Escompte : 1,5\u00a0% si paiement sous 10 jours  [{base}/conditions.yaml:16]",
        f"Pénalités de retard : taux BCE 2,15\u00a0% + 10 points = 12,15\u00a0% (2026, 2e semestre)  [{base}/conditions.yaml:19, {base}/legal.yaml:4]",
        f"Indemnité forfaitaire : 40,00\u00a0€ par facture payée en retard  [{base}/conditions.yaml:20]",
        "Encours max : 15\u202f000,00\u00a0€ (propre au client)  [Clients!H2]",
        f"Encours actuel : 0,00\u00a0€ (0\u00a0% de la limite) → action : aucune  [{base}/risque.yaml:5]",
        f"Actions sur l'encours : au-delà de 80\u00a0% : avertir ; au-delà de 100\u00a0% : exiger acompte ; au-delà de 120\u00a0% : bloquer commandes  [{base}/risque.yaml:5]",
        f"Calendrier de relance : standard (calendrier par défaut)  [{base}/relances.yaml:18]",
        f"  J+3 : amiable : email, amiable.eml.j2, ton amical  [{base}/relances.yaml:4]",
        f"  J+10 : ferme : email, ferme.eml.j2, ton ferme  [{base}/relances.yaml:9]",
        f"Pause de relance : aucune pause propre au client  [{base}/relances.yaml:22]",
    ]) + "\n"


def test_explain_risky_customer_takes_its_class_policy(tmp_path, capsys):
    write_rules(tmp_path / "regles")
    book = _workbook(tmp_path / "classeur.xlsx", "ailleurs")
    base = (tmp_path / "regles").as_posix()
    assert main(["rules", "explain", str(book), "C2", "--rules", str(tmp_path / "regles"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # C2: one invoice of 1 000 € due 31/08/2026, unpaid at 31/10/2026 (61 days late). Sub-scores:
    # days late 0, late share 0, unpaid count (1-5)/(0-5) = 80, disputes 100, volume 1000/50000 = 2,
    # no external rating: (30*0 + 20*0 + 20*80 + 10*100 + 10*2) / 90 = 29.1 -> 29, class D.
    policy = document["policy"]
    assert (document["customer_id"], document["name"], document["rules"], document["as_of"], document["rules_note"]) == (
        "C2", "Beta SA", base, "2026-10-31", None)
    assert policy["risk_class"] == {"value": {"name": "D", "label": "À risque", "score": 29.0, "as_of": "2026-10-31"},
                                    "source": f"{base}/scoring.yaml:12"}
    assert policy["payment_terms"] == {"value": {"days": 30, "end_of_month": False, "origin": "risk_class", "above_legal_maximum": False},
                                       "source": f"{base}/conditions.yaml:13"}
    assert policy["deposit"] == {"value": {"rate": 0.5, "origin": "risk_class"}, "source": f"{base}/conditions.yaml:14"}
    assert policy["credit_limit"] == {"value": {"amount": 2000.0, "origin": "risk_class"}, "source": f"{base}/risque.yaml:3"}
    assert policy["exposure"] == {"value": {"amount": 1000.0, "limit_usage": 0.5, "action": "aucune"}, "source": f"{base}/risque.yaml:5"}
    assert policy["late_penalty"]["value"] == {"mode": "bce_plus_10", "rate": 0.1215, "ecb_rate": 0.0215, "margin": 0.1}
    assert policy["recovery_indemnity"] == {"value": 40.0, "source": f"{base}/conditions.yaml:20"}
    timeline = policy["dunning_timeline"]
    assert (timeline["value"]["name"], timeline["value"]["origin"], timeline["source"]) == ("renforce", "risk_class", f"{base}/relances.yaml:20")
    assert timeline["value"]["steps"][0] == {"id": "amiable", "offset_days": 1, "channel": "email", "template": "amiable.eml.j2",
                                             "tone": "ferme", "payment_link": False, "phone_task": False, "source": f"{base}/relances.yaml:16"}
    assert policy["dunning_pause"] == {"value": None, "source": f"{base}/relances.yaml:22"}
    assert document["problems"] == []
    # English keys only, and no value preformatted for people (no « € », « % » or French date in them)
    keys = set()

    def walk(node):
        if isinstance(node, dict):
            keys.update(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            assert "€" not in node and "%" not in node and "/2026" not in node, node

    walk(document)
    assert all(key.isascii() and key == key.lower() for key in keys), keys


def test_explain_unknown_customer(tmp_path, capsys):
    write_rules(tmp_path / "regles")
    book = _workbook(tmp_path / "classeur.xlsx", "regles")
    assert main(["rules", "explain", str(book), "C11"]) == 1
    assert capsys.readouterr().err == "Client inconnu (1 problème) :\n  - Clients : client « C11 » introuvable, vouliez-vous dire « C1 » ?\n"


def test_explain_as_of_in_either_date_format_like_kpi(tmp_path, capsys):
    write_rules(tmp_path / "regles")
    book = _workbook(tmp_path / "classeur.xlsx", "regles")
    assert main(["rules", "explain", str(book), "C2", "--as-of", "31/08/2026"]) == 0
    french = capsys.readouterr().out
    assert main(["rules", "explain", str(book), "C2", "--as-of", "2026-08-31"]) == 0
    assert capsys.readouterr().out == french and "au 31/08/2026)" in french
    assert main(["rules", "explain", str(book), "C2", "--as-of", "31/02/2026"]) == 1
    assert capsys.readouterr().err == ("Option invalide (1 problème) :\n"
                                       "  - --as-of : date « 31/02/2026 » illisible ; attendu : AAAA-MM-JJ, JJ/MM/AAAA ou JJ.MM.AAAA\n")


def test_explain_rules_folder_fallback_and_unreadable_terms(tmp_path):
    from encaisse.credit.policy import effective_policy
    from encaisse.jobs.explain import resolve_rules_dir
    import pandas as pd

    assert resolve_rules_dir(tmp_path / "b.xlsx", "absent", None) == (
        DEFAULT_RULES_DIR, f"DossierRegles « absent » introuvable à côté du classeur ({(tmp_path / 'absent').as_posix()}) : règles par défaut")
    assert resolve_rules_dir(tmp_path / "b.xlsx", None, None) == (DEFAULT_RULES_DIR, "DossierRegles vide : règles par défaut")
    rules = load(write_rules(tmp_path / "regles"))
    customer = pd.Series({"customer_id": "C9", "name": "Gamma", "segment": "Artisans", "payment_terms": "90 jours fin de mois"})
    policy = effective_policy(rules, customer, cell=lambda key: {"segment": "Clients!C5", "payment_terms": "Clients!J5"}[key])
    base = (tmp_path / "regles").as_posix()
    assert (policy.segment, policy.terms.label, policy.risk_class) == ("PME", "90 jours fin de mois", None)
    assert [f"{p.where}: {p.message}" for p in policy.problems] == [
        "Clients!C5: segment « Artisans » non défini dans conditions.yaml",
        "Clients!J5: délai « 90 jours fin de mois » au-delà du maximum légal (60 jours net ou 45 jours fin de mois)",
    ]
    assert policy.lines[0].source == f"Clients!C5, {base}/conditions.yaml:1"
    customer = customer.copy()
    customer["payment_terms"] = "le 10 du mois suivant"
    policy = effective_policy(rules, customer, cell=lambda key: "Clients!J5")
    assert policy.terms.label == "45 jours fin de mois"
    assert policy.problems[-1].message == ("conditions de paiement « le 10 du mois suivant » non comprises "
                                           "(exemples : « 30 jours », « 45 jours fin de mois », « comptant »)")


def test_parse_terms():
    from encaisse.credit.policy import parse_terms

    assert (parse_terms("45 jours fin de mois").days, parse_terms("45 jours fin de mois").end_of_month) == (45, True)
    assert (parse_terms("30 j FDM").days, parse_terms("30 j FDM").end_of_month) == (30, True)
    assert (parse_terms("60 jours net").days, parse_terms("60 jours net").end_of_month) == (60, False)
    assert parse_terms("Comptant").days == 0
    assert parse_terms("le 10 du mois suivant") is None


# --- legal data -------------------------------------------------------------------------------


def test_legal_lookups_on_the_default_data():
    legal = load_legal()
    # (day, ECB rate in force that day, L441-10 rate of its half-year, legal interest rate, 3 × legal rate)
    cases = [
        (dt.date(2023, 1, 1), 0.025, 0.125, 0.0206, 0.0618),
        (dt.date(2023, 3, 25), 0.035, 0.125, 0.0206, 0.0618),  # ECB moved in March; the half-year rate did not
        (dt.date(2023, 7, 1), 0.04, 0.14, 0.0422, 0.1266),
        (dt.date(2023, 12, 31), 0.045, 0.14, 0.0422, 0.1266),
        (dt.date(2024, 1, 1), 0.045, 0.145, 0.0507, 0.1521),
        (dt.date(2024, 7, 1), 0.0425, 0.1425, 0.0492, 0.1476),
        (dt.date(2025, 1, 1), 0.0315, 0.1315, 0.0371, 0.1113),
        (dt.date(2025, 7, 1), 0.0215, 0.1215, 0.0276, 0.0828),
        (dt.date(2026, 1, 1), 0.0215, 0.1215, 0.0262, 0.0786),
        (dt.date(2022, 6, 30), 0.0, 0.10, 0.0076, 0.0228),
        (dt.date(2022, 7, 27), 0.005, 0.10, 0.0077, 0.0231),
    ]
    for day, ecb, penalty, legal_rate, minimum in cases:
        assert (legal.ecb_rate_on(day), legal.penalty_rate(day), legal.legal_interest_rate(day),
                legal.minimum_penalty_rate(day)) == (ecb, penalty, legal_rate, minimum), day
    assert (legal.recovery_indemnity, legal.max_terms_days, legal.max_terms_end_of_month_days) == (40.0, 60, 45)
    assert legal.ecb_checked_until == dt.date(2026, 7, 1)
    # The June 2026 rise (decision of 11/06, in force from 17/06): 12,40 % for the second half of 2026.
    assert (legal.ecb_rate_on(dt.date(2026, 6, 16)), legal.ecb_rate_on(dt.date(2026, 6, 17))) == (0.0215, 0.024)
    assert legal.penalty_rate(dt.date(2026, 7, 1)) == legal.penalty_rate(dt.date(2026, 12, 31)) == 0.124
    assert [r.label for r in legal.legal_rates if not r.verified] == ["2026-S2"]
    assert all(r.verified for r in legal.ecb_rates)


def test_legal_data_built_directly_and_its_limits():
    legal = LegalData(
        ecb_rates=(EcbRate(dt.date(2023, 6, 21), 0.04), EcbRate(dt.date(2022, 12, 21), 0.025)),
        legal_rates=(LegalRate(dt.date(2023, 1, 1), 0.0206),),
    )
    assert legal.ecb_rates[0].effective == dt.date(2022, 12, 21)  # sorted
    assert legal.penalty_rate(dt.date(2023, 5, 1)) == 0.125
    assert legal.penalty_rate(dt.date(2023, 8, 1)) == 0.14
    with pytest.raises(LegalDataError) as caught:
        legal.ecb_rate_on(dt.date(2022, 1, 1))
    assert str(caught.value) == "taux BCE inconnu au 01/01/2022 : l'historique de rules/legal.yaml commence le 21/12/2022"
    with pytest.raises(LegalDataError) as caught:
        legal.legal_interest_rate(dt.date(2023, 9, 1))
    assert str(caught.value) == "taux d'intérêt légal du semestre 2023-S2 absent de rules/legal.yaml"


def test_load_legal_reports_problems_with_positions(tmp_path):
    path = tmp_path / "legal.yaml"
    path.write_text(CRAFTED["legal.yaml"].replace("taux: 4.00", "taux: quatre"), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_legal(path)
    assert [f"{p.where}: {p.message}" for p in caught.value.problems] == [
        f"{path.as_posix()}:3:30: « taux » : « quatre » n'est pas un nombre"
    ]


def test_channels_are_defined_once_and_the_schema_lists_the_same():
    """The channel ids live in encaisse.tables (the Journal's Canal and relances.yaml's `canal`);
    the schema repeats them for editors' completion and must not drift."""
    schema = json.loads((DEFAULT_RULES_DIR / "schema" / "relances.schema.json").read_text(encoding="utf-8"))
    enums = []

    def walk(node):
        if isinstance(node, dict):
            if "canal" in node.get("properties", {}):
                enums.append(node["properties"]["canal"]["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert enums == [list(CHANNELS)] and CHANNELS == ("email", "telephone", "courrier", "recommande")
    assert rules_channels is CHANNELS

# --- tresorerie.yaml (the cash forecast) -----------------------------------------------------


def test_cash_rules_are_built_with_fractions_and_positions(folder):
    rules = load(write_rules(folder))
    cash = rules.cash
    assert (cash.weeks, cash.cushion_months, cash.payment_day, cash.paid_on_due_date) == (13, 1.5, 0, ("fiscal", "social", "salaires"))
    assert cash.scenarios["objectifs"].dso == -15 and cash.scenarios["objectifs"].deposit == 0.30
    assert cash.actions[0].params == {"nombre": 10, "taux_succes_pct": 0.60, "delai_jours": 10}
    assert cash.actions[0].where == f"{folder.as_posix()}/tresorerie.yaml:17:5"
    assert cash.flow_lines["financement"] == "emprunts" and cash.payable_lines["salaires"] == "salaires_charges"
    default = load(DEFAULT_RULES_DIR).cash
    assert [a.id for a in default.actions] == ["relance_top10", "escompte", "acompte", "delais_fournisseurs", "affacturage", "reduction_stock"]


def test_cash_rules_errors_name_their_place(folder):
    base = folder.as_posix()
    write_rules(folder, tresorerie=("  jour_de_reglement: lundi\n  a_echeance: [fiscal, social, salaires]\n",
                                    "  jour_de_reglement: lundy\n  a_echeance: [fiscale, social, salaires]\n"))
    assert problems_of(folder) == [
        f"{base}/tresorerie.yaml:4:22: « jour_de_reglement » : « lundy » n'est pas une valeur permise, vouliez-vous dire « lundi » ? "
        "(valeurs permises : lundi, mardi, mercredi, jeudi, vendredi, samedi, dimanche)",
        f"{base}/tresorerie.yaml:5:16: priorité « fiscale » inconnue, vouliez-vous dire « fiscal » ? "
        "(priorités de la table Dettes : fiscal, social, salaires, fournisseur critique, autre)",
    ]
    write_rules(folder, tresorerie=("    delai_jours: 10\n", "    jours: 10\n"))
    assert problems_of(folder) == [
        f"{base}/tresorerie.yaml:17:5: clé obligatoire « delai_jours » absente dans « actions » (élément 1)",
        f"{base}/tresorerie.yaml:22:5: « jours » n'est pas utilisé par une action de type « relance_prioritaire » "
        "(valeurs utilisées : nombre, taux_succes_pct, delai_jours)",
    ]
    write_rules(folder, tresorerie=("  - {id: fournisseurs,", "  - {id: relance_top10,"))
    assert problems_of(folder) == [f"{base}/tresorerie.yaml:24:10: identifiant d'action « relance_top10 » en double (déjà utilisé ligne 17)"]
    write_rules(folder, tresorerie=("    dso: -15\n    acompte: 30\n", "    libelle: rien\n"))
    assert problems_of(folder) == [f"{base}/tresorerie.yaml:13:3: scénario « objectifs » sans levier (dso, dpo, dio, marge ou acompte)"]
    write_rules(folder, tresorerie=("categories_flux: {salaires: salaires_charges,", "categories_flux: {salaires: salaire,"))
    assert problems_of(folder) == [
        f"{base}/tresorerie.yaml:10:29: « salaires » : « salaire » n'est pas une valeur permise, vouliez-vous dire « salaires_charges » ? "
        "(valeurs permises : autres_encaissements, fournisseurs, salaires_charges, impots_taxes, emprunts, autres_decaissements)"
    ]
