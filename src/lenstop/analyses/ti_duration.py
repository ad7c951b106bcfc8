"""RBC-TI duration after LEN discontinuation (notebook 02): follow-up, the Kaplan-Meier
estimate, Cox models of the candidate factors with their checks (proportional hazards,
linearity, centre), curves by the published factors, and death as a competing event.

The statistics come from `lenstop.stats`; this module applies the minimum cell size
(`lenstop.disclosure.suppression.Cells`), labels the model terms, and shapes the printed
lines, the two tables, the figures and the results section `ti_duration`, so that the
notebook reads as question, call, table or figure, sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lenstop import config
from lenstop.cohort.derive import DIED_IN_TI, TI_LOST, merge_sparse
from lenstop.content.figures import (
    MONTHS_LABEL,
    OKABE_ITO,
    censor_ticks,
    data_stamp,
    finish_cif,
    forest_figure,
)
from lenstop.content.fmt import ci_band, hr_ci, p_cell, ratio
from lenstop.content.tables import Table
from lenstop.disclosure.suppression import Cells, km_stop
from lenstop.stats import (
    CIFSummary,
    CoxResult,
    FineGrayResult,
    KMSummary,
    ModelNotEstimable,
    cox_fit,
    cox_univariable,
    cumulative_incidence,
    dummies,
    fine_gray,
    km_summary,
    linearity_test,
    logrank,
    ph_test,
    reverse_km_median,
)

PUBLISHED = ("ltb", "cycles_ge_cutoff", "age_per10", "hb")
"""The four factors of the paper's multivariable model, in the order tables list them."""

PANELS = {"tb_group": "Transfusion burden before LEN", "cycles_group": "LEN cycles",
          "age_group": "Age at withdrawal", "hb_group": "Hb at withdrawal (g/dL)"}
"""The Kaplan-Meier panels by published factor: grouping column -> title."""

def _range(low, high, digits: int = 1) -> str:
    """'low-high' with 'NR' for an open limit: the notebook's CI of a median (not fmt.ci,
    which writes an en dash and 'not reached')."""
    def one(v):
        return "NR" if v is None else f"{v:.{digits}f}"

    return f"{one(low)}-{one(high)}"


def _pct_band(row: dict) -> str:
    """' (95% CI 78.7–91.7%)' for a landmark row, or '' when a limit is missing."""
    return ci_band(row["ci_low"], row["ci_high"], pct=True)


def hr_text(r: dict) -> str:
    """A table cell '0.32 (0.17–0.61)' (`fmt.hr_ci`), or why there is no estimate (withheld
    under min_cell, or not estimable)."""
    if pd.isna(r.get("hr")):
        return "withheld" if str(r.get("note") or "").startswith("withheld") else \
            "not estimable"
    return hr_ci(r["hr"], r["ci_low"], r["ci_high"])


def p_text(p) -> str:
    """A table cell's p-value by `fmt.p_cell`, blank (not '-') where the model gave none."""
    return "" if pd.isna(p) else p_cell(p)


# --- follow-up and the Kaplan-Meier estimate --------------------------------------------------

@dataclass
class Duration:
    """Follow-up (reverse KM), the RBC-TI Kaplan-Meier estimate and its shown form."""

    followup: dict
    ti: KMSummary
    outcome: dict
    """Losses of RBC-TI ('lost') and deaths without loss ('died') as outputs show them."""
    shown: dict
    """`Cells.km(ti)`: the estimate with what min_cell withholds."""


def duration(a: pd.DataFrame, cells: Cells, landmarks, alpha: float) -> Duration:
    """Median follow-up and the RBC-TI duration estimate of the analysis table `a`, shown."""
    followup = reverse_km_median(a, "fu_months", "died", alpha=alpha)
    ti = km_summary(a, "ti_months", "ti_lost", landmarks=landmarks, alpha=alpha)
    deaths_in_ti = int((a["ti_status"] == DIED_IN_TI).sum())
    # losses are quoted by notebook 01 too, so hide them only when small themselves
    outcome = cells.partition({"lost": ti.events, "died": deaths_in_ti}, total=ti.n,
                              fixed=["lost"])
    return Duration(followup=followup, ti=ti, outcome=outcome, shown=cells.km(ti))


