"""Missing-value conventions: R's write.csv (quoted text, NA, row names), NA / N/A / . / NULL /
#N/A in every column type, all-missing and blank rows; counted in the warnings, not listed."""

from __future__ import annotations

import pandas as pd
import pytest

from lenstop.ingest.problems import DataError
from lenstop.ingest.readers import MISSING_TOKENS
from lenstop.ingest.validate import load_cohort
from tests.conftest import TODAY, write_csv


@pytest.fixture
def reference(small_text, tmp_path):
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "ref.csv"), today=TODAY)
    return cohort


def _r_write_csv(frame: pd.DataFrame) -> str:
    """What R's `write.csv(df, file)` writes: a quoted row-name column, quoted text, NA."""
    def cell(v):
        return "NA" if v is None else '"' + str(v).replace('"', '""') + '"'
    lines = [",".join(['""', *(f'"{c}"' for c in frame.columns)])]
    lines += [",".join([f'"{i + 1}"', *(cell(v) for v in row)])
              for i, row in enumerate(frame.itertuples(index=False))]
    return "\n".join(lines) + "\n"


def test_r_write_csv_with_na(small_text, tmp_path, reference):
    path = tmp_path / "r.csv"
    path.write_text(_r_write_csv(small_text), encoding="utf-8")
    cohort, warnings = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)
    blanks = int(small_text.isna().sum().sum())
    assert blanks > 10  # the shipped rows hold many blank event dates
    assert any(f"{blanks} cells read as missing (NA {blanks})" in w for w in warnings), warnings
    assert any("ignoring 1 column(s) not in the data dictionary: (unnamed column 1)" in w
               for w in warnings), warnings


@pytest.mark.parametrize("token", MISSING_TOKENS)
def test_every_token_in_every_column_type(small_text, tmp_path, reference, token):
    frame = small_text.copy()
    untreated = frame.index[frame["retreat_ti_regained"].isna()][0]
    cells = [(0, "hb_at_stop_g_dl"), (1, "len_cycles"), (2, "aml_date"),
             (untreated, "retreat_ti_regained")]  # float, int, date, category
    for row, col in cells:
        frame.loc[row, col] = token
    cohort, warnings = load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    expected = reference.copy()
    for row, col in cells:
        expected.loc[row, col] = pd.NaT if col.endswith("_date") else pd.NA
    pd.testing.assert_frame_equal(cohort, expected)
    assert any(f"4 cells read as missing ({token} 4)" in w for w in warnings), warnings


def test_a_token_in_a_required_text_column_is_a_blank(small_text, tmp_path):
    small_text.loc[3, "centre"] = "NULL"
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    [p] = info.value.problems
    assert (p.row, p.column, p.message, p.value) == ("row 5", "centre", "must not be blank",
                                                     "(blank)")
    assert "1 cell read as missing (NULL 1)" in info.value.report()


def test_lower_case_na_is_not_a_token(small_text, tmp_path):
    """Only the listed spellings are missing: 'n/a' in a number column is still refused."""
    small_text.loc[0, "anc_at_stop"] = "n/a"
    with pytest.raises(DataError, match=r"column anc_at_stop: must be a number"):
        load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)


def test_blank_and_all_missing_rows_are_skipped_and_counted(small_text, tmp_path, reference):
    lines = small_text.to_csv(index=False, na_rep="", lineterminator="\n").splitlines()
    na_row = ",".join(["NA"] * small_text.shape[1])
    text = "\n".join(lines[:3] + ["", ",,,", na_row] + lines[3:] + ["", ""]) + "\n"
    path = tmp_path / "gaps.csv"
    path.write_text(text, encoding="utf-8")
    cohort, warnings = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)
    assert any("skipped 3 blank rows" in w for w in warnings), warnings  # not the tail
