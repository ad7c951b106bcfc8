"""Shared fixture: one full render of tests/fixtures/minireport for the content tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenstop.render import render

from .helpers import EPOCH, FIXTURE


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("render-out")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        return render(FIXTURE, out)
