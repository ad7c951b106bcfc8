"""Minimum cell size: primary and complementary suppression, and what it withholds with a count.

The central property: under any table, no line (a row or column with its total) is left
with exactly one hidden count, so no hidden count can be worked out by subtraction.
"""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest

from lenstop.content.tables import Row, overall_counts, table_one
from lenstop.disclosure.suppression import Cells, hide, shown

matplotlib.use("Agg")


def _recoverable(table: pd.DataFrame, frame: pd.DataFrame) -> list[tuple]:
    """Hidden cells that one line's shown counts give away (total minus the others)."""
    full = frame.copy()
    full["Total"] = full.sum(axis=1)
    full.loc["Total"] = full.sum(axis=0)
    found = []
    for line in [*[[(r, c) for c in full.columns] for r in full.index],
                 *[[(r, c) for r in full.index] for c in full.columns]]:
        hidden = [key for key in line if not shown(table.loc[key])]
        if len(hidden) == 1 and full.loc[hidden[0]] > 0:
            others = [key for key in line if key != hidden[0] and full.loc[key] > 0]
            if others:  # else only a zero line, which nothing could protect
                found.append(hidden[0])
    return found


def test_counts_below_the_minimum_are_hidden_and_zeros_shown():
    cells = Cells(5)
    assert [cells.count(n) for n in (0, 1, 4, 5, 17)] == [0, "<5", "<5", 5, 17]
    assert [Cells(0).count(n) for n in (0, 1, 4)] == [0, 1, 4]  # 0 disables it


def test_a_part_is_hidden_when_it_or_what_it_leaves_is_small():
    cells = Cells(5)
    assert cells.of(3, 118) == "<5"
    assert cells.of(116, 118) == ">=5"  # 118 - 116 = 2 patients would be given away
    assert cells.of(50, 118) == 50 and cells.of(0, 118) == 0 and cells.of(118, 118) == 118
    assert cells.n_pct(3, 118) == {"n": "<5", "pct": None}
    assert cells.n_pct(59, 118) == {"n": 59, "pct": 50.0}


def test_a_partition_hides_the_next_smallest_part_too():
    cells = Cells(5)
    shown_ = cells.partition({"intolerance": 70, "physician": 38, "patient": 9, "unknown": 1})
    assert shown_ == {"intolerance": 70, "physician": 38, "patient": ">=5", "unknown": "<5"}
    # a part quoted elsewhere gives way only as a last resort: the unprinted rest goes first
    assert cells.partition({"lost": 50, "died": 3}, total=118, fixed=["lost"]) == \
        {"lost": 50, "died": "<5"}
    assert cells.partition({"a": 2, "b": 3}) == {"a": "<5", "b": "<5"}  # two hide each other


@pytest.mark.parametrize("seed", range(40))
def test_no_hidden_cell_of_a_random_table_can_be_recovered_by_subtraction(seed):
    rng = np.random.default_rng(seed)
    shape = rng.integers(2, 5, size=2)
    values = rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40], size=shape, p=[.1, .15, .1, .1, .1,
                                                                      .1, .15, .1, .1])
    frame = pd.DataFrame(values, index=[f"r{i}" for i in range(shape[0])],
                         columns=[f"c{j}" for j in range(shape[1])])
    table = Cells(5).table(frame)
    assert _recoverable(table, frame) == []
    for key in itertools.product(table.index, table.columns):  # labels never lie
        cell = table.loc[key]
        true = frame.sum().sum() if key == ("Total", "Total") else (
            frame.loc[key[0]].sum() if key[1] == "Total" else
            frame[key[1]].sum() if key[0] == "Total" else frame.loc[key])
        assert cell == true or (cell == "<5" and 0 < true < 5) or (cell == ">=5" and true >= 5)


def test_without_a_minimum_every_count_is_shown():
    frame = pd.DataFrame([[1, 2], [3, 0]], index=["a", "b"], columns=["x", "y"])
    assert Cells(0).table(frame).to_numpy().tolist() == [[1, 2, 3], [3, 0, 3], [4, 2, 6]]
    assert hide({"a": 1}, [["a"]], 1) == {"a": 1}


def test_cells_hidden_by_another_output_stay_hidden():
    frame = pd.DataFrame([[20, 6], [7, 9]], index=["a", "b"], columns=["x", "y"])
    table = Cells(5).table(frame, hidden=[("Total", "Total")])
    assert table.loc["Total", "Total"] == ">=5"
    assert _recoverable(table, frame) == []


def test_a_proportion_is_withheld_with_its_count_or_its_denominator():
    cells = Cells(5)
    estimate = {"k": 28, "n": 48, "proportion": 28 / 48, "ci_low": 0.43, "ci_high": 0.72,
                "alpha": 0.05}
    assert cells.proportion(estimate) == estimate
    hidden_n = cells.proportion(estimate, n=">=5")  # 48 of 50 re-treated: n gives 2 away
    assert hidden_n["proportion"] is None and hidden_n["ci_low"] is None
    assert hidden_n["k"] == 28 and hidden_n["n"] == ">=5" and hidden_n["withheld"]
    small = cells.proportion({**estimate, "k": 3, "proportion": 3 / 48})
    assert small["k"] == "<5" and small["proportion"] is None


