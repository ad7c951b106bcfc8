"""RBC-TI duration (notebook 02's helpers): the model frame, agreement with the statistics
functions they wrap, what the minimum cell size withholds, the not-estimable paths, and the
results section the report quotes."""

from __future__ import annotations

import json
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from lenstop import config
from lenstop.analyses import ti_duration as td
from lenstop.cohort.derive import DIED_IN_TI, TI_CENSORED, TI_LOST, analysis_table
from lenstop.content.fmt import p_cell
from lenstop.disclosure.suppression import Cells, km_stop, shown
from lenstop.ingest.validate import load_cohort
from lenstop.manuscript.results import clean
from lenstop.stats import (
    cox_fit,
    cox_univariable,
    cumulative_incidence,
    fine_gray,
    km_summary,
    logrank,
    ph_test,
)

ALPHA, LANDMARKS = config.ALPHA, list(config.LANDMARK_MONTHS)
ALL = Cells(0)


@pytest.fixture(scope="module")
def a() -> pd.DataFrame:
    return analysis_table(load_cohort(config.SYNTHETIC_COHORT)[0])


@pytest.fixture(scope="module")
def frame(a) -> td.ModelFrame:
    return td.model_frame(a, tb_cutoff=config.TB_CUTOFF_UNITS_8WK,
                          cycles_cutoff=config.CYCLES_CUTOFF)


@pytest.fixture(scope="module")
def models(frame) -> td.Models:
    return td.fit_models(frame, ALL, ALPHA)


@pytest.fixture(scope="module")
def duration(a) -> td.Duration:
    return td.duration(a, ALL, LANDMARKS, ALPHA)


def _keep_losses(a: pd.DataFrame, n: int) -> pd.DataFrame:
    """The cohort with all but the first `n` losses of RBC-TI censored."""
    lost = a.index[a["ti_lost"] == 1]
    drop = lost.difference(lost[:n])
    out = a.copy()
    out.loc[drop, "ti_lost"] = 0
    out.loc[drop, "ti_status"] = TI_CENSORED
    return out


@pytest.fixture(scope="module")
def few_events(a) -> pd.DataFrame:
    """8 losses of RBC-TI: too few events for a model of the 4 published factors (5 per
    term) or for the Fine-Gray model."""
    return _keep_losses(a, 8)


def _flat(candidates) -> list[str]:
    return [t for c in candidates for t in ([c] if isinstance(c, str) else c)]


# --- formatting -------------------------------------------------------------------------------

def test_hr_and_p_cells_read_by_hand():
    assert td.hr_text({"hr": 0.3162, "ci_low": 0.1714, "ci_high": 0.6049}) == "0.32 (0.17–0.60)"
    assert td.hr_text({"hr": np.nan, "note": "withheld: fewer than 5"}) == "withheld"
    assert td.hr_text({"hr": np.nan, "note": "3 events for 1 term(s)"}) == "not estimable"
    assert td.hr_text({}) == "not estimable"
    assert td.p_text(np.nan) == "" and td.p_text(None) == ""  # blank, not fmt's '-'
    assert td.p_text(0.0004) == "<0.001" and td.p_text(0.01234) == "0.012"
    for p in (0.0, 0.000999, 0.001, 0.0496, 0.5, 1.0):
        assert td.p_text(p) == p_cell(p)


def test_logrank_label_keeps_the_panel_text():
    assert td.logrank_label(None) == "one group only: no test"
    assert td.logrank_label({"p": 0.0004}) == "log-rank p<0.001"
    assert td.logrank_label({"p": 0.01234}) == "log-rank p=0.012"
    assert td.logrank_label({"p": 0.001}) == "log-rank p=0.001"


def test_model_counts_follow_the_minimum_cell_size():
    assert td.model_counts(ALL, 12, 10, 3) == {"n": 10, "events": 3, "n_dropped": 2}
    five = td.model_counts(Cells(5), 12, 10, 3)
    # 2 dropped of 12 is small, so is 3 events of 10; the 10 used would reveal the 2
    assert five["n_dropped"] == "<5" and five["events"] == "<5"
    assert five["n"] == ">=5"
    assert td.model_counts(Cells(5), 12, None, None) == dict.fromkeys(
        ("n", "events", "n_dropped"))


def test_split_at_a_cut():
    x = pd.Series([1.0, 2.0, 3.0])
    assert td.split(x, 2.0, "lo", "hi").tolist() == ["lo", "lo", "hi"]
    assert td.split(x, float("nan"), "lo", "hi").isna().all()


def test_split_leaves_a_missing_value_blank():
    """A patient without an age or Hb is in neither panel group (was put in the low one)."""
    assert td.split(pd.Series([1.0, np.nan, 3.0]), 2.0, "lo", "hi").isna().tolist() == [
        False, True, False]


