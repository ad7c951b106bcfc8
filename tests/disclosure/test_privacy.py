"""Privacy guard: output folders, minimum cell size, the leak scanner, and a canary build.

The canary build plants unmistakable patient ids and dates in an extract derived from the
shipped cohort, builds it with a minimum cell size of 5 and reads every file the build wrote
(outputs, executed notebooks, staging area, Snakemake's logs, the console) for them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import time

import matplotlib
import pandas as pd
import pytest
import yaml

from lenstop import config
from lenstop.config import NOTEBOOKS
from lenstop.content.tables import Row, table_one
from lenstop.disclosure import leak_scan, placement
from lenstop.disclosure.leak_scan import Needles, scan
from lenstop.errors import PrivacyError
from lenstop.ingest.validate import load_cohort
from lenstop.manuscript import results
from lenstop.workflow.layout import build_dir
from tests._builds import lenstop
from tests.conftest import write_csv

matplotlib.use("Agg")

CANARY_IDS = ("CANARY-7Q3X-001", "CANARY-7Q3X-002", "CANARY-7Q3X-003")


# ------------------------------------------------------------------ minimum cell size

def test_table_one_suppresses_counts_group_sizes_and_medians():
    data = pd.DataFrame({"sex": ["F"] * 8 + ["M"] * 3, "grp": ["a"] * 10 + ["b"],
                         "age": [60.0 + i for i in range(11)]})
    rows = [Row("sex", "Sex", "category", (("F", "female"), ("M", "male"))),
            Row("age", "Age", "continuous")]
    frame = table_one(data, rows, group="grp", min_cell=5)
    text = frame.to_string()
    # b's one patient would be 11 - 10: the other group's size is hidden too
    assert "b (N=<5)" in frame.columns and "a (N=>=5)" in frame.columns
    male = frame[frame["Characteristic"].str.strip() == "male"].iloc[0]
    assert male["Overall (N=11)"] == "<5"
    age = frame[frame["Characteristic"].str.startswith("Age")].iloc[0]
    assert age["b (N=<5)"] == "(n<5)" and "70.0" not in text  # the one patient's age
    plain = table_one(data, rows, group="grp", min_cell=0)
    assert "b (N=1)" in plain.columns


def test_numbers_at_risk_below_min_cell_are_hidden():
    import matplotlib.pyplot as plt
    import numpy as np
    from lifelines import KaplanMeierFitter

    from lenstop.content.figures import km_figure

    km = KaplanMeierFitter().fit(np.arange(1, 11) * 4.0, np.ones(10), label="All")

    def table(min_cell: int) -> list[str]:  # the count under each tick (0, 12, ... months)
        fig = km_figure({"All": km}, step=12, min_cell=min_cell)
        labels = [t.get_text().split()[-1] for a in fig.axes[1:] for t in a.get_xticklabels()]
        plt.close(fig)
        return labels

    assert table(0) == ["10", "7", "4", "1", "0"]
    assert table(5) == ["10", "7", "<5", "<5", "0"]


# ------------------------------------------------------------------ where outputs may go

def test_real_extracts_never_write_to_tracked_folders(tmp_path):
    extract = tmp_path / "registry.csv"
    for tracked in (config.ROOT, config.FIGURES_DIR, config.NOTEBOOKS_DIR / "x",
                    config.RESULTS_DIR):
        with pytest.raises(PrivacyError, match="git tracks"):
            placement.check_output_dir(extract, tracked)
    placement.check_output_dir(extract, config.BUILD_DIR / "registry")  # git-ignored
    placement.check_output_dir(extract, tmp_path / "out")  # outside the repository
    placement.check_output_dir(config.SYNTHETIC_COHORT, config.ROOT)  # the shipped cohort


NO_GIT = shutil.which("git") is None or placement.git_ignored(config.ROOT) is None


@pytest.mark.skipif(NO_GIT, reason="git is not available or this is not a git checkout")
def test_git_decides_what_is_ignored():
    assert placement.git_ignored(config.BUILD_DIR / "any-extract") is True
    assert placement.git_ignored(config.ROOT / ".build") is True
    assert placement.git_ignored(config.FIGURES_DIR / "x.svg") is False


@pytest.mark.skipif(NO_GIT, reason="git is not available or this is not a git checkout")
def test_build_refuses_a_real_extract_git_would_track(small_text):
    extract = config.ROOT / "tests" / f"pytest-tracked-extract-{os.getpid()}.csv"
    try:
        write_csv(small_text, extract)
        run = lenstop("build", "--data", extract)
    finally:
        extract.unlink(missing_ok=True)
    assert run.returncode == 1 and "git would track" in run.stderr
    assert "Traceback" not in run.stderr and "SYN-" not in run.stdout + run.stderr
    assert not (config.BUILD_DIR / extract.stem).exists()
    placement.check_extract_location(config.PRIVATE_DIR / "registry.csv")  # git-ignored
    placement.check_extract_location(config.SYNTHETIC_COHORT)


# ------------------------------------------------------------------ the scanner

def test_dates_are_found_in_every_common_form():
    text = ("2013-07-19, 19/07/2013, 07/19/2013, 19.07.2013, 19 Jul 2013, 19 July 2013, "
            "July 19, 2013, 2013/07/19")
    found = [d for d, _ in leak_scan.dates_in(text)]
    assert set(found) == {dt.date(2013, 7, 19)}
    assert found.count(dt.date(2013, 7, 19)) >= 8
    assert list(leak_scan.dates_in("2023-02-30 M 2013.07 19 L 245.2013-07")) == []


def test_only_distinctive_ids_are_searched():
    assert leak_scan.distinctive("CANARY-7Q3X-001") and leak_scan.distinctive("P0001")
    assert leak_scan.distinctive("104233")
    assert not leak_scan.distinctive("17") and not leak_scan.distinctive("1234")


def _svg_with(text: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg"><!-- {text} --><path d="M 1 2"/></svg>'


def _pdf_with(text: str, path):
    import matplotlib.pyplot as plt

    matplotlib.rcParams["pdf.fonttype"] = 42
    fig = plt.figure(figsize=(4, 2))
    fig.text(0.1, 0.5, text)
    fig.savefig(path, format="pdf")
    plt.close(fig)
    return path


def _png_with(text: str, path):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    fig.savefig(path, format="png", metadata={"Description": text})
    plt.close(fig)
    return path


def _notebook_with(text: str, path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.outputs = [nbformat.v4.new_output("execute_result", {
        "text/html": f"<td>{text}</td>", "image/png": base64.b64encode(b"x" * 64).decode()},
        execution_count=1)]
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def test_scanner_reads_every_kind_of_output(tmp_path):
    canary = "CANARY-7Q3X-001"
    svg = _svg_with(canary)
    files = {
        "embedded.html": "<p>x</p><img src=\"data:image/svg+xml;base64,"
        + base64.b64encode(svg.encode()).decode() + "\">",
        "figure.svg": svg, "results.json": json.dumps({"first": canary}),
        "table.md": f"| id |\n|---|\n| {canary} |", "vars.yml": f"a: {canary}\n",
        "run.log": f"job failed for {canary}\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    _pdf_with(f"patient {canary}", tmp_path / "report.pdf")
    _png_with(canary, tmp_path / "figure.png")
    _notebook_with(canary, tmp_path / "run.ipynb")
    leaks = scan([tmp_path], Needles(ids={canary}))
    assert {leak.file.name for leak in leaks} == {*files, "report.pdf", "figure.png",
                                                   "run.ipynb"}
    assert all(canary not in leak.format() for leak in leaks)  # never prints the value


def test_scanner_matches_whole_ids_and_real_dates_only(tmp_path):
    (tmp_path / "a.svg").write_text(_svg_with("SYN-00011 at 245.104233 2013-07-19T00:00"))
    needles = Needles(ids={"SYN-0001", "104233"}, dates={dt.date(2013, 7, 19)})
    leaks = scan([tmp_path], needles)
    assert [(leak.kind, leak.value) for leak in leaks] == [("date", "2013-07-19")]
    assert scan([tmp_path], needles, allow_dates={dt.date(2013, 7, 19)}) == []


def test_scan_command_reports_where_not_what(tmp_path):
    (tmp_path / "clean.md").write_text("118 patients\n")
    ok = lenstop("scan", tmp_path, "--data", config.SYNTHETIC_COHORT)
    assert ok.returncode == 0 and "1 files scanned" in ok.stdout
    (tmp_path / "leaky.md").write_text("| SYN-0042 | 2.5 |\n")
    bad = lenstop("scan", tmp_path, "--data", config.SYNTHETIC_COHORT)
    assert bad.returncode == 1
    assert "leaky.md: line 1: a patient id" in bad.stderr and "SYN-0042" not in bad.stderr


# ------------------------------------------------------------------ bad data fails fast

def _snakemake_logs() -> dict:
    logs = config.ROOT / ".snakemake" / "log"
    return {p: p.read_text(errors="replace") for p in logs.glob("*.log")} if logs.is_dir() \
        else {}


def _snakemake_records(since: float) -> list:
    """Snakemake's logs and job records (.snakemake/metadata) written since `since`."""
    folder = config.ROOT / ".snakemake"
    return [p for sub in ("log", "metadata") for p in (folder / sub).glob("*")
            if p.is_file() and p.stat().st_mtime >= since]


