"""One validation per build: the cohort cache round-trips the typed cohort exactly, serves only
the same bytes, name, sheet and validation code, lives only in a git-ignored `.build/` folder
while a build runs, and Snakemake's `validate` rule finds the build's stamp current."""

from __future__ import annotations

import os
import re
import shutil
import time

import pandas as pd
import pytest

from lenstop import config
from lenstop.cohort import cache, study
from lenstop.disclosure import placement
from lenstop.ingest import validate
from lenstop.ingest.validate import load_cohort
from lenstop.workflow import layout, pipeline
from lenstop.workflow import stamp as stamp_module
from tests._builds import first_build
from tests.conftest import write_csv


@pytest.fixture
def extract(tmp_path):
    """A byte copy of the shipped cohort, outside the repository."""
    path = tmp_path / "extract.csv"
    shutil.copyfile(config.SYNTHETIC_COHORT, path)
    return path


@pytest.fixture
def work(tmp_path):
    return tmp_path / "out" / ".build"


@pytest.fixture
def validations(monkeypatch):
    """Counts the calls of `validate.validate_raw` (every validation goes through it)."""
    calls: list[int] = []
    real = validate.validate_raw

    def counted(raw, today=None):
        calls.append(1)
        return real(raw, today=today)

    monkeypatch.setattr(validate, "validate_raw", counted)
    return calls


def test_round_trip_is_exact(shipped_text, tmp_path, work):
    # an unknown column (a warning) and no optional column (added as all-blank dates)
    frame = shipped_text.drop(columns=["retreat_ti_loss_date"]).assign(note="x")
    frame.loc[1, "len_cycles"] = None  # a blank whole number (Int64)
    path = write_csv(frame, tmp_path / "extract.csv")
    cohort, warnings = load_cohort(path)
    kinds = {str(t) for t in cohort.dtypes}
    assert kinds == {"datetime64[ns]", "Int64", "Float64", "string", "bool"}
    for kind in kinds - {"bool"}:  # each kind holds blanks: the nullable types are exercised
        assert cohort.select_dtypes(kind).isna().any().any(), kind
    assert warnings and "ignoring 1 column" in warnings[0]
    cache.save(path, work, cohort, warnings)
    loaded, loaded_warnings = cache.load(path, work)
    pd.testing.assert_frame_equal(loaded, cohort, check_dtype=True, check_exact=True)
    assert loaded_warnings == warnings
    assert list(work.iterdir()) == [work / cache.FILE]  # no temporary file left


def test_only_the_same_bytes_and_name_hit(extract, work, tmp_path):
    cache.save(extract, work, *load_cohort(extract))
    same = tmp_path / "copy" / extract.name
    same.parent.mkdir()
    shutil.copyfile(extract, same)
    assert cache.load(same, work) is not None  # same bytes, same name: a hit
    data = bytearray(extract.read_bytes())
    at = data.index(b"SYN-0001") + 7
    data[at] = ord("9")  # one byte changed
    same.write_bytes(bytes(data))
    assert cache.load(same, work) is None
    renamed = tmp_path / "renamed.csv"  # warnings name the file: another name misses too
    shutil.copyfile(extract, renamed)
    assert cache.load(renamed, work) is None


def test_another_sheet_misses(small_text, tmp_path, work):
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as xl:
        small_text.to_excel(xl, sheet_name="site A", index=False)
        small_text.to_excel(xl, sheet_name="site B", index=False)
    cache.save(path, work, *load_cohort(path, sheet="site B"), sheet="site B")
    assert cache.load(path, work, sheet="site B") is not None
    assert cache.load(path, work, sheet="site A") is None
    assert cache.load(path, work) is None


def test_a_change_of_the_validation_code_misses(extract, work, tmp_path, monkeypatch):
    copies = []
    for source in cache.CODE:
        copies.append(tmp_path / source.name)
        shutil.copyfile(source, copies[-1])
    assert cache.fingerprint(tuple(copies)) == cache.fingerprint()
    schema = tmp_path / "schema.py"
    schema.write_text(schema.read_text().replace("high=105", "high=106"))
    assert cache.fingerprint(tuple(copies)) != cache.fingerprint()

    cache.save(extract, work, *load_cohort(extract))
    assert cache.load(extract, work) is not None
    monkeypatch.setattr(cache, "fingerprint", lambda: "another schema")
    assert cache.load(extract, work) is None


def test_unreadable_entry_is_a_miss(extract, work, validations):
    work.mkdir(parents=True)
    (work / cache.FILE).write_bytes(b"PAR1 not a parquet file")
    assert cache.load(extract, work) is None
    cohort, _ = cache.load_or_validate(extract, work)
    assert len(cohort) == 118 and len(validations) == 1


def test_written_only_in_a_git_ignored_build_folder(extract, tmp_path, monkeypatch):
    cohort, warnings = load_cohort(extract)
    with pytest.raises(placement.PrivacyError, match="git-ignored"):
        cache.save(extract, tmp_path / "cache", cohort, warnings)
    assert not (tmp_path / "cache").exists()
    for out in (config.ROOT, config.BUILD_DIR / "any-extract"):  # where builds keep it
        if placement.git_ignored(layout.work_dir(out) / cache.FILE) is None:
            pytest.skip("git cannot tell what it ignores here (no git or no checkout)")
        assert placement.git_ignored(layout.work_dir(out) / cache.FILE) is True
    monkeypatch.setattr(placement, "git_ignored", lambda path: False)
    with pytest.raises(placement.PrivacyError):
        cache.save(extract, tmp_path / ".build", cohort, warnings)
    assert not (tmp_path / ".build" / cache.FILE).exists()


