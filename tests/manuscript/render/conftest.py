"""Shared fixtures: one render of tests/fixtures/minireport; the Quarto cases are data only."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenstop.manuscript.render import render

from .helpers import EPOCH, copy_fixture

# Quarto 1.7.34's reference inputs: never collected (their notebooks are not tests)
collect_ignore_glob = ["cases/*"]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """(output folder, paths written) of one full render of the fixture manuscript."""
    base = tmp_path_factory.mktemp("render-out")
    proj = copy_fixture(base)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        mp.delenv("QUARTO_PROFILE", raising=False)
        out = base / "_manuscript"
        return out, render(proj, out)
