"""The sensitivity grid: notebook 02's headline estimates re-made under other definitions.

A grid (`config/sensitivity.yaml`) lists points, each the published analysis with one
definition moved: the LEN-cycles or transfusion-burden cut-off, the weeks that make RBC-TI,
censoring at later treatment, adjustment for the stop reason, or death as a competing event.
`analyse_point` re-derives the analysis table from the validated cohort under that point and
fits what notebook 02 reports first: the multivariable model of the four published factors
(Cox, or Fine-Gray when death competes) and the median RBC-TI duration (Kaplan-Meier, or the
time the Aalen-Johansen cumulative incidence of loss reaches 50%). The workflow runs each point
as its own job (rule `sensitivity_point`), so a change reruns only the points it reaches;
notebook 07 gathers them into the report's appendix. Counts and estimates are shown as the
build's minimum cell size allows (`suppression.Cells`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from lenstop import config
from lenstop.cohort.derive import (
    TI_LOST,
    analysis_table,
    included,
    merge_sparse,
    ti_days_before_stop,
)
from lenstop.disclosure.suppression import Cells, km_stop
from lenstop.stats import (
    ModelNotEstimable,
    cif_median,
    cox_fit,
    cumulative_incidence,
    dummies,
    fine_gray,
    km_summary,
)
from lenstop.workflow.sensitivity_grid import (
    DEFAULTS,
    GRID_FILE,
    GridError,
    Point,
    load_grid,
    point,
)

TERMS = ("ltb", "cycles_ge_cutoff", "age_per10", "hb")
"""The four published factors whose hazard ratios each point reports."""


def _frame(cohort: pd.DataFrame, params: Mapping[str, Any]) -> tuple[pd.DataFrame, int]:
    """The analysis table of the point's patients, and how many more its RBC-TI threshold
    excluded than the published 8 weeks."""
    base = analysis_table(included(cohort), cycles_cutoff=params["cycles_cutoff"],
                          tb_cutoff=params["tb_cutoff"])
    days = ti_days_before_stop(base)
    keep = (days >= 7 * int(params["ti_min_weeks"])).fillna(False).astype(bool)
    return base.loc[keep], int((~keep).sum())


def _model_frame(a: pd.DataFrame, params: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str],
                                                                       str | None]:
    """The model's data and terms: the four factors, plus the stop reason when adjusted for."""
    terms = list(TERMS)
    if not params["adjust_stop_reason"]:
        return a, terms, None
    merged, rule = merge_sparse(a["stop_reason"], min_n=config.MIN_CATEGORY, into="patient",
                                label="the reason for discontinuation")
    m = a.assign(stop_reason=merged)
    reason = dummies(m, "stop_reason", reference="intolerance")
    return pd.concat([m, reason], axis=1), terms + list(reason.columns), rule


def analyse_point(cohort: pd.DataFrame, pt: Point, alpha: float | None = None,
                  min_cell: int = 0) -> dict[str, Any]:
    """The four hazard ratios (95% CI, p) and the median RBC-TI duration of one grid point,
    from the validated cohort; counts and estimates as outputs under `min_cell` show them."""
    params = pt.resolved()
    alpha = config.build_parameters().get("alpha", config.ALPHA) if alpha is None else alpha
    cells = Cells(min_cell)
    a, excluded = _frame(cohort, params)
    duration, event = (("ti_months_censor_dmt", "ti_lost_censor_dmt")
                       if params["censor_later_treatment"] else ("ti_months", "ti_lost"))
    m, terms, rule = _model_frame(a, params)
    competing = params["estimator"] == "competing"
    out: dict[str, Any] = {"name": pt.name, "label": pt.label, "parameters": params,
                           "n_patients": cells.count(len(a)),
                           "excluded_beyond_published": cells.count(excluded),
                           "model": "Fine-Gray" if competing else "Cox",
                           "adjusted_for": [t for t in terms if t not in TERMS],
                           "reason_rule": rule, "note": None}
    try:
        if competing:
            fit = fine_gray(m, "ti_months", "ti_status", terms, cause=TI_LOST, alpha=alpha)
            table = fit.table.rename(columns={"shr": "hr"})
        else:
            fit = cox_fit(m, duration, event, terms, alpha=alpha)
            table = fit.table
        shown = cells.model_terms(table, m)
        out |= {"n": cells.count(fit.n), "events": cells.of(fit.events, fit.n)}
        out["terms"] = [{k: (None if pd.isna(r.get(k)) else float(r[k]))
                         for k in ("hr", "ci_low", "ci_high", "p")} | {"term": r["term"]}
                        for r in shown.to_dict("records") if r["term"] in TERMS]
    except ModelNotEstimable as err:
        out |= {"n": None, "events": None, "terms": [], "note": cells.note(err.reason)}
    ti = km_summary(a, duration, event, landmarks=(), alpha=alpha)
    if out["events"] is None:  # no model: the events of the endpoint itself
        out["events"] = cells.of(ti.events, ti.n)
    if competing:
        cif = cumulative_incidence(a, "ti_months", "ti_status", cause=TI_LOST,
                                   landmarks=(), alpha=alpha)
        med = cif_median(cif)
        stop = km_stop(ti.fitter, min_cell)
        median, ci = med["median"], med["median_ci"]
        if min_cell and median is not None and (median > stop or (ci[1] or 0) > stop):
            median, ci = None, [None, None]
            out["median_withheld"] = f"fewer than {min_cell} patients at risk"
        out |= {"median_estimator": "Aalen-Johansen (death competing)",
                "median_months": median, "median_ci": ci, "max_cif": med["max_cif"]}
    else:
        km = cells.km(ti)
        out |= {"median_estimator": "Kaplan-Meier", "median_months": km["median"],
                "median_ci": list(km["median_ci"])}
        if km.get("median_withheld"):
            out["median_withheld"] = km["median_withheld"]
    return out


