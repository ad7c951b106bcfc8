"""A job's code inputs are found by following imports: a module that no longer exists (after a
rename) is an error, never an empty list of inputs that would let a stale result stand."""

from __future__ import annotations

import pytest

from lenstop import config
from lenstop.workflow.notebooks import RUN_STEP_MODULES, closure


def test_the_grid_points_depend_on_the_sensitivity_code():
    files = set(closure(["analyses.sensitivity"]))
    package = config.PACKAGE_DIR
    assert {package / "analyses" / "sensitivity.py", package / "cohort" / "derive.py",
            package / "stats" / "cox.py"} <= files
    assert package / "cli.py" not in files


def test_a_module_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="not lenstop modules: sensitivity"):
        closure(["sensitivity"])  # the module's name before it moved to analyses/


def test_the_notebook_step_modules_exist():
    assert len(closure(list(RUN_STEP_MODULES))) >= len(RUN_STEP_MODULES)


def test_the_workflow_names_existing_modules_only():
    """Every closure([...]) the rules call names modules that exist (the rules run it when
    Snakemake parses them; this keeps a rename from reaching a build first)."""
    import re

    rules = "\n".join(p.read_text(encoding="utf-8")
                      for p in (config.ROOT / "workflow").rglob("*.smk"))
    named = re.findall(r"closure\(\[([^\]]*)\]\)", rules)
    assert named, "no closure([...]) call found in workflow/rules"
    for names in named:
        closure([n.strip().strip("\"'") for n in names.split(",") if n.strip()])
