"""A build that fails or is interrupted leaves the previous outputs byte-identical.

Starting from a finished build of a copy of the shipped cohort, the extract changes (Hb blank
for 5 patients, an extra column) and the next builds (i) fail in a notebook and (ii) are
interrupted with SIGINT while notebooks run; after each, every output is unchanged. Then a
normal build succeeds; the bad-input catalogue reads that build (tests/_builds.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lenstop import config, files
from lenstop.manuscript import results
from lenstop.workflow.notebooks import FAULT_ENV
from lenstop.workflow.publish import _copy_atomic, _notebook_signature
from tests._builds import (
    changed_extract,
    environment,
    lenstop,
    output_hashes,
    record_changed_build,
    shipped_build,
)


def _processes_mentioning(text: str) -> list[int]:
    """Pids whose command line or environment mentions `text`: a build's Snakemake and steps
    name its folder on their command line, its notebook kernels in their environment."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(text.encode() in (proc / f).read_bytes() for f in ("cmdline", "environ")):
                pids.append(int(proc.name))
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


@pytest.fixture(scope="module")
def before(request):
    """The finished build, then its extract changed (still valid): the next build must run."""
    build = shipped_build(request.config)
    hashes = output_hashes(build.out)
    build.data.write_bytes(changed_extract())
    return build, hashes


@pytest.fixture(scope="module")
def failed(before):
    build, _ = before
    started = time.time() - 1
    run = lenstop("build", "--data", build.data, env={FAULT_ENV: "02_ti_duration"})
    logs = [p for p in (config.ROOT / ".snakemake" / "log").glob("*.log")
            if p.stat().st_mtime >= started]
    return run, logs


@pytest.mark.slow
def test_failed_notebook_stops_the_build_and_names_the_cell(failed):
    failed, logs = failed
    assert failed.returncode == 1
    assert "notebook 02_ti_duration.ipynb failed in cell" in failed.stderr
    assert "RuntimeError: fault injected" in failed.stderr
    assert "build failed" in failed.stderr
    assert "[publish]" not in failed.stdout
    # the error (which could quote data) reaches the terminal only, not Snakemake's log
    assert logs and not [p for p in logs if "fault injected" in p.read_text()]


@pytest.mark.slow
def test_failed_notebook_is_kept_for_debugging(before, failed):
    build, _ = before
    kept = build.out / ".build" / "failed" / "02_ti_duration.ipynb"
    assert kept.is_file() and "fault injected" in kept.read_text()
    assert "fault injected" not in (build.out / "notebooks" / "02_ti_duration.ipynb").read_text()


@pytest.mark.slow
def test_failed_build_leaves_outputs_unchanged(before, failed):
    build, hashes = before
    assert output_hashes(build.out) == hashes


@pytest.fixture(scope="module")
def interrupted(before, failed):
    """Start a build whose notebooks hang, send SIGINT once one has started, wait."""
    build, _ = before
    proc = subprocess.Popen(
        [sys.executable, "-m", "lenstop.cli", "build", "--data", str(build.data)],
        cwd=config.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment({FAULT_ENV: "*:hang"}))
    lines: list[str] = []
    started = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[notebook") and "started" in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(timeout=300), "".join(lines)
    time.sleep(3)  # the kernel is inside the hanging cell now
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    reader.join(timeout=10)
    stderr = proc.stderr.read()
    deadline = time.monotonic() + 20
    while (left := _processes_mentioning(build.out.name)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return {"code": code, "stdout": "".join(lines), "stderr": stderr, "left": left}


@pytest.mark.slow
def test_interrupt_stops_the_build(interrupted):
    assert interrupted["code"] == 130, interrupted["stderr"][-3000:]
    assert "interrupted" in interrupted["stderr"]
    assert "[publish]" not in interrupted["stdout"]


@pytest.mark.slow
def test_interrupt_leaves_no_process_behind(interrupted):
    assert interrupted["left"] == []


@pytest.mark.slow
def test_interrupted_build_leaves_outputs_unchanged(before, interrupted):
    build, hashes = before
    assert output_hashes(build.out) == hashes


@pytest.mark.slow
def test_next_build_succeeds_with_the_changed_extract(before, interrupted):
    build, hashes = before
    run = lenstop("build", "--data", build.data)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "[publish] done" in run.stdout
    now = output_hashes(build.out)
    assert sorted(now) == sorted(hashes)
    assert now["results/results.json"] != hashes["results/results.json"]
    meta = results.read(build.out / "results" / "results.json")["cohort"]["meta"]
    assert meta["data_sha256"] == files.sha256(build.data)
    assert not (build.out / ".build" / "failed" / "02_ti_duration.ipynb").exists()
    record_changed_build(build, run)


def test_published_source_notebook_keeps_its_time(tmp_path):
    """A committed notebook rewritten with new outputs must not look newer than its run."""
    staged, public = tmp_path / "staged.ipynb", tmp_path / "public.ipynb"
    public.write_text("old outputs")
    os.utime(public, ns=(10**18, 10**18))
    staged.write_text("new outputs")
    _copy_atomic(staged, public, keep_mtime=True)
    assert public.read_text() == "new outputs" and public.stat().st_mtime_ns == 10**18
    _copy_atomic(staged, tmp_path / "other.txt")
    assert (tmp_path / "other.txt").stat().st_mtime_ns > 10**18 - 1  # a plain copy: now


def test_notebook_signature_ignores_outputs_only():
    import nbformat

    source = config.NOTEBOOKS_DIR / "03_cytogenetics.ipynb"
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    same = _notebook_signature(source)
    assert _notebook_signature_of(nb) == same
    nb.cells[0].source += "\nedited"
    assert _notebook_signature_of(nb) != same


def _notebook_signature_of(nb) -> list:
    import tempfile

    import nbformat

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nb.ipynb"
        nbformat.write(nb, path)
        return _notebook_signature(path)
