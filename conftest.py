"""Project-wide pytest set-up: notebooks re-executed by nbval write into a scratch folder,
and, under pytest-xdist, tests that share state run on one worker.

nbval runs the committed notebooks in fresh kernels; `LENSTOP_OUTPUT_DIR` (read by
`lenstop.cohort.study.open_study`) keeps those runs from rewriting the committed figures and
results.
`make test` runs the tests on every core with `-n auto --dist loadfile`: see `_unit()`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

collect_ignore_glob = ["tests/fixtures/*"]

SHARED_BUILD = "shared build (tests/_builds.py)"
"""The work unit of every test file that uses the session's shared build."""

SHARED_ORDER = ("test_atomic_build.py", "test_bad_input_catalogue.py", "test_cohort_cache.py",
                "test_determinism.py", "test_report.py")
"""The order in which the shared build is handed on (tests/_builds.py): the files live in
different stage folders, so collection order alone would make the helpers rebuild it."""

_scratch: str | None = None


def pytest_configure(config):
    global _scratch
    # the sanitizer named in pyproject's addopts is relative to the project, wherever pytest
    # was started from
    sanitizer = getattr(config.option, "nbval_sanitize_with", None)
    if sanitizer and not Path(sanitizer).is_absolute():
        config.option.nbval_sanitize_with = str(config.rootpath / sanitizer)
    _scratch = tempfile.mkdtemp(prefix="lenstop-nbval-")
    os.environ["LENSTOP_OUTPUT_DIR"] = _scratch
    # builds in tests use the pandoc/Typst renderer even where Quarto is installed; the
    # Quarto path has its own tests (skipped, with the reason, where quarto is absent)
    os.environ["LENSTOP_RENDERER"] = "pandoc"


def pytest_unconfigure(config):
    if _scratch:
        shutil.rmtree(_scratch, ignore_errors=True)


# ------------------------------------------------------------------ pytest-xdist

@functools.cache
def _uses_shared_build(path: Path) -> bool:
    """Whether a test file calls `first_build()`, `shipped_build()` or `changed_build()` of
    `tests/_builds.py` (a text search: the scheduler sees test ids, not modules)."""
    return path.suffix == ".py" and re.search(r"\b(first|shipped|changed)_build\(",
                                              path.read_text(encoding="utf-8")) is not None


def _unit(rootpath: Path, nodeid: str) -> str:
    """The xdist work unit of a test: its file, so that a module's builds are built once and
    a notebook's cells run in order in one kernel; but every file that uses the session's
    shared build, which some of them change, in one unit (one worker, in file order)."""
    path = nodeid.split("::", 1)[0]
    return SHARED_BUILD if _uses_shared_build(rootpath / path) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` by `_unit()`, the units in the order the workers collected them; also
    for `-n N` alone (`--dist load`, which would split a notebook's cells between workers)."""
    if config.getvalue("dist") not in ("load", "loadfile"):
        return None
    from xdist.scheduler import LoadFileScheduling

    class UnitScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(config.rootpath, nodeid)

    config.option.loadscopereorder = False  # keep the order of pytest_collection_modifyitems
    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """On xdist workers, put the units with the most slow tests (whole builds) first, so that
    the longest ones start at once and the short ones fill in at the end."""
    if not hasattr(config, "workerinput"):
        return
    units = [_unit(config.rootpath, item.nodeid) for item in items]
    slow, first = {}, {}
    for index, (item, unit) in enumerate(zip(items, units, strict=True)):
        slow[unit] = slow.get(unit, 0) + (item.get_closest_marker("slow") is not None)
        first.setdefault(unit, index)
    def rank(i: int) -> int:  # the shared build's files in the order tests/_builds.py hands it on
        name = items[i].nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        return SHARED_ORDER.index(name) if units[i] == SHARED_BUILD and name in SHARED_ORDER \
            else len(SHARED_ORDER)

    order = sorted(range(len(items)),
                   key=lambda i: (-slow[units[i]], first[units[i]], rank(i), i))
    items[:] = [items[i] for i in order]
