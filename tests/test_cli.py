"""The command line reports bad data with exit code 2 and no traceback."""

from __future__ import annotations

import subprocess
import sys

from lenstop import config
from tests.conftest import write_csv


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lenstop.cli", *args], capture_output=True,
                          text=True, cwd=config.ROOT)


def test_validate_ok():
    result = _run("validate", str(config.SYNTHETIC_COHORT))
    assert result.returncode == 0
    assert "118 patients, all checks passed" in result.stdout


def test_validate_bad_file_exit_2_without_traceback(small_text, tmp_path):
    small_text.loc[0, "sex"] = "X"
    small_text.loc[1, "hb_at_stop_g_dl"] = "99"
    result = _run("validate", str(write_csv(small_text, tmp_path / "bad.csv")))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.csv: 2 problems in 2 rows" in result.stderr
    assert "row 2 (patient SYN-0001), column sex" in result.stderr


def test_missing_file_exit_2(tmp_path):
    result = _run("validate", str(tmp_path / "missing.csv"))
    assert result.returncode == 2 and "no such file" in result.stderr
    assert "Traceback" not in result.stderr