def duration_lines(d: Duration) -> list[str]:
    """What the notebook prints: median follow-up, losses, median duration, landmarks."""
    fu = d.followup
    fu_median = "not reached" if fu["median"] is None else f"{fu['median']:.1f} months"
    out = [f"Median follow-up (reverse KM): {fu_median} "
           f"(95% CI {_range(fu['ci_low'], fu['ci_high'])})",
           f"Lost RBC-TI: {d.outcome['lost']}/{d.ti.n}; died without losing TI: "
           f"{d.outcome['died']}"]
    shown = d.shown
    median = ("withheld" if shown.get("median_withheld") else "not reached"
              if shown["median"] is None else f"{shown['median']:.1f} months")
    out.append(f"Median RBC-TI duration: {median} (95% CI {_range(*shown['median_ci'])})")
    for row in shown["landmarks"]:
        head = f"  in RBC-TI at {row['time']:g} months: "
        if row.get("withheld"):
            out.append(head + f"withheld ({row['withheld']})")
        elif row["survival"] is None:
            out.append(head + "not estimable (beyond the follow-up)")
        else:
            out.append(head + f"{row['survival']:.1%}{_pct_band(row)}, at risk {row['at_risk']}")
    return out


# --- Cox models ---------------------------------------------------------------------------------

@dataclass
class ModelFrame:
    """The analysis table with the model terms added, their labels and the merging rule."""

    data: pd.DataFrame
    labels: dict[str, str]
    """Term -> the label tables, figures and results print."""
    candidates: list
    """The univariable candidates: a term, or the indicator columns of one factor."""
    reason_rule: str
    """The sentence saying which stop reasons were merged (printed, and in the results)."""


def _in_order(frame: pd.DataFrame, col: str, levels) -> pd.DataFrame:
    """The indicator columns `col[level]` of `frame` in the order of `levels` (those present)."""
    return frame[[f"{col}[{lv}]" for lv in levels if f"{col}[{lv}]" in frame.columns]]


def _level(column: str) -> str:
    """'low' of the indicator column 'ipssr[low]'."""
    return column.split("[")[1].rstrip("]")


def model_frame(a: pd.DataFrame, tb_cutoff: float, cycles_cutoff: float) -> ModelFrame:
    """Add the model terms to `a`: time in RBC-TI in years, sparse stop reasons merged, and
    indicators (against a stated reference) for IPSS-R, stop reason and dose level."""
    # stop reasons of fewer than 5 patients merge into "patient or unknown"; dose (three fixed
    # levels) is a category
    reason_merged, rule = merge_sparse(a["stop_reason"], min_n=config.MIN_CATEGORY, into="patient",
                                       label="the reason for discontinuation")
    rule = rule.replace("'patient'", "patient decision")
    m = a.assign(ti_years=a["ti_before_stop_months"] / 12, stop_reason=reason_merged)
    ipssr = _in_order(dummies(m, "ipssr", reference="very_low"), "ipssr",
                      ["low", "intermediate"])
    reason = _in_order(dummies(m, "stop_reason", reference="intolerance"), "stop_reason",
                       ["physician", "patient", "unknown"])
    dose_levels = [str(c) for c in m["dose_level"].cat.categories]
    dose = _in_order(dummies(m.assign(dose_level=m["dose_level"].astype(object)), "dose_level",
                             reference=dose_levels[-1]), "dose_level", dose_levels[:-1])
    m = pd.concat([m, ipssr, reason, dose], axis=1)
    labels = {
        "ltb": f"Low transfusion burden (< {tb_cutoff:g} units / 8 weeks)",
        "cycles_ge_cutoff": f"LEN cycles >= {cycles_cutoff:g}",
        "age_per10": "Age at withdrawal (per 10 years)",
        "hb": "Hb at withdrawal (per g/dL)",
        "male": "Male sex",
        **{c: f"IPSS-R {_level(c).replace('_', ' ')} (vs very low)" for c in ipssr.columns},
        "del5q_plus1": "del(5q) + 1 abnormality (vs isolated)",
        **{c: "Stopped: " + ("patient decision or unknown" if "patient" in c and "unknown"
                             in rule else _level(c)) + " (vs intolerance)"
           for c in reason.columns},
        "ti_years": "Time in RBC-TI on LEN (per year)",
        **{c: f"LEN dose {_level(c)} (vs {dose_levels[-1]})" for c in dose.columns},
    }
    candidates = ["ltb", "cycles_ge_cutoff", "age_per10", "hb", "male", list(ipssr.columns),
                  "del5q_plus1", list(reason.columns), "ti_years", list(dose.columns)]
    return ModelFrame(data=m, labels=labels, candidates=candidates, reason_rule=rule)


