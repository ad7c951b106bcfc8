"""Cytogenetic response (notebook 03's helpers): the re-evaluated patients and their 2x2
table, agreement with the exact CI and Fisher's test, what the minimum cell size withholds,
a cohort nobody of which was re-evaluated, and the results section the report quotes."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from lenstop import config
from lenstop.analyses import cytogenetics as cy
from lenstop.cohort.derive import analysis_table
from lenstop.disclosure.suppression import Cells, shown
from lenstop.ingest.validate import load_cohort
from lenstop.manuscript.results import clean
from lenstop.stats import exact_ci, fisher_2x2

ALPHA = config.ALPHA
ALL = Cells(0)


@pytest.fixture(scope="module")
def a() -> pd.DataFrame:
    return analysis_table(load_cohort(config.SYNTHETIC_COHORT)[0])


@pytest.fixture(scope="module")
def r(a) -> cy.Reevaluation:
    return cy.reevaluation(a, ALL, ALPHA)


def test_the_reevaluated_patients_and_their_table(a, r):
    in_ccyr = a["ccyr_at_stop"] == "yes"
    assert r.n_in_ccyr == int(in_ccyr.sum())
    assert r.n_reevaluated == int((in_ccyr & (a["cyto_reevaluated"] == 1)).sum())
    assert len(r.reevaluated) == r.n_reevaluated
    assert list(r.cross.index) == cy.ROWS and list(r.cross.columns) == cy.COLUMNS
    assert int(r.cross.to_numpy().sum()) == len(r.reevaluated)
    assert r.cross.loc["CCyR lost"].sum() == r.reevaluated["ccyr_lost_flag"].sum()
    assert r.cross["RBC-TI lost"].sum() == r.reevaluated["ti_lost"].sum()
    assert r.cross_shown.loc["Total", "Total"] == len(r.reevaluated)
    k = int(r.reevaluated["ccyr_lost_flag"].sum())
    assert r.lost == exact_ci(k, len(r.reevaluated), alpha=ALPHA)
    line = cy.reevaluation_lines(r)[1]
    assert line.startswith(f"Lost CCyR: {k}/{len(r.reevaluated)} = {k / len(r.reevaluated):.1%}")


def test_timing_splits_the_reevaluations(r):
    by = cy.lost_by_timing(r, ALL, ALPHA)
    assert list(by) == list(cy.TIMING)
    assert by["before"]["k"] + by["after"]["k"] == r.lost["k"]
    assert by["before"]["n"] + by["after"]["n"] == r.lost["n"]
    ev = r.reevaluated
    after = ev[(ev["ti_lost"] == 1) & (ev["months_to_reeval"] > ev["ti_months"])]
    assert by["after"] == exact_ci(int(after["ccyr_lost_flag"].sum()), len(after), alpha=ALPHA)
    lines = cy.timing_lines(by)
    assert lines[1].startswith(f"After loss of RBC-TI: lost CCyR {by['after']['k']}/"
                               f"{by['after']['n']} = ")


def test_months_to_reevaluation_by_result(r):
    overall, table = cy.months_to_reeval(r, ALL)
    assert overall["median"] == pytest.approx(r.reevaluated["months_to_reeval"].median())
    assert list(table.index) == list(cy.GROUPS)
    assert list(table.columns) == ["n", "median", "q1", "q3", "min", "max"]
    for label, flag in cy.GROUPS.items():
        x = r.reevaluated.loc[r.reevaluated["ccyr_lost_flag"] == flag, "months_to_reeval"]
        assert table.loc[label, "n"] == len(x)
        assert table.loc[label, "q1"] <= table.loc[label, "median"] <= table.loc[label, "q3"]
        assert (table.loc[label, "min"], table.loc[label, "max"]) == (x.min(), x.max())
    assert cy.months_lines(r, overall, table, ALL)[0].startswith(
        f"Median {overall['median']:.1f} months (IQR ")


def test_fisher_agrees_and_its_p_is_written_as_a_table_cell(r):
    test = cy.fisher(r, ALPHA)
    assert test["p"] == pytest.approx(fisher_2x2(r.cross.to_numpy(), alpha=ALPHA)["p"])
    assert cy.ccyr_ti_table(r, test, ALL).note == f"Fisher's exact test p = {test['p']:.3f}."
    # the note keeps its 'p = <0.001' (fmt.pval would write 'p < 0.001')
    assert cy.ccyr_ti_table(r, {"p": 0.0002}, ALL).note == "Fisher's exact test p = <0.001."
    frame = cy.ccyr_ti_table(r, test, ALL).frame
    assert list(frame["Cytogenetics"]) == [*cy.ROWS, "Total"]


def test_min_cell_hides_small_cells_and_the_odds_ratio(a, r):
    k = int(r.cross.to_numpy().min()) + 1  # the smallest cell of the 2x2 table is below k
    small = Cells(k)
    rk = cy.reevaluation(a, small, ALPHA)
    assert not all(shown(v) for v in rk.cross_shown.to_numpy().ravel())
    test = cy.fisher(rk, ALPHA)
    full, hidden = cy.section(r, {}, {}, cy.fisher(r, ALPHA)), cy.section(rk, {}, {}, test)
    assert full["ccyr_vs_ti"]["odds_ratio"] == pytest.approx(test["odds_ratio_cmle"])
    assert hidden["ccyr_vs_ti"]["odds_ratio"] is None
    assert hidden["ccyr_vs_ti"]["fisher_p"] == pytest.approx(test["p"])  # the p-value is kept
    note = cy.ccyr_ti_table(rk, test, small).note
    assert note.endswith(f"Counts below {k} show as <{k}, and counts that would reveal "
                         f"them as >={k}.")
    _, table = cy.months_to_reeval(rk, small)
    assert "min" not in table and "max" not in table  # single patients' values
    for cells, dots in ((ALL, len(r.reevaluated)), (small, 0)):  # scatter: one dot a patient
        fig = cy.timing_figure(cy.reevaluation(a, cells, ALPHA), cells, "test data")
        try:
            ax = fig.axes[0]
            drawn = sum(len(c.get_offsets()) for c in ax.collections
                        if isinstance(c, PathCollection))
            assert drawn == dots
            assert any("single patients are not drawn" in t.get_text()
                       for t in ax.texts) == (dots == 0)
        finally:
            plt.close(fig)


def test_quartiles_are_withheld_for_a_group_below_the_minimum(a, r):
    k = len(r.reevaluated) + 1
    rk = cy.reevaluation(a, Cells(k), ALPHA)
    overall, table = cy.months_to_reeval(rk, Cells(k))
    assert overall["median"] is None and table["median"].isna().all()
    # the groups' sizes are the 2x2 table's row totals as shown there (hidden here)
    assert list(table["n"]) == [rk.cross_shown.loc[g, "Total"] for g in cy.GROUPS]
    assert not any(shown(n) for n in table["n"])
    assert cy.months_lines(rk, overall, table, Cells(k))[0] == (
        f"Median withheld (fewer than {k} patients)")


def test_nobody_reevaluated(a):
    b = a.assign(cyto_reevaluated=0)
    r0 = cy.reevaluation(b, ALL, ALPHA)
    assert r0.reevaluated.empty and int(r0.cross.to_numpy().sum()) == 0
    assert cy.reevaluation_lines(r0)[1] == ("Lost CCyR: not assessable (no patient in CCyR at "
                                            "withdrawal was re-evaluated)")
    by = cy.lost_by_timing(r0, ALL, ALPHA)
    assert all(v["n"] == 0 and v["proportion"] is None for v in by.values())
    overall, table = cy.months_to_reeval(r0, ALL)
    assert cy.months_lines(r0, overall, table, ALL)[0] == (
        "No re-evaluation after discontinuation.")
    assert cy.fisher(r0, ALPHA) is None
    assert cy.ccyr_ti_table(r0, None, ALL).note == ("No patient in CCyR at withdrawal was "
                                                    "re-evaluated: no test.")
    s = cy.section(r0, by, overall, None)
    assert s["ccyr_vs_ti"]["fisher_p"] is None and s["ccyr_vs_ti"]["odds_ratio"] is None
    fig = cy.timing_figure(r0, ALL, "test data")
    try:
        assert "No patient in CCyR at withdrawal was re-evaluated" in [
            t.get_text() for t in fig.axes[0].texts]
    finally:
        plt.close(fig)


def test_section_is_the_committed_results_section(r):
    """results/sections/cytogenetics.json is what `make report` wrote from notebook 03 (the
    manuscript quotes it): the module must rebuild it from the shipped cohort."""
    overall, _ = cy.months_to_reeval(r, ALL)
    s = cy.section(r, cy.lost_by_timing(r, ALL, ALPHA), overall, cy.fisher(r, ALPHA))
    committed = json.loads((config.RESULTS_DIR / "sections" / "cytogenetics.json").read_text())
    assert committed.pop("meta")["parameters"]["min_cell"] == 0
    assert clean(s) == committed
