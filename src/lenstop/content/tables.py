"""Table 1 (baseline characteristics by group) and the table object notebooks display.

Categorical rows are n (%); continuous rows are median (IQR). Group comparisons use the test
that fits the cell sizes: Fisher's exact test (2x2 exact, larger tables Fisher-Freeman-Halton
by Monte Carlo with a fixed seed) when any expected count is below 5, else the chi-square
test; Kruskal-Wallis (Mann-Whitney for two groups) for continuous rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lenstop.content.fmt import interval, n_pct, p_cell
from lenstop.disclosure.suppression import Cell, Cells, hide, shown

MONTE_CARLO_TABLES = 20_000
MONTE_CARLO_SEED = 20240805


@dataclass(frozen=True)
class Row:
    """One characteristic of Table 1: a column, how to summarise it, and its label."""

    column: str
    label: str
    kind: str  # "category" or "continuous"
    levels: tuple[tuple[str, str], ...] = ()  # (value, label) for categories
    digits: int = 1


def _fmt_median(x: pd.Series, digits: int, min_cell: int = 0) -> str:
    x = x.dropna().astype(float)
    if x.empty:
        return "-"
    if len(x) < min_cell:  # the median of a few patients is nearly their own values
        return f"(n<{min_cell})"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return interval(med, q1, q3, digits)


def category_test(table: np.ndarray) -> tuple[float | None, str]:
    """p-value and test name for a contingency table (rows: levels, columns: groups)."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None, "-"
    expected = stats.contingency.expected_freq(table)
    if (expected < 5).any():
        if table.shape == (2, 2):
            return float(stats.fisher_exact(table).pvalue), "Fisher"
        method = stats.MonteCarloMethod(n_resamples=MONTE_CARLO_TABLES,
                                        rng=np.random.default_rng(MONTE_CARLO_SEED))
        return float(stats.fisher_exact(table, method=method).pvalue), "Fisher (MC)"
    return float(stats.chi2_contingency(table).pvalue), "Chi-square"


def continuous_test(groups: list[pd.Series]) -> tuple[float | None, str]:
    """p-value and test name comparing a continuous variable across groups (rank tests)."""
    groups = [g.dropna().astype(float) for g in groups]
    groups = [g for g in groups if len(g) > 0]
    if len(groups) < 2:
        return None, "-"
    if len(groups) == 2:
        return float(stats.mannwhitneyu(*groups).pvalue), "Mann-Whitney"
    return float(stats.kruskal(*groups).pvalue), "Kruskal-Wallis"


def table_one(data: pd.DataFrame, rows: list[Row], group: str | None = None,
              group_labels: dict[str, str] | None = None, min_cell: int = 0) -> pd.DataFrame:
    """Table 1: one line per characteristic (and per category level), Overall then each group.

    Columns: Characteristic, Overall (N=..), one per group (N=..), p, test, Missing. With a
    minimum cell size (`min_cell` > 0) counts follow `suppression`: small counts, group sizes
    and missing counts show as '<k', the counts that would give them away as '>=k', their
    percentages are withheld, and so are medians of fewer than `min_cell` patients.
    """
    cells = Cells(min_cell)
    subsets = _subsets(data, group, group_labels)
    sizes = cells.partition({name: len(sub) for name, sub in subsets[1:]}, total=len(data))
    headers = [f"Overall (N={len(data)})"] + [f"{name} (N={sizes[name]})"
                                              for name, _sub in subsets[1:]]
    out: list[dict] = []
    for row in rows:
        missing = cells.count(int(data[row.column].isna().sum()))
        if row.kind == "continuous":
            line = {"Characteristic": f"{row.label}, median (IQR)"}
            for h, (_n, sub) in zip(headers, subsets, strict=True):
                line[h] = _fmt_median(sub[row.column], row.digits, min_cell)
            p, test = continuous_test([sub[row.column] for _n, sub in subsets[1:]]) \
                if group else (None, "-")
            out.append({**line, "p": p_cell(p), "test": test, "Missing": missing})
            continue
        counts = np.array([[int((sub[row.column] == v).sum()) for _n, sub in subsets[1:]]
                           for v, _lab in row.levels]) if group else None
        p, test = category_test(counts) if group else (None, "-")
        out.append({"Characteristic": f"{row.label}, n (%)", **dict.fromkeys(headers, ""),
                    "p": p_cell(p), "test": test, "Missing": missing})
        shown_cells, percent = _category_block(row, subsets, cells, shown(missing))
        for value, label in row.levels:
            line = {"Characteristic": f"    {label}"}
            for h, (name, _sub) in zip(headers, subsets, strict=True):
                line[h] = _n_pct_text(shown_cells[(value, name)], percent.get(name))
            out.append({**line, "p": "", "test": "", "Missing": ""})
    return pd.DataFrame(out)


def _subsets(data: pd.DataFrame, group: str | None,
             group_labels: dict[str, str] | None) -> list[tuple[str, pd.DataFrame]]:
    """('Overall', all rows), then (label, rows) for each group level."""
    levels = list(group_labels or {}) if group else []
    if group and not levels:
        levels = sorted(data[group].dropna().unique())
    return [("Overall", data)] + [
        ((group_labels or {}).get(lv, str(lv)), data[data[group] == lv]) for lv in levels]