def test_bad_extract_stops_before_the_workflow(small_text, tmp_path):
    small_text.loc[3, "sex"] = "CANARYSEX7Q"
    extract = write_csv(small_text, tmp_path / f"pytest-bad-canary-{os.getpid()}.csv")
    run = lenstop("build", "--data", extract)
    assert run.returncode == 2
    assert "column sex" in run.stderr and "CANARYSEX7Q" in run.stderr  # terminal only
    assert "Traceback" not in run.stderr
    assert "Building DAG" not in run.stderr + run.stdout  # Snakemake never started
    assert not (config.BUILD_DIR / extract.stem).exists()
    assert not [p for p, text in _snakemake_logs().items() if "CANARYSEX7Q" in text]


# ------------------------------------------------------------------ the canary build

def _canary_extract(path) -> tuple[object, set[str]]:
    """The shipped cohort with canary ids and dates planted (still a valid extract)."""
    frame = pd.read_csv(config.SYNTHETIC_COHORT, dtype=str, keep_default_na=False)
    frame.loc[:2, "patient_id"] = CANARY_IDS
    day = dt.date.fromisoformat
    ti_start = day(frame.loc[0, "ti_start_date"])
    planted = {"len_start_date": (0, ti_start - dt.timedelta(days=37))}
    alive = frame.index[(frame["death_date"] == "") & (frame.index > 2)][0]
    planted["last_followup_date"] = (alive, day(frame.loc[alive, "last_followup_date"]) +
                                     dt.timedelta(days=3))
    for column, (row, value) in planted.items():
        frame.loc[row, column] = value.isoformat()
    dates = {value.isoformat() for _row, value in planted.values()}
    cells = [v for c in frame.columns if c.endswith("_date") for v in frame[c]]
    assert all(cells.count(d) == 1 for d in dates)  # each canary date is one patient's
    frame.to_csv(path, index=False, lineterminator="\n")
    load_cohort(path)  # it must pass validation, or nothing would be built
    return path, dates


