"""`quarto render`, as a new user types it, where Quarto is installed (issue 12).

A fresh copy of the tracked files with the project's Python (LENSTOP_PYTHON, and the copy's
own `src` first on the path), then `quarto render`: it must exit 0 without a warning, leave no
var unresolved, write Quarto's manuscript files, lay out the PDF without colliding words,
execute no notebook the second time and change no tracked file. Without Quarto these tests
skip with the reason; the pandoc/Typst fallback checks the same sources in test_report.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lenstop import config
from tests.manuscript.render.pdflayout import overlaps, pdftotext_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    shutil.which("quarto") is None,
    reason="quarto is not on PATH (it has no installable build on this machine); "
           "test_report.py checks the same sources with the pandoc/Typst fallback")]


def _git(*args, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _tracked_state(project: Path) -> str:
    return _git("status", "--porcelain", "--untracked-files=no", cwd=project)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A fresh clone of the working tree's tracked files, rendered twice by Quarto."""
    project = tmp_path_factory.mktemp("quarto") / "project"
    for rel in filter(None, _git("ls-files", "-z", cwd=config.ROOT).split("\0")):
        if (config.ROOT / rel).is_file():
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(config.ROOT / rel, project / rel)
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)
    env = dict(os.environ, LENSTOP_PYTHON=sys.executable,
               PYTHONPATH=str(project / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = [subprocess.run(["quarto", "render"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=1800) for _ in range(2)]
    return project, runs


def test_quarto_render_exits_cleanly_twice(rendered):
    _project, runs = rendered
    for run in runs:
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-4000:]
        warnings = [ln for ln in log.splitlines() if re.search(r"\b(WARN|WARNING|ERROR)\b", ln)]
        assert warnings == []
    assert "[notebook" not in runs[1].stdout + runs[1].stderr  # nothing executed again


def test_quarto_writes_the_manuscript_files_with_every_number(rendered):
    project, _runs = rendered
    out = project / "_manuscript"
    assert (out / "index.html").is_file() and (out / "report.pdf").is_file()
    assert not (out / "report-preview.html").exists()  # no article notebook
    text = (out / "index.html").read_text(encoding="utf-8")
    for token in ("?var:", "?meta:", "?@", "{{<", "invalid var type"):
        assert token not in text
    for href in re.findall(r'(?:href|src)="([^"#:]+)[^"]*"', text):
        assert (out / href).exists(), href
    assert not re.search(r'(?:href|src)="https?://', text)  # viewable offline


@pytest.mark.skipif(pdftotext_missing() is not None, reason=str(pdftotext_missing()))
def test_quarto_pdf_has_no_colliding_words(rendered):
    project, _runs = rendered
    assert overlaps(project / "_manuscript" / "report.pdf") == []


def test_quarto_changes_no_tracked_file(rendered):
    project, _runs = rendered
    assert _tracked_state(project) == ""