def overall_counts(data: pd.DataFrame, row: Row, group: str | None = None,
                   group_labels: dict[str, str] | None = None,
                   min_cell: int = 0) -> dict[str, dict]:
    """Table 1's Overall column for a categorical row, as the table shows it: for each level
    {'n': count or label, 'known': patients with a value, 'pct': % of known or None}."""
    cells = Cells(min_cell)
    subsets = _subsets(data, group, group_labels)
    missing = cells.count(int(data[row.column].isna().sum()))
    block, percent = _category_block(row, subsets, cells, shown(missing))
    known = block[("(known)", "Overall")]
    out = {}
    for value, _label in row.levels:
        n = block[(value, "Overall")]
        total = percent.get("Overall")
        out[value] = {"n": n, "known": known,
                      "pct": 100 * n / total if shown(n) and total else None}
    return out


def _category_block(row: Row, subsets: list[tuple[str, pd.DataFrame]], cells: Cells,
                    missing_shown: bool) -> tuple[dict, dict]:
    """The counts of one categorical characteristic (levels x Overall and groups), hidden
    where `cells` says, and the denominators each column's percentages may use.

    Every level's counts across the groups add up to its Overall count, and every column's
    levels to the patients with a known value, so both are lines of the suppression.
    Percentages show their denominator; a column whose denominator is hidden (or, in a block
    with a hidden missing count, any column) shows counts only.
    """
    names = [name for name, _sub in subsets]
    keys = [value for value, _lab in row.levels] + ["(other)", "(known)"]
    values = {}
    for name, sub in subsets:
        col = sub[row.column]
        known = int(col.notna().sum())
        listed = {value: int((col == value).sum()) for value, _lab in row.levels}
        values |= {(value, name): n for value, n in listed.items()}
        values[("(other)", name)] = known - sum(listed.values())
        values[("(known)", name)] = known
    for key in keys:  # patients of no listed group (none when the groups cover everyone)
        values[(key, "(none)")] = values[(key, "Overall")] - sum(
            values[(key, name)] for name in names[1:])
    columns = [*names, "(none)"]
    lines = [[(key, name) for name in columns] for key in keys]
    lines += [[(key, name) for key in keys] for name in columns]
    out = hide(values, lines, cells.min_cell, fixed=[("(known)", name) for name in names])
    percent = {name: values[("(known)", name)] for name in names
               if missing_shown and shown(out[("(known)", name)])}
    return out, percent


def _n_pct_text(cell: Cell, total: int | None) -> str:
    if not shown(cell) or total is None:
        return str(cell)
    if total == 0:
        return "-"
    return n_pct(cell, total)


def to_markdown(frame: pd.DataFrame) -> str:
    """A pipe table (what pandoc and Quarto read) with the index dropped.

    The separator row's dashes are proportional to each column's longest body cell (or its
    header's longest word, as headers wrap), which pandoc and Quarto use as relative column
    widths in the PDF: each column gets the room its values need, so no two words collide.
    """
    cols = [str(c) for c in frame.columns]
    body = [[str(v).replace("|", "\\|") for v in rec] for rec in frame.itertuples(index=False)]
    for cells in body:
        if cells[0].startswith("    "):
            cells[0] = "&emsp;" + cells[0][4:]
    def shown(cell: str) -> int:  # characters as printed (the indent is one em space)
        return len(cell.replace("&emsp;", " "))

    widths = [max([max(map(len, cols[i].split()), default=1), *(shown(r[i]) for r in body)])
              for i in range(len(cols))]
    widths = [min(max(w, 3), 40) for w in widths]
    seps = [(":" + "-" * w) if i == 0 else ("-" * w + ":") for i, w in enumerate(widths)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(seps) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


class Table:
    """A table as markdown: JupyterLab renders it, and Quarto and the pandoc renderer read it
    into a real table for both HTML and PDF.

    There is deliberately no HTML representation: any text/html output makes Quarto 1.7 load
    require.js and jQuery from a CDN in the notebook preview pages, which then need the
    internet to view (and the two formats would show different tables).
    """

    def __init__(self, frame: pd.DataFrame, table_id: str, title: str = "",
                 note: str = ""):
        self.frame, self.table_id, self.title, self.note = frame, table_id, title, note

    def __repr__(self) -> str:  # no memory address: notebook outputs must be reproducible
        return f"Table {self.table_id!r}: {len(self.frame)} rows x {self.frame.shape[1]} columns"

    def _repr_markdown_(self) -> str:
        text = to_markdown(self.frame)
        return text + (f"\n\n{self.note}" if self.note else "")

    def save(self, tables_dir) -> None:
        """Write the markdown version to `tables_dir/<table_id>.md` (atomically)."""
        from pathlib import Path

        from lenstop.files import write_atomic

        write_atomic(Path(tables_dir) / f"{self.table_id}.md", self._repr_markdown_() + "\n")
