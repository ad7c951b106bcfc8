"""Analysis parameters: one reviewed file of defaults that the notebooks agree with, and other
values as build parameters that go to a folder of their own and say so on the first page."""

from __future__ import annotations

import ast
import json

import pytest

from lenstop import cli, config
from lenstop.config import NOTEBOOKS
from lenstop.errors import StepError
from lenstop.manuscript import front_matter
from lenstop.workflow import layout, runner


def _parameter_cell(name: str) -> dict:
    nb = json.loads((config.NOTEBOOKS_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and node.targets[0].id in config.ANALYSIS:
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_parameters_cell_has_the_configured_defaults(name):
    assert _parameter_cell(name) == config.ANALYSIS


def test_defaults_are_the_papers():
    assert config.ANALYSIS == {"cycles_cutoff": 12, "tb_cutoff": 4.0, "alpha": 0.05,
                               "landmarks": [12, 24, 36, 60]}
    assert config.LANDMARK_MONTHS == (12, 24, 36, 60)


def test_bad_parameters_are_named_all_at_once():
    with pytest.raises(ValueError) as err:
        config.check_parameters({"cycle_cutoff": 6, "alpha": 0.7, "landmarks": "12"}, "here")
    text = str(err.value)
    assert text.startswith("here: ")
    assert "unknown parameter 'cycle_cutoff'" in text and "alpha = 0.7" in text
    assert "landmarks = '12' is not a list" in text


def test_other_parameters_build_into_their_own_folder():
    shipped = config.SYNTHETIC_COHORT
    assert layout.build_dir(shipped) == config.ROOT
    assert layout.build_dir(shipped, params={"cycles_cutoff": 6}) == \
        config.BUILD_DIR / "cohort-cycles_cutoff6"
    assert layout.build_dir(shipped, 5, False, {"landmarks": [6, 12], "alpha": 0.01}) == \
        config.BUILD_DIR / "cohort-min5-nogrid-alpha0.01-landmarks6_12"


def test_cli_reads_params_file_then_each_param(tmp_path, monkeypatch):
    monkeypatch.delenv(config.PARAMS_ENV, raising=False)
    f = tmp_path / "p.yaml"
    f.write_text("analysis:\n  cycles_cutoff: 6\n  tb_cutoff: 3\n")
    args = cli.parser().parse_args(["build", "--params", str(f), "--param", "tb_cutoff=2",
                                    "--param", "landmarks=[6, 12]"])
    assert cli._build_parameters(args) == {"cycles_cutoff": 6, "tb_cutoff": 2,
                                           "landmarks": [6, 12]}
    monkeypatch.setenv(config.PARAMS_ENV, '{"alpha": 0.01}')  # a build folder's _environment
    assert cli._build_parameters(cli.parser().parse_args(["build"])) == {"alpha": 0.01}


def test_bad_param_stops_the_build_with_one_line(capsys):
    assert cli.main(["build", "--param", "cycles=6"]) == 1
    err = capsys.readouterr().err
    assert "unknown parameter 'cycles'" in err and "Traceback" not in err


def test_first_page_says_when_parameters_are_not_the_papers():
    assert front_matter.departures(dict(config.ANALYSIS, min_cell=0)) == ""
    text = front_matter.departures(dict(config.ANALYSIS, cycles_cutoff=6))
    assert "cycles_cutoff = 6 (published 12)" in text


def test_a_profile_is_a_folder_or_a_name_under_workflow_profiles(tmp_path):
    assert runner.profile_dir("slurm") == config.ROOT / "workflow" / "profiles" / "slurm"
    assert runner.profile_dir(tmp_path) == tmp_path.resolve()
    with pytest.raises(StepError, match="no Snakemake profile nosuch"):
        runner.profile_dir("nosuch")