@pytest.fixture(scope="module")
def canary_build(tmp_path_factory):
    name = f"pytest-canary-{os.getpid()}"  # concurrent test sessions build apart
    data, dates = _canary_extract(tmp_path_factory.mktemp("canary") / f"{name}.csv")
    out = build_dir(data, 5)  # a registry extract: 5 is its default (private by default)
    assert out == config.BUILD_DIR / name
    shutil.rmtree(out, ignore_errors=True)
    started = time.time() - 1
    run = lenstop("build", "--data", data, "--min-cell", "5")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    logs = _snakemake_records(started)
    yield {"data": data, "dates": dates, "out": out, "run": run, "logs": logs}
    shutil.rmtree(out, ignore_errors=True)


@pytest.mark.slow
def test_canaries_are_found_where_they_are(canary_build):
    needles = Needles(ids=set(CANARY_IDS), strings=canary_build["dates"])
    found = {leak.value for leak in scan([canary_build["data"]], needles)}
    assert found == {*CANARY_IDS, *canary_build["dates"]}


@pytest.mark.slow
def test_no_canary_in_any_file_of_the_build(canary_build, tmp_path):
    out = canary_build["out"]
    files = [p for p in out.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".html", ".pdf", ".svg", ".png", ".json", ".md", ".ipynb", ".yml"} <= kinds
    assert any(".build" in p.parts for p in files) and canary_build["logs"]
    console = tmp_path / "console.txt"
    console.write_text(canary_build["run"].stdout + canary_build["run"].stderr)
    needles = Needles(ids=set(CANARY_IDS), strings=canary_build["dates"],
                      dates={dt.date.fromisoformat(d) for d in canary_build["dates"]})
    leaks = scan([*files, *canary_build["logs"], console], needles)
    assert [leak.format() + f" ({leak.value})" for leak in leaks] == []


@pytest.mark.slow
def test_no_patient_id_or_individual_date_in_the_outputs(canary_build):
    public = [p for p in canary_build["out"].rglob("*")
              if p.is_file() and ".build" not in p.relative_to(canary_build["out"]).parts]
    needles = Needles.from_extract(canary_build["data"])
    assert len(needles.ids) == 118 and len(needles.dates) > 500
    leaks = scan(public, needles, allow_dates=leak_scan.allowed_dates(
        [config.ROOT / "report.qmd", config.ROOT / "references.bib"]))
    assert [leak.format() for leak in leaks] == []
    check = lenstop("scan", canary_build["out"], "--data", canary_build["data"])
    assert check.returncode == 0, check.stderr


