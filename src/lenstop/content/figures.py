"""One house style for every figure, and a writer that saves SVG and 300-dpi PNG reproducibly."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt

from lenstop.content.fmt import pval

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000")
"""Colour-blind-safe palette (Okabe & Ito 2008), blue and vermillion first."""

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "svg.hashsalt": "lenstop",  # fixed ids inside SVG files: same inputs, same bytes
    "svg.fonttype": "path",
}
MONTHS_LABEL = "Months since LEN discontinuation"
LOG_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)


def use_style() -> None:
    """Apply the house style to matplotlib (called once by each notebook)."""
    mpl.rcParams.update(STYLE)


def save(fig: plt.Figure, name: str, figures_dir: Path) -> dict[str, Path]:
    """Save `fig` as `<name>.svg` and `<name>.png` (300 dpi) without timestamps; return paths."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = {"svg": figures_dir / f"{name}.svg", "png": figures_dir / f"{name}.png"}
    fig.savefig(paths["svg"], format="svg", metadata={"Date": None, "Creator": None})
    fig.savefig(paths["png"], format="png", metadata={"Software": None})
    return paths


def data_stamp(fig, label: str) -> None:
    """Name the data in the figure's top-right corner (small, grey): every figure says when it
    shows synthetic data, while its title stays in the caption, where journals want it."""
    fig.text(0.995, 0.995, label, ha="right", va="top", fontsize=7, color="0.4")


MAX_CENSOR_TICKS = 500
"""Censored patients up to which a Kaplan-Meier curve marks each with a tick: beyond it (a
registry of thousands) the ticks merge into a thick line that hides the curve."""


def censor_ticks(kmf) -> bool:
    """Whether curve `kmf` marks its censored patients (at most `MAX_CENSOR_TICKS` of them)."""
    return int((kmf.event_observed == 0).sum()) <= MAX_CENSOR_TICKS


def at_risk_row(ax: plt.Axes, fitters: list, labels: list[str], min_cell: int = 0) -> None:
    """The number-at-risk row under `ax` (lifelines' table, at the axis' ticks), as every
    figure shows it: below `min_cell` as '<min_cell', 1,000 or more with separators."""
    from lifelines.plotting import add_at_risk_counts

    add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"],
                       xticks=ax.get_xticks().tolist(), labels=labels)
    for risk in ax.figure.axes:  # lifelines draws the table as the tick labels of a twin axis
        if risk is not ax:
            if min_cell:
                _suppress_at_risk(risk, min_cell)
            _thousands_at_risk(risk)


def finish_cif(fig: plt.Figure, ax: plt.Axes, data_label: str, at_risk=None,
               min_cell: int = 0) -> None:
    """How every cumulative-incidence figure ends: months and incidence (0 to 1) on the axes,
    the legend top left, the patients still at risk of an endpoint below (`at_risk`: the
    analysis table and the endpoint, `lenstop.cohort.derive.ENDPOINTS[...]`; at risk means
    free of every one of its events and followed), the data stamp."""
    ax.set_xlabel(MONTHS_LABEL)
    ax.set_ylabel("Cumulative incidence")
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0)
    ax.legend(loc="upper left", fontsize=8)
    if at_risk is not None:
        from lifelines import KaplanMeierFitter

        a, e = at_risk
        risk = KaplanMeierFitter().fit(a[e.duration_col].astype(float),
                                       (a[e.event_col] > 0).astype(int), label="At risk")
        at_risk_row(ax, [risk], ["At risk"], min_cell)  # below min_cell: "<min_cell"
    data_stamp(fig, data_label)
    fig.tight_layout()


def _thousands_at_risk(ax: plt.Axes) -> None:
    """Numbers at risk of 1,000 or more with thousands separators ('64,861', not '64861')."""
    import re

    labels = [t.get_text() for t in ax.get_xticklabels()]
    ax.set_xticks(ax.get_xticks(), [re.sub(r"(?<![\w.,<])(\d{4,})(?![\w.])",
                                           lambda m: f"{int(m.group(1)):,}", text)
                                    for text in labels])


