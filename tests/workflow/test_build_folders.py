"""A build folder belongs to one extract: a same-named file elsewhere never replaces it."""

from __future__ import annotations

import pytest

from lenstop import config
from lenstop.errors import StepError
from lenstop.workflow.layout import claim_build_dir


def test_a_same_named_extract_elsewhere_is_refused(tmp_path):
    november, december = tmp_path / "2026-11" / "extract.csv", tmp_path / "2026-12" / "extract.csv"
    out = tmp_path / "build" / "extract"
    claim_build_dir(november, out)
    claim_build_dir(november, out)  # the same extract again: fine
    with pytest.raises(StepError) as err:
        claim_build_dir(december, out)
    assert str(november.resolve()) in str(err.value) and str(december.resolve()) in str(err.value)
    assert "REPLACE=1" in str(err.value)
    claim_build_dir(december, out, replace=True)  # handed over on request
    claim_build_dir(december, out)
    with pytest.raises(StepError):
        claim_build_dir(november, out)


def test_the_project_itself_is_never_claimed(tmp_path):
    claim_build_dir(tmp_path / "x.csv", config.ROOT)
    assert not (config.ROOT / ".build" / "extract.json").exists()
