"""The whole analysis of the four notebooks without plotting: what `make bench` times at scale.

`analyse(path)` validates an extract, derives the analysis table and computes every statistic
the notebooks report (Table 1, reverse KM, KM, univariable and multivariable Cox, the PH test,
log-rank tests, Aalen-Johansen, Fine-Gray, exact CIs, Fisher's test) with the same package
functions and arguments, timing each step. It writes nothing and prints no patient data.
`python -m lenstop.scale DATA` prints the step times; `--json` prints them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from .baseline import REASONS

PUBLISHED = ["ltb", "cycles_ge_cutoff", "age_per10", "hb"]


class Timer:
    """Wall-clock seconds per named step, in the order the steps ran."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.steps: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        start = self.clock()
        yield
        self.steps[name] = self.steps.get(name, 0.0) + self.clock() - start


def _cohort(a: pd.DataFrame, cycles_cutoff: float, tb_cutoff: float) -> dict[str, Any]:
    """Notebook 01: reasons, Table 1 by reason, medians."""
    from . import baseline
    from .tables import table_one

    table1 = table_one(baseline.table_data(a), baseline.rows(tb_cutoff, cycles_cutoff),
                       group=baseline.GROUP, group_labels=baseline.group_labels(a)[0])
    counts = a["stop_reason"].value_counts().reindex(list(REASONS), fill_value=0)
    quart = {c: a[c].dropna().astype(float).quantile([0.25, 0.5, 0.75]).to_list()
             for c in ("age_at_len_stop", "hb_at_stop_g_dl", "len_cycles",
                       "ti_before_stop_months")}
    return {"table1_rows": len(table1), "reasons": counts.to_dict(), "quartiles": quart,
            "tests": table1.loc[table1["test"] != "", "test"].value_counts().to_dict()}