def model_counts(cells: Cells, n_all: int, n: int | None, events: int | None) -> dict:
    """A model's patients (of all `n_all`) and events (of its patients), as outputs show them."""
    if n is None:
        return {"n": None, "events": None, "n_dropped": None}
    return {"n": cells.of(n, n_all), "events": cells.of(events, n),
            "n_dropped": cells.of(n_all - n, n_all)}


@dataclass
class Models:
    """The univariable models, the multivariable model of the published factors and its
    proportional-hazards test, with estimates and counts as outputs show them."""

    n_all: int
    uni: pd.DataFrame
    uni_counts: list[dict]
    multi: CoxResult | None
    multi_table: pd.DataFrame
    multi_note: str | None
    """Why the multivariable model was not fitted (None when it was)."""
    multi_counts: dict
    ph: dict | None


def fit_models(mf: ModelFrame, cells: Cells, alpha: float) -> Models:
    """Univariable Cox models of every candidate and the multivariable model of the four
    published factors (complete-case; a model without enough events says why)."""
    m = mf.data
    uni = cox_univariable(m, "ti_months", "ti_lost", mf.candidates, alpha=alpha,
                          not_estimable="report")
    uni["note"] = uni["note"].map(cells.note, na_action="ignore")  # event counts as shown
    uni = cells.model_terms(uni, m)  # estimates of a group of fewer than min_cell withheld
    try:
        multi = cox_fit(m, "ti_months", "ti_lost", list(PUBLISHED), alpha=alpha)
        multi_table, multi_note = cells.model_terms(multi.table, m), None
        ph = ph_test(multi)
    except ModelNotEstimable as err:
        multi, multi_table, ph = None, pd.DataFrame(columns=uni.columns), None
        multi_note = cells.note(err.reason)
    n_all = len(m)
    uni_counts = [model_counts(cells, n_all, r["n"], r["events"]) for r in uni.to_dict("records")]
    multi_counts = (model_counts(cells, n_all, multi.n, multi.events) if multi else
                    model_counts(cells, n_all, None, None))
    return Models(n_all=n_all, uni=uni, uni_counts=uni_counts, multi=multi,
                  multi_table=multi_table, multi_note=multi_note, multi_counts=multi_counts,
                  ph=ph)


def model_lines(mf: ModelFrame, models: Models) -> list[str]:
    """What the notebook prints: the univariable estimates (3 decimals) with n and events,
    and the multivariable model's n and events (or why it was not fitted)."""
    shown = models.uni[["term", "hr", "ci_low", "ci_high", "p"]].round(3)
    shown["term"] = shown["term"].map(mf.labels)
    shown = shown.assign(n=[c["n"] for c in models.uni_counts],
                         events=[c["events"] for c in models.uni_counts])
    counts = models.multi_counts
    return [shown.to_string(index=False),
            "Multivariable: " + (models.multi_note or
                                 f"n = {counts['n']}, events = {counts['events']}")]


def cox_table(mf: ModelFrame, models: Models, cells: Cells) -> Table:
    """Table `cox_models`: each factor's univariable and multivariable HR (95% CI) and p."""
    multi_by_term = models.multi_table.set_index("term") if len(models.multi_table) else None
    rows = []
    for r, counts in zip(models.uni.to_dict("records"), models.uni_counts, strict=True):
        mr = (multi_by_term.loc[r["term"]].to_dict()
              if multi_by_term is not None and r["term"] in multi_by_term.index else None)
        rows.append({"Factor": mf.labels[r["term"]], "n": counts["n"], "Events": counts["events"],
                     "Univariable HR (95% CI)": hr_text(r), "p": p_text(r["p"]),
                     "Multivariable HR (95% CI)": hr_text(mr) if mr else "",
                     "p (multi)": p_text(mr["p"]) if mr else ""})
    counts = models.multi_counts
    note = (f"Multivariable model: n = {counts['n']}, {counts['events']} events, complete-case."
            if models.multi else f"Multivariable model not fitted: {models.multi_note}.")
    k = cells.min_cell
    if k:
        note += (f" Counts below {k} show as <{k}, counts that would reveal them as "
                 f">={k}; estimates for a group of fewer than {k} patients are withheld.")
    return Table(pd.DataFrame(rows), "cox_models", note=note)