# --- the model frame --------------------------------------------------------------------------

def test_model_frame_terms_labels_and_references(a, frame):
    m, terms = frame.data, _flat(frame.candidates)
    assert len(m) == len(a) and m.index.equals(a.index)
    assert set(td.PUBLISHED) <= set(terms) and set(terms) <= set(m.columns)
    assert set(terms) <= set(frame.labels) and len(set(frame.labels.values())) == len(
        frame.labels)
    for t in terms:  # indicators are 0/1, missing where the factor is
        if "[" in t:
            assert set(m[t].dropna().unique()) <= {0, 1}, t
    # the references are not terms of their own
    assert not {"ipssr[very_low]", "stop_reason[intolerance]", "dose_level[10 mg]"} & set(m)
    dose = [t for t in terms if t.startswith("dose_level[")]
    assert m.loc[a["dose_level"].isna(), dose].isna().all().all()
    np.testing.assert_allclose(m["ti_years"] * 12, a["ti_before_stop_months"].astype(float))
    # the one 'unknown' stop reason is merged into 'patient', and the label says so
    assert (a["stop_reason"] == "unknown").sum() < config.MIN_CATEGORY
    assert "stop_reason[unknown]" not in m
    assert "patient decision" in frame.reason_rule and "unknown" in frame.reason_rule
    assert frame.labels["stop_reason[patient]"] == ("Stopped: patient decision or unknown "
                                                    "(vs intolerance)")


def test_labels_follow_the_cutoffs(a):
    other = td.model_frame(a, tb_cutoff=3, cycles_cutoff=6)
    assert other.labels["cycles_ge_cutoff"] == "LEN cycles >= 6"
    assert other.labels["ltb"] == "Low transfusion burden (< 3 units / 8 weeks)"


# --- agreement with lenstop.stats -------------------------------------------------------------

def test_duration_is_the_stats_estimate(a, duration):
    ti = km_summary(a, "ti_months", "ti_lost", landmarks=LANDMARKS, alpha=ALPHA)
    assert (duration.ti.n, duration.ti.events, duration.ti.median) == (ti.n, ti.events,
                                                                       ti.median)
    assert duration.outcome == {"lost": int((a["ti_status"] == TI_LOST).sum()),
                                "died": int((a["ti_status"] == DIED_IN_TI).sum())}
    lines = td.duration_lines(duration)
    assert len(lines) == 3 + len(LANDMARKS)
    assert lines[2].startswith(f"Median RBC-TI duration: {ti.median:.1f} months (95% CI ")
    assert lines[1] == f"Lost RBC-TI: {ti.events}/{ti.n}; died without losing TI: " \
        f"{duration.outcome['died']}"


def test_models_are_the_stats_models(frame, models):
    m = frame.data
    multi = cox_fit(m, "ti_months", "ti_lost", list(td.PUBLISHED), alpha=ALPHA)
    pd.testing.assert_frame_equal(models.multi_table, multi.table)
    assert models.ph["global_p"] == pytest.approx(ph_test(multi)["global_p"])
    uni = cox_univariable(m, "ti_months", "ti_lost", frame.candidates, alpha=ALPHA,
                          not_estimable="report")
    np.testing.assert_allclose(models.uni["hr"], uni["hr"])
    for r, c in zip(models.uni.to_dict("records"), models.uni_counts, strict=True):
        assert c == {"n": r["n"], "events": r["events"], "n_dropped": len(m) - r["n"]}
    assert models.multi_counts == {"n": multi.n, "events": multi.events,
                                   "n_dropped": len(m) - multi.n}


def test_cox_table_rows_and_cells(frame, models):
    t = td.cox_table(frame, models, ALL)
    rows = t.frame
    assert len(rows) == len(models.uni) and list(rows["Factor"]) == [
        frame.labels[x] for x in models.uni["term"]]
    multi = rows[rows["Multivariable HR (95% CI)"] != ""]
    assert list(multi["Factor"]) == [frame.labels[x] for x in td.PUBLISHED]
    for r, hr in zip(models.uni.to_dict("records"), rows["Univariable HR (95% CI)"],
                     strict=True):
        assert hr.startswith(f"{r['hr']:.2f} (")
    assert t.note == (f"Multivariable model: n = {models.multi.n}, {models.multi.events} "
                      "events, complete-case.")


def test_factors_and_their_logrank_tests(a):
    f = td.by_factor(a, ALL, config.CYCLES_CUTOFF)
    assert list(f.tests) == list(td.PANELS)
    assert f.age_cut == a["age_at_len_stop"].median() and f.hb_cut == a["hb"].median()
    for col, test in f.tests.items():
        assert sum(f.sizes[col].values()) == f.groups[col].notna().sum()
        direct = logrank(f.groups.dropna(subset=[col]), "ti_months", "ti_lost", col)
        assert test["p"] == pytest.approx(direct["p"])
    assert set(f.sizes["cycles_group"]) == {">= 12 cycles", "< 12 cycles"}
    lines = td.logrank_lines(f)
    assert [line.split(" log-rank ")[1] for line in lines] == [
        f"p = {t['p']:.4f}" for t in f.tests.values()]


