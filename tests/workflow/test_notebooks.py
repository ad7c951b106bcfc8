"""The analysis notebooks: parameters, outputs, the results file and the published figures."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib

import nbformat
import pytest

from lenstop import config, files
from lenstop.cohort.study import PrivacyError, open_study
from lenstop.config import NOTEBOOKS, SECTION_OF
from lenstop.manuscript import results
from lenstop.workflow.notebooks import IPCKernelManager, scrub
from tests.conftest import write_csv

PARAMETERS = {"data_path", "sheet", "output_dir", "cycles_cutoff", "tb_cutoff", "alpha",
              "landmarks", "min_cell"}


def _nb(name: str) -> nbformat.NotebookNode:
    return nbformat.read(config.NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell(name):
    cells = [c for c in _nb(name).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assigned = set(re.findall(r"^(\w+) = ", cells[0].source, flags=re.M))
    assert PARAMETERS <= assigned


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_figure_and_table_cells_have_label_caption_alt(name):
    for cell in _nb(name).cells:
        label = re.search(r"^#\| label: (\S+)", cell.source, flags=re.M)
        if not label:
            continue
        kind = label.group(1).split("-")[0]
        assert kind in ("fig", "tbl"), label.group(1)
        assert f"#| {kind}-cap: " in cell.source
        if kind == "fig":
            assert "#| fig-alt: " in cell.source
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), label.group(1)
        else:
            assert any("text/markdown" in o.get("data", {}) for o in cell.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebooks_carry_no_timestamps_or_paths(name):
    text = (config.NOTEBOOKS_DIR / f"{name}.ipynb").read_text()
    assert '"execution"' not in text and "start_time" not in text
    assert str(config.ROOT) not in text


def test_every_saved_figure_has_svg_and_png():
    svgs = {p.stem for p in config.FIGURES_DIR.glob("*.svg")}
    pngs = {p.stem for p in config.FIGURES_DIR.glob("*.png")}
    assert svgs == pngs and len(svgs) >= 7


def test_results_file_is_the_merge_of_the_sections(tmp_path):
    merged = results.merge(config.RESULTS_DIR, out=tmp_path / "results.json")
    assert (tmp_path / "results.json").read_text() == config.RESULTS_FILE.read_text()
    assert set(merged) == set(SECTION_OF.values())


def test_results_come_from_the_shipped_cohort():
    r = results.read(config.RESULTS_FILE)
    sha = files.sha256(config.SYNTHETIC_COHORT)
    for section in r.values():
        assert section["meta"]["data_sha256"] == sha
        assert section["meta"]["synthetic"] is True


def test_results_reproduce_the_published_figures():
    r = results.read(config.RESULTS_FILE)
    c, ti, cy, re_ = r["cohort"], r["ti_duration"], r["cytogenetics"], r["retreatment"]
    assert c["n_patients"] == 118
    assert {k: v["n"] for k, v in c["stop_reason_counts"].items()} == {
        "intolerance": 70, "physician": 38, "patient": 9, "unknown": 1}
    assert ti["ti_loss_events"] == 50
    assert abs(ti["ti_median_months"] - 56) <= 1.5
    assert abs(ti["followup_median_months"] - 49) <= 1.5
    assert (cy["ccyr_lost"]["k"], cy["ccyr_lost"]["n"]) == (22, 30)
    assert re_["retreated"] == 48
    assert (re_["retreat_ti_regained"]["k"], re_["retreat_ti_regained"]["n"]) == (28, 48)
    multi = {t["term"]: t for t in ti["cox_multivariable"]["terms"]}
    assert multi["ltb"]["hr"] < 1 and multi["cycles_ge_cutoff"]["hr"] < 1
    assert multi["age_per10"]["hr"] > 1 and multi["hb"]["hr"] < 1
    assert all(t["p"] < 0.05 for t in multi.values())


def execute(notebook, output, parameters: dict):
    """Run `notebook` by hand with papermill `parameters` (as a researcher would, outside a
    build) into `output`, scrubbed of timestamps."""
    import papermill

    papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                               kernel_name="python3", cwd=str(config.NOTEBOOKS_DIR),
                               progress_bar=False, log_output=False,
                               kernel_manager_class=IPCKernelManager)
    nbformat.write(scrub(nbformat.read(output, as_version=4)), output)
    return output


@pytest.mark.slow
def test_changing_a_parameter_changes_the_results(tmp_path):
    execute(config.NOTEBOOKS_DIR / "02_ti_duration.ipynb", tmp_path / "02.ipynb",
            {"output_dir": str(tmp_path), "cycles_cutoff": 24})
    changed = json.loads((tmp_path / "results/sections/ti_duration.json").read_text())
    shipped = results.read(config.RESULTS_FILE)["ti_duration"]
    assert changed["meta"]["parameters"]["cycles_cutoff"] == 24
    hr = {t["term"]: t["hr"] for t in changed["cox_multivariable"]["terms"]}
    hr0 = {t["term"]: t["hr"] for t in shipped["cox_multivariable"]["terms"]}
    assert hr["cycles_ge_cutoff"] != pytest.approx(hr0["cycles_ge_cutoff"], rel=1e-3)
    labels = {t["term"]: t["label"] for t in changed["cox_multivariable"]["terms"]}
    assert labels["cycles_ge_cutoff"] == "LEN cycles >= 24"
    # the KM estimate does not depend on the cut-off
    assert changed["ti_median_months"] == shipped["ti_median_months"]


NBVAL_OPTIONS = shlex.split(tomllib.loads((config.ROOT / "pyproject.toml").read_text(
    encoding="utf-8"))["tool"]["pytest"]["ini_options"]["addopts"])
"""The project's pytest options (pyproject.toml), as `make test` passes them to nbval."""


