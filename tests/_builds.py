"""Full builds shared by the slow tests (each takes ~25 s, so they are built once a session).

`first_build()` builds a copy of the shipped cohort, under a name of its own, into
build/<name>/ and records the hash of every output. The tests that use it run in this order
(file order; under pytest-xdist on one worker, see conftest.py) and hand it on:

- test_atomic_build: from the shipped copy (`shipped_build()`), its extract becomes
  `changed_extract()`; failed and interrupted builds leave the outputs alone, then a build of
  the changed extract succeeds and is recorded (`record_changed_build()`);
- test_bad_input_catalogue: reads that build (`changed_build()`: it is the missing-data
  case, and the report that bad extracts under the same name must leave alone);
- test_determinism: the shipped bytes again, a second build from scratch, compared with the
  first one byte for byte;
- test_report: reads it (`shipped_build()`).

Each helper checks the state it needs (extract bytes, output hashes) and builds again when a
test run in another order or alone left it otherwise, so any subset of the tests passes.
conftest.py keeps every test file that calls one of the three on one xdist worker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lenstop import config

NAME = f"pytest-atomic-build-{os.getpid()}"
"""Unique per test session: concurrent sessions must not build into the same folder."""
HB_BLANKED = 5
"""Patients whose Hb at withdrawal is blank in `changed_extract()` (the 11th to the 15th)."""
EXTRA_COLUMN = "registry_note"
"""A column of `changed_extract()` that the data dictionary does not know."""
_cache: dict[str, Build] = {}


@dataclass
class Build:
    """A finished build: its extract, build folder, output hashes, console output, and the
    fingerprint of the project's sources it was built from."""

    data: Path
    out: Path
    hashes: dict[str, str]
    run: subprocess.CompletedProcess
    sources: dict[str, str]


def source_fingerprint() -> dict[str, str]:
    """Hashes of what a build reads besides the extract: code, manuscript sources, notebook
    sources (cells without outputs) and the git commit (the report quotes it)."""
    from lenstop.workflow.publish import _notebook_signature

    files = [*config.ROOT.glob("src/lenstop/**/*.py"), *config.ROOT.glob("*.qmd"),
             *config.ROOT.glob("workflow/rules/*.smk"),
             *(config.ROOT / name for name in ("_quarto.yml", "references.bib", "vancouver.csl",
                                               "workflow/Snakefile", "config/config.yaml"))]
    found = {p.relative_to(config.ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in files if p.is_file()}
    for nb in config.NOTEBOOKS_DIR.glob("*.ipynb"):
        found[f"notebooks/{nb.name}"] = hashlib.sha256(
            repr(_notebook_signature(nb)).encode()).hexdigest()
    head = subprocess.run(["git", "-C", str(config.ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True)
    found["git HEAD"] = head.stdout.strip()
    return found


def environment(changes: dict | None = None) -> dict:
    """This process's environment with `changes` applied (None removes a variable)."""
    env = {**os.environ, **(changes or {})}
    return {k: v for k, v in env.items() if v is not None}


def lenstop(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run the command line as a user would, capturing its output."""
    return subprocess.run([sys.executable, "-m", "lenstop.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=config.ROOT,
                          env=environment(env), **kw)


def output_hashes(out: Path, private: bool = False) -> dict[str, str]:
    """SHA-256 of every file in a build folder (its public outputs; `.build/` too if asked)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file() and (private or ".build" not in p.relative_to(out).parts)}


def first_build(pytest_config) -> Build:
    """Build a copy of the shipped cohort into build/<NAME>/ once per test session."""
    if NAME not in _cache:
        folder = Path(tempfile.mkdtemp(prefix="lenstop-extract-"))
        data = folder / f"{NAME}.csv"
        shutil.copyfile(config.SYNTHETIC_COHORT, data)
        out = config.BUILD_DIR / NAME
        shutil.rmtree(out, ignore_errors=True)
        pytest_config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        pytest_config.add_cleanup(lambda: shutil.rmtree(out, ignore_errors=True))
        sources = source_fingerprint()
        run = lenstop("build", "--data", data)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        _cache[NAME] = Build(data, out, output_hashes(out), run, sources)
    return _cache[NAME]


def shipped_build(pytest_config) -> Build:
    """`first_build()` as first built: the shipped cohort's bytes and the same outputs (built
    again from scratch if a test left it otherwise; in a whole run it is not)."""
    build = first_build(pytest_config)
    shipped = config.SYNTHETIC_COHORT.read_bytes()
    if (not build.data.is_file() or build.data.read_bytes() != shipped
            or output_hashes(build.out) != build.hashes):
        build.data.write_bytes(shipped)
        shutil.rmtree(build.out, ignore_errors=True)
        run = lenstop("build", "--data", build.data)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return build


def changed_extract() -> bytes:
    """The shipped cohort with Hb at withdrawal blank for HB_BLANKED patients and an extra
    column: still a valid extract, but every analysis changes."""
    frame = pd.read_csv(config.SYNTHETIC_COHORT, dtype=str, keep_default_na=False)
    frame.loc[range(10, 10 + HB_BLANKED), "hb_at_stop_g_dl"] = ""
    frame[EXTRA_COLUMN] = "checked"
    return frame.to_csv(index=False, lineterminator="\n").encode()


def record_changed_build(build: Build, run: subprocess.CompletedProcess) -> None:
    """Remember the successful `run` that built `changed_extract()` into the shared build."""
    assert build.data.read_bytes() == changed_extract()
    _cache["changed"] = Build(build.data, build.out, output_hashes(build.out), run,
                              build.sources)


def changed_build(pytest_config) -> Build:
    """The shared build of `changed_extract()`, as `record_changed_build()` left it (built
    here, from scratch, if the atomic-build tests did not or a test changed it since)."""
    build = first_build(pytest_config)
    changed = _cache.get("changed")
    if (changed is None or not build.data.is_file()
            or build.data.read_bytes() != changed_extract()
            or output_hashes(build.out) != changed.hashes):
        build.data.write_bytes(changed_extract())
        shutil.rmtree(build.out, ignore_errors=True)
        run = lenstop("build", "--data", build.data)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        record_changed_build(build, run)
    return _cache["changed"]
