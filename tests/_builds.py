"""Full builds shared by the slow tests (each takes ~20 s, so they are built once a session).

`first_build()` builds a copy of the shipped cohort, under a name of its own, into
build/<name>/ and records the hash of every output; the atomic-build and determinism tests
start from it.
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

from lenstop import config

NAME = f"pytest-atomic-build-{os.getpid()}"
"""Unique per test session: concurrent sessions must not build into the same folder."""
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
    from lenstop.publish import _notebook_signature

    files = [*config.ROOT.glob("src/lenstop/**/*.py"), *config.ROOT.glob("*.qmd"),
             *(config.ROOT / name for name in ("_quarto.yml", "references.bib",
                                               "vancouver.csl", "workflow/Snakefile"))]
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
