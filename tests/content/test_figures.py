"""Kaplan-Meier figures stay readable from a hundred patients to a registry of thousands."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from lenstop.content import figures

matplotlib.use("Agg")


def _fitter(n: int, seed: int = 1):
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(seed)
    t = rng.exponential(30, n)
    return KaplanMeierFitter().fit(t, rng.random(n) < 0.5, label="All patients")


def _risk_labels(fig) -> str:
    risk = [a for a in fig.axes if a is not fig.axes[0]]
    return "\n".join(t.get_text() for a in risk for t in a.get_xticklabels())


@pytest.mark.parametrize("n, ticked", [(118, True), (5000, False)])
def test_censor_ticks_only_while_they_can_be_told_apart(n, ticked):
    assert figures.censor_ticks(_fitter(n)) is ticked


def test_numbers_at_risk_get_thousands_separators():
    import matplotlib.pyplot as plt

    fig = figures.km_figure({"All patients": _fitter(5000)})
    text = _risk_labels(fig)
    assert "5,000" in text and "5000" not in text
    plt.close(fig)
    fig = figures.km_figure({"All patients": _fitter(5000)}, min_cell=5)
    assert "5,000" in _risk_labels(fig)  # after the suppression pass too
    plt.close(fig)


def test_a_small_cohort_keeps_its_plain_numbers_and_ticks():
    import matplotlib.pyplot as plt

    fig = figures.km_figure({"All patients": _fitter(118)})
    assert "118" in _risk_labels(fig)
    markers = [line for line in fig.axes[0].get_lines() if line.get_marker() == "|"]
    assert markers, "censored patients of a small cohort are ticked"
    plt.close(fig)


def test_every_at_risk_row_is_written_alike():
    """The rows under the cumulative-incidence figures (AML, LEN restart) go through the same
    writer as the Kaplan-Meier ones: separators, and '<min_cell' below the minimum cell size."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_xticks([0, 12, 24, 200])
    figures.at_risk_row(ax, [_fitter(5000)], ["At risk"], min_cell=5)
    text = _risk_labels(fig)
    assert "5,000" in text and "<5" in text  # nobody is left at risk at 200 months
    plt.close(fig)
