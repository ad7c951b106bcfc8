"""Two builds from the same inputs give byte-identical outputs (results, tables, figures,
executed notebooks, HTML and PDF), also when run straight from the command line."""

from __future__ import annotations

import shutil

import pytest

from lenstop import config
from tests._builds import first_build, lenstop, output_hashes, source_fingerprint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_builds(request):
    first = first_build(request.config)
    # the atomic-build and bad-input tests changed (or removed) the extract since: the same
    # bytes as the first time
    shutil.copyfile(config.SYNTHETIC_COHORT, first.data)
    shutil.rmtree(first.out)
    # no SOURCE_DATE_EPOCH here: `lenstop build` must fix the report date by itself
    env = {"SOURCE_DATE_EPOCH": None, "PYTHONHASHSEED": None}
    second = lenstop("build", "--data", first.data, env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    now = source_fingerprint()
    edited = sorted(k for k in {*now, *first.sources} if now.get(k) != first.sources.get(k))
    if edited:  # only when someone works on the project while the tests run
        pytest.skip(f"the project changed between the two builds ({', '.join(edited)}), so "
                    "their outputs may differ")
    return first.hashes, output_hashes(first.out)


def test_every_kind_of_output_is_compared(two_builds):
    first, _ = two_builds
    kinds = {name.rsplit(".", 1)[-1] for name in first}
    assert {"json", "md", "svg", "png", "ipynb", "yml", "html", "pdf"} <= kinds
    for path in ("results/results.json", "_manuscript/index.html", "_manuscript/report.pdf",
                 "results/tables/table1.md", "figures/ti_km.svg", "figures/ti_km.png",
                 "notebooks/02_ti_duration.ipynb", "_variables.yml"):
        assert path in first, path


def test_second_build_is_byte_identical(two_builds):
    first, second = two_builds
    assert sorted(second) == sorted(first)
    differ = sorted(name for name in first if first[name] != second[name])
    assert differ == []
