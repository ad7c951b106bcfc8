"""Running Snakemake: its command, process group and interrupts, the build folder's lock, and
profiles (a cluster). The build (`lenstop.workflow.pipeline`) calls it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from lenstop import config
from lenstop.errors import StepError
from lenstop.workflow import kernels
from lenstop.workflow.layout import relative, work_dir

SNAKEFILE = config.ROOT / "workflow" / "Snakefile"
INTERRUPT_GRACE_S = 60
"""How long an interrupted workflow may take to stop its jobs before it is terminated."""


def child_env() -> dict:
    """This process's environment with its interpreter's folder first on PATH, so that the
    workflow's shell steps (and Quarto's pre-render step) run this environment's `lenstop`."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _release_locks(out: Path) -> None:
    """Remove Snakemake's locks on this build folder, left by a workflow that was killed."""
    mine = relative(work_dir(out)) + "/"
    for lock in (config.ROOT / ".snakemake" / "locks").glob("*.output.lock"):
        if any(line.startswith(mine) or line.startswith(str(work_dir(out).resolve()))
               for line in lock.read_text().splitlines()):
            lock.with_name(lock.name.replace(".output.", ".input.")).unlink(missing_ok=True)
            lock.unlink(missing_ok=True)


def _run_workflow(cmd: list[str], env: dict, out: Path) -> int:
    """Run Snakemake in its own process group; SIGINT/SIGTERM stop the whole group cleanly.

    Snakemake and its jobs get SIGINT together (as from Ctrl-C in a terminal): running
    steps stop, Snakemake removes their incomplete outputs and its lock, and the publish step
    (the only one that touches public files) is never cut half way. A workflow that has not
    stopped after INTERRUPT_GRACE_S is killed and its lock removed.
    """
    proc: list[subprocess.Popen] = []
    stopping: list[float] = []  # when each signal arrived

    def forward(_signum, _frame):
        stopping.append(time.monotonic())
        if proc:
            try:
                os.killpg(proc[0].pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    # handlers first: the workflow then starts with SIGINT at its default (a build started
    # in the background inherits SIGINT ignored, and Snakemake would never stop)
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc.append(subprocess.Popen(cmd, env=env, cwd=config.ROOT, start_new_session=True))
        if stopping:  # a signal came while it started
            forward(signal.SIGINT, None)
        while True:  # short waits, so that the grace period starts when a signal arrives
            try:
                code = proc[0].wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > INTERRUPT_GRACE_S:
                    os.killpg(proc[0].pid, signal.SIGKILL)
                    proc[0].wait()
                    _release_locks(out)
                    code = -signal.SIGKILL
                    break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 130 if stopping and code != 0 else code


@contextmanager
def _folder_lock(out: Path):
    """Hold an exclusive lock on build folder `out` while its workflow runs.

    Snakemake's own locks sit in one folder for every build (.snakemake/locks), which each
    run deletes as it ends: a run starting at that moment crashes. The workflow therefore runs
    with --nolock and this lock (the kernel's, released even when the process is killed) keeps
    two builds out of one folder while builds into different folders run side by side.
    """
    import fcntl

    work = work_dir(out)
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "workflow.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StepError(f"another build of {relative(out)} is running") from None
        yield


def snakemake(data: Path, out: Path, until: str = "report", min_cell: int | None = None,
              sheet: str | None = None, extra: list[str] | None = None,
              line_numbers: bool = False, options: dict | None = None,
              profile: Path | None = None, lock: Path | None = None) -> int:
    """Run the workflow for `data` into `out` up to `until` ('variables', 'report',
    'sensitivity' or 'simulation'); `options` are more --config values, `profile` a Snakemake
    profile (e.g. workflow/profiles/slurm), `lock` the folder to hold (default `out`)."""
    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    profile = profile_dir(profile) if profile else None
    env = child_env()
    # the report's date: the commit time (config.source_date_epoch), for every step
    env["SOURCE_DATE_EPOCH"] = str(config.source_date_epoch())
    env["PYTHONHASHSEED"] = env.get("PYTHONHASHSEED") or "0"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--directory", str(config.ROOT), "--cores", str(min(4, os.cpu_count() or 1)),
           "--rerun-incomplete", "--nolock",
           # `run:` jobs (the sensitivity grid's points) in threads of this process
           "--force-use-threads",
           # one line per step (ours); Snakemake's banner and job tables only when asked
           *([] if os.environ.get("LENSTOP_VERBOSE") else ["--quiet", "all"]),
           "--config", f"data={relative(data)}", f"out={relative(out)}", f"until={until}",
           f"min_cell={min_cell}", f"line_numbers={int(bool(line_numbers))}",
           *([f"sheet={sheet}"] if sheet else []),
           *(f"{k}={v}" for k, v in sorted((options or {}).items())),
           *(["--profile", str(Path(profile).resolve())] if profile else []), *(extra or [])]
    with _folder_lock(lock or out):
        if profile is not None:  # (cluster jobs run elsewhere: a kernel each)
            return _run_workflow(cmd, env, out)
        # a local build's notebook jobs reuse warm kernels (lenstop.workflow.kernels)
        pool = kernels.start_pool(work_dir(lock or out) / "kernels")
        env[kernels.POOL_ENV] = str(pool)
        try:
            return _run_workflow(cmd, env, out)
        finally:
            kernels.stop_pool(pool)


def profile_dir(profile: str | Path) -> Path:
    """A Snakemake profile folder: a path, or the name of one under workflow/profiles/
    (`PROFILE=slurm`); StepError when neither exists."""
    path = Path(profile)
    if path.is_dir():
        return path.resolve()
    named = config.ROOT / "workflow" / "profiles" / str(profile)
    if named.is_dir():
        return named
    raise StepError(f"no Snakemake profile {profile}: give a folder holding config.yaml, or "
                    "the name of one in workflow/profiles/ (e.g. PROFILE=slurm)")
