"""Project-wide pytest set-up: notebooks re-executed by nbval write into a scratch folder.

nbval runs the committed notebooks in fresh kernels; `LENSTOP_OUTPUT_DIR` (read by
`lenstop.study.open_study`) keeps those runs from rewriting the committed figures and results.
"""

from __future__ import annotations

import os
import shutil
import tempfile

collect_ignore_glob = ["tests/fixtures/*"]

_scratch: str | None = None


def pytest_configure(config):
    global _scratch
    _scratch = tempfile.mkdtemp(prefix="lenstop-nbval-")
    os.environ["LENSTOP_OUTPUT_DIR"] = _scratch
    # builds in tests use the pandoc/Typst renderer even where Quarto is installed; the
    # Quarto path has its own tests (skipped, with the reason, where quarto is absent)
    os.environ["LENSTOP_RENDERER"] = "pandoc"


def pytest_unconfigure(config):
    if _scratch:
        shutil.rmtree(_scratch, ignore_errors=True)