@pytest.mark.slow
def test_min_cell_reaches_every_notebook_and_the_results(canary_build):
    out = canary_build["out"]
    merged = results.read(out / "results" / "results.json")
    assert {s: merged[s]["meta"]["parameters"]["min_cell"] for s in merged} == \
        dict.fromkeys(results.SECTIONS, 5)
    for nb in out.glob("notebooks/*.ipynb"):
        assert "min_cell = 5" in nb.read_text(), nb.name
    assert "<5" in (out / "results" / "tables" / "table1.md").read_text()


def _small_ints(value, min_cell: int, path: tuple = ()):
    """Integers from 1 to min_cell - 1 in a results tree (but the meta, degrees of freedom,
    the sensitivity points' parameters (cut-offs), and the simulation study, whose numbers
    describe simulated cohorts and seeds)."""
    if isinstance(value, dict):
        for key, v in value.items():
            if key not in ("meta", "df", "global_df", "spline_df", "simulation", "parameters"):
                yield from _small_ints(v, min_cell, (*path, key))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _small_ints(v, min_cell, (*path, i))
    elif isinstance(value, int) and not isinstance(value, bool) and 0 < value < min_cell:
        yield "/".join(map(str, path)), value


@pytest.mark.slow
def test_no_count_below_the_minimum_cell_size_in_shareable_outputs(canary_build):
    out = canary_build["out"]
    merged = results.read(out / "results" / "results.json")
    assert list(_small_ints(merged, 5)) == []
    # the shipped cohort's one patient who stopped for an unknown reason, and the 9 patient
    # decisions from which 118 - 70 - 38 would give that one away
    reasons = merged["cohort"]["stop_reason_counts"]
    assert (reasons["unknown"]["n"], reasons["patient"]["n"]) == ("<5", ">=5")
    assert reasons["unknown"]["pct"] is None and reasons["patient"]["pct"] is None
    html = leak_scan.texts(out / "_manuscript" / "index.html")
    report = " ".join(text for _where, text in html)
    built = yaml.safe_load((out / "_variables.yml").read_text(encoding="utf-8"))
    published = built.pop("published")  # the paper's figures, public, quoted once each
    assert (published["reason"]["unknown"], published["reason"]["patient"]) == \
        ("1 (1%)", "9 (8%)")
    assert "1 (1%)" not in json.dumps(built) and "9 (8%)" not in json.dumps(built)
    assert report.count("1 (1%)") == 1 and report.count("9 (8%)") == 1
    assert "&lt;5" in report or "<5" in report
    assert "counts from 1 to 4 are shown as &lt;5" in report or \
        "counts from 1 to 4 are shown as <5" in report
    for name in NOTEBOOKS:
        nb = json.loads((out / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
        printed = "".join("".join(o.get("text", "")) for c in nb["cells"]
                          for o in c.get("outputs", []))
        assert "1 (1%)" not in printed, name
    # single patients are not drawn: no swimmer lines, no strip-plot dots
    assert "Individual courses are not drawn" in \
        (out / "figures" / "retreatment_swimmer.svg").read_text()
    assert "single patients are not drawn" in \
        (out / "figures" / "cyto_reeval_timing.svg").read_text()


@pytest.mark.slow
def test_quarto_pre_render_of_a_min_cell_build_keeps_its_minimum(canary_build):
    """`quarto render build/<name>-min5` runs workflow/pre-render.sh with the folder's
    _environment: it must rebuild the same extract with the same minimum cell size (here:
    nothing to do), not an unsuppressed report into another folder."""
    import re
    import subprocess

    out = canary_build["out"]
    values = dict(re.findall(r'^(LENSTOP_\w+)="(.*)"$', (out / "_environment").read_text(),
                             flags=re.M))
    assert values["LENSTOP_MIN_CELL"] == "5"
    run = subprocess.run(["sh", "workflow/pre-render.sh"], cwd=out, capture_output=True,
                         text=True, env={**os.environ, **values})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"building in build/{out.name}" in run.stdout and "[notebook" not in run.stdout


def test_every_build_folder_but_the_project_is_staged_as_a_quarto_project(tmp_path):
    from lenstop.workflow import steps

    stage = tmp_path / "stage"
    steps.stage(stage, config.SYNTHETIC_COHORT, min_cell=5)  # shipped cohort, min 5
    env = (stage / "_environment").read_text()
    assert 'LENSTOP_MIN_CELL="5"' in env and (stage / "workflow" / "pre-render.sh").is_file()
    assert f'LENSTOP_DATA="{config.SYNTHETIC_COHORT}"' in env
