"""A registry-shaped extract built through its crosswalk gives exactly the shipped cohort's
results (issue 14's acceptance): other column names, numeric codes, ja/nein, Hb in g/L,
dd.mm.yyyy dates, semicolons and decimal commas, and `lenstop build --mapping`."""

from __future__ import annotations

import json
import shutil

import pytest

from lenstop import config, files
from lenstop.ingest.crosswalk import EXAMPLE, load_crosswalk
from lenstop.manuscript import results
from lenstop.workflow.layout import build_dir
from tests._builds import lenstop
from tests.ingest.test_crosswalk import registry_export

pytestmark = pytest.mark.slow


def _numbers(section: dict) -> dict:
    """A results section without what names the file (meta: name, hash, synthetic flag)."""
    return {k: v for k, v in section.items() if k != "meta"}


def test_registry_extract_builds_to_the_shipped_results(shipped_text, tmp_path):
    crosswalk = tmp_path / "crosswalk.yml"
    crosswalk.write_text(EXAMPLE, encoding="utf-8")
    extract = registry_export(shipped_text, load_crosswalk(crosswalk).check(),
                              tmp_path / "registry_2026-11.csv")
    out = build_dir(extract, 0)
    shutil.rmtree(out, ignore_errors=True)
    try:
        run = lenstop("build", "--data", extract, "--mapping", crosswalk, "--min-cell", "0",
                      "--until", "variables")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        built = results.read(out / "results" / "results.json")
        shipped = results.read(config.RESULTS_FILE)
        for section in results.SECTIONS:
            assert _numbers(built[section]) == _numbers(shipped[section]), section
        assert built["cohort"]["meta"]["data_file"] == extract.name
        env = (out / "_environment").read_text()
        assert f'LENSTOP_MAPPING="{crosswalk.resolve()}"' in env  # Quarto re-renders alike
        # a changed crosswalk is a changed input: nothing is taken from the last build
        again = lenstop("build", "--data", extract, "--mapping", crosswalk, "--min-cell", "0",
                        "--until", "variables")
        assert again.returncode == 0 and "[notebook" not in again.stdout + again.stderr
        crosswalk.write_text(EXAMPLE + "\n# edited\n", encoding="utf-8")
        edited = lenstop("build", "--data", extract, "--mapping", crosswalk, "--min-cell", "0",
                         "--until", "variables")
        assert edited.returncode == 0 and "[notebook" in edited.stdout + edited.stderr
        assert json.loads((out / ".build" / "validated.json").read_text())["mapping_sha256"] \
            == files.sha256(crosswalk)
    finally:
        shutil.rmtree(out, ignore_errors=True)
