"""Where a notebook writes: run by hand it never overwrites the committed outputs (issue 16)."""

from __future__ import annotations

from lenstop import config
from lenstop.cohort.study import OUTPUT_ENV, SCRATCH_DIR, default_output_dir, open_study
from lenstop.disclosure import placement


def test_a_notebook_run_by_hand_writes_to_scratch(monkeypatch, capsys):
    monkeypatch.delenv(OUTPUT_ENV, raising=False)
    monkeypatch.delenv(placement.BUILD_DATA_ENV, raising=False)
    study = open_study()
    assert study.output_dir == SCRATCH_DIR.resolve()
    assert "outputs go to build/scratch/" in capsys.readouterr().out
    assert placement.git_ignored(SCRATCH_DIR) is not False


def test_inside_a_build_the_build_decides(monkeypatch, tmp_path):
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path))
    assert open_study().output_dir == tmp_path.resolve()


def test_the_default_folder_follows_the_minimum_cell_size(tmp_path):
    extract = tmp_path / "registry.csv"
    extract.write_text("patient_id\n")
    assert default_output_dir(extract) == config.BUILD_DIR / "registry"  # private: 5 by default
    assert default_output_dir(extract, 0) == config.BUILD_DIR / "registry-min0"
    assert default_output_dir(config.SYNTHETIC_COHORT, 5) == config.BUILD_DIR / "cohort-min5"