def test_a_notebook_finds_the_cache_of_its_build(tmp_path):
    out = tmp_path / "build" / "x"
    run = layout.work_dir(out) / "run" / "01_cohort"  # where a build runs the notebook
    assert cache.work_of(run) == layout.work_dir(out)
    assert cache.work_of(out) == layout.work_dir(out)  # run by hand (JupyterLab)


def test_load_or_validate_validates_only_without_an_entry(extract, work, validations):
    cohort, warnings = cache.load_or_validate(extract, work / "run" / "01_cohort")
    assert len(validations) == 1  # no entry yet: validated
    cache.save(extract, work, cohort, warnings)
    cached, _ = cache.load_or_validate(extract, work / "run" / "01_cohort")
    assert len(validations) == 1  # served from the cache
    pd.testing.assert_frame_equal(cached, cohort)
    cache.load_or_validate(extract, None)
    assert len(validations) == 2


def test_open_study_uses_the_cache(extract, work, validations):
    cohort, warnings = load_cohort(extract)
    cache.save(extract, work, cohort, warnings)
    validations.clear()
    s = study.open_study(extract, work / "run" / "01_cohort")
    assert validations == []
    pd.testing.assert_frame_equal(s.cohort, cohort)


def test_the_stamp_is_rewritten_only_when_stale(extract, work):
    cohort, _ = load_cohort(extract)
    stamp = work / "validated.json"
    assert stamp_module.write_stamp(extract, stamp, cohort)
    written = stamp.stat().st_mtime_ns
    assert not stamp_module.write_stamp(extract, stamp, cohort)  # current: left as it is
    assert stamp.stat().st_mtime_ns == written
    past = time.time() - 3600
    os.utime(stamp, (past, past))  # older than the extract (same bytes): Snakemake would rerun
    assert stamp_module.write_stamp(extract, stamp, cohort)
    assert stamp.stat().st_mtime_ns >= extract.stat().st_mtime_ns
    future = time.time() + 3600
    os.utime(extract, (future, future))  # an extract dated ahead of the clock
    assert stamp_module.write_stamp(extract, stamp, cohort)
    assert stamp.stat().st_mtime_ns >= extract.stat().st_mtime_ns
    assert not stamp_module.write_stamp(extract, stamp, cohort)


def _jobs(text: str) -> set[str]:
    """The rules a Snakemake run lists in its job stats (LENSTOP_VERBOSE=1), else the steps
    the build itself reports ('[notebook 01_cohort] started')."""
    if "Job stats:" in text:
        table = text.split("Job stats:", 1)[-1]
        return set(re.findall(r"^(\w+)\s+\d+\s*$", table, flags=re.M)) - {"total"}
    return set(re.findall(r"^\[(\w+)[^\]]*\] started", text, flags=re.M))


def test_build_validates_once_and_the_workflow_does_not_again(tmp_path, validations,
                                                              monkeypatch, capfd):
    """build() validates once; at workflow start the stamp is current (a real Snakemake
    dry run plans no `validate`) and the notebooks' folder finds the cohort in the cache."""
    data = tmp_path / f"pytest-cohort-cache-{os.getpid()}.csv"
    shutil.copyfile(config.SYNTHETIC_COHORT, data)
    out = config.BUILD_DIR / data.stem
    shutil.rmtree(out, ignore_errors=True)
    seen = {}
    real_snakemake = pipeline.snakemake

    def dry_run(data, out, **kw):
        work = layout.work_dir(out)
        seen["cohort"] = cache.load_or_validate(data, work / "run" / "01_cohort")[0]
        seen["validations"] = len(validations)
        capfd.readouterr()
        code = real_snakemake(data, out, **kw, extra=["--dry-run"])
        seen["plan"] = _jobs("".join(capfd.readouterr()))
        stamp = work / "validated.json"
        stamp.rename(stamp.with_suffix(".hidden"))  # without the stamp, validate is planned
        real_snakemake(data, out, **kw, extra=["--dry-run"])
        seen["plan without stamp"] = _jobs("".join(capfd.readouterr()))
        stamp.with_suffix(".hidden").rename(stamp)
        return code

    monkeypatch.setenv("LENSTOP_VERBOSE", "1")  # Snakemake's job stats show the plan
    monkeypatch.setattr(pipeline, "snakemake", dry_run)
    try:
        assert pipeline.build(data) == 0
        assert seen["validations"] == 1 and len(validations) == 1
        assert len(seen["cohort"]) == 118
        assert "notebook" in seen["plan"] and "validate" not in seen["plan"]
        assert "validate" in seen["plan without stamp"]
        assert not (layout.work_dir(out) / cache.FILE).exists()  # removed at the end
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.mark.slow
def test_a_real_build_validates_once_and_keeps_no_cohort(request):
    build = first_build(request.config)
    console = build.run.stdout + build.run.stderr
    assert console.count("all checks passed") == 1  # build()'s check; the rule would add one
    assert "Rule: validate" not in console and "notebook" in _jobs(console)
    assert (layout.work_dir(build.out) / "validated.json").is_file()
    assert not (layout.work_dir(build.out) / cache.FILE).exists()
