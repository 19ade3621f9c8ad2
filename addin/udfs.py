"""Excel functions of encaisse (xlwings UDFs): =DSO(...), =AGING(...), …

Each function is one line delegating to an `encaisse.excel` family, which never raises: bad input
shows in the cell as « #VALEUR! <raison> ». Tables are passed with their header row
(`Factures[#Tout]`) and arrive as DataFrames whose columns are the headers; the as-of date is a
cell (DateArrete). AGING returns a 2-D array with a header row: Excel with dynamic arrays
(Microsoft 365, Excel 2021+) spills it natively, so no `@xw.ret(expand="table")` — that is
xlwings' emulation for Excel without dynamic arrays, which writes over neighbouring cells.
Docstrings and argument descriptions are in French: Excel shows them in the function wizard.
"""

from __future__ import annotations

import pandas as pd
import xlwings as xw

from encaisse.excel import cash, credit, dunning, kpi

CATEGORY = "encaisse"
TABLE = {"index": False, "header": True}
FACTURES = "Table Factures avec sa ligne d'en-têtes (ex. Factures[#Tout])"
REGLEMENTS = "Table Règlements avec sa ligne d'en-têtes (ex. Reglements[#Tout])"
DETTES = "Table Dettes avec sa ligne d'en-têtes (ex. Dettes[#Tout])"
ACTIVITE = "Table Activité avec sa ligne d'en-têtes (ex. Activite[#Tout])"
DATE = "Date d'arrêté (ex. DateArrete) ; jamais AUJOURDHUI() pour un calcul reproductible"
METHODE = "« épuisement » (défaut : méthode par épuisement du CA) ou « période »"
JOURS = "Fenêtre en jours se terminant à la date d'arrêté (défaut 90)"
TAUX = "Taux de change en euros pour une unité (ex. « USD=0,92 ; GBP=1,17 » ou plage Devise | Taux) ; facultatif"


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("methode", doc=METHODE)
@xw.arg("jours", doc=JOURS + " ; sert à la méthode « période »")
@xw.arg("taux_change", ndim=2, doc=TAUX)
def DSO(factures, reglements, date_arrete, methode=None, jours=None, taux_change=None):
    """Délai moyen de recouvrement clients (DSO) en jours : par épuisement du CA (défaut) ou créances / CA TTC de la période × jours."""
    return kpi.dso(factures, reglements, date_arrete, methode, jours, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("jours", doc=JOURS)
@xw.arg("taux_change", ndim=2, doc=TAUX)
def BPDSO(factures, reglements, date_arrete, jours=None, taux_change=None):
    """Meilleur DSO possible en jours : créances non échues / CA TTC de la période × jours."""
    return kpi.bpdso(factures, reglements, date_arrete, jours, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("methode", doc=METHODE + " pour le DSO")
@xw.arg("jours", doc=JOURS)
@xw.arg("taux_change", ndim=2, doc=TAUX)
def ADD(factures, reglements, date_arrete, methode=None, jours=None, taux_change=None):
    """Retard moyen de paiement (average days delinquent) en jours = DSO − meilleur DSO possible."""
    return kpi.add(factures, reglements, date_arrete, methode, jours, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("mois", doc="Nombre de mois de la période se terminant à la date d'arrêté (défaut 3)")
@xw.arg("taux_change", ndim=2, doc=TAUX)
def CEI(factures, reglements, date_arrete, mois=None, taux_change=None):
    """Indice d'efficacité du recouvrement (CEI) en % : (créances début + ventes mensuelles − créances fin) / (créances début + ventes mensuelles − créances non échues fin) × 100."""
    return kpi.cei(factures, reglements, date_arrete, mois, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("dettes", pd.DataFrame, doc=DETTES, **TABLE)
@xw.arg("activite", pd.DataFrame, doc=ACTIVITE, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("jours", doc=JOURS)
def DPO(dettes, activite, date_arrete, jours=None):
    """Délai moyen de paiement fournisseurs (DPO) en jours : dettes non réglées à la date / achats TTC de la période × jours."""
    return kpi.dpo(dettes, activite, date_arrete, jours)


@xw.func(category=CATEGORY)
@xw.arg("activite", pd.DataFrame, doc=ACTIVITE, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("jours", doc=JOURS)
def DIO(activite, date_arrete, jours=None):
    """Rotation des stocks (DIO) en jours : stock fin du mois d'arrêté / coût des ventes de la période × jours."""
    return kpi.dio(activite, date_arrete, jours)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("dettes", pd.DataFrame, doc=DETTES, **TABLE)
@xw.arg("activite", pd.DataFrame, doc=ACTIVITE, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("methode", doc=METHODE + " pour le DSO")
@xw.arg("jours", doc=JOURS)
@xw.arg("taux_change", ndim=2, doc=TAUX)
def CCC(factures, reglements, dettes, activite, date_arrete, methode=None, jours=None, taux_change=None):
    """Cycle de conversion de trésorerie en jours = DIO + DSO − DPO."""
    return kpi.ccc(factures, reglements, dettes, activite, date_arrete, methode, jours, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("tranches", ndim=2, doc="Bornes des tranches en jours, croissantes (défaut « 0;30;60;90 » : non échu, 1-30, 31-60, 61-90, > 90 j)")
@xw.arg("base", doc="« échéance » (défaut : jours de retard) ou « facture » (jours depuis la date de facture)")
@xw.arg("par_client", doc="VRAI (défaut) : une ligne par client puis le total ; FAUX : la ligne Total seule")
@xw.arg("taux_change", ndim=2, doc=TAUX)
def AGING(factures, reglements, date_arrete, tranches=None, base=None, par_client=None, taux_change=None):
    """Balance âgée : montants et nombres de factures ouvertes par tranche de retard, par client et total (tableau qui se déverse)."""
    return kpi.aging(factures, reglements, date_arrete, tranches, base, par_client, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("jours", doc=JOURS)
@xw.arg("taux_change", ndim=2, doc=TAUX)
def RECOVERY_RATE(factures, reglements, date_arrete, jours=None, taux_change=None):
    """Taux de recouvrement : encaissements de la période / montants arrivés à échéance sur la période (0,95 = 95 %)."""
    return kpi.recovery_rate(factures, reglements, date_arrete, jours, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("mesure", doc="« nombre » (défaut) ou « montant »")
@xw.arg("jours", doc="Fenêtre en jours des factures émises (défaut 365)")
@xw.arg("taux_change", ndim=2, doc=TAUX)
def DISPUTE_RATE(factures, date_arrete, mesure=None, jours=None, taux_change=None):
    """Taux de litige : factures en litige / factures émises sur la période, en nombre ou en montant (0,12 = 12 %)."""
    return kpi.dispute_rate(factures, date_arrete, mesure, jours, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("activite", pd.DataFrame, doc=ACTIVITE, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("delta_dso", doc="Variation du DSO en jours (ex. −15)")
@xw.arg("delta_dpo", doc="Variation du DPO en jours (ex. 10)")
@xw.arg("delta_dio", doc="Variation du DIO en jours (ex. −20)")
@xw.arg("jours", doc="Période du CA, des achats et du coût des ventes, en jours (défaut 90)")
def CASH_RELEASED(activite, date_arrete, delta_dso=None, delta_dpo=None, delta_dio=None, jours=None):
    """Trésorerie libérée en € par les leviers : −ΔDSO × CA/jour + ΔDPO × achats/jour − ΔDIO × coût des ventes/jour."""
    return kpi.cash_released(activite, date_arrete, delta_dso, delta_dpo, delta_dio, jours)


CLIENTS = "Table Clients avec sa ligne d'en-têtes (ex. Clients[#Tout]) : Encours max et Note externe y sont lus"
CODE_CLIENT = "Code client ; vide : un tableau de tous les clients (qui se déverse)"
DOSSIER_REGLES = "Dossier des règles YAML (chemin complet) ; vide : les règles par défaut d'encaisse"


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("clients", pd.DataFrame, doc=CLIENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("code_client", doc=CODE_CLIENT)
@xw.arg("dossier_regles", doc=DOSSIER_REGLES + " (pondérations et classes de scoring.yaml)")
@xw.arg("taux_change", ndim=2, doc=TAUX)
def SCORE(factures, reglements, clients, date_arrete, code_client=None, dossier_regles=None, taux_change=None):
    """Score de solvabilité 0–100 du client (retards, part de factures en retard, impayés, litiges, volume d'affaires, note externe) ; sans code client, le tableau de tous les clients avec leur classe de risque."""
    return credit.score(factures, reglements, clients, date_arrete, code_client, dossier_regles, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("clients", pd.DataFrame, doc=CLIENTS, **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("code_client", doc=CODE_CLIENT)
@xw.arg("dossier_regles", doc=DOSSIER_REGLES + " (limites par classe et actions de risque.yaml)")
@xw.arg("taux_change", ndim=2, doc=TAUX)
def CREDIT_HEADROOM(factures, reglements, clients, date_arrete, code_client=None, dossier_regles=None, taux_change=None):
    """Marge de crédit du client en € = limite (Encours max, sinon limite de sa classe de risque) − encours ; négative au-delà de la limite. Sans code client, le tableau de tous les clients avec l'action (avertir, exiger acompte, bloquer commandes)."""
    return credit.credit_headroom(factures, reglements, clients, date_arrete, code_client, dossier_regles, taux_change)


@xw.func(category=CATEGORY)
@xw.arg("montant", doc="Montant TTC restant dû de la facture")
@xw.arg("echeance", doc="Date d'échéance de la facture")
@xw.arg("date_arrete", doc=DATE)
@xw.arg("taux_contractuel", doc="Taux annuel de vos CGV (15 %, 15 ou 0,15) ; vide : taux BCE du semestre + 10 points (ou le taux de conditions.yaml)")
@xw.arg("dossier_regles", doc=DOSSIER_REGLES + " (taux BCE de legal.yaml, pénalités de conditions.yaml)")
def PENALTY(montant, echeance, date_arrete, taux_contractuel=None, dossier_regles=None):
    """Pénalités de retard (code de commerce L441-10) d'une facture en € : intérêts jour par jour au taux de chaque semestre (taux BCE au 1er janvier / 1er juillet + 10 points, ou taux contractuel) + indemnité forfaitaire de 40 €."""
    return credit.penalty(montant, echeance, date_arrete, taux_contractuel, dossier_regles)


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("clients", pd.DataFrame, doc=CLIENTS, **TABLE)
@xw.arg("journal", pd.DataFrame, doc="Table Journal des relances avec sa ligne d'en-têtes (ex. Journal[#Tout])", **TABLE)
@xw.arg("date_arrete", doc=DATE)
@xw.arg("nombre", doc="Nombre de lignes à garder, les plus prioritaires (vide : toutes)")
@xw.arg("dossier_regles", doc=DOSSIER_REGLES + " (calendriers, pauses, escalade et priorités de relances.yaml)")
def WORKLIST(factures, reglements, clients, journal, date_arrete, nombre=None, dossier_regles=None):
    """Actions de relance du jour classées par priorité : e-mails à envoyer, appels à passer, lettres et recommandés à poster, escalades après mise en demeure, litiges en retard à relancer en interne ; un tableau qui se déverse avec sa ligne d'en-têtes."""
    return dunning.worklist(factures, reglements, clients, journal, date_arrete, nombre, dossier_regles)


FLUX = "Table Flux (feuille Trésorerie) avec sa ligne d'en-têtes (ex. Flux[#Tout]) : flux récurrents"


@xw.func(category=CATEGORY)
@xw.arg("factures", pd.DataFrame, doc=FACTURES, **TABLE)
@xw.arg("reglements", pd.DataFrame, doc=REGLEMENTS, **TABLE)
@xw.arg("clients", pd.DataFrame, doc="Table Clients avec sa ligne d'en-têtes (ex. Clients[#Tout]) : segment de chaque client", **TABLE)
@xw.arg("dettes", pd.DataFrame, doc=DETTES, **TABLE)
@xw.arg("flux", pd.DataFrame, doc=FLUX, **TABLE)
@xw.arg("activite", pd.DataFrame, doc=ACTIVITE + " : OPEX du coussin, ventes et achats à venir", **TABLE)
@xw.arg("solde_banque", doc="Solde bancaire d'ouverture à la date d'arrêté (ex. SoldeBanque)")
@xw.arg("date_arrete", doc=DATE)
@xw.arg("semaines", doc="Nombre de semaines (défaut : horizon des règles, 13)")
@xw.arg("dossier_regles", doc=DOSSIER_REGLES + " (tresorerie.yaml, litiges.yaml)")
def FORECAST(factures, reglements, clients, dettes, flux, activite, solde_banque, date_arrete, semaines=None, dossier_regles=None):
    """Prévision de trésorerie hebdomadaire (plan de trésorerie à 13 semaines) : encaissements aux dates de paiement prévues, décaissements, flux net, solde de clôture avec sa fourchette P10–P90, coussin et alerte ; un tableau qui se déverse."""
    return cash.forecast_table(factures, reglements, clients, dettes, flux, activite, solde_banque, date_arrete, semaines, dossier_regles)