def test_a_factor_with_one_group_has_no_test(a):
    f = td.by_factor(a.assign(age_at_len_stop=70.0), ALL, config.CYCLES_CUTOFF)
    assert f.tests["age_group"] is None and f.tests["hb_group"] is not None
    assert td.logrank_lines(f)[2].endswith("log-rank one group only, no test")
    fig = td.factor_figure(f, "test data")
    try:
        texts = [t.get_text() for t in fig.axes[2].texts]
        assert "one group only: no test" in texts
    finally:
        plt.close(fig)


def test_competing_risks_agree_and_stay_below_one_minus_km(a, frame, models, duration):
    c = td.competing(a, duration, ALL, LANDMARKS, ALPHA)
    direct = cumulative_incidence(a, "ti_months", "ti_status", cause=1, landmarks=LANDMARKS,
                                  alpha=ALPHA)
    assert [r["cif"] for r in c.shown] == pytest.approx([r["cif"] for r in direct.landmarks])
    fg = fine_gray(a, "ti_months", "ti_status", list(td.PUBLISHED), cause=1, alpha=ALPHA)
    np.testing.assert_allclose(c.fg_table["shr"], fg.table["shr"])
    # death in RBC-TI censored by KM overstates the loss: 1 - KM >= the cumulative incidence
    km = {r["time"]: r["survival"] for r in duration.shown["landmarks"]}
    for r in c.shown:
        assert 1 - km[r["time"]] >= r["cif"] - 1e-12
    rows = td.cs_fg_table(frame, models, c, "test data").frame
    assert len(rows) == len(td.PUBLISHED)
    assert not rows["Subdistribution HR (95% CI)"].str.contains("not estimable").any()


# --- the minimum cell size --------------------------------------------------------------------

def test_min_cell_withholds_the_estimates_of_small_groups(frame, models):
    k = 16
    small = td.fit_models(frame, Cells(k), ALPHA)
    withheld = []
    for r0, r in zip(models.uni.to_dict("records"), small.uni.to_dict("records"),
                     strict=True):
        x = pd.to_numeric(frame.data[r0["term"]], errors="coerce").dropna()
        binary = x.isin([0, 1]).all()
        smaller = int(min((x == 1).sum(), (x == 0).sum())) if binary else None
        if binary and 0 < smaller < k:
            withheld.append(r0["term"])
            assert math.isnan(r["hr"]) and r["note"].startswith("withheld")
        else:
            assert r["hr"] == pytest.approx(r0["hr"])
    assert withheld and len(withheld) < len(models.uni)  # the check is not vacuous
    rows = td.cox_table(frame, small, Cells(k)).frame.set_index("Factor")
    for term in withheld:
        assert rows.loc[frame.labels[term], "Univariable HR (95% CI)"] == "withheld"
        assert rows.loc[frame.labels[term], "p"] == ""
    note = td.cox_table(frame, small, Cells(k)).note
    assert f"Counts below {k} show as <{k}" in note


def test_min_cell_withholds_landmarks_where_few_remain_at_risk(a):
    k = 20
    d = td.duration(a, Cells(k), LANDMARKS, ALPHA)
    stop = km_stop(d.ti.fitter, k)
    late = [t for t in LANDMARKS if t > stop]
    assert late and len(late) < len(LANDMARKS)
    lines = td.duration_lines(d)[3:]
    for t, line in zip(LANDMARKS, lines, strict=True):
        assert ("withheld" in line) == (t in late), line
    for r in d.shown["landmarks"]:
        assert not shown(r["at_risk"]) or r["at_risk"] >= k
    c = td.competing(a, d, Cells(k), LANDMARKS, ALPHA)
    assert [r["time"] for r in c.shown if r["cif"] is None] == late
    assert all(f"{t:>3g} months" not in "\n".join(td.competing_lines(c, d)) for t in late)


def test_losses_stay_shown_when_deaths_are_hidden(a):
    """Notebook 01 quotes the losses too: when the deaths in RBC-TI are below the minimum,
    the patients still in RBC-TI (printed nowhere) are hidden to protect them, not the
    losses, even when there are fewer losses than patients still in RBC-TI."""
    b = _keep_losses(a, 30)
    died = int((b["ti_status"] == DIED_IN_TI).sum())
    k = died + 1
    rest = len(b) - 30 - died
    assert 30 >= k and rest > 30  # hiding the smaller of the other two would hide the losses
    d = td.duration(b, Cells(k), LANDMARKS, ALPHA)
    assert d.outcome == {"lost": 30, "died": f"<{k}"}


