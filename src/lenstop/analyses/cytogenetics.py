"""Cytogenetic response after LEN discontinuation (notebook 03): who was re-evaluated, how
many lost CCyR (by timing against the loss of RBC-TI), when the re-evaluation took place, and
CCyR against RBC-TI with Fisher's exact test, as shareable outputs show them.

The proportions and the test come from `lenstop.stats`; this module applies the minimum cell
size, shapes the printed lines, the table, the figure and the results section `cytogenetics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lenstop.cohort import baseline
from lenstop.content.figures import MONTHS_LABEL, OKABE_ITO, data_stamp
from lenstop.content.fmt import p_cell
from lenstop.content.tables import Table, overall_counts
from lenstop.disclosure.suppression import Cell, Cells, shown
from lenstop.stats import exact_ci, fisher_2x2

ROWS, COLUMNS = ["CCyR lost", "CCyR kept"], ["RBC-TI lost", "RBC-TI kept"]
"""The 2x2 table of CCyR against RBC-TI, in the order it is printed and saved."""

TIMING = {"before": "Before loss of RBC-TI (or kept it)", "after": "After loss of RBC-TI"}
"""When the re-evaluation came, against the loss of RBC-TI: key -> printed label."""

GROUPS = {"CCyR kept": 0, "CCyR lost": 1}
"""The result of the re-evaluation: label -> `ccyr_lost_flag`."""


def _share(r: dict) -> str:
    """' = 73.3% (95% CI 54.1%-87.7%)' for a shown proportion, '' for a withheld one."""
    if r["proportion"] is None:
        return ""
    return f" = {r['proportion']:.1%} (95% CI {r['ci_low']:.1%}-{r['ci_high']:.1%})"


@dataclass
class Reevaluation:
    """The patients in CCyR at withdrawal who were re-evaluated, their 2x2 table against
    RBC-TI, and the proportion who lost CCyR, with counts as outputs show them."""

    reevaluated: pd.DataFrame
    n_in_ccyr: Cell
    """In CCyR at withdrawal: Table 1's count (notebook 01), shown or hidden as there."""
    n_reevaluated: Cell
    cross: pd.DataFrame
    cross_shown: pd.DataFrame
    """`cross` with its margins, small cells hidden (`Cells.table`)."""
    lost: dict
    """`exact_ci` of the losses as `Cells.proportion` shows it."""


def reevaluation(a: pd.DataFrame, cells: Cells, alpha: float) -> Reevaluation:
    """Select the re-evaluated patients in CCyR at withdrawal from `a`, cross CCyR with
    RBC-TI, and estimate the proportion who lost CCyR (Clopper-Pearson CI)."""
    in_ccyr = a[a["ccyr_at_stop"] == "yes"]
    reevaluated = in_ccyr[in_ccyr["cyto_reevaluated"] == 1]
    n_in_ccyr = overall_counts(baseline.table_data(a), baseline.CCYR_AT_STOP,
                               group=baseline.GROUP, group_labels=baseline.group_labels(a)[0],
                               min_cell=cells.min_cell)["yes"]["n"]
    n_reevaluated = cells.of(len(reevaluated), len(in_ccyr))
    cross = pd.crosstab(reevaluated["ccyr_lost_flag"].map({1: "CCyR lost", 0: "CCyR kept"}),
                        reevaluated["ti_lost"].map({1: "RBC-TI lost", 0: "RBC-TI kept"}))
    cross = cross.reindex(index=ROWS, columns=COLUMNS, fill_value=0)
    cross_shown = cells.table(cross, hidden=[] if shown(n_reevaluated) else
                              [("Total", "Total")])
    lost = cells.proportion(
        exact_ci(int(reevaluated["ccyr_lost_flag"].sum()), len(reevaluated), alpha=alpha),
        k=cross_shown.loc["CCyR lost", "Total"], n=n_reevaluated)
    return Reevaluation(reevaluated=reevaluated, n_in_ccyr=n_in_ccyr,
                        n_reevaluated=n_reevaluated, cross=cross, cross_shown=cross_shown,
                        lost=lost)