def _cox_data(a: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """Notebook 02's modelling frame and its ten univariable candidates."""
    from .stats import dummies

    m = a.assign(ti_years=a["ti_before_stop_months"] / 12,
                 dose_per5=a["len_dose_at_stop_mg"].astype("Float64") / 5)

    def in_order(frame, col, levels):
        return frame[[f"{col}[{lv}]" for lv in levels if f"{col}[{lv}]" in frame.columns]]

    ipssr = in_order(dummies(m, "ipssr", reference="very_low"), "ipssr", ["low", "intermediate"])
    reason = in_order(dummies(m, "stop_reason", reference="intolerance"), "stop_reason",
                      ["physician", "patient", "unknown"])
    m = pd.concat([m, ipssr, reason], axis=1)
    candidates = ["ltb", "cycles_ge_cutoff", "age_per10", "hb", "male", list(ipssr.columns),
                  "del5q_plus1", list(reason.columns), "ti_years", "dose_per5"]
    return m, candidates


def _ti_duration(a: pd.DataFrame, timer: Timer, alpha: float, landmarks) -> dict[str, Any]:
    """Notebook 02: follow-up, KM, Cox models, PH test, log-rank, competing risks."""
    from .stats import (
        ModelNotEstimable,
        cox_fit,
        cox_univariable,
        cumulative_incidence,
        fine_gray,
        km_summary,
        logrank,
        ph_test,
        reverse_km_median,
    )

    out: dict[str, Any] = {}
    with timer.step("Kaplan-Meier, reverse KM"):
        out["followup_median"] = reverse_km_median(a, "fu_months", "died", alpha=alpha)["median"]
        out["ti_median"] = km_summary(a, "ti_months", "ti_lost", landmarks=landmarks,
                                      alpha=alpha).median
    with timer.step("Cox univariable (10 models)"):
        m, candidates = _cox_data(a)
        uni = cox_univariable(m, "ti_months", "ti_lost", candidates, alpha=alpha,
                              not_estimable="report")
        out["cox_univariable_models"] = int(uni["model"].nunique())
    with timer.step("Cox multivariable + PH test"):
        try:
            multi = cox_fit(m, "ti_months", "ti_lost", PUBLISHED, alpha=alpha)
            out["cox_multivariable_hr"] = dict(zip(multi.table["term"], multi.table["hr"],
                                                   strict=True))
            out["ph_min_p"] = ph_test(multi)["min_p"]
        except ModelNotEstimable as err:
            out["cox_multivariable_note"] = err.reason
    with timer.step("log-rank (4 factors)"):
        age_cut, hb_cut = float(a["age_at_len_stop"].median()), float(a["hb"].median())
        g = a.assign(tb_group=a["ltb"], cycles_group=a["cycles_ge_cutoff"],
                     age_group=a["age_at_len_stop"] > age_cut, hb_group=a["hb"] > hb_cut)
        out["logrank_p"] = {col: logrank(g.dropna(subset=[col]), "ti_months", "ti_lost",
                                         col)["p"]
                            for col in ("tb_group", "cycles_group", "age_group", "hb_group")}
    with timer.step("Aalen-Johansen (2 causes)"):
        for cause in (1, 2):
            cumulative_incidence(a, "ti_months", "ti_status", cause=cause, landmarks=landmarks,
                                 alpha=alpha)
    with timer.step("Fine-Gray"):
        try:
            fg = fine_gray(a, "ti_months", "ti_status", PUBLISHED, cause=1, alpha=alpha)
            out["fine_gray_shr"] = dict(zip(fg.table["term"], fg.table["shr"], strict=True))
            out["fine_gray_rows_equivalent"] = fg.n_rows
        except ModelNotEstimable as err:
            out["fine_gray_note"] = err.reason
    return out


def _cytogenetics(a: pd.DataFrame, alpha: float) -> dict[str, Any]:
    """Notebook 03: CCyR loss with exact CI, timing, Fisher's test against loss of TI."""
    from .stats import exact_ci, fisher_2x2

    in_ccyr = a[a["ccyr_at_stop"] == "yes"]
    reevaluated = in_ccyr[in_ccyr["cyto_reevaluated"] == 1]
    lost = exact_ci(int(reevaluated["ccyr_lost_flag"].sum()), len(reevaluated), alpha=alpha)
    reevaluated.groupby("ccyr_lost_flag")["months_to_reeval"].describe()
    cross = pd.crosstab(reevaluated["ccyr_lost_flag"], reevaluated["ti_lost"]).reindex(
        index=[1, 0], columns=[1, 0], fill_value=0)
    return {"ccyr_lost": lost["proportion"], "fisher_p": fisher_2x2(cross.to_numpy(),
                                                                    alpha=alpha)["p"]}


def _retreatment(a: pd.DataFrame, alpha: float, landmarks) -> dict[str, Any]:
    """Notebook 04: re-treatment shares with exact CIs, intervals, KM of the second TI."""
    from .derive import months_between
    from .stats import exact_ci, km_summary

    lost_ti = a[a["ti_lost"] == 1]
    retreated = a[a["retreated"] == 1]
    regained = exact_ci(int(retreated["regained"].sum()), len(retreated), alpha=alpha)
    exact_ci(len(retreated), len(lost_ti), alpha=alpha)
    months_between(retreated["ti_loss_date"], retreated["len_retreat_date"]).quantile(
        [0.25, 0.5, 0.75])
    second = km_summary(retreated[retreated["regained"] == 1], "second_ti_months",
                        "second_ti_lost", landmarks=landmarks, alpha=alpha)
    return {"regained": regained["proportion"], "second_ti_events": second.events}


def analyse(data_path: str | Path, timer: Timer | None = None,
            cycles_cutoff: float = config.CYCLES_CUTOFF,
            tb_cutoff: float = config.TB_CUTOFF_UNITS_8WK, alpha: float = config.ALPHA,
            landmarks=config.LANDMARK_MONTHS) -> dict[str, Any]:
    """Run every statistic of the four notebooks on `data_path`; return summary numbers."""
    from .derive import analysis_table
    from .validate import load_cohort

    timer = timer or Timer()
    with timer.step("read + validate"):
        cohort, _warnings = load_cohort(data_path)
    with timer.step("derive"):
        a = analysis_table(cohort, cycles_cutoff=cycles_cutoff, tb_cutoff=tb_cutoff)
    with timer.step("Table 1 + cohort summaries"):
        out = {"n": len(a), "cohort": _cohort(a, cycles_cutoff, tb_cutoff)}
    out["ti_duration"] = _ti_duration(a, timer, alpha, landmarks)
    with timer.step("cytogenetics + re-treatment"):
        out["cytogenetics"] = _cytogenetics(a, alpha)
        out["retreatment"] = _retreatment(a, alpha, landmarks)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: time the whole analysis of one extract."""
    p = argparse.ArgumentParser(prog="python -m lenstop.scale", description=__doc__.splitlines()[0])
    p.add_argument("data", help="extract to analyse (any format lenstop reads)")
    p.add_argument("--json", action="store_true", help="print step times as JSON")
    args = p.parse_args(argv)
    timer = Timer()
    start = time.perf_counter()
    result = analyse(args.data, timer)
    total = time.perf_counter() - start
    if args.json:
        print(json.dumps({"n": result["n"], "total_s": total, "steps_s": timer.steps}))
    else:
        for name, secs in timer.steps.items():
            print(f"{name:<32} {secs:7.2f} s")
        print(f"{'total (' + str(result['n']) + ' patients)':<32} {total:7.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
