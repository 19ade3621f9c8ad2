"""The forecast as a PNG (matplotlib, Agg backend: no display needed): weekly receipts and
disbursements as bars, the closing balance as a line in its P10–P90 band, the cushion as a line.
The same chart as the Prévision sheet's native Excel chart, plus the band. Written atomically."""

from __future__ import annotations

from pathlib import Path

from encaisse.atomic import atomic_path

RECEIPTS_COLOUR, DISBURSEMENTS_COLOUR, BALANCE_COLOUR, CUSHION_COLOUR = "#2E7D32", "#C62828", "#1F4E79", "#E08A00"


def plot_forecast(result, path: str | Path, *, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    path = Path(path)
    weeks = result.weeks
    x = list(range(weeks.count))
    figure = Figure(figsize=(12, 6), dpi=100)
    axes = figure.add_subplot()
    width = 0.38
    axes.bar([i - width / 2 for i in x], result.receipts, width, color=RECEIPTS_COLOUR, label="Encaissements")
    axes.bar([i + width / 2 for i in x], result.disbursements, width, color=DISBURSEMENTS_COLOUR, label="Décaissements")
    axes.fill_between(x, result.closing_p10, result.closing_p90, color=BALANCE_COLOUR, alpha=0.15, label="Solde P10–P90")
    axes.plot(x, result.closing, color=BALANCE_COLOUR, marker="o", linewidth=2, label="Solde de clôture")
    axes.axhline(result.basis.cushion, color=CUSHION_COLOUR, linestyle="--", linewidth=1.5, label="Coussin de sécurité")
    axes.axhline(0, color="#555555", linewidth=0.8)
    axes.set_xticks(x, [label.split(" · ")[0] + "\n" + label.split(" · ")[1] for label in weeks.labels], fontsize=8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:,.0f} k€".replace(",", "\u202f")))
    first = result.first_shortfall
    subtitle = f"première alerte : {first.label}" if first else "aucune semaine sous le coussin"
    axes.set_title(f"{title + ' — ' if title else ''}Prévision de trésorerie au {result.as_of:%d/%m/%Y} ({subtitle})", fontsize=11)
    axes.legend(loc="upper left", fontsize=8, ncols=3)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", metadata={"Software": "encaisse"})
    return path
