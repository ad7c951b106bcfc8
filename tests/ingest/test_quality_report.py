"""The data manager's data-quality report: every problem grouped by centre and rule, in a
git-ignored folder, as HTML and an .xlsx to annotate (issue 14)."""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from lenstop import config
from lenstop.cli import main
from lenstop.errors import PrivacyError
from lenstop.ingest import quality
from tests.conftest import write_csv


@pytest.fixture
def bad_extract(small_text, tmp_path):
    frame = small_text.copy()
    frame.loc[[1, 2, 5], "sex"] = "X"  # three rows break one rule
    frame.loc[3, "hb_at_stop_g_dl"] = "high"
    path = write_csv(frame, tmp_path / f"pytest-quality-{id(frame)}.csv")
    yield path, frame
    shutil.rmtree(config.BUILD_DIR / path.stem, ignore_errors=True)


def test_make_validate_writes_the_grouped_report(bad_extract, capsys):
    path, frame = bad_extract
    assert main(["validate", str(path), "--report"]) == 2
    err = capsys.readouterr().err
    out = config.BUILD_DIR / path.stem / "quality"
    assert f"{out / 'report.html'}" in err and "Traceback" not in err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "4 problem(s) in 4 row(s)" in page and "Confidential" in page
    book = openpyxl.load_workbook(out / "report.xlsx")
    grouped = list(book["By centre and rule"].values)
    header, body = grouped[0], grouped[1:]
    assert header[:4] == ("Centre", "Column", "Rule", "Problems")
    sex = [r for r in body if r[1] == "sex"]
    centres = {frame.loc[i, "centre"] for i in (1, 2, 5)}
    assert sum(r[3] for r in sex) == 3 and {r[0] for r in sex} == centres
    assert "row 3" in " ".join(r[4] for r in sex)  # file rows, header counted
    every = list(book["Every problem"].values)
    assert every[0][-1] == "Comment" and len(every) == 1 + 4


def test_a_clean_extract_gets_a_clean_report(small_text, tmp_path, capsys):
    path = write_csv(small_text, tmp_path / "pytest-quality-clean.csv")
    try:
        assert main(["validate", str(path), "--report"]) == 0
        page = (config.BUILD_DIR / path.stem / "quality" / "report.html").read_text()
        assert "All checks passed" in page
    finally:
        shutil.rmtree(config.BUILD_DIR / path.stem, ignore_errors=True)


def test_the_report_never_goes_where_git_tracks(tmp_path):
    with pytest.raises(PrivacyError, match="names rows"):
        quality.write(tmp_path / "x.csv", [], [], out=config.FIGURES_DIR / "quality")