# --- too few events ---------------------------------------------------------------------------

def test_too_few_events_say_so_everywhere(few_events):
    f = td.model_frame(few_events, config.TB_CUTOFF_UNITS_8WK, config.CYCLES_CUTOFF)
    mo = td.fit_models(f, ALL, ALPHA)
    assert mo.multi is None and mo.ph is None and mo.multi_table.empty
    assert "8 events" in mo.multi_note
    assert td.model_lines(f, mo)[-1] == f"Multivariable: {mo.multi_note}"
    assert td.ph_lines(f, mo) == ["No multivariable model, no test."]
    checks = td.model_checks(f, mo, ALL, ALPHA)
    assert checks.linearity == [] and checks.centre == {}
    assert td.check_lines(f, checks) == []
    table = td.cox_table(f, mo, ALL)
    assert table.note == f"Multivariable model not fitted: {mo.multi_note}."
    assert set(table.frame["Multivariable HR (95% CI)"]) == {""}
    d = td.duration(few_events, ALL, LANDMARKS, ALPHA)
    c = td.competing(few_events, d, ALL, LANDMARKS, ALPHA)
    assert c.fg is None and c.fg_note
    assert td.competing_lines(c, d)[-1] == f"Fine-Gray model not fitted: {c.fg_note}"
    cs_fg = td.cs_fg_table(f, mo, c, "test data").frame
    assert set(cs_fg["Cause-specific HR (95% CI)"]) == {"not estimable"}
    assert set(cs_fg["Subdistribution HR (95% CI)"]) == {"not estimable"}
    fig = td.forest(f, mo)
    try:
        assert "not estimable\n(too few events)" in [t.get_text() for t in fig.axes[1].texts]
    finally:
        plt.close(fig)
    s = td.section(d, f, mo, checks, td.by_factor(few_events, ALL, config.CYCLES_CUTOFF), c,
                   ALL)
    assert s["cox_multivariable"]["terms"] == [] and s["cox_multivariable"]["n"] is None
    assert s["fine_gray"] == {"terms": [], "note": c.fg_note, "n": None, "events": None,
                              "competing": None}
    json.dumps(clean(s))  # the section is JSON-ready


# --- the results section ----------------------------------------------------------------------

def test_section_is_the_committed_results_section(a, frame, models, duration):
    """results/sections/ti_duration.json is what `make report` wrote from notebook 02 (the
    manuscript quotes it): the module must rebuild it from the shipped cohort."""
    checks = td.model_checks(frame, models, ALL, ALPHA)
    f = td.by_factor(a, ALL, config.CYCLES_CUTOFF)
    c = td.competing(a, duration, ALL, LANDMARKS, ALPHA)
    s = td.section(duration, frame, models, checks, f, c, ALL)
    committed = json.loads((config.RESULTS_DIR / "sections" / "ti_duration.json").read_text())
    assert committed.pop("meta")["parameters"]["min_cell"] == 0
    assert clean(s) == committed
    labels = [t["label"] for t in s["cox_multivariable"]["terms"]]
    assert labels == [frame.labels[t] for t in td.PUBLISHED]


def test_notebook_lines_say_why_an_estimate_is_missing(a):
    """The by-centre line printed 'nan (nan-nan)' for a term withheld under the minimum cell
    size, and the Fine-Gray lines printed the model's raw term names in a pandas frame."""
    f = td.model_frame(a, config.TB_CUTOFF_UNITS_8WK, config.CYCLES_CUTOFF)
    withheld = {"term": "ltb", "hr": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "note": "withheld: fewer than 5"}
    shown_ = {"term": "hb", "hr": 0.59, "ci_low": 0.48, "ci_high": 0.73, "note": None}
    checks = td.Checks(linearity=[], centre={"cluster": {"terms": [withheld, shown_],
                                                        "note": None}})
    line = td.check_lines(f, checks)[0]
    assert "nan" not in line
    assert line == ("by centre (cluster): Low transfusion burden withheld, "
                    "Hb at withdrawal 0.59 (0.48–0.73)")
    d = td.duration(a, ALL, LANDMARKS, ALPHA)
    c = td.competing(a, d, ALL, LANDMARKS, ALPHA)
    fg = [ln for ln in td.competing_lines(c, d, f.labels) if ln.startswith("Fine-Gray")]
    assert len(fg) == len(c.fg_table)
    assert fg[0].startswith("Fine-Gray, Low transfusion burden (< 4 units / 8 weeks): "
                            "subdistribution HR 0.")
    assert all(re.search(r"\(95% CI \d\.\d\d–\d\.\d\d; p [<=] 0\.\d{3}\)$", ln) for ln in fg)
