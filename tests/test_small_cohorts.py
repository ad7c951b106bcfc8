"""Small and degenerate cohorts: the report says in words what cannot be estimated.

A registry extract may be too small for the multivariable model, or have nobody re-evaluated,
re-treated, dead or losing RBC-TI. The manuscript variables must then still be full
sentences (fast tests below, on altered copies of the shipped results), and a whole build
(`lenstop build`, slow) must run and render a report without 'None', 'nan' or 'inf'.
"""

from __future__ import annotations

import copy
import html as html_module
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from lenstop import config
from lenstop.manuscript import results, variables
from lenstop.workflow.layout import build_dir
from tests.conftest import write_csv

BAD_WORDS = re.compile(r"\b(None|nan|NaN|inf|Infinity|null)\b")
RETREAT = ["len_retreat_date", "retreat_ti_regained", "retreat_ti_date", "retreat_ti_loss_date"]


def _leaves(tree, path=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    else:
        yield path, tree


def _assert_clean(tree: dict) -> None:
    for key, value in _leaves(tree):
        assert isinstance(value, str), (key, value)
        assert not BAD_WORDS.search(value), (key, value)


@pytest.fixture
def shipped_results() -> dict:
    return copy.deepcopy(results.read(config.RESULTS_FILE))


# ---------------------------------------------------------------- sentences (fast)

def _too_few_events(r: dict, events: int = 4) -> dict:
    note = (f"{events} events for 4 term(s); at least 5 events per term (20) are needed")
    ti = r["ti_duration"]
    ti["ti_loss_events"] = events
    ti["cox_multivariable"] = {"terms": [], "n": None, "events": None, "n_dropped": None,
                               "note": note}
    ti["fine_gray"] = {"terms": [], "note": note, "n": None, "events": None, "competing": None}
    ti["ph_test"] = None
    uni_note = f"{events} events for 1 term(s); at least 5 events per term (5) are needed"
    for t in ti["cox_univariable"]:
        t.update(hr=None, ci_low=None, ci_high=None, p=None, coef=None, se=None, note=uni_note)
    return r


def test_model_not_estimable_reads_as_sentences(shipped_results):
    v = variables.from_results(_too_few_events(shipped_results), commit="test")
    _assert_clean(v)
    cox = v["cox"]
    assert cox["multi_sentence"] == (
        "The multivariable model of the four published factors could not be estimated on these "
        "data (4 events, and a model of 4 factors needs at least 20); no adjusted hazard ratios "
        "are reported.")
    assert cox["uni_sentence"] == ("no hazard ratio for loss of RBC-TI could be estimated "
                                   "(4 events, and a one-factor model needs at least 5)")
    assert cox["fg_sentence"].startswith("The Fine-Gray model of the four factors could not")
    assert cox["ph_sentence"] == ("Proportional hazards were not tested, as no multivariable "
                                  "model was fitted.")
    assert cox["abstract"].startswith("The multivariable Cox model of the four published "
                                      "factors could not be estimated (4 events")
    assert cox["multi_fitted"] == "false"


def test_one_factor_not_estimable_is_named_in_place(shipped_results):
    ti = shipped_results["ti_duration"]
    hb = next(t for t in ti["cox_univariable"] if t["term"] == "hb")
    hb.update(hr=None, ci_low=None, ci_high=None, p=None, note="term 'hb' has no variation "
              "(a single value)")
    sentence = variables.from_results(shipped_results, commit="t")["cox"]["uni_sentence"]
    assert sentence.startswith("the hazard ratios for loss of RBC-TI were 0.")
    assert sentence.endswith("and not estimable (term Hb at withdrawal has no variation (a "
                             "single value)) per g/dL of Hb at withdrawal")


def test_fitted_model_states_the_patients_it_used(shipped_results):
    multi = shipped_results["ti_duration"]["cox_multivariable"]
    v = variables.from_results(shipped_results, commit="t")
    assert v["cox"]["multi_sentence"].startswith(
        f"In the multivariable model, fitted on all {multi['n']} patients with "
        f"{multi['events']} events, the hazard ratios were 0.")
    assert v["cox"]["abstract"].startswith(
        "Low transfusion burden before LEN, at least 12 LEN cycles, younger age and higher "
        f"haemoglobin at withdrawal went with longer RBC-TI in the multivariable model "
        f"of {multi['n']} patients: hazard ratios 0.")
    assert "(95% CI" in v["cox"]["abstract"] and " for Hb per g/dL." in v["cox"]["abstract"]
    multi.update(n=multi["n"] - 5, n_dropped=5)
    sentence = variables.from_results(shipped_results, commit="t")["cox"]["multi_sentence"]
    assert f"the {multi['n']} of {multi['n'] + 5} patients with complete data (5 left out " \
           "for missing values)" in sentence


def test_nobody_reevaluated_retreated_or_losing_ti(shipped_results):
    from lenstop.stats import exact_ci

    r = _too_few_events(shipped_results, events=0)
    cy, rt, ti = r["cytogenetics"], r["retreatment"], r["ti_duration"]
    cy.update(ccyr_reevaluated=0, ccyr_lost=exact_ci(0, 0),
              months_to_reeval={"median": None, "q1": None, "q3": None})
    cy["ccyr_vs_ti"].update(fisher_p=None, odds_ratio=None, or_ci_low=None, or_ci_high=None)
    rt.update(ti_lost=0, retreated=0, retreated_of_lost=exact_ci(0, 0),
              retreat_ti_regained=exact_ci(0, 0),
              months_loss_to_retreat={"median": None, "q1": None, "q3": None, "n": 0},
              months_to_regain={"median": None, "q1": None, "q3": None, "n": 0},
              second_ti={"n": 0, "events": 0, "n_dropped": 0, "median": None,
                         "median_ci": [None, None], "landmarks": [], "alpha": 0.05})
    ti.update(ti_median_months=None, ti_median_months_ci=[None, None], deaths_in_ti=0)
    for row in ti["ti_rate_at_months"].values():
        row.update(survival=1.0, ci_low=None, ci_high=None)
    for row in ti["cif_at_months"].values():
        row.update(cif=0.0, ci_low=None, ci_high=None)
    v = variables.from_results(r, commit="t")
    _assert_clean(v)
    assert v["cyto"]["sentence"].endswith("none had a cytogenetic re-evaluation after "
                                          "discontinuation, so loss of CCyR could not be "
                                          "assessed.")
    assert v["cyto"]["abstract"] == ("No patient in complete cytogenetic response at withdrawal "
                                     "had a cytogenetic re-evaluation.")
    assert v["cyto"]["fisher_text"] == "no test without re-evaluated patients"
    assert v["retreat"]["sentence"] == "No patient lost RBC-TI, so none was re-treated with LEN."
    assert v["retreat"]["second_sentence"] == ""
    assert v["retreat"]["abstract"] == "No patient was re-treated with LEN."
    assert v["ti"]["median_text"] == "not reached (no patient had lost RBC-TI)"
    assert v["ti"]["abstract"].endswith("no patient lost RBC-TI, so the median RBC-TI duration "
                                        "was not reached.")
    assert v["ti"]["rate"]["m12"] == "100.0%"
    assert v["ti"]["events_sentence"] == "0 patients (0%) lost RBC-TI and 0 died without " \
                                         "losing it."


def test_followup_median_not_reached(shipped_results):
    ti = shipped_results["ti_duration"]
    ti.update(followup_median_months=None, followup_median_months_ci=[None, None])
    v = variables.from_results(shipped_results, commit="t")
    assert v["ti"]["followup_text"].startswith("not estimable (")
    assert v["ti"]["abstract"].startswith("Over the available follow-up, 50 patients lost")


# ---------------------------------------------------------------- whole builds (slow)

def _plain(html: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r'(src|href)="data:[^"]*"', " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html_module.unescape(text).replace("\xa0", " "))


def _fifteen(shipped: pd.DataFrame) -> pd.DataFrame:
    """15 patients, 4 of whom lost RBC-TI; nobody had a cytogenetic re-evaluation."""
    lost = shipped["ti_loss_date"].notna()
    frame = pd.concat([shipped[lost].head(4), shipped[~lost].head(11)]).sort_index()
    frame[["cyto_reeval_date", "ccyr_lost"]] = None
    return frame


def _all_censored(shipped: pd.DataFrame) -> pd.DataFrame:
    """20 patients who all kept RBC-TI and are alive: no event, no re-treatment, no death."""
    frame = shipped.head(20).copy()
    frame[["ti_loss_date", "death_date", "aml_date", *RETREAT]] = None
    return frame


EXTRACTS = {"pytest-small-15": (_fifteen, 0), "pytest-small-censored": (_all_censored, 0),
            "pytest-small-15-k5": (_fifteen, 5)}
"""name: (how the extract is made, minimum cell size of its build)"""
SHEETS = {"pytest-small-censored": "censored"}
"""Extracts written as a workbook with a second patient sheet, built with --sheet."""


def _workbook(frame: pd.DataFrame, path, sheet: str):
    """`frame` on `sheet` of an .xlsx whose other sheet also has patient rows (so the sheet
    must be named: it has to reach every notebook of the build)."""
    with pd.ExcelWriter(path) as book:
        frame.head(3).to_excel(book, sheet_name="draft", index=False)
        frame.to_excel(book, sheet_name=sheet, index=False)
    return path


@pytest.fixture(scope="module", params=list(EXTRACTS))
def small_build(request, shipped_text, tmp_path_factory):
    name = request.param
    make, min_cell = EXTRACTS[name]
    frame = make(shipped_text.copy())
    folder = tmp_path_factory.mktemp("small")
    sheet = SHEETS.get(name)
    data = _workbook(frame, folder / f"{name}.xlsx", sheet) if sheet else \
        write_csv(frame, folder / f"{name}.csv")
    out = build_dir(data, min_cell)
    shutil.rmtree(out, ignore_errors=True)
    run = subprocess.run([sys.executable, "-m", "lenstop.cli", "build", "--data", str(data),
                          "--min-cell", str(min_cell), *(["--sheet", sheet] if sheet else [])],
                         capture_output=True, text=True, cwd=config.ROOT)
    html = out / "_manuscript" / "index.html"
    built = {"name": name, "n": len(frame), "run": run, "out": out,
             "text": _plain(html.read_text(encoding="utf-8")) if html.exists() else ""}
    yield built
    shutil.rmtree(out, ignore_errors=True)


EXPECTED = {
    "pytest-small-15": [
        "Of 15 patients,",
        "4 patients lost RBC-TI; the median RBC-TI duration was not reached",
        "The multivariable Cox model of the four published factors could not be estimated "
        "(4 events, and a model of 4 factors needs at least 20).",
        "no hazard ratio for loss of RBC-TI could be estimated (4 events, and a one-factor "
        "model needs at least 5)",
        "The multivariable model of the four published factors could not be estimated on "
        "these data (4 events, and a model of 4 factors needs at least 20); no adjusted hazard "
        "ratios are reported.",
        "Proportional hazards were not tested, as no multivariable model was fitted.",
        "The Fine-Gray model of the four factors could not be estimated on these data",
        "No patient in complete cytogenetic response at withdrawal had a cytogenetic "
        "re-evaluation.",
        "none had a cytogenetic re-evaluation after discontinuation, so loss of CCyR could not "
        "be assessed.",
        "Multivariable model not fitted: 4 events for 4 term(s)",
    ],
    "pytest-small-15-k5": [  # the same 15 patients under a minimum cell size of 5
        "Of 15 patients,",
        "<5 patients lost RBC-TI; the median RBC-TI duration was",
        "The multivariable Cox model of the four published factors could not be estimated "
        "(<5 events, and a model of 4 factors needs at least 20).",
        "no hazard ratio for loss of RBC-TI could be estimated (<5 events, and a one-factor "
        "model needs at least 5)",
        "Multivariable model not fitted: <5 events for 4 term(s)",
        "counts from 1 to 4 are shown as <5 (minimum cell size 5)",
    ],
    "pytest-small-censored": [
        "Of 20 patients,",
        "no patient lost RBC-TI, so the median RBC-TI duration was not reached.",
        "0 patients (0%) lost RBC-TI and 0 died without losing it.",
        "was not reached (no patient had lost RBC-TI); the probability of still being",
        "The multivariable Cox model of the four published factors could not be estimated "
        "(0 events, and a model of 4 factors needs at least 20).",
        "No patient lost RBC-TI, so none was re-treated with LEN.",
        "No patient was re-treated with LEN.",
    ],
}


@pytest.mark.slow
def test_small_cohort_builds(small_build):
    run = small_build["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    console = run.stdout + run.stderr
    assert "Traceback" not in console, console[max(0, console.find("Traceback") - 2000):][:6000]
    r = results.read(small_build["out"] / "results" / "results.json")
    assert r["cohort"]["n_patients"] == small_build["n"]
    assert r["ti_duration"]["cox_multivariable"]["n"] is None  # not estimable, not nonsense


@pytest.mark.slow
def test_small_cohort_report_says_what_cannot_be_estimated(small_build):
    text = small_build["text"]
    for sentence in EXPECTED[small_build["name"]]:
        assert sentence in text, sentence


@pytest.mark.slow
def test_small_cohort_report_prints_no_none_nan_or_inf(small_build):
    out = small_build["out"]
    assert small_build["text"]
    hits = BAD_WORDS.findall(small_build["text"])
    assert not hits, [m for m in re.finditer(r".{60}\b(?:None|nan|NaN|inf)\b.{20}",
                                             small_build["text"])]
    for table in sorted((out / "results" / "tables").glob("*.md")):
        assert not BAD_WORDS.search(table.read_text(encoding="utf-8")), table.name
    _assert_clean(yaml.safe_load((out / "_variables.yml").read_text(encoding="utf-8")))
    assert len(list((out / "figures").glob("*.svg"))) >= 8
