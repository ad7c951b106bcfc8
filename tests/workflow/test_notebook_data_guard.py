"""A notebook can never point the shipped build at another extract (issue 14's privacy hole).

Setting `data_path` in a notebook's parameters cell once made `make report` analyse a private
extract and publish its unsuppressed results into the tracked notebooks/, figures/, results/
and _manuscript/. The build now passes the extract itself, refuses notebooks that choose one,
opens no other file inside a build, and merges only sections made from its own extract.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lenstop import config, files
from lenstop.config import NOTEBOOKS
from lenstop.disclosure import placement
from lenstop.errors import PrivacyError
from lenstop.manuscript import results


def _notebook(path: Path, *cells: str, parameters: str = "data_path = None\nsheet = None"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(nb, path)
    return path


def test_committed_notebooks_leave_the_extract_to_the_build():
    for name in NOTEBOOKS:
        assert placement.notebook_data_choices(config.NOTEBOOKS_DIR / f"{name}.ipynb") == []


@pytest.mark.parametrize(("cells", "parameters", "where"), [
    ((), 'data_path = "data/private/extract.xlsx"  # extract to analyse',
     'cell 1, line 1: data_path = \'data/private/extract.xlsx\''),
    (("x = 1\noutput_dir = '/tmp/elsewhere'",), "data_path = None",
     "cell 2, line 2: output_dir = '/tmp/elsewhere'"),
    (("study = open_study('data/private/x.csv', output_dir)",), "data_path = None",
     "cell 2, line 1: open_study(... 'data/private/x.csv' ...)"),
    (("study = open_study(data_path, sheet='Tabelle1')",), "data_path = None",
     "cell 2, line 1: open_study(... 'Tabelle1' ...)"),
    (("%matplotlib inline\nsheet: str = 'notes'",), "data_path = None",
     "cell 2, line 2: sheet = 'notes'"),
])
def test_a_notebook_that_chooses_its_extract_is_found(tmp_path, cells, parameters, where):
    nb = _notebook(tmp_path / "nb.ipynb", *cells, parameters=parameters)
    assert placement.notebook_data_choices(nb) == [where]
    with pytest.raises(PrivacyError, match="may not choose the extract") as err:
        placement.check_notebooks([nb])
    assert f"nb.ipynb, {where}" in str(err.value)


def test_none_and_the_build_parameters_themselves_are_allowed(tmp_path):
    nb = _notebook(tmp_path / "nb.ipynb", "study = open_study(data_path, output_dir, sheet=sheet)",
                   "data_path = None")
    assert placement.notebook_data_choices(nb) == []


def test_inside_a_build_no_other_extract_can_be_opened(monkeypatch, tmp_path):
    from lenstop.cohort.study import open_study

    other = tmp_path / "other.csv"
    shutil.copy(config.SYNTHETIC_COHORT, other)
    monkeypatch.setenv(placement.BUILD_DATA_ENV, str(config.SYNTHETIC_COHORT))
    monkeypatch.setenv("LENSTOP_OUTPUT_DIR", str(tmp_path / "out"))
    with pytest.raises(PrivacyError, match="opens other.csv, but the build analyses cohort.csv"):
        open_study(other)


def test_merge_refuses_sections_of_another_extract(tmp_path):
    shipped = files.sha256(config.SYNTHETIC_COHORT)
    for section in results.SECTIONS:
        sha = "0" * 64 if section == "cytogenetics" else shipped
        name = "extract.xlsx" if section == "cytogenetics" else "cohort.csv"
        results.write_section(tmp_path, section, {"meta": {"data_sha256": sha,
                                                           "data_file": name}})
    with pytest.raises(ValueError, match="cytogenetics from extract.xlsx"):
        results.merge(tmp_path, data=config.SYNTHETIC_COHORT)
    assert not (tmp_path / "results.json").exists()
    for section in results.SECTIONS:  # all from one file, but not the build's
        results.write_section(tmp_path, section, {"meta": {"data_sha256": "0" * 64,
                                                           "data_file": "extract.xlsx"}})
    with pytest.raises(ValueError, match="this build analyses cohort.csv"):
        results.merge(tmp_path, data=config.SYNTHETIC_COHORT)
    results.merge(tmp_path)  # without a build's extract, agreement is enough


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_make_report_refuses_a_notebook_naming_a_private_extract(tmp_path):
    """The issue's reproduction, on a copy of the project: nothing tracked changes."""
    copy = tmp_path / "project"
    files = subprocess.run(["git", "-C", str(config.ROOT), "ls-files", "-z"], check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        if (config.ROOT / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(config.ROOT / rel, copy / rel)
    subprocess.run(["git", "init", "-q", str(copy)], check=True)
    subprocess.run(["git", "-C", str(copy), "add", "-A"], check=True)
    private = copy / "data" / "private" / "extract.csv"
    shutil.copy(config.SYNTHETIC_COHORT, private)
    nb_path = copy / "notebooks" / "02_ti_duration.ipynb"
    nb = json.loads(nb_path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = ["data_path = \"data/private/extract.csv\"  # extract to analyse\n"]
    nb_path.write_text(json.dumps(nb, indent=1) + "\n")
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file() and ".git" not in p.parts}
    env = dict(os.environ, PYTHONPATH=str(copy / "src"))
    run = subprocess.run([sys.executable, "-m", "lenstop.cli", "build"], cwd=copy, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "02_ti_duration.ipynb, cell " in run.stderr
    assert "data_path = 'data/private/extract.csv'" in run.stderr
    assert "Traceback" not in run.stderr
    after = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before


def test_merge_refuses_sections_made_with_other_parameters(tmp_path):
    """A cut-off changed in one notebook's parameters cell must not give a report whose Cox
    table says 6 cycles while its Methods and Table 1 say 12."""
    shipped = files.sha256(config.SYNTHETIC_COHORT)
    for section in results.SECTIONS:
        cut = 6 if section == "ti_duration" else 12
        results.write_section(tmp_path, section, {"meta": {
            "data_sha256": shipped, "data_file": "cohort.csv",
            "parameters": {"cycles_cutoff": cut, "alpha": 0.05}}})
    with pytest.raises(ValueError, match=r"cycles_cutoff = 6 in ti_duration\)"):
        results.merge(tmp_path, data=config.SYNTHETIC_COHORT)
    assert not (tmp_path / "results.json").exists()
