"""The patients (notebook 01): who was assessed, excluded and analysed, the reasons LEN was
stopped against RBC-TI at last follow-up (the flow figure), Table 1 with its supplementary
tests, and the results section `cohort`, as shareable outputs show them.

The table itself comes from `lenstop.content.tables` and its rows from `lenstop.cohort.baseline`;
this module applies the minimum cell size, shapes the printed lines, the figure and the section.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lenstop.cohort import baseline
from lenstop.cohort.baseline import REASONS
from lenstop.content.figures import OKABE_ITO
from lenstop.content.fmt import share
from lenstop.content.tables import Table, overall_counts, table_one
from lenstop.disclosure.suppression import Cells, shown


@dataclass
class Flow:
    """Patients assessed, excluded (by definition) and analysed, by reason for stopping and
    RBC-TI at last follow-up, with counts as outputs show them."""

    assessed: int
    excluded: dict
    n_analysed: int
    flow: pd.DataFrame
    """Reasons x (lost, kept RBC-TI) with margins, small cells hidden (`Cells.table`)."""
    reasons: dict[str, dict]
    exclusions: pd.DataFrame


def flow(study: Any, cells: Cells) -> Flow:
    """The patient flow of `study` (`lenstop.cohort.study.open_study`)."""
    a = study.analysis
    by_reason = pd.crosstab(a["stop_reason"], a["ti_lost"]).reindex(
        index=list(REASONS), columns=[1, 0], fill_value=0)
    # reasons x (lost, kept RBC-TI) with margins; the losses overall are quoted elsewhere
    table = cells.table(by_reason, fixed=[("Total", 1), ("Total", 0)])
    reasons = {k: {"n": table.loc[k, "Total"],
                   "pct": 100 * by_reason.loc[k].sum() / len(a) if shown(table.loc[k, "Total"])
                   else None} for k in REASONS}
    assessed = len(study.cohort)
    excluded = cells.partition(dict(zip(study.exclusions["reason"], study.exclusions["n"],
                                        strict=True)), total=assessed)
    return Flow(assessed=assessed, excluded=excluded, n_analysed=len(a), flow=table,
                reasons=reasons, exclusions=study.exclusions)


def flow_lines(f: Flow) -> list[str]:
    """What the notebook prints: each exclusion, then the patients by reason."""
    out = [f"Excluded, {e.label}: {f.excluded[e.reason]} of {f.assessed} assessed"
           for e in f.exclusions.itertuples()]
    out += [f"{REASONS[key]:<20} {share(r):>9}" for key, r in f.reasons.items()]
    out.append(f"{'Total':<20} {f.n_analysed:>4}")
    return out


def _n_text(cell: dict) -> str:
    """'n = 70 (59%)', or 'n <5' / 'n >=5' for a hidden count."""
    return f"n = {share(cell)}" if shown(cell["n"]) else f"n {cell['n']}"


def _box(ax, x, y, w, h, text, colour="0.2"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                fc="white", ec=colour, lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "-|>", "color": "0.35", "lw": 1})


def _lower_label(label: str) -> str:
    """An exclusion's label inside a sentence: first letter lower-cased unless an acronym."""
    return label if label[:2].isupper() else label[0].lower() + label[1:]


def flow_figure(f: Flow, data_label: str):
    """The STROBE flow diagram: assessed, excluded (each definition), analysed, by reason for
    stopping LEN, and RBC-TI lost or kept at last follow-up."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    ax.set_axis_off()
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1)
    # STROBE 13: the patients assessed, each exclusion (definitions enforced), those analysed
    _box(ax, 0.36, 0.93, 0.56, 0.09,
         f"{f.assessed} patients assessed: lower-risk del(5q) MDS,\nstopped LEN in RBC-TI")
    excluded_text = "\n".join(
        textwrap.fill(f"Excluded, {_lower_label(e.label)}: {f.excluded[e.reason]}", 26)
        for e in f.exclusions.itertuples())
    _arrow(ax, 0.36, 0.885, 0.36, 0.785)
    ax.plot([0.36, 0.665], [0.835, 0.835], color="0.35", lw=1)
    _box(ax, 0.83, 0.835, 0.32, 0.13, excluded_text, "0.45")
    _box(ax, 0.36, 0.73, 0.56, 0.1, f"{f.n_analysed} patients analysed\n({data_label})")
    xs = [0.13, 0.38, 0.63, 0.88]
    for x, (key, label) in zip(xs, REASONS.items(), strict=True):
        _arrow(ax, 0.36, 0.68, x, 0.53)
        _box(ax, x, 0.46, 0.22, 0.13, f"{label}\n{_n_text(f.reasons[key])}", OKABE_ITO[0])
        _arrow(ax, x, 0.395, x, 0.27)
        _box(ax, x, 0.19, 0.22, 0.15,
             f"Lost RBC-TI: {f.flow.loc[key, 1]}\nKept RBC-TI: {f.flow.loc[key, 0]}",
             OKABE_ITO[1])
    return fig


@dataclass
class Baseline:
    """Table 1's data, rows, groups and the table with its tests (one pass of `table_one`)."""

    data: pd.DataFrame
    rows: list
    groups: dict
    merge_rule: str | None
    table: pd.DataFrame
    min_cell: int