def test_medians_of_fewer_than_the_minimum_are_withheld():
    assert Cells(5).quartiles(pd.Series([1.0, 2.0, 3.0])) == \
        {"median": None, "q1": None, "q3": None, "n": "<5"}
    q = Cells(5).quartiles(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, None]))
    assert q == {"median": 3.0, "q1": 2.0, "q3": 4.0, "n": 5}
    assert Cells(0).quartiles(pd.Series([7.0]))["median"] == 7.0
    assert not Cells(5).allows_individual_marks() and Cells(0).allows_individual_marks()


def _table_data():
    rng = np.random.default_rng(7)
    n = 60
    return pd.DataFrame({
        "grp": ["a"] * 30 + ["b"] * 24 + ["c"] * 6,
        "sex": rng.choice(["F", "M"], size=n, p=[0.9, 0.1]),
        "cat": ["x"] * 57 + [None] * 3,
        "age": rng.normal(70, 8, size=n),
    })


def test_table_one_leaves_no_hidden_count_recoverable_in_rows_or_columns():
    data = _table_data()
    rows = [Row("sex", "Sex", "category", (("F", "F"), ("M", "M")))]
    frame = table_one(data, rows, group="grp", min_cell=5)
    body = frame[frame["Characteristic"].str.startswith("    ")].set_index("Characteristic")
    groups = [c for c in frame.columns if "(N=" in c]
    counts = pd.crosstab(data["sex"], data["grp"])
    labels = body[groups[1:]].map(lambda v: v.split(" (")[0])
    labels.index, labels.columns = counts.index, counts.columns
    labels = labels.map(lambda v: int(v) if v.isdigit() else v)
    labels["Total"] = body[groups[0]].map(lambda v: v.split(" (")[0]).map(
        lambda v: int(v) if v.isdigit() else v).to_numpy()
    labels.loc["Total"] = [int(c.split("N=")[1].rstrip(")")) if c.split("N=")[1][0].isdigit()
                           else c.split("N=")[1].rstrip(")") for c in groups[1:] + groups[:1]]
    assert _recoverable(labels, counts) == []
    assert any(not shown(v) for v in labels.to_numpy().ravel())  # something was hidden


def test_table_one_withholds_percentages_whose_denominator_is_hidden():
    data = _table_data()
    rows = [Row("cat", "Category", "category", (("x", "X"),))]
    frame = table_one(data, rows, group="grp", min_cell=5)
    x = frame[frame["Characteristic"].str.strip() == "X"].iloc[0]
    missing = frame[frame["Characteristic"].str.startswith("Category")].iloc[0]["Missing"]
    assert missing == "<5"
    assert "%" not in x["Overall (N=60)"]  # 57 (100%) would give the 3 missing away
    assert overall_counts(data, rows[0], group="grp", min_cell=5)["x"]["pct"] is None
    plain = overall_counts(data, rows[0], group="grp", min_cell=0)["x"]
    assert plain == {"n": 57, "known": 57, "pct": 100.0}


def test_km_curves_stop_where_fewer_than_the_minimum_remain_at_risk():
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    from lenstop.content.figures import km_figure
    from lenstop.disclosure.suppression import km_stop

    km = KaplanMeierFitter().fit(np.arange(1, 11) * 4.0, np.ones(10), label="All")
    assert km_stop(km, 0) == 40.0
    assert km_stop(km, 5) == 24.0  # at 24 months 5 of 10 are still at risk, at 28 only 4
    fig = km_figure({"All": km}, step=12, min_cell=5)
    drawn = max(max(line.get_xdata(), default=0) for line in fig.axes[0].get_lines())
    notes = [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    assert drawn <= 24.0 and any("fewer than 5 patients remain at risk" in t for t in notes)


def test_km_estimates_of_few_patients_at_risk_are_withheld():
    from lenstop.stats import km_summary

    data = pd.DataFrame({"t": np.arange(1, 11) * 4.0, "e": [1, 0] * 5})
    summary = km_summary(data, "t", "e", landmarks=(12, 36), alpha=0.05)
    plain = Cells(0).km(summary)
    assert plain == summary.to_dict()
    shown_ = Cells(5).km(summary)
    early, late = shown_["landmarks"]
    assert early["survival"] == plain["landmarks"][0]["survival"] and early["at_risk"] == 8
    assert late["survival"] is None and late["at_risk"] == "<5" and late["withheld"]
    assert plain["median"] == 28.0  # reached when 4 patients were at risk: withheld
    assert shown_["median"] is None and shown_["median_withheld"]


def test_model_estimates_of_a_small_group_are_withheld():
    data = pd.DataFrame({"rare": [1, 1] + [0] * 40, "common": [1, 0] * 21,
                         "age": np.linspace(50, 90, 42)})
    table = pd.DataFrame({"term": ["rare", "common", "age"], "hr": [3.0, 0.8, 1.1],
                          "ci_low": [1.0, 0.5, 1.0], "ci_high": [9.0, 1.2, 1.2],
                          "p": [0.04, 0.3, 0.01], "n": [42, 42, 42], "events": [20, 20, 20]})
    shown_ = Cells(5).model_terms(table, data).set_index("term")
    assert shown_.loc["rare", ["hr", "ci_low", "ci_high", "p"]].isna().all()
    assert shown_.loc["rare", "note"].startswith("withheld: fewer than 5 patients")
    assert shown_.loc["common", "hr"] == 0.8 and shown_.loc["age", "hr"] == 1.1  # kept
    assert Cells(0).model_terms(table, data).equals(table)
