"""The build's steps, each a small command that the Snakemake workflow calls.

`build()` is the one entry point users reach (`make report`, `lenstop build`): it validates the
extract in-process (bad data stops here: the problems go to the terminal, no workflow starts, no
log file sees a value), picks the build folder, then lets Snakemake (`workflow/Snakefile`) run
only the steps whose inputs changed. That validation is the build's only one: it writes the
validation stamp and the cohort cache (lenstop.cohort.cache) that the notebooks load.

Builds are atomic: every step writes into the build folder's staging area `.build/stage/`
(laid out like the build folder itself); only the last step, `publish` (lenstop.workflow.publish),
copies the staged files into their public places, report last. A build that fails or is
interrupted before `publish` leaves the previous outputs as they were. Steps print what they
do and how long it took; none prints patient-level values.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from lenstop import config
from lenstop.errors import GridError
from lenstop.files import sha256, write_json
from lenstop.workflow import uptodate
from lenstop.workflow.layout import (
    MANUSCRIPT_SOURCES,
    QUARTO_FILES,
    StepError,
    build_dir,
    claim_build_dir,
    relative,
    stage_dir,
    step,
    work_dir,
)

SNAKEFILE = config.ROOT / "workflow" / "Snakefile"
INTERRUPT_GRACE_S = 60
"""How long an interrupted workflow may take to stop its jobs before it is terminated."""
FAULT_ENV = "LENSTOP_TEST_FAULT"
"""Test hook: `<notebook>` (or `*`, every notebook) makes the notebook fail in its first cell
after the parameters; `<notebook>:hang` makes it sleep there (tests of failed and interrupted
builds; a notebook cannot otherwise be made to fail without editing the committed ones)."""


# ------------------------------------------------------------------ steps

def _stamp_text(data: Path, cohort) -> str:
    """The validation stamp: the extract's name, fingerprint and size (no patient data)."""
    from lenstop.manuscript.results import dumps

    mapping = config.mapping_path()
    return dumps({"data_file": Path(data).name, "sha256": sha256(data),
                  "mapping_sha256": sha256(mapping) if mapping else None,
                  "patients": len(cohort)})


def print_loading_messages(messages: list[str]) -> None:
    """What reading the extract noticed, on stderr: a documented convention applied (a date
    known to the month set to the 15th, and flagged) is a note; anything else a warning."""
    for m in messages:
        kind = "note" if "set to the 15th" in m else "warning"
        print(f"{kind}: {m}", file=sys.stderr)


def write_stamp(data: Path, stamp: Path, cohort) -> bool:
    """Write the validation stamp of `data` unless it is already current; True if written.

    Current means same bytes and not older than the extract: Snakemake then finds the
    `validate` rule's output up to date (it reruns a rule whose input is newer than its
    output), and the notebooks, whose input it is, keep theirs. An extract dated in the
    future (a clock ahead, a copy that kept its date) gives the stamp the same date.
    """
    from lenstop.files import write_atomic

    stamp, text = Path(stamp), _stamp_text(data, cohort)
    data_time = Path(data).stat().st_mtime_ns
    if (stamp.is_file() and stamp.read_text(encoding="utf-8") == text
            and stamp.stat().st_mtime_ns >= data_time):
        return False
    write_atomic(stamp, text)
    if stamp.stat().st_mtime_ns < data_time:
        os.utime(stamp, ns=(data_time, data_time))
    return True


def validate_stamp(data: Path, stamp: Path, sheet: str | None = None) -> None:
    """Validate `data`; on success write a stamp (fingerprint and counts, no patient data).

    The workflow's `validate` rule. `build()` writes the stamp itself after its up-front
    check, so the rule runs only when Snakemake is started by hand; it then uses the cohort
    cache of the stamp's folder when that holds this extract.
    """
    from lenstop.cohort.cache import load
    from lenstop.ingest.validate import load_cohort

    cached = load(data, Path(stamp).parent, sheet)
    cohort, warnings = cached if cached is not None else load_cohort(
        data, sheet=sheet, mapping=config.mapping_path())
    print_loading_messages(warnings)
    write_stamp(data, stamp, cohort)
    print(f"{Path(data).name}: {len(cohort)} patients, all checks passed.")