def ph_lines(mf: ModelFrame, models: Models) -> list[str]:
    """What the notebook prints of the cox.zph test: per term and global."""
    ph = models.ph
    if not ph:
        return ["No multivariable model, no test."]
    out = [f"{mf.labels[t['term']]:<45} chi2 = {t['statistic']:.2f}, p = {t['p']:.3f}"
           for t in ph["terms"]]
    out.append(f"Global (cox.zph, km transform): chi2 = {ph['global_statistic']:.2f} on "
               f"{ph['global_df']} df, p = {ph['global_p']:.3f}")
    return out


@dataclass
class Checks:
    """The spline-against-linear tests of age and Hb, and the model refitted by centre."""

    linearity: list[dict]
    centre: dict[str, dict]
    """'cluster' (robust SEs) and 'strata' (a baseline hazard per centre): terms or a note."""


def model_checks(mf: ModelFrame, models: Models, cells: Cells, alpha: float) -> Checks:
    """Linearity of age and Hb (ns() spline LR test) and the published model by centre;
    nothing when there is no multivariable model."""
    m = mf.data
    linearity, centre = [], {}
    if models.multi is None:
        return Checks(linearity, centre)
    for term in ("age_per10", "hb"):
        try:
            t = linearity_test(m, "ti_months", "ti_lost", list(PUBLISHED), term, alpha=alpha)
            linearity.append({**t, "n": cells.count(t["n"]),
                              "events": cells.of(t["events"], t["n"])})
        except ModelNotEstimable as err:
            linearity.append({"term": term, "p": None, "note": cells.note(err.reason)})
    for kind, option in (("cluster", {"cluster": "centre"}), ("strata", {"strata": "centre"})):
        try:
            fit = cox_fit(m, "ti_months", "ti_lost", list(PUBLISHED), alpha=alpha, **option)
            centre[kind] = {"terms": cells.model_terms(fit.table, m).to_dict("records"),
                            "n_centres": int(m["centre"].nunique()), "note": None}
        except ModelNotEstimable as err:
            centre[kind] = {"terms": [], "note": cells.note(err.reason)}
    return Checks(linearity, centre)


def check_lines(mf: ModelFrame, checks: Checks) -> list[str]:
    """What the notebook prints of the linearity tests and the by-centre models."""
    out = []
    for t in checks.linearity:
        out.append(f"{mf.labels[t['term']]:<45} spline vs linear: " +
                   (f"chi2 = {t['statistic']:.2f} on {t['df']} df, p = {t['p']:.3f}"
                    if t["p"] is not None else t["note"]))
    for kind, res in checks.centre.items():
        out.append(f"by centre ({kind}): " + (res["note"] or ", ".join(
            f"{mf.labels[r['term']].split(' (')[0]} {hr_text(r)}" for r in res["terms"])))
    return out


