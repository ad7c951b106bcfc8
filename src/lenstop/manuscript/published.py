"""The published study's figures (the synthetic cohort's calibration targets), as text for the
reproduction table that sets this build's figures beside the paper's."""

from __future__ import annotations

from lenstop.content.fmt import n_pct


def figures() -> dict:
    """The paper's figures (lenstop.ingest.synthetic.TARGETS), every leaf a string."""
    from lenstop.ingest.synthetic import TARGETS as t  # lazily: it imports pandas and numpy

    reasons = dict(t.reasons)
    return {
        "n": str(t.n),
        "reason": {k: n_pct(v, t.n) for k, v in reasons.items()},
        "followup": f"{t.followup_median_months:g}",
        "events": str(t.ti_lost),
        "median": f"{t.ti_median_months:g}",
        "ccyr": f"{t.ccyr_lost}/{t.ccyr_reevaluated}",
        "retreated": str(t.retreated),
        "regained": str(t.regained),
    }
