"""The no-op fast path: a build whose inputs equal its last successful build's does nothing.

`lenstop.workflow.uptodate.fingerprint` must change with anything a build reads (else a real change
would be skipped) and must not change when only what a build writes changes (else every
build would run Snakemake).
"""

from __future__ import annotations

import json
import shutil

import pytest

from lenstop import config
from lenstop.workflow import uptodate


@pytest.fixture
def project(tmp_path):
    """A miniature project: code, one notebook, the manuscript sources, and an extract."""
    root = tmp_path / "project"
    (root / "src" / "lenstop" / "stats").mkdir(parents=True)
    (root / "src" / "lenstop" / "study.py").write_text("x = 1\n")
    (root / "src" / "lenstop" / "stats" / "cox.py").write_text("y = 2\n")
    (root / "notebooks").mkdir()
    shutil.copy(config.NOTEBOOKS_DIR / "01_cohort.ipynb", root / "notebooks")
    (root / "workflow").mkdir()
    for name in uptodate.SOURCES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"{name}\n")
    (root / "workflow" / "rules").mkdir()
    (root / "workflow" / "rules" / "notebooks.smk").write_text("rule notebook:\n")
    data = tmp_path / "extract.csv"
    data.write_text("patient_id\nP1\n")
    return root, data


def _fp(root, data, sheet=None, min_cell=0, until="report"):
    return uptodate.fingerprint(data, sheet, min_cell, until, root=root)


def test_the_fingerprint_is_stable_and_holds_no_patient_data(project):
    root, data = project
    first = _fp(root, data)
    assert _fp(root, data) == first
    assert "P1" not in json.dumps(first)  # the extract enters as its SHA-256 only


@pytest.mark.parametrize("change", ["extract", "sheet", "min_cell", "until", "code",
                                    "stats code", "notebook cell", "report.qmd",
                                    "Snakefile", "rules", "new rules file",
                                    "analysis defaults", "requirements.lock", "new module"])
def test_anything_a_build_reads_changes_the_fingerprint(project, change):
    root, data = project
    before = _fp(root, data)
    options = {}
    if change == "extract":
        data.write_text("patient_id\nP2\n")
    elif change in ("sheet", "min_cell", "until"):
        options = {"sheet": "cohort", "min_cell": 5, "until": "variables"}
        options = {change: options[change]}
    elif change == "code":
        (root / "src" / "lenstop" / "study.py").write_text("x = 2\n")
    elif change == "stats code":
        (root / "src" / "lenstop" / "stats" / "cox.py").write_text("y = 3\n")
    elif change == "new module":
        (root / "src" / "lenstop" / "extra.py").write_text("")
    elif change == "notebook cell":
        path = root / "notebooks" / "01_cohort.ipynb"
        nb = json.loads(path.read_text())
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["source"] = "".join(code["source"]) + "\n# edited"
        path.write_text(json.dumps(nb))
    elif change == "new rules file":
        (root / "workflow" / "rules" / "extra.smk").write_text("rule extra:\n")
    else:
        name = {"Snakefile": "workflow/Snakefile", "rules": "workflow/rules/notebooks.smk",
                "analysis defaults": "config/config.yaml"}.get(change, change)
        (root / name).write_text("changed\n")
    assert _fp(root, data, **options) != before, change


def test_a_notebook_rewritten_with_new_outputs_keeps_its_fingerprint(project):
    root, data = project
    before = _fp(root, data)
    path = root / "notebooks" / "01_cohort.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["new\n"]}]
            cell["execution_count"] = 99
    path.write_text(json.dumps(nb, indent=2))
    assert _fp(root, data) == before


def test_a_build_is_current_only_with_the_same_inputs_and_intact_outputs(project, tmp_path):
    root, data = project
    work = tmp_path / ".build"
    inputs = _fp(root, data)
    assert not uptodate.is_current(work, "report", inputs, intact=True)  # never built
    uptodate.record(work, "report", inputs)
    assert uptodate.is_current(work, "report", inputs, intact=True)
    assert not uptodate.is_current(work, "variables", inputs, intact=True)
    assert not uptodate.is_current(work, "report", inputs, intact=False)  # output edited
    assert not uptodate.is_current(work, "report", _fp(root, data, min_cell=5), intact=True)
    (work / "inputs-report.json").write_text("{not json")
    assert not uptodate.is_current(work, "report", inputs, intact=True)
    uptodate.record(work, "report", inputs)
    uptodate.forget(work)
    assert not uptodate.is_current(work, "report", inputs, intact=True)
