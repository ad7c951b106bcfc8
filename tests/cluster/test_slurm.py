"""The Slurm profile on a real one-node cluster (tests/cluster/slurm.sh): jobs run through Slurm
give the same bytes as a local run. Run by `make test-cluster` only (marker `cluster`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
SLURM_SH = Path(__file__).with_name("slurm.sh")
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
LENSTOP = Path(sys.executable).with_name("lenstop")
ACCOUNT = "testacct"
SKIP = 77
"""slurm.sh's exit code for 'this machine cannot host a test cluster' (its stderr says why)."""


def _slurm_sh(action: str, timeout: float) -> subprocess.CompletedProcess:
    """Run `slurm.sh start|stop`, its output captured."""
    return subprocess.run(["bash", str(SLURM_SH), action], capture_output=True, text=True,
                          timeout=timeout)


def _stop_cluster() -> None:
    """Stop every daemon slurm.sh started; a daemon that will not stop is an error. Its
    configs go too: a slurm.conf naming the stopped controller made every later Snakemake
    start wait 9 s (the Slurm executor plugin runs `scontrol show config` on import)."""
    stop = _slurm_sh("stop", timeout=300)
    assert stop.returncode == 0, f"slurm.sh stop failed:\n{stop.stderr}"
    assert not Path("/etc/slurm/slurm.conf").exists()


@pytest.fixture(scope="session")
def cluster():
    """A running one-node cluster (partition debug, account testacct), stopped at the end."""
    start = _slurm_sh("start", timeout=900)
    if start.returncode != 0:
        _slurm_sh("stop", timeout=300)  # a half-started cluster must not outlive the session
        reason = (start.stderr.strip().splitlines() or ["(no reason given)"])[-1]
        if start.returncode == SKIP:
            pytest.skip(reason)
        pytest.fail(f"slurm.sh start exited {start.returncode}:\n{start.stdout}{start.stderr}",
                    pytrace=False)
    yield
    _stop_cluster()


@pytest.fixture(scope="session")
def profile(cluster, tmp_path_factory) -> Path:
    """A site profile as the README describes it: a copy of workflow/profiles/slurm with the
    test account and partition, and fast status checks so short jobs do not wait."""
    site = tmp_path_factory.mktemp("profile") / "slurm"
    shutil.copytree(PROFILE, site)
    settings = yaml.safe_load((site / "config.yaml").read_text())
    settings["default-resources"] = [*settings["default-resources"],
                                     f"slurm_account={ACCOUNT}", "slurm_partition=debug"]
    settings["slurm-init-seconds-before-status-checks"] = 1
    settings["seconds-between-status-checks"] = 2
    (site / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return site


def _lenstop(*args: str | Path) -> None:
    """Run the lenstop command from the project folder; it must succeed."""
    run = subprocess.run([str(LENSTOP), *map(str, args)], cwd=ROOT, capture_output=True,
                         text=True, timeout=1800, env=dict(os.environ, PYTHONHASHSEED="0"))
    assert run.returncode == 0, (f"lenstop {' '.join(map(str, args))} exited {run.returncode}:"
                                 f"\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")


def _sacct(since: float) -> list[list[str]]:
    """JobIDRaw, JobName, State, Account of every Slurm job submitted since `since` (epoch s)."""
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since - 60))
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", start,
                          "--format=JobIDRaw,JobName,State,Account"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def _slurm_jobs_of(run, *args, **kwargs) -> list[list[str]]:
    """Run `run(*args, **kwargs)` and return the Slurm jobs it submitted, once sacct shows them all
    ended (sacct lags about 1 s behind a job's end, so it is polled for up to 30 s)."""
    before = {job[0] for job in _sacct(time.time())}
    since = time.time()
    run(*args, **kwargs)
    deadline = time.monotonic() + 30
    while True:
        jobs = [job for job in _sacct(since) if job[0] not in before]
        ended = jobs and all(state not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED")
                             for _, _, state, _ in jobs)
        if ended or time.monotonic() > deadline:
            return jobs
        time.sleep(0.5)


def _assert_ran_through_slurm(jobs: list[list[str]]) -> None:
    """Slurm ran the jobs, every one COMPLETED under the test account, all of one run."""
    assert jobs, "sacct shows no Slurm job: the workflow did not run through Slurm"
    assert {(state, account) for _, _, state, account in jobs} == {("COMPLETED", ACCOUNT)}, jobs
    assert len({name for _, name, _, _ in jobs}) == 1, jobs  # the plugin names jobs by run


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, as bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_same_files(got: dict[str, bytes], expected: dict[str, bytes]) -> None:
    """The same file names with the same bytes (names the files that differ)."""
    assert sorted(got) == sorted(expected)
    differ = [name for name in expected if got[name] != expected[name]]
    assert not differ, f"differ from the local run: {differ}"


def test_cluster_runs_a_job_under_the_test_account(cluster):
    """sbatch -A testacct runs and sacct records it: checks the cluster before the workflow."""
    jobs = _slurm_jobs_of(subprocess.run, ["sbatch", "--wait", "-A", ACCOUNT, "-p", "debug",
                                           "-o", "/dev/null", "--wrap", "true"], check=True,
                          capture_output=True, timeout=120)
    assert [(state, account) for _, _, state, account in jobs] == [("COMPLETED", ACCOUNT)]


def test_simulation_through_slurm_gives_the_local_summary(profile, tmp_path):
    """20 replicates locally and through the Slurm profile: byte-identical summary.json."""
    _lenstop("simulate", "--replicates", "20", "--out", tmp_path / "local")
    jobs = _slurm_jobs_of(_lenstop, "simulate", "--replicates", "20", "--out",
                          tmp_path / "slurm", "--profile", profile)
    _assert_ran_through_slurm(jobs)
    local = (tmp_path / "local" / "summary.json").read_bytes()
    assert (tmp_path / "slurm" / "summary.json").read_bytes() == local


def test_sensitivity_grid_through_slurm_gives_the_local_files(profile, tmp_path):
    """A 2-point sensitivity grid locally and through the Slurm profile: the same files."""
    data = tmp_path / "slurmcheck.csv"
    shutil.copyfile(ROOT / "data" / "synthetic" / "cohort.csv", data)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"points": [
        {"name": "published", "label": "Published definitions"},
        {"name": "cycles_18", "label": "LEN cycles >= 18", "cycles_cutoff": 18},
    ]}, sort_keys=False))
    build = ROOT / "build" / data.stem
    sensitivity = build / ".build" / "sensitivity"
    args = ("build", "--data", data, "--until", "sensitivity", "--grid", grid)
    shutil.rmtree(build, ignore_errors=True)
    try:
        _lenstop(*args)
        local = _files(sensitivity)
        assert {"points.json", "points/published.json", "points/cycles_18.json"} <= set(local)
        shutil.rmtree(sensitivity)
        jobs = _slurm_jobs_of(_lenstop, *args, "--profile", profile)
        _assert_ran_through_slurm(jobs)
        _assert_same_files(_files(sensitivity), local)
    finally:
        shutil.rmtree(build, ignore_errors=True)