def _with_fault(source: Path, name: str, scratch: Path) -> Path:
    """The notebook with the test fault of FAULT_ENV inserted after its parameters cell."""
    import nbformat

    fault = os.environ.get(FAULT_ENV, "")
    target, _, kind = fault.partition(":")
    if target not in (name, "*"):
        return source
    nb = nbformat.read(source, as_version=4)
    code = ("import time\ntime.sleep(600)" if kind == "hang" else
            f"raise RuntimeError('fault injected by {FAULT_ENV} (tests only)')")
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(code)
    cell["id"] = "test-fault"
    nb.cells.insert(at + 1, cell)
    path = scratch / f"{name}.fault.ipynb"
    nbformat.write(nb, path)
    return path


def merge_streams(nb):
    """Join adjacent stdout (stderr) outputs of a cell into one, in place, and return `nb`.

    The kernel sends printed text in chunks as its buffer is flushed, so where one output
    ends and the next begins depends on timing; joined, the same run gives the same bytes.
    """
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            last = outputs[-1] if outputs else None
            if (out.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last["name"] == out["name"]):
                last["text"] += out["text"]
            else:
                outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


def _cell_name(source: str) -> str:
    """A failed cell's label (`#| label: x`) or its first line, to name it in the error."""
    lines = [ln.strip() for ln in source.splitlines() if ln.strip()]
    label = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("#| label:")), "")
    return label or (lines[0][:60] if lines else "")