def forest(mf: ModelFrame, models: Models):
    """Forest plot of the univariable and multivariable hazard ratios; an empty panel says
    the model was not estimable rather than stay blank."""
    panels = {"Univariable": models.uni.dropna(subset=["hr"]),
              "Multivariable": models.multi_table}
    fig = forest_figure(panels, mf.labels)
    for ax, table in zip(fig.axes, panels.values(), strict=True):
        if table.empty:
            ax.text(0.5, 0.5, "not estimable\n(too few events)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=9, color="0.35")
    return fig


# --- Kaplan-Meier by published factor -----------------------------------------------------------

def split(values: pd.Series, cut: float, low_label: str, high_label: str) -> pd.Series:
    """Two groups at `cut` (above it: `high_label`); blank where the value is missing (not
    in the low group), and all blank when the cut is missing."""
    if pd.isna(cut):
        return pd.Series(pd.NA, index=values.index, dtype="object")
    return (values > cut).map({False: low_label, True: high_label}).where(values.notna(), pd.NA)


@dataclass
class Factors:
    """The groups of each published factor, their shown sizes and log-rank tests."""

    groups: pd.DataFrame
    """The analysis table with one grouping column per panel (`PANELS`)."""
    age_cut: float
    hb_cut: float
    sizes: dict[str, dict]
    tests: dict[str, dict | None]
    """Log-rank result per panel; None when fewer than two groups have data."""
    n_all: int


def by_factor(a: pd.DataFrame, cells: Cells, cycles_cutoff: float) -> Factors:
    """Group `a` by burden, cycles, and age and Hb at the cohort median, with each group's
    size as shown and the log-rank test per factor."""
    age_cut = float(a["age_at_len_stop"].median())
    hb_cut = float(a["hb"].median())
    g = a.assign(
        tb_group=a["ltb"].map({1: "Low burden", 0: "High burden"}),
        cycles_group=a["cycles_ge_cutoff"].map({1: f">= {cycles_cutoff:g} cycles",
                                                0: f"< {cycles_cutoff:g} cycles"}),
        age_group=split(a["age_at_len_stop"], age_cut, f"Age <= {age_cut:.0f}",
                        f"Age > {age_cut:.0f}"),
        hb_group=split(a["hb"], hb_cut, f"Hb <= {hb_cut:.1f}", f"Hb > {hb_cut:.1f}"),
    )
    sizes, tests = {}, {}
    for col in PANELS:
        sizes[col] = cells.partition(g[col].value_counts().to_dict())  # of those with a value
        try:
            tests[col] = logrank(g.dropna(subset=[col]), "ti_months", "ti_lost", col)
        except ValueError:  # fewer than two groups with data (e.g. every patient >= the cut)
            tests[col] = None
    return Factors(groups=g, age_cut=age_cut, hb_cut=hb_cut, sizes=sizes, tests=tests,
                   n_all=len(a))


def logrank_label(test: dict | None) -> str:
    """A panel's annotation: 'log-rank p=0.013' or 'log-rank p<0.001' (p by `fmt.p_cell`)."""
    if test is None:
        return "one group only: no test"
    p = test["p"]
    return f"log-rank p{'' if p < 0.001 else '='}{p_cell(p)}"


def factor_figure(f: Factors, data_label: str, min_cell: int = 0):
    """Four Kaplan-Meier panels, two curves each, with the log-rank p; curves stop where
    fewer than `min_cell` remain at risk."""
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    g = f.groups
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 6.2), sharex=True, sharey=True)
    for ax, (col, title) in zip(axes.ravel(), PANELS.items(), strict=True):
        for colour, (level, sub) in zip(OKABE_ITO, g.dropna(subset=[col]).groupby(col),
                                        strict=False):
            kmf = KaplanMeierFitter().fit(sub["ti_months"], sub["ti_lost"],
                                          label=f"{level} (n={f.sizes[col][level]})")
            kmf.plot_survival_function(ax=ax, ci_show=False, color=colour,
                                       show_censors=censor_ticks(kmf),
                                       censor_styles={"ms": 4},  # to min_cell patients at risk
                                       loc=slice(0, km_stop(kmf, min_cell)))
        ax.set_title(title, fontsize=9, loc="left")
        ax.text(0.97, 0.93, logrank_label(f.tests[col]), transform=ax.transAxes, ha="right",
                fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left", fontsize=7)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("")
        ax.set_xticks(range(0, int(g["ti_months"].max()) + 12, 12))
    for ax in axes[1]:
        ax.set_xlabel(MONTHS_LABEL, fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("Probability of RBC-TI", fontsize=8)
    data_stamp(fig, data_label)
    fig.tight_layout()
    return fig


def logrank_lines(f: Factors) -> list[str]:
    """What the notebook prints: each factor's log-rank p (4 decimals)."""
    return [f"{PANELS[col]:<32} log-rank "
            + ("one group only, no test" if test is None else f"p = {test['p']:.4f}")
            for col, test in f.tests.items()]


# --- death as a competing event -----------------------------------------------------------------

@dataclass
class Competing:
    """Aalen-Johansen cumulative incidence of TI loss and the Fine-Gray model, shown."""

    cif: CIFSummary
    shown: list[dict]
    """Landmark rows, withheld where the Kaplan-Meier ones are."""
    fg: FineGrayResult | None
    fg_table: pd.DataFrame | None
    fg_note: str | None
    """Why the Fine-Gray model was not fitted (None when it was)."""


def competing(a: pd.DataFrame, d: Duration, cells: Cells, landmarks, alpha: float) -> Competing:
    """Cumulative incidence of TI loss with death competing, and the Fine-Gray model of the
    published factors; estimates withheld where the Kaplan-Meier ones are."""
    cif = cumulative_incidence(a, "ti_months", "ti_status", cause=TI_LOST, landmarks=landmarks,
                               alpha=alpha)
    shown = cells.landmarks(cif.landmarks, km_stop(d.ti.fitter, cells.min_cell))
    try:
        fg = fine_gray(a, "ti_months", "ti_status", list(PUBLISHED), cause=TI_LOST, alpha=alpha)
        fg_table, fg_note = cells.model_terms(fg.table, a), None
    except ModelNotEstimable as err:
        fg, fg_table, fg_note = None, None, cells.note(err.reason)
    return Competing(cif=cif, shown=shown, fg=fg, fg_table=fg_table, fg_note=fg_note)


def competing_lines(c: Competing, d: Duration, labels: dict[str, str] | None = None
                    ) -> list[str]:
    """What the notebook prints: cumulative incidence against 1 - KM at each landmark, and
    the Fine-Gray subdistribution HRs by term (`labels`: the model frame's) or why there are
    none."""
    km_by_time = {row["time"]: row for row in d.shown["landmarks"]}
    out = []
    for row in c.shown:
        if row["cif"] is None:
            continue
        km = km_by_time[row["time"]]["survival"]
        km_text = "not shown" if km is None else f"{1 - km:.1%}"
        out.append(f"{row['time']:>3g} months: cumulative incidence of TI loss {row['cif']:.1%}"
                   f"{_pct_band(row)}; 1 - KM {km_text}")
    if c.fg is None:
        out.append(f"Fine-Gray model not fitted: {c.fg_note}")
    else:
        for t in c.fg_table.to_dict("records"):
            t = {k: (None if pd.isna(v) else v) for k, v in t.items()}
            out.append(f"Fine-Gray, {(labels or {}).get(t['term'], t['term'])}: "
                       f"subdistribution HR {ratio(t, key='shr')}")
    return out


def cif_figure(c: Competing, d: Duration, a: pd.DataFrame, landmarks, data_label: str,
               min_cell: int = 0):
    """Cumulative incidence of TI loss (with band) against 1 - KM, and of death without loss;
    curves end where fewer than `min_cell` remain at risk."""
    import matplotlib.pyplot as plt

    stop = km_stop(d.ti.fitter, min_cell)
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    c.cif.fitter.plot(ax=ax, color=OKABE_ITO[1], label="Loss of RBC-TI (Aalen-Johansen)",
                      loc=slice(0, stop))
    km_curve = 1 - d.ti.fitter.survival_function_.loc[:stop]
    ax.step(km_curve.index, km_curve.iloc[:, 0], where="post", ls="--", color="0.3",
            label="Loss of RBC-TI (1 - Kaplan-Meier)")
    death = cumulative_incidence(a, "ti_months", "ti_status", cause=DIED_IN_TI,
                                 landmarks=landmarks)
    death.fitter.plot(ax=ax, color=OKABE_ITO[0], ci_show=False,
                      label="Death without loss of RBC-TI", loc=slice(0, stop))
    finish_cif(fig, ax, data_label)
    return fig


def cs_fg_table(mf: ModelFrame, models: Models, c: Competing, data_label: str) -> Table:
    """Table `cs_vs_fg`: cause-specific (Cox) against subdistribution (Fine-Gray) hazard
    ratios of the published factors."""
    cs = models.multi_table.set_index("term") if len(models.multi_table) else None
    sub = c.fg_table.set_index("term") if c.fg_table is not None and len(c.fg_table) else None
    rows = []
    for term in PUBLISHED:
        x = cs.loc[term].to_dict() if cs is not None and term in cs.index else {}
        g = sub.loc[term].to_dict() if sub is not None and term in sub.index else {}
        rows.append({"Factor": mf.labels[term],
                     "Cause-specific HR (95% CI)": hr_text(x) if x else "not estimable",
                     "p (CS)": p_text(x.get("p")) if x else "",
                     "Subdistribution HR (95% CI)": hr_text({**g, "hr": g.get("shr")})
                     if g else "not estimable",
                     "p (FG)": p_text(g.get("p")) if g else ""})
    return Table(pd.DataFrame(rows), "cs_vs_fg", note=(
        "Cause-specific: the multivariable Cox model of loss of RBC-TI (deaths censored); it "
        "describes the rate of loss among patients still alive and in RBC-TI. Subdistribution: "
        "Fine-Gray, which keeps patients who died in the risk set; it describes the cumulative "
        f"incidence. Data: {data_label}."))


# --- the results section ------------------------------------------------------------------------

def _records(table: pd.DataFrame | None, cells: Cells, n_all: int,
             counts: list[dict] | None = None) -> list[dict]:
    """Model terms as results hold them, with n and events as outputs show them."""
    if table is None:
        return []
    rows = table.to_dict("records")
    if counts is None:
        counts = ([model_counts(cells, n_all, r["n"], r["events"]) for r in rows]
                  if "n" in table else [{}] * len(rows))
    return [{**r, **{k: v for k, v in c.items() if k in r}} for r, c in
            zip(rows, counts, strict=True)]


def _logrank_shown(f: Factors, cells: Cells, col: str) -> dict:
    """A log-rank result with its groups' sizes and events as outputs show them."""
    test = f.tests[col]
    if test is None:
        return {"p": None, "note": "fewer than two groups", "label": PANELS[col]}
    groups = {level: {"n": f.sizes[col][level], "events": cells.of(v["events"], v["n"])}
              for level, v in test["groups"].items()}
    return {**test, "groups": groups, "n": cells.count(test["n"]),
            "n_dropped": cells.of(test["n_dropped"], f.n_all), "label": PANELS[col]}


def section(d: Duration, mf: ModelFrame, models: Models, checks: Checks, f: Factors,
            c: Competing, cells: Cells) -> dict:
    """The results section `ti_duration` (keys documented in results/README.md)."""
    labels, n_all = mf.labels, models.n_all
    fg = c.fg
    fg_counts = (cells.partition({"events": fg.events, "competing": fg.competing}, total=fg.n)
                 if fg else {"events": None, "competing": None})
    return {
        "n_patients": d.ti.n,
        "ti_loss_events": d.outcome["lost"],
        "deaths_in_ti": d.outcome["died"],
        "ti_median_months": d.shown["median"],
        "ti_median_months_ci": d.shown["median_ci"],
        "ti_median_withheld": d.shown.get("median_withheld"),
        "ti_rate_at_months": {f"{r['time']:g}": r for r in d.shown["landmarks"]},
        "followup_median_months": d.followup["median"],
        "followup_median_months_ci": [d.followup["ci_low"], d.followup["ci_high"]],
        "cox_univariable": [{**r, "label": labels[r["term"]]}
                            for r in _records(models.uni, cells, n_all, models.uni_counts)],
        "cox_multivariable": {
            "terms": [{**r, "label": labels[r["term"]]}
                      for r in _records(models.multi_table, cells, n_all)],
            **models.multi_counts, "note": models.multi_note},
        "ph_test": models.ph,
        "logrank_by_factor": {k: _logrank_shown(f, cells, k) for k in f.tests},
        "split_points": {"age_median": f.age_cut, "hb_median": f.hb_cut},
        "cif_at_months": {f"{r['time']:g}": r for r in c.shown},
        "fine_gray": {"terms": _records(c.fg_table, cells, n_all), "note": c.fg_note,
                      "n": fg.n if fg else None, **fg_counts},
        "reason_rule": mf.reason_rule,
        "linearity": checks.linearity,
        "cox_centre": checks.centre,
    }
