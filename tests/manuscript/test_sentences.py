"""The results in English: each sentence reads right for any cohort, saying why a number is
missing (too few events, withheld, nobody re-treated) rather than leaving a gap or 'None'."""

from __future__ import annotations

import copy

import pytest

from lenstop import config
from lenstop.manuscript import results, sentences

LABELS = sentences.TERM_LABELS


@pytest.fixture(scope="module")
def shipped() -> dict:
    return results.read(config.RESULTS_FILE)


def test_not_estimable_reasons_in_words():
    assert sentences.plain_reason("4 events for 1 term(s); at least 5 events per term (5) are "
                                  "needed", LABELS) == \
        "4 events, and a one-factor model needs at least 5"
    assert sentences.plain_reason("<5 events for 4 term(s); at least 5 events per term (20) "
                                  "are needed", LABELS) == \
        "<5 events, and a model of 4 factors needs at least 20"
    assert sentences.plain_reason("term 'hb' has no variation", LABELS) == \
        "term Hb at withdrawal has no variation"
    assert sentences.plain_reason(None, LABELS) == "not enough data"


def test_ratio_lists_join_estimates_and_name_the_missing_in_place():
    a = {"hr": 0.5, "ci_low": 0.25, "ci_high": 1.0, "p": 0.05}
    b = {"hr": None, "note": "term 'hb' has no variation"}
    one = sentences.ratio_list([("for X", a)], "hr", LABELS, "hazard ratio")
    assert one == "the hazard ratio was 0.50 (95% CI 0.25\u20131.00; p = 0.050) for X"
    two = sentences.ratio_list([("for X", a), ("per g/dL", b), ("for Z", a)], "hr", LABELS,
                               "hazard ratio", " for loss")
    assert two.startswith("the hazard ratios for loss were 0.50 (95% CI")
    assert ", not estimable (term Hb at withdrawal has no variation) per g/dL and 0.50" in two
    none = sentences.ratio_list([("for X", b), ("for Y", b)], "hr", LABELS, "hazard ratio")
    assert none == "no hazard ratio could be estimated (term Hb at withdrawal has no variation)"


def test_methods_sentences_for_missing_values_exclusions_and_dates():
    assert sentences.missing_text({}) == "no value was missing"
    assert sentences.missing_text({"anc_at_stop": 3, "hb_at_stop_g_dl": 1, "other": "<5"}) == (
        "values were missing for Hb at withdrawal for 1 patient, ANC at withdrawal for 3 "
        "patients and other for <5 patients")
    assert sentences.exclusion_text([{"n": 0, "label": "X"}], 120, 120) == \
        "All 120 patients assessed met the study's definitions and were analysed"
    assert sentences.exclusion_text([{"n": 2, "label": "Follow-up under 8 weeks"}], 120,
                                    118) == ("Of 120 patients assessed, 2 were excluded because "
                                             "of follow-up under 8 weeks; 118 were analysed")
    assert sentences.imputed_text(0) == "Every date was known to the day."
    assert sentences.imputed_text(1).startswith("1 date known only to the month was set")
    assert sentences.imputed_text(6).startswith("6 dates known only to the month were set")


def test_disclosure_and_swimmer_follow_the_minimum_cell_size():
    assert sentences.disclosure_text(0).startswith("Every count is shown")
    text = sentences.disclosure_text(5)
    assert "counts from 1 to 4 are shown as <5" in text and "as >=5" in text
    assert sentences.swimmer_text(0) == "shows the course of each re-treated patient"
    assert "not drawn" in sentences.swimmer_text(5)


def test_count_tests_counts_p_values_outside_the_sensitivity_grid():
    r = {"a": {"p": 0.1, "fisher_p": 0.2, "x_p": None, "flag_p": True},
         "b": [{"p": 0.3}, {"q": 1}], "sensitivity": {"points": [{"p": 0.5}]}}
    assert sentences.count_tests(r) == 3


def test_sections_not_run_say_so():
    assert sentences.simulation_texts({}) == {"sentence": "The simulation study was not run.",
                                               "replicates": "0"}
    sens = sentences.sensitivity_texts({})
    assert sens["n"] == "0" and "SENSITIVITY=0" in sens["sentence"]


def test_shipped_sentences_quote_the_results_numbers(shipped):
    ti = shipped["ti_duration"]
    texts = sentences.ti_texts(ti, "95%")
    assert texts["median_text"].startswith(f"{ti['ti_median_months']:.1f} months (95% CI ")
    assert texts["events_sentence"].startswith(f"{ti['ti_loss_events']} patients (")
    sim = sentences.simulation_texts(shipped["simulation"])
    assert sim["sentence"].startswith(f"In {shipped['simulation']['replicates']} cohorts of ")
    assert "None" not in sim["sentence"] and "nan" not in sim["sentence"]


def test_nobody_re_treated_and_nobody_lost_ti(shipped):
    rt = copy.deepcopy(shipped["retreatment"])
    rt.update(ti_lost=3, retreated=0, retreat_ti_regained={"k": 0, "n": 0, "proportion": None},
              second_ti={"n": 0, "events": 0}, restart_cif_at_months={})
    texts = sentences.retreat_texts(rt)
    assert texts["sentence"] == "Of the 3 patients who lost RBC-TI, none was re-treated with LEN."
    assert texts["abstract"] == "No patient was re-treated with LEN."
    assert texts["second_sentence"] == texts["restart_cif"] == ""
    rt["ti_lost"] = 0
    assert sentences.retreat_texts(rt)["sentence"].startswith("No patient lost RBC-TI")


def test_narrative_follows_the_data_source():
    synthetic = sentences.narrative(True, "cohort.csv", "118", "56.3", "50", "30", "20")
    real = sentences.narrative(False, "registry.xlsx", "118", "56.3", "50", "30", "20")
    assert synthetic["question"] == real["question"]
    assert "not clinical evidence" in synthetic["meaning"]
    assert real["finding"].startswith("In 118 patients of registry.xlsx")
    assert "56.3 months" in real["conclusion"] and "synthetic" not in real["conclusion"]


def test_an_exclusion_label_keeps_its_abbreviation():
    text = sentences.exclusion_text(
        [{"n": 3, "label": "RBC-TI for less than 8 weeks when LEN was stopped"}], 121, 118)
    assert "because of RBC-TI for less than 8 weeks" in text
    assert sentences.lower_first("Follow-up under 8 weeks") == "follow-up under 8 weeks"