def reevaluation_lines(r: Reevaluation) -> list[str]:
    """What the notebook prints: patients in CCyR and re-evaluated, and the share who lost it."""
    out = [f"In CCyR at withdrawal: {r.n_in_ccyr}; re-evaluated: {r.n_reevaluated}"]
    lost = r.lost
    if len(r.reevaluated) and lost["proportion"] is not None:
        out.append(f"Lost CCyR: {lost['k']}/{lost['n']}{_share(lost)}")
    elif len(r.reevaluated):
        out.append(f"Lost CCyR: {lost['k']}/{lost['n']} (proportion withheld: "
                   f"{lost['withheld']})")
    else:
        out.append("Lost CCyR: not assessable (no patient in CCyR at withdrawal was "
                   "re-evaluated)")
    return out


def lost_by_timing(r: Reevaluation, cells: Cells, alpha: float) -> dict[str, dict]:
    """The share who lost CCyR among re-evaluations before the loss of RBC-TI (or in a
    patient who kept it) and after it: a later one may have been prompted by the loss."""
    ev = r.reevaluated
    after_loss = (ev["ti_lost"] == 1) & (ev["months_to_reeval"] > ev["ti_months"])
    by_timing = pd.crosstab(after_loss.map({False: "before", True: "after"}),
                            ev["ccyr_lost_flag"].map({1: "lost", 0: "kept"}))
    by_timing = by_timing.reindex(index=list(TIMING), columns=["lost", "kept"], fill_value=0)
    timing_shown = cells.table(by_timing, hidden=[] if shown(r.n_reevaluated) else
                               [("Total", "Total")])
    out = {}
    for key in TIMING:
        k, n = int(by_timing.loc[key, "lost"]), int(by_timing.loc[key].sum())
        out[key] = cells.proportion(exact_ci(k, n, alpha=alpha),
                                    k=timing_shown.loc[key, "lost"],
                                    n=timing_shown.loc[key, "Total"]) if n else \
            {"k": 0, "n": 0, "proportion": None, "ci_low": None, "ci_high": None, "alpha": alpha}
    return out


def timing_lines(by_timing: dict[str, dict]) -> list[str]:
    """What the notebook prints: lost CCyR k/n (share) before and after the loss of RBC-TI."""
    return [f"{label}: lost CCyR {by_timing[key]['k']}/{by_timing[key]['n']}"
            f"{_share(by_timing[key])}" for key, label in TIMING.items()]


def months_to_reeval(r: Reevaluation, cells: Cells) -> tuple[dict, pd.DataFrame]:
    """Months from discontinuation to the re-evaluation: median and IQR of all, and a table
    by its result (with min and max only where single patients' values may be shown)."""
    columns = ["n", "median", "q1", "q3"] + (["min", "max"] if cells.allows_individual_marks()
                                             else [])  # extremes are single patients' values
    ev, rows = r.reevaluated, []
    for label, flag in GROUPS.items():
        x = ev.loc[ev["ccyr_lost_flag"] == flag, "months_to_reeval"].dropna()
        q = cells.quartiles(x)
        extremes = {"min": x.min(), "max": x.max()} if len(x) else {"min": None, "max": None}
        rows.append({**q, **extremes, "n": r.cross_shown.loc[label, "Total"]})
    table = pd.DataFrame(rows, index=list(GROUPS))[columns]
    return cells.quartiles(ev["months_to_reeval"]), table


def months_lines(r: Reevaluation, overall: dict, table: pd.DataFrame, cells: Cells) -> list[str]:
    """What the notebook prints: the median (IQR), or why there is none, and the table."""
    if overall["median"] is not None:
        head = (f"Median {overall['median']:.1f} months (IQR {overall['q1']:.1f}-"
                f"{overall['q3']:.1f})")
    elif len(r.reevaluated):
        head = f"Median withheld (fewer than {cells.min_cell} patients)"
    else:
        head = "No re-evaluation after discontinuation."
    return [head, table.round(1).to_string()]