def run_grid(cohort: pd.DataFrame, points: Iterable[Point], alpha: float = config.ALPHA,
             min_cell: int = 0) -> list[dict[str, Any]]:
    """Every point of a grid in this process (what a notebook run by hand does)."""
    return [analyse_point(cohort, p, alpha, min_cell) for p in points]


def write_point(result: Mapping[str, Any], path: str | Path) -> None:
    """One point's result as the workflow stores it (sorted keys: same inputs, same bytes)."""
    from lenstop.files import write_json

    write_json(path, result, indent=1, allow_nan=False)


def run_job(name: str, data: str | Path, out: str | Path, grid: str | Path,
            output: str | Path, min_cell: int = 0, sheet: str | None = None) -> None:
    """The workflow job of one point: the build's validated cohort (its cache in
    `out`/.build, else validated here), analysed under the point, written to `output`."""
    import os

    from lenstop.cohort import cache
    from lenstop.disclosure.placement import BUILD_DATA_ENV
    from lenstop.workflow.layout import step, work_dir

    data = Path(data).resolve()
    os.environ[BUILD_DATA_ENV] = str(data)  # the only extract this job may open
    with step(f"sensitivity {name}"):
        cohort, _ = cache.load_or_validate(data, work_dir(Path(out)), sheet)
        write_point(analyse_point(cohort, point(name, grid), min_cell=min_cell), output)


def gather(paths: Iterable[str | Path], points: Iterable[Point]) -> list[dict[str, Any]]:
    """The points' results in grid order, from their job outputs; refuses a missing or
    foreign one (each file must be the point of its name)."""
    by_name = {}
    for path in paths:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
        by_name[result["name"]] = result
    order = [p.name for p in points]
    missing = [n for n in order if n not in by_name]
    if missing:
        raise GridError(f"no result for the grid point(s) {', '.join(missing)}")
    return [by_name[n] for n in order]


FACTORS = {"ltb": "Low burden", "cycles_ge_cutoff": "Long LEN", "age_per10": "Age, per 10 y",
           "hb": "Hb, per g/dL"}
"""The four factors as the appendix's table and figure name them."""


def _readable(note: str) -> str:
    """A model's not-estimable reason with the factors' names instead of column names."""
    for term, name in FACTORS.items():
        note = note.replace(f"'{term}' = 1", f"'{name}'").replace(f"'{term}'", f"'{name}'")
    return note


def table(points: list[dict[str, Any]] | None, data_label: str):
    """The appendix table (`tables.Table`): one row per point, the four hazard ratios with
    CIs and the median with its CI; `points=None` (grid not run) gives a row that says so."""
    from lenstop.content.fmt import hr_ci, median_ci
    from lenstop.content.tables import Table

    def row(p):
        by_term = {t["term"]: t for t in p["terms"]}
        cells = {"Definition": p["label"], "n": str(p["n_patients"]),
                 "Events": "-" if p["events"] is None else str(p["events"])}
        for term, name in FACTORS.items():  # no term: not estimable; no estimate: withheld
            t = by_term.get(term)
            cells[name] = (hr_ci(t["hr"], t["ci_low"], t["ci_high"], missing="withheld")
                           if t else "not estimable")
        cells["Median, months"] = ("withheld" if p.get("median_withheld") else
                                   median_ci(p["median_months"], p["median_ci"]))
        return cells

    if points is None:
        shown = pd.DataFrame([{"Definition": "Not run in this build (SENSITIVITY=0)"}])
    else:
        shown = pd.DataFrame([row(p) for p in points])
    notes = [f"{p['label']}: not estimable, {_readable(p['note'])}." for p in points or []
             if p["note"]]
    return Table(shown, "sensitivity", note=" ".join([
        "Long LEN: at least the grid point's number of cycles (published "
        f"{config.CYCLES_CUTOFF}). Hazard ratios from the Cox model of loss of RBC-TI; for the "
        "competing-risks point, Fine-Gray subdistribution hazard ratios and the time the "
        "cumulative incidence of loss (death competing) reaches 50%. Median: Kaplan-Meier, "
        "not reached where the curve stays above 50%.", *notes, f"Data: {data_label}."]))


POINTS_ENV = "LENSTOP_SENSITIVITY_POINTS"
"""Set by the build for notebook 07: the gathered points of the grid jobs (a JSON list), or
"skip" when the build runs without the grid (SENSITIVITY=0)."""


def for_notebook(cohort: pd.DataFrame, alpha: float = config.ALPHA, min_cell: int = 0,
                 grid: str | Path = GRID_FILE) -> list[dict[str, Any]] | None:
    """What notebook 07 shows: in a build, the points its grid jobs made (`POINTS_ENV`), or
    None when the build skips the grid; run by hand, every point computed here."""
    import os

    given = os.environ.get(POINTS_ENV)
    if given == "skip":
        return None
    if given:
        return json.loads(Path(given).read_text(encoding="utf-8"))
    return run_grid(cohort, load_grid(grid), alpha, min_cell)


__all__ = ["DEFAULTS", "FACTORS", "GRID_FILE", "POINTS_ENV", "TERMS", "GridError", "Point",
           "analyse_point", "for_notebook", "gather", "load_grid", "point", "run_grid", "run_job",
           "table", "write_point"]