def km_figure(fitters: dict[str, object], title: str = "", ylabel: str = "Probability",
              xmax: float | None = None, step: float = 12, ci: bool = True,
              figsize: tuple[float, float] = (6.5, 4.6), min_cell: int = 0,
              data_label: str = "") -> plt.Figure:
    """Kaplan-Meier curves (lifelines fitters) with 95% bands and a number-at-risk table below.

    Ticks every `step` months; the at-risk table sits under the axis, as journals expect.
    Censored patients are ticked while there are at most `MAX_CENSOR_TICKS` of them.
    With a minimum cell size (`min_cell` > 0) numbers at risk below it show as '<min_cell' and
    each curve stops where fewer than `min_cell` patients remain at risk (its later steps
    would be single patients' event times).
    """
    from lenstop.disclosure.suppression import km_stop

    fig, ax = plt.subplots(figsize=figsize)
    truncated = False
    for (label, kmf), colour in zip(fitters.items(), OKABE_ITO, strict=False):
        stop = km_stop(kmf, min_cell)
        truncated |= stop < float(kmf.timeline.max())
        kmf.plot_survival_function(ax=ax, ci_show=ci, color=colour, label=label,
                                   show_censors=censor_ticks(kmf),
                                   censor_styles={"ms": 5, "marker": "|"},
                                   loc=slice(0, stop))
    if truncated:
        ax.text(0.99, 0.97, f"curves stop where fewer than {min_cell} patients remain at risk",
                transform=ax.transAxes, ha="right", va="top", fontsize=7, color="0.35")
    last = max(float(k.timeline.max()) for k in fitters.values())
    xmax = xmax or step * (int(last // step) + 1)
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 1.02)
    ax.set_xticks([t for t in range(0, int(xmax) + 1, int(step))])
    ax.set_xlabel(MONTHS_LABEL)
    ax.set_ylabel(ylabel)
    if title:  # a panel's own label; the figure's title belongs in its caption
        ax.set_title(title, loc="left", fontsize=10)
    if data_label:
        data_stamp(fig, data_label)
    if len(fitters) == 1:
        ax.get_legend().remove() if ax.get_legend() else None
    at_risk_row(ax, list(fitters.values()), list(fitters), min_cell)
    fig.tight_layout()
    return fig


def _suppress_at_risk(ax: plt.Axes, min_cell: int) -> None:
    """Show the numbers at risk of a lifelines at-risk table below `min_cell` as '<min_cell'.

    Each tick label holds one count per line, at the end of the line (after the group's
    name in the first column), so only that last number is replaced.
    """
    import re

    from lenstop.disclosure.suppression import Cells

    def line(text: str) -> str:
        return re.sub(r"(?<![\w.])(\d+)(\s*)$",
                      lambda m: f"{Cells(min_cell).count(int(m.group(1)))}{m.group(2)}", text)

    labels = [t.get_text() for t in ax.get_xticklabels()]
    ax.set_xticks(ax.get_xticks(), ["\n".join(line(s) for s in text.split("\n"))
                                    for text in labels])


def forest_figure(models: dict[str, object], labels: dict[str, str], ratio: str = "hr",
                  xlabel: str = "Hazard ratio (95% CI), log scale",
                  figsize: tuple[float, float] | None = None) -> plt.Figure:
    """Forest plot of one or more tidy tables (term, `ratio`, ci_low, ci_high, p) side by side.

    `models` maps a panel title to its table; `labels` maps term names to row labels, in the
    order the rows are drawn. Terms a model lacks (or could not estimate) are left blank.
    """
    import numpy as np

    terms = list(labels)
    figsize = figsize or (3.4 * len(models) + 2.2, 0.36 * len(terms) + 1.3)
    fig, axes = plt.subplots(1, len(models), figsize=figsize, sharey=True, sharex=True,
                             squeeze=False)
    bounds = [v for table in models.values() for v in
              (*table["ci_low"].dropna(), *table["ci_high"].dropna())]
    ticks = [t for t in LOG_TICKS if min(bounds, default=1) / 1.5 <= t <= max(bounds, default=1)
             * 1.5]
    y = np.arange(len(terms))[::-1]
    for ax, (title, table), colour in zip(axes[0], models.items(), OKABE_ITO, strict=False):
        t = table.set_index("term")
        for yi, term in zip(y, terms, strict=True):
            if term not in t.index or not np.isfinite(t.loc[term, ratio]):
                continue
            r = t.loc[term]
            ax.plot([r["ci_low"], r["ci_high"]], [yi, yi], color=colour, lw=1.4)
            ax.plot(r[ratio], yi, "s", color=colour, ms=5)
            ax.annotate(pval(r["p"], compact=True), (1.0, yi),
                        xycoords=("axes fraction", "data"), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=7)
        ax.axvline(1, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_xlabel(xlabel, fontsize=8)
    axes[0][0].set_yticks(y, [labels[t] for t in terms], fontsize=8)
    fig.tight_layout()
    return fig


def sensitivity_figure(points: list[dict] | None, factors: dict[str, str],
                       data_label: str = "") -> plt.Figure:
    """The sensitivity grid at a glance: one panel per factor, one row per grid point (HR and
    95% CI, log scale), the first point's CI shaded as the reference; `points=None` (grid not
    run) gives a panel that says so."""
    import numpy as np

    if not points:
        fig, ax = plt.subplots(figsize=(6.5, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "Sensitivity grid not run in this build (SENSITIVITY=0)",
                ha="center", va="center", fontsize=9, color="0.35")
        return fig
    y = np.arange(len(points))[::-1]
    fig, axes = plt.subplots(1, len(factors), figsize=(7.2, 0.28 * len(points) + 1.4),
                             sharey=True, squeeze=False)
    for ax, (term, title) in zip(axes[0], factors.items(), strict=True):
        rows = [next((t for t in p["terms"] if t["term"] == term), None) for p in points]
        ref = rows[0]
        if ref and ref["hr"] is not None:
            ax.axvspan(ref["ci_low"], ref["ci_high"], color="0.9", lw=0)
        bounds = []
        for yi, r in zip(y, rows, strict=True):
            if r is None or r["hr"] is None:
                ax.text(1, yi, "n/e", ha="center", va="center", fontsize=6, color="0.4")
                continue
            ax.plot([r["ci_low"], r["ci_high"]], [yi, yi], color=OKABE_ITO[0], lw=1.2)
            ax.plot(r["hr"], yi, "o", color=OKABE_ITO[0] if yi != y[0] else "0.1", ms=4)
            bounds += [r["ci_low"], r["ci_high"]]
        ax.axvline(1, color="0.5", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
        low, high = min(bounds, default=0.5), max(bounds, default=2)
        ticks = [t for t in LOG_TICKS if low / 1.3 <= t <= high * 1.3] or [1]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=7)
        ax.set_title(title, fontsize=8, loc="left")
    axes[0][0].set_yticks(y, [p["label"] for p in points], fontsize=7)
    fig.supxlabel("Hazard ratio (95% CI), log scale", fontsize=8)
    if data_label:
        data_stamp(fig, data_label)
    fig.tight_layout()
    return fig