def baseline_table(a: pd.DataFrame, tb_cutoff: float, cycles_cutoff: float,
                   min_cell: int) -> Baseline:
    """Table 1 by reason for discontinuation (reasons of fewer than 5 patients merged, as the
    note states), with its tests kept for the supplementary table."""
    t = baseline.table_data(a)
    groups, rule = baseline.group_labels(a)
    rows = baseline.rows(tb_cutoff, cycles_cutoff)
    table = table_one(t, rows, group="stop_reason", group_labels=groups, min_cell=min_cell)
    return Baseline(data=t, rows=rows, groups=groups, merge_rule=rule, table=table,
                    min_cell=min_cell)


def table1(b: Baseline, data_label: str) -> Table:
    """Table 1 without tests: it describes (STROBE 14); the comparisons are `table1_tests`."""
    k = b.min_cell
    return Table(b.table.drop(columns=["p", "test"]), "table1", note=(
        "n (%) of patients with a known value; median (IQR). Missing: patients without a "
        "value. " + (b.merge_rule + " " if b.merge_rule else "") + f"Data: {data_label}."
        + (f" Counts below {k} show as <{k}, and counts that would reveal them as "
           f">={k}; their percentages are withheld." if k else "")))


def table1_tests(b: Baseline, data_label: str) -> Table:
    """The supplementary table: Table 1's group comparisons (descriptive, not adjusted)."""
    return Table(b.table.loc[b.table["p"] != "", ["Characteristic", "p", "test"]]
                 .rename(columns={"test": "Test"}), "table1_tests", note=(
        "Fisher's exact test where an expected count is below 5 (Monte Carlo "
        "Fisher-Freeman-Halton beyond 2x2), else the chi-square test; Kruskal-Wallis for "
        f"continuous characteristics. Data: {data_label}."))


def section(study: Any, f: Flow, b: Baseline, cells: Cells) -> dict[str, Any]:
    """The results section `cohort` (what the manuscript's variables read): the flow, Table
    1's overall counts shown or hidden exactly as there, and the blanks per column."""
    a = study.analysis

    def quartiles(col):
        """Median and IQR (withheld below min_cell patients) and the number of blanks."""
        return {**cells.quartiles(a[col]), "missing": cells.count(int(a[col].isna().sum()))}

    def overall(column):
        """Table 1's Overall counts of a categorical row, shown (or hidden) exactly as there."""
        row = next(r for r in b.rows if r.column == column)
        return overall_counts(b.data, row, group="stop_reason", group_labels=b.groups,
                              min_cell=b.min_cell)

    return {
        "n_patients": len(a),
        "assessed": f.assessed,
        "exclusions": [{"reason": e.reason, "label": e.label, "definition": e.definition,
                        "n": f.excluded[e.reason]} for e in f.exclusions.itertuples()],
        "dates_imputed": int(study.cohort[[c for c in study.cohort.columns
                                           if c.endswith("_imputed")]].to_numpy().sum()),
        "stop_reason_counts": f.reasons,
        "female": overall("sex")["F"],
        "age_at_stop": quartiles("age_at_len_stop"),
        "hb_at_stop": quartiles("hb_at_stop_g_dl"),
        "len_cycles": quartiles("len_cycles"),
        "months_in_ti_on_len": quartiles("ti_before_stop_months"),
        "ltb": overall("ltb_cat")["low"],
        "cycles_ge_cutoff": overall("long_cat")["yes"],
        "ipssr_counts": {k: v["n"] for k, v in overall("ipssr").items()},
        "isolated_del5q": overall("karyotype")["isolated_del5q"],
        "ccyr_at_stop_counts": {k: v["n"] for k, v in overall("ccyr_at_stop").items()},
        # Table 1's Missing column, for the manuscript: blanks per extract column, all patients
        "missing": {r.column: cells.count(int(a[r.column].isna().sum())) for r in b.rows
                    if r.column in study.cohort.columns},
    }
