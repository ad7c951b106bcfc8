"""The paper's figures for the reproduction table: the calibration targets, as text."""

from __future__ import annotations

from lenstop.ingest.synthetic import TARGETS
from lenstop.manuscript import published


def test_published_figures_are_the_calibration_targets():
    fig = published.figures()
    assert fig["n"] == str(TARGETS.n) and fig["events"] == str(TARGETS.ti_lost)
    assert fig["ccyr"] == f"{TARGETS.ccyr_lost}/{TARGETS.ccyr_reevaluated}"
    assert set(fig["reason"]) == set(dict(TARGETS.reasons))
    for key, n in dict(TARGETS.reasons).items():
        assert fig["reason"][key] == f"{n} ({round(100 * n / TARGETS.n)}%)"
    assert all(isinstance(v, str) for v in (*fig.values(), *fig["reason"].values())
               if not isinstance(v, dict))
