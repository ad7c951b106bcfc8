"""Minimum cell size: which counts a shareable output may show, and what it shows instead.

Registries release a count only when it is 0 or at least k (the minimum cell size). A count
from 1 to k-1 is shown as '<k' (primary suppression). A hidden count in a line of counts that
adds up to a shown total could be recovered by subtraction, so the smallest other non-zero
count of that line is hidden too (complementary suppression, the usual "next smallest" rule of
public-health registries); it is shown as '>=k', which is true because it is not below k.
Percentages, proportions and confidence limits of a hidden count are withheld with it, and so
are medians and quartiles of fewer than k patients (they are nearly their own values).

Zeros are shown: an empty cell is structural here (a category nobody has), not a person.
The rules cover each line (a row or column with its total); a hidden cell that several lines
pin down together (interval disclosure across a whole table) is not searched for, which is
enough for the one- and two-way tables of this report.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

ESTIMATE_COLUMNS = ("coef", "se", "hr", "shr", "ci_low", "ci_high", "p", "z")
"""Columns of a model table that estimate something (withheld by `Cells.model_terms`)."""

Cell = int | str
"""A count as shareable outputs hold it: the number, or '<k' / '>=k' when hidden."""


def hide(values: Mapping[Hashable, int], lines: Iterable[Sequence[Hashable]], min_cell: int,
         fixed: Iterable[Hashable] = (), hidden: Iterable[Hashable] = ()) -> dict[Hashable, Cell]:
    """Apply primary and complementary suppression to counts related by `lines`.

    `values` maps a key to its count (include counts that are not printed but can be
    derived, such as n - k); each line lists keys whose counts are tied by one sum (the parts
    and their total). `fixed` keys are hidden to protect another count only as a last resort
    (totals that other outputs quote, so that every output shows the same); `hidden` keys are
    hidden already (by another output, as '>=k' unless small). Returns every key with its
    count or its hidden label.
    """
    values = {key: int(v) for key, v in values.items()}
    lines = [list(line) for line in lines]
    fixed = set(fixed)
    if min_cell <= 1:
        return dict(values)
    hidden = {key: "secondary" for key in hidden if values[key] > 0}
    hidden |= {key: "primary" for key, v in values.items() if 0 < v < min_cell}
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(key in hidden for key in line) != 1:
                continue
            open_ = [key for key in line if key not in hidden and values[key] > 0]
            candidates = [key for key in open_ if key not in fixed] or open_
            if candidates:  # else nothing can protect it (every other count is 0)
                hidden[min(candidates, key=lambda key: (values[key], line.index(key)))] = \
                    "secondary"
                changed = True
    return {key: (f"<{min_cell}" if hidden[key] == "primary" else f">={min_cell}")
            if key in hidden else v for key, v in values.items()}


def shown(cell: Cell | None) -> bool:
    """True for a count that is printed as a number (not hidden, not missing)."""
    return isinstance(cell, int | np.integer) and not isinstance(cell, bool)


@dataclass(frozen=True)
class Cells:
    """The minimum cell size of one build, and how each kind of count is shown under it.

    `Cells(0)` shows everything, so the same notebook code serves every build.
    """

    min_cell: int = 0

    def count(self, n: int) -> Cell:
        """A count shown with no total beside it."""
        return hide({0: n}, [], self.min_cell)[0]

    def of(self, k: int, n: int) -> Cell:
        """k of a shown total n: hidden when k, or the n - k it leaves, is below k_min."""
        return hide({"k": k, "rest": n - k, "n": n}, [["k", "rest", "n"]], self.min_cell,
                    fixed=["n"])["k"]

    def n_pct(self, k: int, n: int) -> dict:
        """{'n': k or its label, 'pct': percentage of n, or None when withheld}."""
        cell = self.of(k, n)
        return {"n": cell, "pct": 100 * k / n if shown(cell) and n else None}

    def partition(self, counts: Mapping[Hashable, int], total: int | None = None,
                  fixed: Iterable[Hashable] = ()) -> dict[Hashable, Cell]:
        """Counts of disjoint groups that add up to a shown total (the sum when not given);
        patients in no listed group count as one more, unprinted part. `fixed` parts are
        quoted elsewhere and hidden to protect another only as a last resort."""
        total = sum(counts.values()) if total is None else int(total)
        rest = total - sum(int(v) for v in counts.values())
        values = {**{("part", key): int(v) for key, v in counts.items()},
                  ("rest",): rest, ("total",): total}
        out = hide(values, [list(values)], self.min_cell,
                   fixed=[("total",), *(("part", key) for key in fixed)])
        return {key: out[("part", key)] for key in counts}

    def table(self, frame: pd.DataFrame,
              fixed: Iterable[tuple[Hashable, Hashable]] | None = None,
              hidden: Iterable[tuple[Hashable, Hashable]] = ()) -> pd.DataFrame:
        """A two-way table of counts with its margins ('Total' row and column), hidden cells
        as labels; every row and column is one line with its total. `fixed` cells (default:
        every margin, as texts quote them) are hidden to protect another only
        as a last resort; `hidden` cells are hidden by another output already."""
        counts = frame.astype(int)
        values: dict[Hashable, int] = {}
        for r in counts.index:
            for c in counts.columns:
                values[(r, c)] = int(counts.loc[r, c])
            values[(r, "Total")] = int(counts.loc[r].sum())
        for c in counts.columns:
            values[("Total", c)] = int(counts[c].sum())
        values[("Total", "Total")] = int(counts.to_numpy().sum())
        rows, cols = [*counts.index, "Total"], [*counts.columns, "Total"]
        lines = [[(r, c) for c in cols] for r in rows] + [[(r, c) for r in rows] for c in cols]
        if fixed is None:
            fixed = [(r, "Total") for r in rows] + [("Total", c) for c in cols]
        out = hide(values, lines, self.min_cell, fixed=[*fixed, ("Total", "Total")],
                   hidden=hidden)
        return pd.DataFrame([[out[(r, c)] for c in cols] for r in rows], index=rows,
                            columns=cols, dtype=object)

    def proportion(self, estimate: dict, k: Cell | None = None, n: Cell | None = None) -> dict:
        """An exact_ci() result as outputs show it: k as `of(k, n)` hides it and n as a lone
        count (or both as given, when another output decided), with the proportion and its
        CI withheld unless both are shown."""
        k = self.of(estimate["k"], estimate["n"]) if k is None else k
        n = self.count(estimate["n"]) if n is None else n
        if shown(k) and shown(n):
            return dict(estimate)
        return {**estimate, "k": k, "n": n, "proportion": None, "ci_low": None,
                "ci_high": None, "withheld": f"fewer than {self.min_cell} patients in a cell"}

    def quartiles(self, values: pd.Series) -> dict:
        """Median and quartiles with the number of values, withheld below the minimum."""
        x = pd.Series(values).dropna().astype(float)
        n = len(x)
        if n == 0 or (self.min_cell and n < self.min_cell):
            return {"median": None, "q1": None, "q3": None, "n": self.count(n)}
        q1, median, q3 = x.quantile([0.25, 0.5, 0.75]).to_list()
        return {"median": median, "q1": q1, "q3": q3, "n": n}

    def landmarks(self, rows: Iterable[dict], stop: float) -> list[dict]:
        """Landmark rows (time, estimate, CI, at_risk) as outputs show them: numbers at risk
        hidden below the minimum, estimates after `stop` (see `km_stop`) withheld."""
        out = []
        for row in rows:
            row = dict(row)
            if "at_risk" in row:
                row["at_risk"] = self.count(row["at_risk"])
            if self.min_cell and row["time"] > stop:
                row = {k: v if k in ("time", "at_risk") else None for k, v in row.items()}
                row["withheld"] = f"fewer than {self.min_cell} patients at risk"
            out.append(row)
        return out

    def km(self, summary) -> dict:
        """A km_summary() as outputs show it (its to_dict()): numbers at risk hidden, landmark
        estimates withheld where fewer than min_cell patients remain at risk, and so is the
        median when it, or its upper confidence limit, falls there (an open limit is shown)."""
        out = summary.to_dict()
        stop = km_stop(summary.fitter, self.min_cell)
        out["landmarks"] = self.landmarks(out["landmarks"], stop)
        high = out["median_ci"][1]
        if self.min_cell and out["median"] is not None and (
                out["median"] > stop or (high is not None and high > stop)):
            out |= {"median": None, "median_ci": [None, None],
                    "median_withheld": f"fewer than {self.min_cell} patients at risk"}
        return out

    def model_terms(self, table: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
        """Model estimates as outputs show them: a 0/1 term with fewer than min_cell patients
        on one side has its estimates withheld (they would describe those few patients)."""
        if not self.min_cell or table is None or table.empty:
            return table
        out = table.copy()
        estimates = [c for c in out.columns if c in ESTIMATE_COLUMNS]
        for i, term in out["term"].items():
            if term not in data or out.loc[i, estimates].isna().all():
                continue  # (a term the model could not estimate keeps its reason)
            x = pd.to_numeric(data[term], errors="coerce").dropna()
            if x.empty or not x.isin([0, 1]).all():
                continue
            smaller = int(min((x == 1).sum(), (x == 0).sum()))
            if 0 < smaller < self.min_cell:
                out.loc[i, estimates] = np.nan
                if "note" not in out:
                    out["note"] = None
                out.loc[i, "note"] = (f"withheld: fewer than {self.min_cell} patients in one "
                                      "of its groups")
        return out

    def note(self, reason: str | None) -> str | None:
        """A model's not-estimable reason with its event count shown as counts are
        ('4 events for 4 term(s)...' reads '<5 events ...' under a minimum of 5)."""
        if reason is None or not self.min_cell:
            return reason
        return re.sub(r"^(\d+)(?= events? )", lambda m: str(self.count(int(m[1]))), reason)

    def allows_individual_marks(self) -> bool:
        """Figures that draw one mark per patient (strip, swimmer) only without a minimum."""
        return self.min_cell == 0


def km_stop(kmf, min_cell: int) -> float:
    """The last time a Kaplan-Meier curve may be drawn to: the end of follow-up, or with a
    minimum cell size the last time at which at least `min_cell` patients are at risk (the
    later steps would be single patients' event times)."""
    table = kmf.event_table
    if not min_cell:
        return float(table.index.max())
    enough = table.index[table["at_risk"] >= min_cell]
    return float(enough.max()) if len(enough) else 0.0
