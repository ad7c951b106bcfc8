"""Endpoints of the analysis table (derive.ENDPOINTS) against R survfit and cmprsk::cuminc on
a frozen copy of the shipped cohort; R derives every endpoint from the dates itself."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from stats_testdata import load_snapshot_cohort

from lenstop.cohort.derive import ENDPOINTS
from lenstop.stats.endpoints import (
    aml_incidence,
    by_month,
    endpoint_summary,
    event_free_survival,
    overall_survival,
    retreatment_incidence,
    ti_free_survival,
)

KM = {"os": overall_survival, "ti_free": ti_free_survival, "efs": event_free_survival}
CIF = {"aml": aml_incidence, "retreatment": retreatment_incidence}


@pytest.fixture(scope="module")
def a() -> pd.DataFrame:
    return load_snapshot_cohort()


def close(got, want, tol=1e-10):
    """Equal, or both missing (R's NA for a median or CI limit not reached)."""
    if want is None:
        return got is None
    return got is not None and abs(got - want) < tol


@pytest.mark.parametrize("key", list(KM))
def test_km_endpoints_match_r(a, key, r_reference):
    ref = r_reference["cohort_snapshot"][key]
    res = KM[key](a, landmarks=ref["landmarks"])
    assert (res.n, res.events) == (ref["n"], ref["events"])
    assert close(res.median, ref["median"])
    assert close(res.median_ci[0], ref["median_lower"])
    assert close(res.median_ci[1], ref["median_upper"])
    got = pd.DataFrame(res.landmarks)
    np.testing.assert_allclose(got["survival"], ref["surv"], atol=1e-10)
    np.testing.assert_allclose(got["ci_low"], ref["lower"], atol=1e-10)  # log-log, as R's
    np.testing.assert_allclose(got["ci_high"], ref["upper"], atol=1e-10)
    assert got["at_risk"].tolist() == ref["n_risk"]


def test_ti_free_survival_is_shorter_than_ti_duration(a, r_reference):
    # the figure: 27.4 months in R, as deaths in TI count as events here
    ref = r_reference["cohort_snapshot"]["ti_free"]
    tfs = ti_free_survival(a)
    duration = endpoint_summary(a, "ti_duration")
    assert tfs.median == pytest.approx(ref["median"], abs=1e-10)
    assert tfs.median < duration.median
    assert tfs.events == duration.events + int((a["ti_status"] == 2).sum())


@pytest.mark.parametrize("key", list(CIF))
def test_cif_endpoints_match_r(a, key, r_reference):
    ref = r_reference["cohort_snapshot"][key]
    res = CIF[key](a, landmarks=ref["landmarks"])
    assert res.n == ref["n"] and res.events == {1: ref["events"], 2: ref["competing"]}
    got = pd.DataFrame(res.landmarks)
    np.testing.assert_allclose(got["cif"], ref["cif"], atol=1e-10)
    np.testing.assert_allclose(got["cif"], ref["cuminc_est"], atol=1e-10)  # cmprsk too
    np.testing.assert_allclose(got["se"], ref["se"], atol=1e-10)  # survfit's IJ SE
    # R's log-log CI; at a zero incidence R gives NA and we give the degenerate [0, 0]
    zero = got["cif"].to_numpy() == 0
    want_low = np.where(zero, 0.0, np.array(ref["lower"], dtype=float))
    want_high = np.where(zero, 0.0, np.array(ref["upper"], dtype=float))
    np.testing.assert_allclose(got["ci_low"].astype(float), want_low, atol=1e-10)
    np.testing.assert_allclose(got["ci_high"].astype(float), want_high, atol=1e-10)


def test_endpoint_registry_and_results_shape(a):
    for key, e in ENDPOINTS.items():
        res = endpoint_summary(a, key, landmarks=(12, 24))
        rows = by_month(res.landmarks)
        assert list(rows) == ["12", "24"]
        value = "survival" if e.kind == "km" else "cif"
        assert {"time", value, "ci_low", "ci_high"} <= set(rows["12"])
        assert e.definition.endswith(".") and e.duration_col in a and e.event_col in a
        json.dumps(res.to_dict(), allow_nan=False)
    with pytest.raises(KeyError, match="unknown endpoint"):
        endpoint_summary(a, "pfs")