def _sanitized(text: str) -> str:
    """`text` after the patterns of the sanitizer file, as nbval applies them."""
    from nbval.plugin import get_sanitize_patterns

    cfg = NBVAL_OPTIONS[NBVAL_OPTIONS.index("--nbval-sanitize-with") + 1]
    for regex, replace in get_sanitize_patterns((config.ROOT / cfg).read_text(encoding="utf-8")):
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nbval_compares_every_output(name):
    """Strict nbval (not --nbval-lax) over notebooks/; a cell may skip the comparison only
    with `# NBVAL_IGNORE_OUTPUT` followed by a comment saying why (none does today)."""
    assert "--nbval" in NBVAL_OPTIONS and "--nbval-lax" not in NBVAL_OPTIONS
    assert "notebooks" in tomllib.loads((config.ROOT / "pyproject.toml").read_text(
        encoding="utf-8"))["tool"]["pytest"]["ini_options"]["testpaths"]
    for cell in _nb(name).cells:
        lines = [line.strip() for line in cell.source.splitlines()] + [""]
        for i, line in enumerate(lines[:-1]):
            if line.lstrip("#").strip() in ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP"):
                assert lines[i + 1].startswith("#"), f"{name}: {line} without a reason"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_sanitizer_changes_no_committed_output(name):
    """No sanitizer pattern touches a committed output (so none hides a quoted number):
    they only remove what a run by hand adds."""
    for cell in _nb(name).cells:
        for out in cell.get("outputs", []):
            texts = [out["text"]] if "text" in out else [
                v for k, v in out.get("data", {}).items() if not k.startswith("image/")]
            for text in texts:
                assert _sanitized(text) == text, (name, text[:200])


def test_sanitizer_removes_the_run_by_hand_notice(monkeypatch, capsys):
    """The notice open_study() prints run by hand (not in a build) is what the sanitizer removes."""
    from lenstop.cohort import study
    from lenstop.disclosure.placement import BUILD_DATA_ENV

    class Opened(Exception):
        pass

    def stop(*args, **kwargs):
        raise Opened  # the notice is printed; nothing need be validated

    monkeypatch.delenv(study.OUTPUT_ENV, raising=False)
    monkeypatch.delenv(BUILD_DATA_ENV, raising=False)
    monkeypatch.setattr(study.cache, "load_or_validate", stop)
    with pytest.raises(Opened):
        study.open_study()
    notice = capsys.readouterr().out
    assert notice.startswith("Run by hand: outputs go to build/scratch/")
    line = "Data: SYNTHETIC cohort, not patient data; 118 patients\n"
    assert _sanitized(notice + line) == line


