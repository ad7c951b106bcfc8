"""The loader reads every supported format into the same validated cohort."""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest

from lenstop.ingest.schema import DATE_COLUMNS
from lenstop.ingest.validate import load_cohort
from tests.conftest import TODAY, write_csv


@pytest.fixture
def reference(small_text, tmp_path):
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "ref.csv"), today=TODAY)
    return cohort


def _typed_for_binary(small_text: pd.DataFrame) -> pd.DataFrame:
    """Real dates and numbers, as a statistics package would store them."""
    frame = small_text.copy()
    for col in DATE_COLUMNS:
        frame[col] = pd.to_datetime(frame[col])
    for col in ("age_at_len_stop", "tb_units_8wk_pre_len", "len_cycles", "len_dose_at_stop_mg",
                "hb_at_stop_g_dl", "anc_at_stop", "plt_at_stop"):
        frame[col] = pd.to_numeric(frame[col])
    return frame


def test_csv_semicolon_and_tab(small_text, tmp_path, reference):
    for sep, name in ((";", "semi.csv"), ("\t", "tab.tsv")):
        cohort, warnings = load_cohort(write_csv(small_text, tmp_path / name, sep=sep),
                                       today=TODAY)
        pd.testing.assert_frame_equal(cohort, reference)
        assert any("separated" in w for w in warnings)


def test_latin1_centre_names_load_with_warning(small_text, tmp_path):
    small_text.loc[0, "centre"] = "Hôpital Saint-Étienne"
    path = tmp_path / "latin1.csv"
    path.write_bytes(small_text.to_csv(index=False, lineterminator="\n").encode("cp1252"))
    cohort, warnings = load_cohort(path, today=TODAY)
    assert cohort.loc[0, "centre"] == "Hôpital Saint-Étienne"
    assert any("Windows-1252" in w for w in warnings)


def test_xlsx_with_real_dates(small_text, tmp_path, reference):
    path = tmp_path / "extract.xlsx"
    _typed_for_binary(small_text).to_excel(path, index=False, sheet_name="cohort")
    cohort, _ = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


def test_xlsx_picks_the_sheet_with_patient_id(small_text, tmp_path, reference):
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"note": ["export of 2024"]}).to_excel(xl, sheet_name="about", index=False)
        small_text.to_excel(xl, sheet_name="Sheet2", index=False)
    cohort, warnings = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)
    assert any("Sheet2" in w for w in warnings)


def test_parquet(small_text, tmp_path, reference):
    path = tmp_path / "extract.parquet"
    _typed_for_binary(small_text).to_parquet(path, index=False)
    cohort, _ = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


@pytest.mark.parametrize("suffix,writer", [
    (".sav", pyreadstat.write_sav),
    (".dta", pyreadstat.write_dta),
    (".xpt", pyreadstat.write_xport),
])
def test_spss_stata_sas(small_text, tmp_path, reference, suffix, writer):
    frame = _typed_for_binary(small_text)
    path = tmp_path / f"extract{suffix}"
    if suffix == ".xpt":  # SAS transport caps names at 8 characters: full names go in labels
        short = {c: f"V{i:02d}" for i, c in enumerate(frame.columns)}
        writer(frame.rename(columns=short), str(path), column_labels=list(frame.columns))
    else:
        writer(frame, str(path))
    cohort, _ = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)
