"""SPSS, Stata and SAS files as statistics packages write them: value labels instead of
codes, user-defined missing values, and variable labels that name dictionary columns."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from lenstop.ingest.readers import _user_missing
from lenstop.ingest.validate import load_cohort
from tests.conftest import TODAY, write_csv
from tests.ingest.test_io_formats import _typed_for_binary

CODES = {"sex": {"M": 1, "F": 2}, "ipssr": {"very_low": 1, "low": 2, "intermediate": 3},
         "karyotype": {"isolated_del5q": 1, "del5q_plus1": 2},
         "stop_reason": {"intolerance": 1, "physician": 2, "patient": 3, "unknown": 9},
         "ccyr_at_stop": {"yes": 1, "no": 2, "not_assessed": 3},
         "ccyr_lost": {"yes": 1, "no": 2}, "retreat_ti_regained": {"yes": 1, "no": 2}}


@pytest.fixture
def reference(small_text, tmp_path):
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "ref.csv"), today=TODAY)
    return cohort


def coded(small_text: pd.DataFrame, labels: dict | None = None
          ) -> tuple[pd.DataFrame, dict[str, dict[float, str]]]:
    """Category columns as numeric codes, with value labels (the dictionary's, or `labels`)."""
    frame = _typed_for_binary(small_text)
    value_labels = {}
    for col, codes in CODES.items():
        frame[col] = frame[col].map(codes).astype(float)
        value_labels[col] = {float(v): (labels or {}).get(col, {}).get(k, k)
                             for k, v in codes.items()}
    return frame, value_labels


def test_spss_value_labels_and_missing_ranges(small_text, tmp_path, reference):
    frame, labels = coded(small_text)
    frame.loc[2, "hb_at_stop_g_dl"] = 999.0   # "not done", declared missing
    frame.loc[5, "plt_at_stop"] = -1.0        # inside a missing range
    path = tmp_path / "coded.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels,
                         missing_ranges={"hb_at_stop_g_dl": [999],
                                         "plt_at_stop": [{"lo": -9, "hi": -1}]})
    cohort, warnings = load_cohort(path, today=TODAY)
    expected = reference.copy()
    expected.loc[2, "hb_at_stop_g_dl"] = pd.NA
    expected.loc[5, "plt_at_stop"] = pd.NA
    pd.testing.assert_frame_equal(cohort, expected)
    assert any("2 cells read as missing (user-defined missing 2)" in w for w in warnings)


def test_stata_value_labels_and_letter_missings(small_text, tmp_path, reference):
    frame, labels = coded(small_text)
    frame = frame.astype({"hb_at_stop_g_dl": object, "len_cycles": object})
    frame.loc[1, "hb_at_stop_g_dl"] = "a"      # Stata .a
    frame.loc[4, "len_cycles"] = "z"           # Stata .z
    frame["len_cycles"] = frame["len_cycles"].map(lambda v: v if isinstance(v, str) else int(v))
    path = tmp_path / "coded.dta"
    pyreadstat.write_dta(frame, str(path), variable_value_labels=labels,
                         missing_user_values={"hb_at_stop_g_dl": ["a"], "len_cycles": ["z"]})
    cohort, warnings = load_cohort(path, today=TODAY)
    expected = reference.copy()
    expected.loc[1, "hb_at_stop_g_dl"] = pd.NA
    expected.loc[4, "len_cycles"] = pd.NA
    pd.testing.assert_frame_equal(cohort, expected)
    assert any("user-defined missing 2" in w for w in warnings), warnings


def test_codes_without_labels_are_still_refused(small_text, tmp_path):
    from lenstop.ingest.problems import DataError

    frame, _labels = coded(small_text)
    path = tmp_path / "nolabels.sav"
    pyreadstat.write_sav(frame, str(path))
    with pytest.raises(DataError, match=r"column sex: must be one of F, M in 12 rows"):
        load_cohort(path, today=TODAY)


def test_variable_labels_name_dictionary_columns(small_text, tmp_path, reference):
    frame, labels = coded(small_text)
    short = {c: f"V{i:02d}" for i, c in enumerate(frame.columns)}
    path = tmp_path / "short.sav"
    pyreadstat.write_sav(frame.rename(columns=short), str(path),
                         column_labels=list(frame.columns),
                         variable_value_labels={short[c]: v for c, v in labels.items()})
    cohort, _ = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


def test_crosswalk_maps_local_labels_or_their_codes(small_text, tmp_path, reference):
    german = {"sex": {"M": "männlich", "F": "weiblich"},
              "ccyr_at_stop": {"yes": "ja", "no": "nein", "not_assessed": "n.u."}}
    frame, labels = coded(small_text, german)
    path = tmp_path / "german.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)
    mapping = tmp_path / "cw.yml"
    mapping.write_text("values:\n"
                       "  sex: {männlich: M, Weiblich: F}\n"     # by label, case ignored
                       "  ccyr_at_stop: {1: yes, 2: no, 3.0: not_assessed}\n",  # by code
                       encoding="utf-8")
    cohort, _ = load_cohort(path, mapping=mapping, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


def test_sas_special_missings_are_user_missing():
    """SAS .A-.Z and ._ read (user_missing=True) as letters listed in the metadata."""
    meta = SimpleNamespace(missing_ranges={}, missing_user_values={"hb": ["A", "_"]})
    s = pd.Series([12.1, "A", "_", np.nan, "B"], dtype=object)
    assert list(_user_missing(s, "hb", meta)) == [False, True, True, False, False]
