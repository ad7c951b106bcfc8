"""The patients (notebook 01's helpers): the flow against direct counts, what the minimum cell
size hides in it and in Table 1's note, and the results section the report quotes."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from lenstop import config
from lenstop.analyses import patients
from lenstop.cohort.baseline import REASONS
from lenstop.cohort.study import open_study
from lenstop.disclosure.suppression import Cells
from lenstop.manuscript.results import clean


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return open_study(None, tmp_path_factory.mktemp("out"))


def test_the_flow_counts_every_patient_once(study):
    a = study.analysis
    f = patients.flow(study, Cells(0))
    assert f.assessed == len(study.cohort) == f.n_analysed + int(study.exclusions["n"].sum())
    for key in REASONS:
        n = int((a["stop_reason"] == key).sum())
        assert f.reasons[key]["n"] == n
        assert f.flow.loc[key, 1] == int(((a["stop_reason"] == key) & (a["ti_lost"] == 1)).sum())
    lines = patients.flow_lines(f)
    assert lines[-1] == f"{'Total':<20} {len(a):>4}"
    assert len(lines) == len(study.exclusions) + len(REASONS) + 1
    fig = patients.flow_figure(f, "test data")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"{f.assessed} patients assessed: lower-risk del(5q) MDS,\nstopped LEN in RBC-TI" \
        in texts and any("test data" in t for t in texts)
    plt.close(fig)


def test_min_cell_hides_small_reasons_and_says_so_in_table_1(study):
    k = 5
    f = patients.flow(study, Cells(k))
    small = [key for key in REASONS if (study.analysis["stop_reason"] == key).sum() < k]
    assert small  # the synthetic cohort has one patient of unknown reason
    for key in small:
        assert f.reasons[key] == {"n": f"<{k}", "pct": None}
    fig = patients.flow_figure(f, "test data")
    assert any(t.get_text().endswith(f"n <{k}") for t in fig.axes[0].texts)
    plt.close(fig)
    b = patients.baseline_table(study.analysis, config.TB_CUTOFF_UNITS_8WK,
                                config.CYCLES_CUTOFF, k)
    assert f"Counts below {k} show as <{k}" in patients.table1(b, "test data").note
    assert "Counts below" not in patients.table1(
        patients.baseline_table(study.analysis, config.TB_CUTOFF_UNITS_8WK,
                                config.CYCLES_CUTOFF, 0), "test data").note
    tests = patients.table1_tests(b, "test data")
    assert list(tests.frame.columns) == ["Characteristic", "p", "Test"]


def test_section_is_the_committed_results_section(study):
    """results/sections/cohort.json is what `make report` wrote from notebook 01 (the
    manuscript quotes it): the module must rebuild it from the shipped cohort."""
    cells = Cells(0)
    f = patients.flow(study, cells)
    b = patients.baseline_table(study.analysis, config.TB_CUTOFF_UNITS_8WK,
                                config.CYCLES_CUTOFF, 0)
    s = patients.section(study, f, b, cells)
    committed = json.loads((config.RESULTS_DIR / "sections" / "cohort.json").read_text())
    assert committed.pop("meta")["parameters"]["min_cell"] == 0
    assert clean(s) == committed
    assert s["n_patients"] == 118