def timing_figure(r: Reevaluation, cells: Cells, data_label: str):
    """Months to the re-evaluation by its result: one dot per patient, or the median and
    IQR when a minimum cell size forbids single patients' marks."""
    import matplotlib.pyplot as plt
    import numpy as np

    ev = r.reevaluated
    fig, ax = plt.subplots(figsize=(6.5, 2.6))
    for row, (label, flag) in enumerate(GROUPS.items()):
        x = ev.loc[ev["ccyr_lost_flag"] == flag, "months_to_reeval"]
        if cells.allows_individual_marks():  # one dot per patient
            jitter = np.random.default_rng(row).uniform(-0.15, 0.15, len(x))
            ax.scatter(x, row + jitter, s=28, color=OKABE_ITO[row], alpha=0.85, label=label,
                       rasterized=len(ev) > 1000)
        elif (q := cells.quartiles(x))["median"] is not None:  # median and IQR only
            ax.barh(row, q["q3"] - q["q1"], left=q["q1"], height=0.35, color=OKABE_ITO[row],
                    alpha=0.5)
            ax.vlines(q["median"], row - 0.25, row + 0.25, color="0.1", lw=1.5)
    if not cells.allows_individual_marks():
        ax.text(0.99, 0.03, f"median and IQR; single patients are not drawn (minimum cell size "
                f"{cells.min_cell})", transform=ax.transAxes, ha="right", fontsize=7,
                color="0.35")
    if ev.empty:
        ax.text(0.5, 0.5, "No patient in CCyR at withdrawal was re-evaluated",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.35")
    ax.set_yticks([0, 1], ["CCyR kept", "CCyR lost"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel(MONTHS_LABEL)
    ax.set_xlim(left=0)
    data_stamp(fig, data_label)
    return fig


def fisher(r: Reevaluation, alpha: float) -> dict | None:
    """Fisher's exact test of CCyR against RBC-TI; None when nobody was re-evaluated."""
    return fisher_2x2(r.cross.to_numpy(), alpha=alpha) if len(r.reevaluated) else None


def ccyr_ti_table(r: Reevaluation, test: dict | None, cells: Cells) -> Table:
    """Table `ccyr_vs_ti`: the 2x2 table as shown, Fisher's p (by `fmt.p_cell`) below."""
    note = (f"Fisher's exact test p = {p_cell(test['p'])}." if test else
            "No patient in CCyR at withdrawal was re-evaluated: no test.")
    k = cells.min_cell
    if k:
        note += f" Counts below {k} show as <{k}, and counts that would reveal them as >={k}."
    return Table(r.cross_shown.reset_index(names="Cytogenetics"), "ccyr_vs_ti", note=note)


def section(r: Reevaluation, by_timing: dict, overall_months: dict, test: dict | None) -> dict:
    """The results section `cytogenetics` (keys documented in results/README.md); the odds
    ratio only when no cell is hidden (it would give hidden cells away)."""
    any_hidden = not all(shown(v) for v in r.cross_shown.to_numpy().ravel())
    return {
        "ccyr_at_stop": r.n_in_ccyr,
        "ccyr_reevaluated": r.n_reevaluated,
        "ccyr_lost": r.lost,
        "months_to_reeval": overall_months,
        "ccyr_lost_by_timing": by_timing,
        "ccyr_vs_ti": {
            "table": r.cross_shown.loc[r.cross.index, r.cross.columns].to_numpy().tolist(),
            "rows": list(r.cross.index), "columns": list(r.cross.columns),
            "fisher_p": test["p"] if test else None,
            **({"odds_ratio": test["odds_ratio_cmle"], "or_ci_low": test["ci_low"],
                "or_ci_high": test["ci_high"]} if test and not any_hidden else
               dict.fromkeys(("odds_ratio", "or_ci_low", "or_ci_high")))},
    }