@pytest.mark.slow
def test_nbval_fails_when_any_output_changes(tmp_path):
    """One number changed in the first output of notebook 01, a cell not marked
    NBVAL_CHECK_OUTPUT (which --nbval-lax would pass), fails nbval with the project's options,
    naming the notebook and the cell; -x stops there, so two cells run."""
    from lenstop.cohort.study import OUTPUT_ENV
    from lenstop.disclosure.placement import BUILD_DATA_ENV

    nb = _nb("01_cohort")
    code = [c for c in nb.cells if c.cell_type == "code"]
    number, out = next((i, o) for i, c in enumerate(code) for o in c.outputs
                       if "118 patients" in o.get("text", ""))
    assert "NBVAL_CHECK_OUTPUT" not in code[number].source
    out["text"] = out["text"].replace("118", "119")
    env = {k: v for k, v in os.environ.items() if k != BUILD_DATA_ENV}
    env[OUTPUT_ENV] = str(tmp_path / "out")  # where the kernel writes (not build/scratch)
    copy = tmp_path / "01_cohort.ipynb"
    nbformat.write(nb, copy)
    # the project's options (-c: its addopts, sanitizer included, and markers), run from the
    # project folder as `make test` runs (the sanitizer's path is relative to it)
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(copy), "-p",
                          "no:cacheprovider", "-c", str(config.ROOT / "pyproject.toml"),
                          "--rootdir", str(tmp_path), "-x", "--color=no"],
                         capture_output=True, text=True, cwd=config.ROOT, env=env)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    # the FAILED line of the summary; pytest adds " - reason" when the terminal is wide enough
    # (CI's is), so the cell number is matched as a whole word, not up to a newline
    assert re.search(rf"^FAILED \S*01_cohort\.ipynb::Cell {number}\b", run.stdout, re.M), \
        run.stdout[-3000:]
    assert "Cell outputs differ" in run.stdout and "1 failed, 1 passed" in run.stdout
    assert "119 patients" in run.stdout and "118 patients" in run.stdout


def test_real_data_cannot_write_into_tracked_folders(small_text, tmp_path):
    extract = write_csv(small_text, tmp_path / "registry.csv")
    with pytest.raises(PrivacyError, match="git tracks"):
        open_study(extract, output_dir=config.ROOT)
    with pytest.raises(PrivacyError):
        open_study(extract, output_dir=config.FIGURES_DIR / "x")
    study = open_study(extract, output_dir=tmp_path / "out")
    assert not study.synthetic and study.data_label == "registry.csv"


def test_notebook_rules_depend_on_the_modules_they_import():
    """Editing the command line, the renderer or the publish step reruns no notebook; editing
    a module a notebook reaches (even through a lazy import) reruns it."""
    from lenstop.workflow.notebooks import code_inputs

    package = config.ROOT / "src" / "lenstop"
    for name in NOTEBOOKS:
        files = set(code_inputs(name))
        assert not files & {package / "cli.py", package / "workflow" / "publish.py",
                            package / "workflow" / "pipeline.py",
                            package / "manuscript" / "variables.py"}, name
        assert not any("render" in p.parts for p in files), name
        assert {package / "cohort" / "study.py",  # layout: study imports it lazily
                package / "workflow" / "layout.py",
                package / "workflow" / "notebooks.py"} <= files, name
    assert all(p.is_file() for p in files)
    assert package / "stats" / "cox.py" in set(code_inputs("02_ti_duration"))
    sensitivity = package / "analyses" / "sensitivity.py"
    assert sensitivity.is_file() and sensitivity in set(code_inputs("07_sensitivity"))
    assert sensitivity not in set(code_inputs("01_cohort"))


def test_a_kernel_leaves_no_socket_folder_behind(tmp_path, monkeypatch):
    """Every notebook run made a /tmp/lenstop-kernel-* folder that nothing removed (1,742 of
    them after a day of builds); the kernel manager now removes its own on shutdown."""
    import papermill

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1 + 1)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                               kernel_name="python3", progress_bar=False, log_output=False,
                               kernel_manager_class=IPCKernelManager)
    assert nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0].text == "2\n"
    assert not list(tmp_path.glob("lenstop-kernel-*"))