def run_notebook(name: str, data: Path, out: Path, min_cell: int | None = None,
                 sheet: str | None = None) -> None:
    """Execute one analysis notebook for `data` into the staging area of build folder `out`.

    The notebook runs in its own folder (`.build/run/<name>/`) and its products (results
    section, figures, tables, executed notebook) move into `.build/stage/` only when it
    succeeded; a failed notebook is kept as `.build/failed/<name>.ipynb` for debugging.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from lenstop.cohort.study import OUTPUT_ENV
    from lenstop.disclosure import placement
    from lenstop.files import write_atomic
    from lenstop.workflow.notebooks import SECTION_OF, IPCKernelManager, scrub, stop_handler

    # SIGTERM stops the notebook like Ctrl-C: papermill then shuts its kernel down (and, as a
    # stop was asked for, interrupts it first: see IPCKernelManager)
    signal.signal(signal.SIGTERM, stop_handler)
    signal.signal(signal.SIGINT, stop_handler)
    out = Path(out).resolve()
    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    source = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    placement.check_notebooks([source])  # (build() checked all; one may be edited since)
    work, stage = work_dir(out), stage_dir(out)
    run, failed = work / "run" / name, work / "failed" / f"{name}.ipynb"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    failed.unlink(missing_ok=True)
    # The committed notebooks run with their defaults (no injected cell, no local paths);
    # other builds name their data (and a minimum cell size) as papermill parameters.
    params: dict = {}
    if not config.is_shipped(data):
        params["data_path"] = str(Path(data).resolve())
    if min_cell != config.MIN_CELL_SIZE:
        params["min_cell"] = min_cell
    if sheet:
        params["sheet"] = sheet
    params.update(config.build_parameters())  # the build's analysis parameters, if not the paper's
    os.environ[OUTPUT_ENV] = str(run)  # where open_study() writes: this run's own folder
    os.environ[placement.BUILD_DATA_ENV] = str(Path(data).resolve())  # the only extract it opens
    # papermill warns about every parameter line it cannot type-infer (comments with ';'):
    # noise on every build, and nothing it says is acted on
    logging.getLogger("papermill").setLevel(logging.ERROR)
    executed = work / "run" / f"{name}.ipynb"
    with step(f"notebook {name}"):
        try:
            papermill.execute_notebook(
                str(_with_fault(source, name, work / "run")), str(executed),
                parameters=params, kernel_name="python3", cwd=str(config.NOTEBOOKS_DIR),
                progress_bar=False, log_output=False, kernel_manager_class=IPCKernelManager)
        except PapermillExecutionError as exc:
            if executed.exists():
                failed.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(scrub(nbformat.read(executed, as_version=4)), failed)
                executed.unlink()
            cell = _cell_name(exc.source)
            raise StepError(
                f"notebook {name}.ipynb failed in cell [{exc.exec_count}]"
                + (f" ({cell})" if cell else "") + f": {exc.ename}: {exc.evalue}\n"
                f"  the failed notebook is kept in {relative(failed)}; nothing was published"
            ) from None
        nb = merge_streams(scrub(nbformat.read(executed, as_version=4)))
        nbformat.validate(nb)
        section = run / "results" / "sections" / f"{SECTION_OF[name]}.json"
        if not section.exists():
            raise StepError(f"notebook {name}.ipynb ran but wrote no results section")
        products = {}
        for path in sorted(p for p in run.rglob("*") if p.is_file()):
            rel = path.relative_to(run).as_posix()
            products[rel] = sha256(path)
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        write_atomic(stage / "notebooks" / f"{name}.ipynb", nbformat.writes(nb) + "\n")
        executed.unlink()
        write_json(work / "products" / f"{name}.json", {"notebook": name, "files": products})


def merge(stage: Path, min_cell: int | None = None, data: Path | None = None) -> None:
    """Merge the notebooks' results sections into results/results.json, checking that every
    notebook analysed `data` (the build's extract) with the build's minimum cell size."""
    from lenstop.manuscript import results

    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    with step("merge results"):
        try:
            merged = results.merge(Path(stage) / "results", data=data)
        except ValueError as exc:
            raise StepError(f"{exc}; nothing was published") from None
        wrong = [s for s, sec in merged.items()
                 if sec.get("meta", {}).get("parameters", {}).get("min_cell") != min_cell]
        if wrong:
            raise StepError(
                f"results section(s) {', '.join(wrong)} do not record min_cell = {min_cell}: "
                "their notebooks must pass min_cell=min_cell to open_study() and suppress "
                "small counts with it")


def write_variables(stage: Path, line_numbers: bool = False) -> None:
    """Write the manuscript variables (`_variables.yml`) and the Typst header from
    results/results.json (`line_numbers`: number the PDF's lines, for review)."""
    from lenstop.manuscript import results, variables

    with step("manuscript variables"):
        variables.write(results.read(Path(stage) / "results" / "results.json"),
                        Path(stage) / "_variables.yml", line_numbers=line_numbers)


def stage(stage: Path, data: Path | None = None, min_cell: int | None = None,
          sheet: str | None = None) -> None:
    """Copy the manuscript sources into the staging area (the renderer's project folder).

    For a build folder other than the project itself (any extract but the shipped cohort, or
    the shipped cohort with a minimum cell size), also stage what a Quarto render of that
    folder needs (`QUARTO_FILES`), so that folder is a complete Quarto project that rebuilds
    the same extract with the same options.
    """
    from lenstop.files import write_atomic

    for name in MANUSCRIPT_SOURCES:
        write_atomic(Path(stage) / name, (config.ROOT / name).read_text(encoding="utf-8"))
    if data is None or Path(stage).resolve() == stage_dir(config.ROOT).resolve():
        return
    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    script = (config.ROOT / QUARTO_FILES[0]).read_text(encoding="utf-8")
    write_atomic(Path(stage) / QUARTO_FILES[0], script)
    write_atomic(Path(stage) / QUARTO_FILES[1], (
        "# Written by the build: `quarto render` in this folder rebuilds this extract\n"
        "# (its pre-render step runs the same workflow as `make report DATA=...`).\n"
        f'LENSTOP_DATA="{Path(data).resolve()}"\n'
        f'LENSTOP_MIN_CELL="{min_cell}"\n'
        f'LENSTOP_SHEET="{sheet or ""}"\n'
        f'LENSTOP_MAPPING="{config.mapping_path() or ""}"\n'
        + (f"LENSTOP_PARAMS='{os.environ[config.PARAMS_ENV]}'\n"
           if os.environ.get(config.PARAMS_ENV) else "") +
        f'LENSTOP_PYTHON="{Path(sys.executable)}"\n'))


def render(project: Path) -> None:
    """Render the manuscript of `project` into _manuscript/ (`REPORT_FILES`; pandoc, Typst)."""
    from lenstop.manuscript.render import render as render_manuscript

    project = Path(project).resolve()
    with step("render manuscript"):
        render_manuscript(project, project / "_manuscript")


# ------------------------------------------------------------------ the whole build

def _release_locks(out: Path) -> None:
    """Remove Snakemake's locks on this build folder, left by a workflow that was killed."""
    mine = relative(work_dir(out)) + "/"
    for lock in (config.ROOT / ".snakemake" / "locks").glob("*.output.lock"):
        if any(line.startswith(mine) or line.startswith(str(work_dir(out).resolve()))
               for line in lock.read_text().splitlines()):
            lock.with_name(lock.name.replace(".output.", ".input.")).unlink(missing_ok=True)
            lock.unlink(missing_ok=True)


def _run_workflow(cmd: list[str], env: dict, out: Path) -> int:
    """Run Snakemake in its own process group; SIGINT/SIGTERM stop the whole group cleanly.

    Snakemake and its jobs get SIGINT together (as from Ctrl-C in a terminal): running
    steps stop, Snakemake removes their incomplete outputs and its lock, and the publish step
    (the only one that touches public files) is never cut half way. A workflow that has not
    stopped after INTERRUPT_GRACE_S is killed and its lock removed.
    """
    proc: list[subprocess.Popen] = []
    stopping: list[float] = []  # when each signal arrived

    def forward(_signum, _frame):
        stopping.append(time.monotonic())
        if proc:
            try:
                os.killpg(proc[0].pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    # handlers first: the workflow then starts with SIGINT at its default (a build started
    # in the background inherits SIGINT ignored, and Snakemake would never stop)
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc.append(subprocess.Popen(cmd, env=env, cwd=config.ROOT, start_new_session=True))
        if stopping:  # a signal came while it started
            forward(signal.SIGINT, None)
        while True:  # short waits, so that the grace period starts when a signal arrives
            try:
                code = proc[0].wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > INTERRUPT_GRACE_S:
                    os.killpg(proc[0].pid, signal.SIGKILL)
                    proc[0].wait()
                    _release_locks(out)
                    code = -signal.SIGKILL
                    break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 130 if stopping and code != 0 else code


@contextmanager
def _folder_lock(out: Path):
    """Hold an exclusive lock on build folder `out` while its workflow runs.

    Snakemake's own locks sit in one folder for every build (.snakemake/locks), which each
    run deletes as it ends: a run starting at that moment crashes. The workflow therefore runs
    with --nolock and this lock (the kernel's, released even when the process is killed) keeps
    two builds out of one folder while builds into different folders run side by side.
    """
    import fcntl

    work = work_dir(out)
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "workflow.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StepError(f"another build of {relative(out)} is running") from None
        yield


def snakemake(data: Path, out: Path, until: str = "report", min_cell: int | None = None,
              sheet: str | None = None, extra: list[str] | None = None,
              line_numbers: bool = False, options: dict | None = None,
              profile: Path | None = None, lock: Path | None = None) -> int:
    """Run the workflow for `data` into `out` up to `until` ('variables', 'report',
    'sensitivity' or 'simulation'); `options` are more --config values, `profile` a Snakemake
    profile (e.g. workflow/profiles/slurm), `lock` the folder to hold (default `out`)."""
    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    profile = profile_dir(profile) if profile else None
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # the report's date: the commit time (config.source_date_epoch), for every step
    env["SOURCE_DATE_EPOCH"] = str(config.source_date_epoch())
    env["PYTHONHASHSEED"] = env.get("PYTHONHASHSEED") or "0"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--directory", str(config.ROOT), "--cores", str(min(4, os.cpu_count() or 1)),
           "--rerun-incomplete", "--nolock",
           # `run:` jobs (the sensitivity grid's points) in threads of this process
           "--force-use-threads",
           # one line per step (ours); Snakemake's banner and job tables only when asked
           *([] if os.environ.get("LENSTOP_VERBOSE") else ["--quiet", "all"]),
           "--config", f"data={relative(data)}", f"out={relative(out)}", f"until={until}",
           f"min_cell={min_cell}", f"line_numbers={int(bool(line_numbers))}",
           *([f"sheet={sheet}"] if sheet else []),
           *(f"{k}={v}" for k, v in sorted((options or {}).items())),
           *(["--profile", str(Path(profile).resolve())] if profile else []), *(extra or [])]
    with _folder_lock(lock or out):
        return _run_workflow(cmd, env, out)


def profile_dir(profile: str | Path) -> Path:
    """A Snakemake profile folder: a path, or the name of one under workflow/profiles/
    (`PROFILE=slurm`); StepError when neither exists."""
    path = Path(profile)
    if path.is_dir():
        return path.resolve()
    named = config.ROOT / "workflow" / "profiles" / str(profile)
    if named.is_dir():
        return named
    raise StepError(f"no Snakemake profile {profile}: give a folder holding config.yaml, or "
                    "the name of one in workflow/profiles/ (e.g. PROFILE=slurm)")


def use_quarto() -> bool:
    """Render with Quarto when it is on PATH; LENSTOP_RENDERER=pandoc forces pandoc/Typst."""
    return (shutil.which("quarto") is not None
            and os.environ.get("LENSTOP_RENDERER", "quarto") != "pandoc")


def quarto_render(project: Path) -> int:
    """`quarto render` of `project`: its pre-render step runs the workflow up to the
    manuscript variables (workflow/pre-render.sh), then Quarto renders HTML and PDF."""
    env = dict(os.environ, LENSTOP_PYTHON=sys.executable)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    print(f"quarto is on PATH: running `quarto render {relative(project)}` (its pre-render "
          "step runs the workflow)", flush=True)
    return subprocess.run(["quarto", "render"], cwd=project, env=env).returncode


def build(data: Path, sheet: str | None = None, until: str = "report",
          min_cell: int | None = None, replace: bool = False, line_numbers: bool = False,
          mapping: Path | None = None, sensitivity: bool = True, grid: Path | None = None,
          profile: Path | None = None, params: dict | None = None) -> int:
    """Validate, run the notebooks, merge, render and publish the report for `data`.

    `mapping` is a crosswalk (lenstop.ingest.crosswalk) from the extract's columns, codes and units
    to the data dictionary; every step and notebook reads it through `config.MAPPING_ENV`.
    `sensitivity=False` skips the sensitivity grid (`grid`, default config/sensitivity.yaml);
    `until="sensitivity"` runs only the grid. `profile` runs the jobs through a Snakemake
    profile (workflow/profiles/slurm: on a Slurm cluster). `params` are analysis parameters
    (config/config.yaml keys): values other than the paper's run every notebook with them
    (`config.PARAMS_ENV`) into a folder of their own.
    """
    from lenstop.disclosure import placement
    from lenstop.workflow.publish import published_intact

    data = Path(data).resolve()
    if mapping is not None:
        mapping = Path(mapping).resolve()
        if not mapping.is_file():
            raise StepError(f"crosswalk {mapping} does not exist")
        os.environ[config.MAPPING_ENV] = str(mapping)  # inherited by every step
    else:
        os.environ.pop(config.MAPPING_ENV, None)
    try:
        params = config.check_parameters(params or {}, "build parameters")
    except ValueError as exc:
        raise StepError(str(exc)) from None
    params = {k: v for k, v in params.items() if v != config.ANALYSIS[k]}
    if params:
        os.environ[config.PARAMS_ENV] = json.dumps(params, sort_keys=True)
    else:
        os.environ.pop(config.PARAMS_ENV, None)
    min_cell = config.default_min_cell(data) if min_cell is None else int(min_cell)
    if min_cell < 0:
        raise StepError(f"--min-cell must be 0 (no suppression) or more, not {min_cell}")
    start = time.perf_counter()
    placement.check_extract_location(data)
    from lenstop.workflow.notebooks import NOTEBOOKS

    placement.check_notebooks(config.NOTEBOOKS_DIR / f"{nb}.ipynb" for nb in NOTEBOOKS)
    grid = Path(grid).resolve() if grid else config.SENSITIVITY_GRID
    profile = profile_dir(profile) if profile else None  # (a wrong name stops here)
    out = build_dir(data, min_cell, sensitivity, params)
    work = work_dir(out)
    placement.check_output_dir(data, out)
    intact = published_intact(out)
    # Nothing changed since the last successful build (same extract bytes, options, code,
    # notebooks and sources; published files intact): say so without starting Snakemake.
    skip = (until == "report" and use_quarto()) or not data.is_file() or \
        FAULT_ENV in os.environ or until not in ("report", "variables") or profile is not None
    inputs = None if skip else uptodate.fingerprint(data, sheet, min_cell, until,
                                                    line_numbers=line_numbers, mapping=mapping,
                                                    grid=grid if sensitivity else None,
                                                    params=params)
    if inputs is not None and uptodate.is_current(work, until, inputs, intact):
        print(f"{data.name}: nothing changed since the last build of {relative(out)} "
              "(extract, options, code, notebooks and sources as then; validated then): "
              f"the {until} is up to date.")
        return 0
    if sensitivity:  # (checked only when there is work: the import costs seconds)
        from lenstop.workflow import sensitivity_grid as grid_module

        try:
            grid_module.load_grid(grid)  # a bad grid stops here, with every problem named
        except GridError as exc:
            raise StepError(str(exc)) from None
    # Validate here, before any workflow starts: a bad extract stops with every problem on
    # the terminal (DataError, exit 2) and no log file ever sees a row-level value.
    from lenstop.cohort import cache  # (pandas and pandera: imported only when there is work)
    from lenstop.ingest.validate import load_cohort

    cohort, warnings = load_cohort(data, sheet=sheet, mapping=mapping)
    print_loading_messages(warnings)
    claim_build_dir(data, out, replace)  # (after validation: bad data is reported first)
    if not intact:  # a published file was edited or deleted: publish again
        for stamp in work.glob("published-*.json"):
            stamp.unlink()
        uptodate.forget(work)
    # This check is the build's only validation: the stamp makes the workflow's `validate`
    # rule current, and the notebooks load the cohort from the cache (removed at the end).
    write_stamp(data, work / "validated.json", cohort)
    cache.save(data, work, cohort, warnings, sheet)
    print(f"{data.name}: {len(cohort)} patients, all checks passed; building in "
          f"{relative(out)}", flush=True)
    options = {"sensitivity": int(sensitivity), "grid": relative(grid)}
    try:
        code = _run(data, out, until, min_cell, sheet, start, line_numbers, options, profile)
    finally:
        cache.discard(work)
    if code == 0 and inputs is not None:
        uptodate.record(work, until, inputs)
    return code


def _run(data: Path, out: Path, until: str, min_cell: int, sheet: str | None,
         start: float, line_numbers: bool = False, options: dict | None = None,
         profile: Path | None = None) -> int:
    """The workflow part of `build()`: Snakemake (then Quarto, where it renders)."""
    run = dict(min_cell=min_cell, sheet=sheet, line_numbers=line_numbers, options=options,
               profile=profile)
    if until == "report" and use_quarto():
        if out.resolve() != config.ROOT.resolve():  # first publish the folder's Quarto project
            code = snakemake(data, out, until="variables", **run)
            if code != 0:
                return code
        return quarto_render(out)
    code = snakemake(data, out, until=until, **run)
    if code == 0:
        folder = "the project folder" if out.resolve() == config.ROOT.resolve() else \
            relative(out) + "/"
        made = {"variables": "_variables.yml and results/results.json",
                "sensitivity": ".build/sensitivity/points.json (the grid's points)",
                }.get(until, "_manuscript/index.html and _manuscript/report.pdf")
        print(f"{data.name}: built in {time.perf_counter() - start:.1f} s: {made} in {folder}")
    elif code == 130:
        print("build interrupted; the previous outputs are unchanged.", file=sys.stderr)
    else:
        print(f"build failed (exit {code}); the previous outputs are unchanged.",
              file=sys.stderr)
    return code


def simulate(replicates: int, first_seed: int = 1, out: Path | None = None,
             profile: Path | None = None) -> int:
    """The planted-against-recovered study as workflow jobs (batches of seeds, then the
    summary) into `out` (default `simulation.results_dir`), locally or through `profile`."""
    from lenstop.analyses import simulation

    if replicates < 2 or first_seed < 1:
        raise StepError("the simulation needs at least 2 replicates and seeds from 1")
    out = Path(out).resolve() if out else simulation.results_dir(replicates, first_seed)
    profile = profile_dir(profile) if profile else None
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    code = snakemake(config.SYNTHETIC_COHORT, config.ROOT, until="simulation",
                     options={"replicates": replicates, "first_seed": first_seed,
                              "sim_dir": relative(out)}, profile=profile, lock=out)
    if code == 0:
        print(f"simulation: {replicates} replicates in {time.perf_counter() - start:.1f} s: "
              f"{relative(out / 'summary.json')}")
    return code
