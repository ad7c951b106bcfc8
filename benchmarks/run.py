"""Benchmark the report on the product's own path (`make bench`); write benchmarks/results.md.

Everything is measured in one run, on temporary copies of the working tree (never the
project itself, apart from `make test`), with the commands a user types:

1. each analysis notebook alone with the `papermill` command (`papermill NB.ipynb OUT.ipynb`
   in notebooks/), broken down into kernel start, imports and cells; the slowest one is the
   baseline (median of --runs plain runs);
2. the naive peer: every notebook one after another with the `papermill` command, then one
   process that merges the results, writes the manuscript variables and renders (what the
   build's merge, variables and render steps run);
3. a cold build, `lenstop build --data data/synthetic/cohort.csv` (what `make report` runs),
   from a fresh copy: per step and per job from the build's own log and Snakemake's records;
4. a no-op build (nothing changed) and 5. a rebuild after editing one notebook;
6. a cold build of a cohort generated with `lenstop synthesize --n 100000` (what
   `make report DATA=...` runs), with peak memory; 7. `make test`, once, in the project.

Run `python benchmarks/run.py --help` for the options; `--quick` is a fast smoke run (one run
each, a small generated cohort, no `make test`) that writes build/bench/results-quick.md.
Nothing here prints patient-level data. benchmarks/README.md explains every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results.md"
README = ROOT / "benchmarks" / "README.md"
BENCH_DIR = ROOT / "build" / "bench"  # git-ignored: quick results, the large build's figures
QUICK_RESULTS = BENCH_DIR / "results-quick.md"
COHORT = "data/synthetic/cohort.csv"
LARGE_N, QUICK_LARGE_N = 100_000, 2_000
GIB, MIB = 1024**3, 1024**2
CORES = os.cpu_count() or 1

TARGET_COLD_RATIO = 1.6  # cold build <= 1.6 x the slowest notebook alone
TARGET_LARGE_RATIO = 1.25  # 100,000-patient build <= 1.25 x the 118-patient cold build
TARGET_LARGE_BYTES = 2 * GIB
TARGET_NOOP_S = 1.0
TARGET_TEST_S = 180.0

# Copies of the working tree never carry these (as `git ls-files --others --exclude-standard`
# would not): the venv, build outputs, caches. Used when git is not asked for (--copy walk).
ALWAYS_SKIP = {
    ".git",
    ".venv",
    "build",
    ".snakemake",
    ".build",
    "__pycache__",
    "_manuscript",
    ".pytest_cache",
    ".ruff_cache",
    ".quarto",
    ".ipynb_checkpoints",
}

STEP_LINE = re.compile(r"^\[(?P<name>[^\]\n]+)\] done in (?P<secs>\d+(?:\.\d+)?) s", re.M)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_s(secs: float | None) -> str:
    if secs is None:
        return "n/a"
    return f"{secs:.2f} s" if abs(secs) < 10 else f"{secs:.1f} s"


def fmt_b(size: float | None) -> str:
    if not size:
        return "n/a"
    return f"{size / GIB:.2f} GiB" if size >= GIB else f"{size / MIB:.0f} MiB"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values: list[float]) -> str:
    """'12.3 s' for one run, '12.3 s (11.9-13.0)' for several."""
    mid = median(values)
    if len(values) < 2:
        return fmt_s(mid)
    return f"{fmt_s(mid)} ({min(values):.1f}-{max(values):.1f})"


# ------------------------------------------------------------------ running commands


@dataclass
class Proc:
    """One command: wall time, exit code, output, peak memory (see `run`)."""

    cmd: list[str]
    wall: float
    code: int
    out: str
    started: float  # epoch seconds
    peak_proc: int = 0  # bytes: largest single process of the tree (wait4 ru_maxrss)
    peak_tree: int = 0  # bytes: largest sum over the live tree (sampled /proc)

    def steps(self) -> dict[str, float]:
        """The build's own per-step times (`[name] done in X s` lines), summed per name."""
        found: dict[str, float] = {}
        for m in STEP_LINE.finditer(self.out):
            found[m["name"]] = found.get(m["name"], 0.0) + float(m["secs"])
        return found


class TreeSampler(threading.Thread):
    """Memory of a process and all its descendants, summed, every `every` s: each process's
    proportional set size (PSS: resident pages, shared ones divided among the processes that
    share them, from /proc/<pid>/smaps_rollup), or its resident size where PSS is missing."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self.stop = threading.Event()
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def tree_rss(self) -> int:
        parent: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(f"/proc/{entry.name}/stat").read_text()
                    parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    pass
        tree, todo = set(), [self.pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += [p for p, pp in parent.items() if pp == pid and p not in tree]
        return sum(self.memory(pid) for pid in tree)

    def memory(self, pid: int) -> int:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
            if m:
                return int(m[1]) * 1024
        except OSError:
            pass
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.page
        except (OSError, ValueError, IndexError):
            return 0

    def run(self) -> None:
        if not Path("/proc/self/statm").exists():
            return
        while not self.stop.is_set():
            self.peak = max(self.peak, self.tree_rss())
            self.stop.wait(self.every)


def run(
    cmd: list, cwd: Path, env: dict, label: str, check: bool = True, sample: bool = False
) -> Proc:
    """Run `cmd` (stdout and stderr together), timed; stop the benchmark if it fails.

    Peak memory: `peak_proc` is ru_maxrss of the command's process tree as wait4 reports it
    (the largest single process among it and its waited-for descendants); with `sample`,
    `peak_tree` is the largest sum of memory (PSS) over the live tree, sampled every 0.2 s.
    """
    cmd = [str(c) for c in cmd]
    started, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    sampler = TreeSampler(proc.pid) if sample else None
    if sampler:
        sampler.start()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if sampler:
        sampler.stop.set()
        sampler.join()
    result = Proc(
        cmd, wall, code, out, started, usage.ru_maxrss * 1024, sampler.peak if sampler else 0
    )
    if check and code != 0:
        tail = "\n".join(out.strip().splitlines()[-25:])
        raise SystemExit(f"benchmark step failed: {label} (exit {code}): {' '.join(cmd)}\n{tail}")
    return result


# ------------------------------------------------------------------ copies of the project


def git(*args: str) -> subprocess.CompletedProcess:
    """A read-only git command in the project (no optional index locks: see git-config)."""
    return subprocess.run(
        ["git", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )


def ignore_patterns() -> list[tuple[bool, str]]:
    """The project's .gitignore as (negated, pattern) pairs, in order."""
    path = ROOT / ".gitignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [
        (ln.startswith("!"), ln.lstrip("!").strip())
        for ln in lines
        if ln.strip() and not ln.lstrip().startswith("#")
    ]


def ignored(rel: str, is_dir: bool, patterns: list[tuple[bool, str]]) -> bool:
    """Whether .gitignore ignores `rel` (the subset of the syntax the project uses)."""
    result = False
    name = rel.rsplit("/", 1)[-1]
    for negated, pat in patterns:
        if pat.endswith("/") and not is_dir:
            continue
        pat = pat.rstrip("/")
        anchored = "/" in pat
        hit = fnmatch.fnmatch(rel, pat.lstrip("/")) if anchored else fnmatch.fnmatch(name, pat)
        if hit:
            result = not negated
    return result


def tree_files(how: str) -> list[str]:
    """The working tree's files as a fresh clone plus uncommitted work would have them."""
    if how == "git":
        listing = git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
        if listing.returncode == 0:
            return sorted(n for n in set(listing.stdout.split("\0")) if n and (ROOT / n).is_file())
        log("git ls-files failed; walking the folder and applying .gitignore instead")
    patterns, files = ignore_patterns(), []
    for folder, dirs, names in os.walk(ROOT):
        rel_dir = Path(folder).relative_to(ROOT).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = sorted(
            d for d in dirs if d not in ALWAYS_SKIP and not ignored(rel_dir + d, True, patterns)
        )
        files += [rel_dir + n for n in sorted(names) if not ignored(rel_dir + n, False, patterns)]
    return files


@dataclass
class Tree:
    """A pristine copy of the working tree; `fresh()` gives a new copy of it per run."""

    base: Path
    pristine: Path
    info: dict = field(default_factory=dict)
    counter: int = 0

    def env(self, project: Path, extra_path: Path | None = None) -> dict[str, str]:
        """The environment `make` gives its commands, with `project`'s code imported first."""
        env = dict(os.environ)
        for key in (
            "LENSTOP_OUTPUT_DIR",
            "LENSTOP_BUILD_DATA",
            "LENSTOP_MAPPING",
            "LENSTOP_TEST_FAULT",
            "LENSTOP_SENSITIVITY_POINTS",
            "LENSTOP_VERBOSE",
            "LENSTOP_BENCH_IMPORTS",
            "PYTHONPROFILEIMPORTTIME",
        ):
            env.pop(key, None)
        paths = [
            str(project / "src"),
            str(extra_path) if extra_path else "",
            os.environ.get("PYTHONPATH", ""),
        ]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONHASHSEED"] = "0"  # as the Makefile exports
        env.setdefault("SOURCE_DATE_EPOCH", "1722816000")  # the copies have no .git
        env["LENSTOP_RENDERER"] = "pandoc"  # the fallback renderer, also where Quarto exists
        return env

    def fresh(self, label: str) -> Path:
        """A new copy of the pristine tree: a fresh clone's state (nothing built)."""
        self.counter += 1
        dest = self.base / f"{self.counter:02d}-{label}"
        shutil.copytree(self.pristine, dest, symlinks=True)
        return dest

    @staticmethod
    def drop(project: Path) -> None:
        shutil.rmtree(project, ignore_errors=True)


INTROSPECT = """
import json, lenstop, lenstop.config as c
print(json.dumps({"package": lenstop.__file__, "notebooks": list(c.NOTEBOOKS),
                  "sources": list(c.MANUSCRIPT_SOURCES)}))
"""


def make_tree(base: Path, how: str) -> Tree:
    """Copy the working tree into base/pristine, compile its bytecode, read its notebooks."""
    pristine = base / "pristine"
    files = tree_files(how)
    for name in files:
        target = pristine / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    tree = Tree(base, pristine)
    env = tree.env(pristine)
    # bytecode once, as a clone has it after its first build: every run then starts alike
    run([sys.executable, "-m", "compileall", "-q", "src"], pristine, env, "compileall")
    proc = run([sys.executable, "-c", INTROSPECT], pristine, env, "read the notebook list")
    tree.info = json.loads(proc.out.strip().splitlines()[-1])
    if not Path(tree.info["package"]).resolve().is_relative_to(pristine.resolve()):
        raise SystemExit(
            f"the copy imports lenstop from {tree.info['package']}, not from "
            f"{pristine}/src: PYTHONPATH does not take effect"
        )
    missing = [
        nb for nb in tree.info["notebooks"] if not (pristine / "notebooks" / f"{nb}.ipynb").exists()
    ]
    if missing:
        raise SystemExit(
            f"lenstop.config.NOTEBOOKS names {', '.join(missing)}, "
            "which notebooks/ does not have"
        )
    log(
        f"copied {len(files)} files to {pristine} ({how}); notebooks: "
        f"{', '.join(tree.info['notebooks'])}"
    )
    return tree


# ------------------------------------------------------------------ notebooks alone

IMPORT_HOOK = '''"""Written by benchmarks/run.py: with LENSTOP_BENCH_IMPORTS=<folder> set,
every Python process records when its main thread spent time in import statements (outermost
only) and writes <folder>/<pid>.json at exit."""
import os

if os.environ.get("LENSTOP_BENCH_IMPORTS"):
    import _thread
    import atexit
    import builtins
    import json
    import sys
    import time

    _original = builtins.__import__
    _main = _thread.get_ident()
    _spans = []
    _depth = [0]

    def _timed_import(name, globals=None, locals=None, fromlist=(), level=0):
        if _depth[0] or _thread.get_ident() != _main:
            return _original(name, globals, locals, fromlist, level)
        _depth[0] = 1
        wall, start = time.time(), time.perf_counter()
        try:
            return _original(name, globals, locals, fromlist, level)
        finally:
            secs = time.perf_counter() - start
            _depth[0] = 0
            if secs > 1e-4:
                _spans.append((wall, secs))

    def _write():
        folder = os.environ["LENSTOP_BENCH_IMPORTS"]
        with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as f:
            json.dump({"argv": sys.argv, "spans": _spans}, f)

    builtins.__import__ = _timed_import
    atexit.register(_write)
'''


def iso_epoch(text: str | None) -> float | None:
    """Papermill's timestamps (ISO 8601, UTC, often without a zone) as epoch seconds."""
    if not text:
        return None
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def cell_label(source: str) -> str:
    lines = [ln.strip() for ln in source.splitlines() if ln.strip()]
    label = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("#| label:")), None)
    code = next((ln for ln in lines if not ln.startswith("#")), "")
    return label or code[:40] or "(comment only)"


@dataclass
class Alone:
    """One notebook run alone with the papermill command, and where its time went."""

    nb: str
    wall: float
    duration: float | None = None  # papermill's own: notebook start to end
    kernel_start: float | None = None  # notebook start to first cell start
    cells: float | None = None  # sum of the code cells' durations
    cell_imports: float | None = None  # import statements run by the cells (hook)
    kernel_imports: float | None = None  # imports of the kernel before the first cell (hook)
    cli_imports: float | None = None  # imports of the papermill command's process (hook)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    first_cell: float | None = None  # epoch
    nb_end: float | None = None  # epoch

    @property
    def cli_overhead(self) -> float | None:
        """Process start, papermill's imports, reading and writing: wall - duration."""
        return None if self.duration is None else self.wall - self.duration

    @property
    def rest(self) -> float | None:
        """Papermill's work between the cells (it saves the notebook after each) and the
        kernel's shutdown: duration - kernel start - cells."""
        if None in (self.duration, self.kernel_start, self.cells):
            return None
        return self.duration - self.kernel_start - self.cells


def read_executed(path: Path, nb: str, wall: float) -> Alone:
    """The papermill metadata of an executed notebook: notebook and per-cell times."""
    res = Alone(nb, wall)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return res
    meta = data.get("metadata", {}).get("papermill", {})
    res.duration = meta.get("duration")
    code = [c for c in data.get("cells", []) if c.get("cell_type") == "code"]
    starts = [iso_epoch(c.get("metadata", {}).get("papermill", {}).get("start_time")) for c in code]
    starts = [s for s in starts if s is not None]
    nb_start = iso_epoch(meta.get("start_time"))
    if starts and nb_start is not None:
        res.kernel_start = min(starts) - nb_start
    timed = []
    for c in code:
        secs = c.get("metadata", {}).get("papermill", {}).get("duration")
        if secs is not None:
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            timed.append((cell_label(src), float(secs)))
    if timed:
        res.cells = sum(s for _, s in timed)
        res.slowest = sorted(timed, key=lambda t: -t[1])[:3]
    res.first_cell = min(starts) if starts else None
    res.nb_end = iso_epoch(meta.get("end_time"))
    return res


def read_imports(folder: Path, res: Alone) -> None:
    """Attribute the hook's import spans: papermill's process, the kernel before its first
    cell (part of kernel start), the kernel during the cells."""
    first = res.first_cell
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        argv = " ".join(data.get("argv", []))
        spans = data.get("spans", [])
        if "ipykernel" in argv and first is not None:
            res.kernel_imports = sum(s for t, s in spans if t < first)
            res.cell_imports = sum(s for t, s in spans if t >= first)
        elif "papermill" in argv:
            res.cli_imports = sum(s for _, s in spans)


def notebook_alone(tree: Tree, nb: str, hook: Path | None = None) -> Alone:
    """`papermill NB.ipynb OUT.ipynb` in notebooks/ of a fresh copy (nothing built before:
    a notebook computes here what the build's jobs would have made for it)."""
    project = tree.fresh(f"alone-{nb}")
    try:
        out = project / "build" / "bench-alone" / f"{nb}.ipynb"
        out.parent.mkdir(parents=True)
        env = tree.env(project, hook.parent if hook else None)
        if hook:
            spans = project / "build" / "bench-imports"
            spans.mkdir()
            env["LENSTOP_BENCH_IMPORTS"] = str(spans)
        proc = run(
            [VENV_BIN / "papermill", f"{nb}.ipynb", out],
            project / "notebooks",
            env,
            f"papermill {nb}",
        )
        res = read_executed(out, nb, proc.wall)
        if hook:
            read_imports(spans, res)
        return res
    finally:
        tree.drop(project)


# ------------------------------------------------------------------ builds

BUILD = "lenstop build --data {data}"


def build_cmd(data: str) -> list:
    return [VENV_BIN / "lenstop", "build", "--data", data]


@dataclass
class Job:
    rule: str
    name: str
    start: float  # seconds after the build command started
    end: float


def jobs_of(project: Path, since: float) -> list[Job]:
    """The jobs Snakemake ran since `since` (epoch), from its records (.snakemake/metadata)."""
    seen: dict = {}
    folder = project / ".snakemake" / "metadata"
    for path in folder.glob("*") if folder.is_dir() else []:
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        start, end = rec.get("starttime"), rec.get("endtime")
        if start is None or end is None or start < since - 1:
            continue
        cmd = rec.get("shellcmd") or ""
        name = rec.get("rule", "?")
        target = re.search(r"(?:run-notebook|sensitivity-point)\s+(\S+)", cmd)
        if name in ("notebook", "sensitivity_point") and target:
            name = f"{name} {target[1]}"
        elif name == "simulate_batch":
            m = re.search(r"--first (\d+) --last (\d+)", cmd)
            name = f"simulate seeds {m[1]}-{m[2]}" if m else name
        key = (rec.get("rule"), rec.get("job_hash"), name)  # one record per output file
        job = seen.setdefault(key, Job(rec.get("rule", "?"), name, start - since, end - since))
        job.start, job.end = min(job.start, start - since), max(job.end, end - since)
    return sorted(seen.values(), key=lambda j: j.start)


@dataclass
class Build:
    proc: Proc
    jobs: list[Job]

    @property
    def wall(self) -> float:
        return self.proc.wall


def build(project: Path, env: dict, data: str, label: str, sample: bool = True) -> Build:
    proc = run(build_cmd(data), project, env, label, sample=sample)
    return Build(proc, jobs_of(project, proc.started))


def job_groups(b: Build) -> dict[str, list[Job]]:
    """Jobs by what they are: each notebook alone, the grid's points and the simulation's
    batches together, every other rule alone."""
    groups: dict[str, list[Job]] = {}
    for j in b.jobs:
        key = {
            "sensitivity_point": "sensitivity points",
            "simulate_batch": "simulation batches",
        }.get(j.rule, j.name)
        groups.setdefault(key, []).append(j)
    return groups


def edit_notebook(path: Path, i: int) -> None:
    """A trivial edit of the first markdown cell's text (different on every run)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    src = "".join(cell["source"]).rstrip(" ")
    cell["source"] = src + " " * (i + 1)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ the naive peer

PEER_RENDER = """
import sys
from pathlib import Path
from lenstop.workflow import steps
folder = Path(sys.argv[1])
steps.merge(folder)
steps.write_variables(folder)
steps.render(folder)
"""


@dataclass
class Peer:
    notebooks: dict[str, float]
    render: float

    @property
    def wall(self) -> float:
        return sum(self.notebooks.values()) + self.render


def peer_run(tree: Tree) -> Peer:
    """The notebooks one after another with the `papermill` command, then one render.

    Run by hand, the notebooks write their figures and results to build/scratch/; the
    executed notebooks go to build/scratch/notebooks/ beside the manuscript sources, and one
    Python process merges the results, writes `_variables.yml` and renders that folder with
    the project's fallback renderer (pandoc + Typst), as the build's last steps do.
    """
    project = tree.fresh("peer")
    try:
        env = tree.env(project)
        folder = project / "build" / "scratch"
        times = {}
        for nb in tree.info["notebooks"]:
            out = folder / "notebooks" / f"{nb}.ipynb"
            out.parent.mkdir(parents=True, exist_ok=True)
            times[nb] = run(
                [VENV_BIN / "papermill", f"{nb}.ipynb", out],
                project / "notebooks",
                env,
                f"peer: papermill {nb}",
            ).wall
        for name in tree.info["sources"]:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / name, folder / name)
        render = run([sys.executable, "-c", PEER_RENDER, folder], project, env, "peer: render").wall
        return Peer(times, render)
    finally:
        tree.drop(project)


# ------------------------------------------------------------------ report


@dataclass
class Row:
    measure: str
    runs: int
    value: str
    target: str = ""
    verdict: str = ""
    command: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # markdown blocks after the table
    bounds: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # for the bounds


def verdict(value: float, limit: float, unit: str = "s") -> str:
    if value <= limit:
        return "met"
    over = value - limit
    shown = fmt_s(over) if unit == "s" else (f"{over:.2f} x" if unit == "x" else fmt_b(over))
    return f"MISSED by {shown} (+{100 * over / limit:.0f}%)"


def md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or ":--" + "|--:" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + align + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main_table(report: Report) -> str:
    return md_table(
        ["Measure", "Runs", "Median (range)", "Target", "Result", "Command"],
        [
            [r.measure, r.runs, r.value, r.target, r.verdict, f"`{r.command}`" if r.command else ""]
            for r in report.rows
        ],
        ":--|--:|:--|:--|:--|:--",
    )


# ------------------------------------------------------------------ the measurements


def bench_alone(tree: Tree, runs: int, report: Report, hook: Path) -> dict:
    """1. Each notebook alone (instrumented, once), then the slowest `runs` times plain."""
    notebooks = tree.info["notebooks"]
    alone = {}
    for nb in notebooks:
        log(f"1. {nb} alone with papermill (breakdown run)")
        alone[nb] = notebook_alone(tree, nb, hook)
    slowest = max(alone, key=lambda nb: alone[nb].wall)
    plain = []
    for i in range(runs):
        log(f"1. {slowest} alone with papermill, plain run {i + 1}/{runs}")
        plain.append(notebook_alone(tree, slowest).wall)
    base = median(plain)
    report.rows.append(
        Row(
            f"Slowest notebook alone ({slowest}): the baseline",
            runs,
            spread(plain),
            command=f"cd notebooks && papermill {slowest}.ipynb out.ipynb",
        )
    )
    rows = []
    for nb, a in alone.items():
        cells_no_imp = None if a.cells is None else a.cells - (a.cell_imports or 0)
        top = "; ".join(f"{lab} {s:.2f} s" for lab, s in a.slowest[:2])
        kernel = fmt_s(a.kernel_start) + (
            f" ({fmt_s(a.kernel_imports)} imports)" if a.kernel_imports is not None else ""
        )
        papermill = fmt_s(a.cli_overhead) + (
            f" ({fmt_s(a.cli_imports)} imports)" if a.cli_imports is not None else ""
        )
        rows.append(
            [
                nb,
                fmt_s(a.wall),
                papermill,
                kernel,
                fmt_s(a.cell_imports),
                fmt_s(cells_no_imp),
                fmt_s(a.rest),
                top,
            ]
        )
    report.sections.append(
        "Each notebook alone with the `papermill` command (one instrumented run each, from a "
        "fresh copy, so 06 and 07 compute what the build's simulation and grid jobs make): "
        "papermill = the command's process start, imports, reading and writing (wall minus "
        "papermill's own duration); kernel start = notebook start to first cell start "
        "(kernel process, ipykernel and its imports); imports = import statements the cells ran "
        "(timed in the kernel); cells = the cells' time without those imports; between = "
        "papermill's work between cells (it saves the notebook after each) and the kernel's "
        "shutdown. The columns after Alone add up to it.\n\n"
        + md_table(
            [
                "Notebook",
                "Alone",
                "papermill",
                "Kernel start",
                "Imports",
                "Cells",
                "Between",
                "Slowest cells",
            ],
            rows,
            ":--|--:|--:|--:|--:|--:|--:|:--",
        )
    )
    report.figures.update(alone=alone, slowest=slowest, baseline=base)
    return alone


def bench_peer(tree: Tree, runs: int, report: Report) -> Peer:
    peers = []
    for i in range(runs):
        log(
            f"2. naive peer (papermill one notebook after another, then render), run {i + 1}/{runs}"
        )
        peers.append(peer_run(tree))
    walls = [p.wall for p in peers]
    nb_sum = median([sum(p.notebooks.values()) for p in peers])
    render = median([p.render for p in peers])
    n = len(tree.info["notebooks"])
    report.rows.append(
        Row(
            f"Naive peer: {n} notebooks one after another ({fmt_s(nb_sum)}), then one render "
            f"({fmt_s(render)})",
            runs,
            spread(walls),
            command="cd notebooks; for nb in "
            + " ".join(f"{nb}.ipynb" for nb in tree.info["notebooks"])
            + "; do papermill $nb ../build/scratch/notebooks/$nb; done; then "
            "one python: lenstop.workflow.steps merge, write_variables, render of build/scratch",
        )
    )
    report.figures.update(peer=median(walls), peer_render=render)
    return peers[-1]


def bench_builds(
    tree: Tree, runs: int, noop_runs: int, edit: str | None, report: Report, profile: bool = True
) -> None:
    """3-5: cold build (fresh copies), no-op, rebuild after editing one notebook."""
    base, peer = report.figures.get("baseline"), report.figures.get("peer")
    cold: list[Build] = []
    project = None
    for i in range(runs):
        if project:
            tree.drop(project)
        project = tree.fresh("cold")
        log(f"3. cold build, run {i + 1}/{runs}")
        cold.append(build(project, tree.env(project), COHORT, "cold build"))
    env = tree.env(project)
    walls = [b.wall for b in cold]
    cold_s = median(walls)
    ratio = f" = {cold_s / base:.2f} x the slowest notebook" if base else ""
    vs_peer = f"; {cold_s / peer:.2f} x the peer" if peer else ""
    report.rows.append(
        Row(
            "Cold build of the shipped cohort (118 patients), fresh copy",
            runs,
            f"{spread(walls)}{ratio}{vs_peer}; peak memory "
            f"{fmt_b(max(b.proc.peak_proc for b in cold))} in the largest process, "
            f"{fmt_b(max(b.proc.peak_tree for b in cold))} for the whole tree (PSS, sampled)",
            f"<= {TARGET_COLD_RATIO} x slowest notebook"
            + (f" = {fmt_s(TARGET_COLD_RATIO * base)}" if base else ""),
            verdict(cold_s, TARGET_COLD_RATIO * base) if base else "",
            "make report  (= " + BUILD.format(data=COHORT) + ")",
        )
    )
    report.figures["cold"] = cold
    report.sections.append(
        where_build_time(cold, "cold build of the shipped cohort", report.figures.get("alone"))
    )

    log(f"4. no-op build x {noop_runs}")
    noops = [run(build_cmd(COHORT), project, env, "no-op build") for _ in range(noop_runs)]
    noop_s = median([p.wall for p in noops])
    ran = [s for s in noops[-1].steps()]
    report.rows.append(
        Row(
            "No-op build (nothing changed)",
            noop_runs,
            spread([p.wall for p in noops])
            + (f"; {noop_s / peer:.3f} x the peer" if peer else "")
            + (f"; steps run: {', '.join(ran)}" if ran else ""),
            f"< {TARGET_NOOP_S:g} s",
            verdict(noop_s, TARGET_NOOP_S),
            "make report (again)",
        )
    )
    report.figures["noop"] = noop_s
    if profile:
        noop_profile(project, env, noop_s, report)

    steps = cold[-1].proc.steps()
    nb_steps = {k.split(" ", 1)[1]: v for k, v in steps.items() if k.startswith("notebook ")}
    why = "chosen with --edit" if edit else "the longest notebook step of the cold build"
    edit = edit or (max(nb_steps, key=nb_steps.get) if nb_steps else tree.info["notebooks"][0])
    edits: list[Build] = []
    for i in range(runs):
        edit_notebook(project / "notebooks" / f"{edit}.ipynb", i)
        log(f"5. rebuild after editing {edit}, run {i + 1}/{runs}")
        edits.append(build(project, env, COHORT, "rebuild after a notebook edit", sample=False))
    walls = [b.wall for b in edits]
    edit_s = median(walls)
    notebooks_run = sorted(
        {j.name.split(" ", 1)[1] for b in edits for j in b.jobs if j.rule == "notebook"}
    )
    others = list(dict.fromkeys(j.rule for j in edits[-1].jobs if j.rule != "notebook"))
    only = notebooks_run == [edit]
    report.rows.append(
        Row(
            f"Rebuild after editing one notebook ({edit}, {why})",
            runs,
            f"{spread(walls)}"
            + (f"; {edit_s / peer:.2f} x the peer" if peer else "")
            + f"; re-ran notebook(s) {', '.join(notebooks_run) or 'none'}, then "
            f"{', '.join(others) or 'nothing'}",
            "that notebook and what follows only",
            "met" if only else "MISSED: re-ran " + ", ".join(n for n in notebooks_run if n != edit),
            f"edit a markdown cell of notebooks/{edit}.ipynb; make report",
        )
    )
    report.figures.update(edit=edit_s, edit_nb=edit, edit_builds=edits)
    tree.drop(project)


def where_build_time(builds: list[Build], what: str, alone: dict | None = None) -> str:
    """Per step: the build's own step time (log) and Snakemake's job wall time (records),
    with when it ran (seconds after `lenstop build` started); medians over the runs."""
    per: dict[str, dict] = {}
    for b in builds:
        steps = b.proc.steps()
        for key, jobs in job_groups(b).items():
            d = per.setdefault(key, {"jobs": [], "walls": [], "start": [], "end": [], "step": []})
            d["jobs"].append(len(jobs))
            d["walls"].append(sum(j.end - j.start for j in jobs))
            d["start"].append(min(j.start for j in jobs))
            d["end"].append(max(j.end for j in jobs))
            logged = [v for k, v in steps.items() if _step_matches(k, key)]
            d["step"].append(sum(logged) if logged else None)
    rows = []
    alone = alone or {}
    for key, d in sorted(per.items(), key=lambda kv: median(kv[1]["start"])):
        nb = alone.get(key.split(" ", 1)[1]) if key.startswith("notebook ") else None
        rows.append(
            [
                key,
                int(median(d["jobs"])),
                fmt_s(median(d["walls"])),
                fmt_s(median(d["step"])),
                fmt_s(nb.wall) if nb else "",
                f"{median(d['start']):.1f} -> {median(d['end']):.1f}",
            ]
        )
    first = median([min((j.start for j in b.jobs), default=None) for b in builds])
    total = median([b.wall for b in builds])
    head = (
        f"Where the time of the {what} goes (median of {len(builds)} run(s), "
        f"{fmt_s(total)} in all; before the first job: {fmt_s(first)} = `lenstop build` "
        "starting, validating the extract, Snakemake starting and planning). Job wall = "
        "Snakemake's start-to-end of the job(s), a process each (summed over a group's "
        "jobs); step = the time the build's log prints for it (`[step] done in`); alone = "
        "the notebook run alone with `papermill` (its kernel start, imports and cells: "
        "the table of notebooks alone)."
    )
    return (
        head
        + "\n\n"
        + md_table(
            ["Step", "Jobs", "Job wall", "Step (log)", "Alone", "When (s after start)"],
            rows,
            ":--|--:|--:|--:|--:|:--",
        )
    )


def _step_matches(logged: str, key: str) -> bool:
    """Whether a log step name (`notebook 02_x`, `render manuscript`) belongs to a job group."""
    if key == "sensitivity points":
        return logged.startswith("sensitivity ")
    if key == "simulation batches":
        return logged.startswith("simulate seeds")
    if key.startswith("notebook "):
        return logged == key
    return {
        "merge": "merge results",
        "variables": "manuscript variables",
        "render": "render manuscript",
        "simulate_summary": "simulation summary",
    }.get(key) == logged


def bench_large(tree: Tree, runs: int, n: int, report: Report) -> None:
    """6. A generated cohort of `n` patients through the product (cold, fresh copies)."""
    rel = f"build/bench/cohort-{n}.csv"
    log(f"6. generating {n:,} patients")
    gen = run(
        [VENV_BIN / "lenstop", "synthesize", "--n", n, "--out", rel],
        tree.pristine,
        tree.env(tree.pristine),
        f"synthesize {n}",
    )
    builds: list[Build] = []
    project = None
    for i in range(runs):
        if project:
            tree.drop(project)
        project = tree.fresh(f"large-{n}")
        log(f"6. cold build of {n:,} patients, run {i + 1}/{runs}")
        builds.append(build(project, tree.env(project), rel, f"build of {n} patients"))
    walls = [b.wall for b in builds]
    large_s = median(walls)
    cold = report.figures.get("cold")
    cold_s = median([b.wall for b in cold]) if cold else None
    peak_tree = max(b.proc.peak_tree for b in builds)
    peak_proc = max(b.proc.peak_proc for b in builds)
    ratio = large_s / cold_s if cold_s else None
    # the target is held against the largest process (ru_maxrss, comparable with earlier
    # figures); the whole tree's sampled sum is shown beside it, and flagged when above
    results = [
        verdict(ratio, TARGET_LARGE_RATIO, "x")
        if ratio
        else "ratio n/a (no 118-patient cold build in this run)",
        verdict(peak_proc, TARGET_LARGE_BYTES, "B"),
    ]
    if peak_tree >= TARGET_LARGE_BYTES:
        results.append(f"whole tree {fmt_b(peak_tree)} >= {fmt_b(TARGET_LARGE_BYTES)}")
    misses = [v for v in results if v != "met"]
    report.rows.append(
        Row(
            f"Cold build of {n:,} generated patients (generating them took {fmt_s(gen.wall)}, "
            "not counted)",
            runs,
            f"{spread(walls)}"
            + (f" = {ratio:.2f} x the 118-patient cold build" if ratio else "")
            + f"; peak memory {fmt_b(peak_proc)} in the largest process (ru_maxrss), "
            f"{fmt_b(peak_tree)} for the whole process tree (PSS, sampled)",
            f"<= {TARGET_LARGE_RATIO} x cold build; peak < {fmt_b(TARGET_LARGE_BYTES)} "
            "(largest process)",
            "; ".join(misses) or "met",
            f"lenstop synthesize --n {n} --out {rel}; make report DATA={rel}",
        )
    )
    report.figures.update(
        large=builds,
        large_n=n,
        large_ratio=ratio,
        peak_tree=peak_tree,
        peak_proc=peak_proc,
        large_before=median([cold_shape(b)[0] for b in builds]),
        cold_before=median([cold_shape(b)[0] for b in cold]) if cold else None,
    )
    report.sections.append(where_build_time(builds, f"{n:,}-patient build"))
    if cold:
        report.sections.append(step_growth(cold, builds, n))
    # keep the figures of the last large build for a look (git-ignored)
    figs = project / "build" / f"cohort-{n}" / "figures"
    keep = BENCH_DIR / f"figures-{n}"
    if figs.is_dir():
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(figs, keep)
        report.sections.append(
            f"The figures of the {n:,}-patient build are kept in "
            f"`{keep.relative_to(ROOT)}/` (git-ignored) to check they stay "
            "readable."
        )
    tree.drop(project)


def step_growth(small: list[Build], large: list[Build], n: int) -> str:
    """Job wall per step group: the 118-patient cold build against the large one."""

    def walls(builds):
        out: dict[str, list[float]] = {}
        for b in builds:
            for key, jobs in job_groups(b).items():
                out.setdefault(key, []).append(sum(j.end - j.start for j in jobs))
        return {k: median(v) for k, v in out.items()}

    a, b = walls(small), walls(large)
    first_a = median([min((j.start for j in x.jobs), default=0) for x in small])
    first_b = median([min((j.start for j in x.jobs), default=0) for x in large])
    rows = [["before the first job", fmt_s(first_a), fmt_s(first_b), fmt_s(first_b - first_a)]]
    for key in sorted(set(a) | set(b), key=lambda k: -((b.get(k) or 0) - (a.get(k) or 0))):
        rows.append(
            [
                key,
                fmt_s(a.get(key)),
                fmt_s(b.get(key)),
                fmt_s((b.get(key) or 0) - (a.get(key) or 0)),
            ]
        )
    total_a, total_b = median([x.wall for x in small]), median([x.wall for x in large])
    rows.append(["whole build (wall)", fmt_s(total_a), fmt_s(total_b), fmt_s(total_b - total_a)])
    return (
        f"What grows from 118 to {n:,} patients (job wall, summed over a group's jobs; "
        "largest growth first):\n\n"
        + md_table(["Step", "118 patients", f"{n:,} patients", "Difference"], rows)
    )


def noop_profile(project: Path, env: dict, noop: float, report: Report) -> None:
    """Where a no-op build's time goes: interpreter start, imports, the build's own checks
    (in `project`, just built)."""
    log("4. no-op build: where its time goes")
    bare = median(
        [run([sys.executable, "-c", "pass"], project, env, "python").wall for _ in range(3)]
    )
    imp = run(
        [sys.executable, "-X", "importtime", VENV_BIN / "lenstop", "build", "--data", COHORT],
        project,
        env,
        "no-op build under -X importtime",
    )
    entries = importtime(imp.out)
    imports = sum(e["cum"] for e in entries if e["level"] == 1)
    heavy = sorted(
        (e for e in entries if e["level"] <= 2 and e["name"] != "site"), key=lambda e: -e["cum"]
    )[:6]
    lines = [
        f"- {fmt_s(e['cum'])} `import {e['name']}`"
        + (f" (by {e['parent']})" if e["parent"] else "")
        for e in heavy
    ]
    rest = imp.wall - bare - imports
    report.sections.append(
        f"Where a no-op build's time goes ({fmt_s(noop)}, the median above): "
        f"the interpreter starts in {fmt_s(bare)} (`python -c pass`). One more no-op run "
        f"under `python -X importtime lenstop build ...` took {fmt_s(imp.wall)}: imports "
        f"{fmt_s(imports)}, the rest ({fmt_s(rest)}) the build's own checks (fingerprints "
        "of the extract, code, notebooks and sources; the published files' hashes). The "
        "heaviest imports:\n\n" + "\n".join(lines)
    )
    report.figures.update(noop_python=bare, noop_imports=imports, noop_rest=rest, noop_heavy=heavy)


IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S.*)$", re.M)


def importtime(text: str) -> list[dict]:
    """`python -X importtime` entries: name, level (1 = imported by the program), cumulative
    seconds, and the module that imported it."""
    entries = [
        {
            "name": m[4].strip(),
            "level": (len(m[3]) - 1) // 2 + 1,
            "cum": int(m[2]) / 1e6,
            "parent": None,
        }
        for m in IMPORT_LINE.finditer(text)
    ]
    # children are listed before their parent: the parent is the next entry one level up
    for i, e in enumerate(entries):
        e["parent"] = next(
            (p["name"] for p in entries[i + 1 :] if p["level"] == e["level"] - 1), None
        )
    return entries


def bench_make_test(report: Report) -> None:
    """7. `make test` once, in the project itself (the tests write only to temporary folders)."""
    log("7. make test")
    env = dict(os.environ)
    env["PYTEST_ADDOPTS"] = (f"{env.get('PYTEST_ADDOPTS', '')} --durations=0 "
                             "--durations-min=1").strip()
    proc = run(["make", "--no-print-directory", "test"], ROOT, env, "make test", check=False)
    phases = re.findall(r"^\s*(\d+\.\d+)s (call|setup|teardown)\s+(\S+)", proc.out, re.M)
    slow = phases[:8]
    result = verdict(proc.wall, TARGET_TEST_S)
    if proc.code != 0:
        result = f"make test FAILED (exit {proc.code}); {result}"
        log("\n".join(proc.out.strip().splitlines()[-15:]))
    report.rows.append(
        Row(
            "`make test` (ruff + pytest incl. nbval), after set-up",
            1,
            fmt_s(proc.wall),
            f"< {TARGET_TEST_S / 60:g} min",
            result,
            "make test",
        )
    )
    if slow:
        report.sections.append(
            "Slowest tests in `make test` (pytest --durations):\n\n"
            + "\n".join(f"- {secs} s {phase} `{name}`" for secs, phase, name in slow)
        )
    report.figures.update(test=proc.wall, test_slow=slow,
                          test_phases=[(float(t), p, n) for t, p, n in phases])


# ------------------------------------------------------------------ what bounds the figures


def bounds(report: Report) -> list[str]:
    """One statement per target: what bounds it, with the measurements that show it."""
    f = report.figures
    out = []
    alone, cold, base = f.get("alone"), f.get("cold"), f.get("baseline")
    if alone and cold and base:
        fixed = [
            ((a.cli_overhead or 0) + (a.kernel_start or 0) + (a.cell_imports or 0))
            for a in alone.values()
        ]
        per_nb, n = median(fixed), len(alone)
        shape = [cold_shape(x) for x in cold]
        before, par_work, longest, tail, jobs = (median([s[k] for s in shape]) for k in range(5))
        cold_s = median([x.wall for x in cold])
        floor = max(before + par_work / CORES, before + longest) + tail
        limit = TARGET_COLD_RATIO * base
        groups = _group_walls(cold)
        nb_jobs = sum(v for k, v in groups.items() if k.startswith("notebook "))
        biggest = ", ".join(
            f"{k} {fmt_s(v)}" for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:3]
        )
        state = "met" if cold_s <= limit else "missed"
        out.append(
            f"**Cold build** ({state}: {fmt_s(cold_s)} against {TARGET_COLD_RATIO} x "
            f"{fmt_s(base)} = {fmt_s(limit)}). Before the first job {fmt_s(before)} (`lenstop "
            f"build`: imports, validation of the extract, Snakemake's start and plan). Then "
            f"{jobs:.0f} jobs (notebooks, grid points, simulation batches, staging) take "
            f"{fmt_s(par_work)} of job time: {fmt_s(par_work / CORES)} on {CORES} cores at "
            f"best (largest: {biggest}); the longest job takes {fmt_s(longest)}. After the "
            "last notebook "
            f"{fmt_s(tail)} (merge, variables, render, publish, one after another). Floor with "
            f"these jobs: max({fmt_s(before)} + {fmt_s(par_work / CORES)}, {fmt_s(before)} + "
            f"{fmt_s(longest)}) + {fmt_s(tail)} = {fmt_s(floor)}"
            + (f", already above the target {fmt_s(limit)}" if floor > limit else "")
            + f". Run alone, each notebook pays {fmt_s(per_nb)} around its own work (papermill "
            f"process + kernel start + imports, median of the runs alone: {n} x {fmt_s(per_nb)}"
            f" = {fmt_s(n * per_nb)}); in the build the {n} notebook jobs take "
            f"{fmt_s(nb_jobs)} in all, as the notebooks share warm kernels (one per worker, "
            "`lenstop.workflow.kernels`): the kernel start and imports are paid once per "
            "worker, the papermill process per notebook."
        )
    if f.get("large") and f.get("large_ratio") is not None:
        ratio, n = f["large_ratio"], f["large_n"]
        cold_s = median([x.wall for x in cold])
        grew = []
        small_w = _group_walls(cold)
        large_w = _group_walls(f["large"])
        for key in sorted(large_w, key=lambda k: -(large_w[k] - small_w.get(k, 0)))[:3]:
            grew.append(f"{key} +{fmt_s(large_w[key] - small_w.get(key, 0))}")
        state = "met" if ratio <= TARGET_LARGE_RATIO else "missed"
        out.append(
            f"**{n:,} patients** ({state}: {ratio:.2f} x against {TARGET_LARGE_RATIO} x, i.e. "
            f"{fmt_s(TARGET_LARGE_RATIO * cold_s - cold_s)} of growth allowed over "
            f"{fmt_s(cold_s)}). Largest growth in job time: {'; '.join(grew)}"
            + (
                f"; before the first job +{fmt_s(f['large_before'] - f['cold_before'])}"
                if None not in (f.get("large_before"), f.get("cold_before"))
                else ""
            )
            + f". Peak memory {fmt_b(f['peak_proc'])} in the largest process, "
            f"{fmt_b(f['peak_tree'])} for the whole tree (sampled): up to {min(4, CORES)} "
            "jobs at a time, a notebook job being a step process and its kernel, beside "
            "Snakemake and `lenstop build`."
        )
    if f.get("noop") is not None:
        state = "met" if f["noop"] < TARGET_NOOP_S else "missed"
        parts = ""
        if f.get("noop_python") is not None:
            heavy = "; ".join(f"{e['name']} {fmt_s(e['cum'])}" for e in f["noop_heavy"][:3])
            parts = (
                f": the interpreter starts in {fmt_s(f['noop_python'])}, imports take "
                f"{fmt_s(f['noop_imports'])} (heaviest: {heavy}) and the build's checks "
                f"{fmt_s(f['noop_rest'])}"
            )
        out.append(
            f"**No-op build** ({state}: {fmt_s(f['noop'])} against < {TARGET_NOOP_S:g} s){parts}."
        )
    if f.get("edit") is not None:
        nb = f["edit_nb"]
        a = alone.get(nb) if alone else None
        own = (
            (
                f"; that notebook alone takes {fmt_s(a.wall)} (its kernel start + imports "
                f"{fmt_s((a.kernel_start or 0) + (a.cell_imports or 0))})"
            )
            if a
            else ""
        )
        tail = median(
            [
                x.wall - max((j.end for j in x.jobs if j.rule == "notebook"), default=x.wall)
                for x in f["edit_builds"]
            ]
        )
        out.append(
            f"**Rebuild after editing {nb}**: {fmt_s(f['edit'])}{own}; after it the "
            f"build's remaining steps take {fmt_s(tail)}."
        )
    if f.get("test") is not None:
        state = "met" if f["test"] < TARGET_TEST_S else "missed"
        slow = f.get("test_slow") or []
        top = "; ".join(f"{s} s {p} {name.split('::')[-1]}" for s, p, name in slow[:3])
        phases = f.get("test_phases") or []
        builds = [t for t, _p, _n in phases if t >= 30]
        floor = (
            f" The {len(builds)} test phases of 30 s or more (full builds of a cohort, most in "
            f"a fixture's setup, each a workflow with its notebooks) take {fmt_s(sum(builds))} "
            f"of worker time: at least {fmt_s(sum(builds) / CORES)} on {CORES} workers"
            + (", already above the target" if sum(builds) / CORES > TARGET_TEST_S else "")
            + f"; all {len(phases)} phases of 1 s or more take {fmt_s(sum(t for t, *_ in phases))}."
            if phases
            else ""
        )
        out.append(
            f"**`make test`** ({state}: {fmt_s(f['test'])} against < "
            f"{TARGET_TEST_S / 60:g} min)" + (f"; slowest: {top}" if top else "") + "." + floor
        )
    return out


def cold_shape(b: Build) -> tuple[float, float, float, float, int]:
    """(time before the first job, job time of the jobs that run beside the notebooks, the
    longest of those, time after the last notebook, number of those jobs)."""
    if not b.jobs:
        return (b.wall, 0.0, 0.0, 0.0, 0)
    before = min(j.start for j in b.jobs)
    last_nb = max((j.end for j in b.jobs if j.rule == "notebook"), default=before)
    parallel = [j for j in b.jobs if j.start < last_nb]
    return (
        before,
        sum(j.end - j.start for j in parallel),
        max(j.end - j.start for j in parallel),
        b.wall - last_nb,
        len(parallel),
    )


def _group_walls(builds: list[Build]) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for b in builds:
        for key, jobs in job_groups(b).items():
            out.setdefault(key, []).append(sum(j.end - j.start for j in jobs))
    return {k: median(v) for k, v in out.items()}


# ------------------------------------------------------------------ machine, output


def commit() -> str:
    """HEAD's commit (short), '+ uncommitted changes' when the working tree differs."""
    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return _commit_from_files()
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" + uncommitted changes" if dirty else "")


def _commit_from_files() -> str:
    """HEAD read from .git without the git command (a checkout where git is missing)."""
    gitdir = ROOT / ".git"
    try:
        head = (gitdir / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            loose = gitdir / ref
            if loose.exists():
                return loose.read_text().strip()[:7] + " (uncommitted changes not checked)"
            for line in (gitdir / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line[:7] + " (uncommitted changes not checked)"
        return head[:7] + " (uncommitted changes not checked)"
    except OSError:
        return "unknown (no git checkout)"


def loadavg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def machine(load_start: str) -> list[str]:
    mem, cpu = "unknown", platform.processor() or platform.machine()
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kib / 2**20:.1f} GiB"
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    load = loadavg()
    return [
        f"- machine: {CORES} cores ({cpu.strip()}), {mem} RAM, {platform.system()} "
        f"{platform.machine()}; Python {platform.python_version()}",
        f"- load average (1, 5, 15 min) when the benchmark started: {load_start}; at the "
        f"end: {load}",
        "- renderer: the fallback (pandoc + Typst; LENSTOP_RENDERER=pandoc)",
    ]


def markdown(
    report: Report, command: str, commit_id: str, load_start: str, took: float, quick: bool = False
) -> str:
    parts = [
        "# Benchmark results",
        "",
        *(
            [
                "**Quick run** (`--quick`: one run of each figure, a small generated cohort, "
                "no `make test`): a smoke test of the benchmark, not its figures.",
                "",
            ]
            if quick
            else []
        ),
        f"Written by `{command}` in {took / 60:.1f} min. Every figure measures commit "
        f"**{commit_id}** and comes with the command that made it (run in a fresh copy of "
        "the working tree; `make report` = `lenstop build --data ...`). Median of the runs "
        "shown, range in brackets.",
        "",
        *machine(load_start),
        "",
        main_table(report),
        "",
    ]
    for block in report.sections:
        parts += [block, ""]
    if report.bounds:
        parts += ["What bounds each figure:", "", *(f"- {b}" for b in report.bounds), ""]
    return "\n".join(parts).rstrip() + "\n"


def update_readme(text: str) -> None:
    """Put the results between the markers of benchmarks/README.md."""
    if not README.exists():
        return
    readme = README.read_text(encoding="utf-8")
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        tail = rest.split(end, 1)[1]
        body = text.split("\n", 2)[2]  # without the '# Benchmark results' title
        README.write_text(f"{head}{start}\n{body}{end}{tail}", encoding="utf-8")


PARTS = ("alone", "peer", "builds", "noop-profile", "large", "test")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: 1 run each, {QUICK_LARGE_N:,} generated patients, no make "
        f"test; writes {QUICK_RESULTS.relative_to(ROOT)} (README left alone)",
    )
    p.add_argument("--runs", type=int, help="runs per figure (median); default 3, --quick 1")
    p.add_argument("--noop-runs", type=int, help="runs of the no-op build; default 5, --quick 2")
    p.add_argument(
        "--n",
        type=int,
        help=f"patients of the large build; default {LARGE_N:,}, --quick {QUICK_LARGE_N:,}",
    )
    p.add_argument(
        "--edit",
        metavar="NOTEBOOK",
        help="the notebook edited for the rebuild (default: the one whose step took "
        "longest in the cold build)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=None,
        help="run only these measurements (noop-profile goes with builds; ratios "
        "need their references: alone and peer for the builds, builds for large)",
    )
    p.add_argument(
        "--make-test",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run `make test` once (default: yes, no with --quick)",
    )
    p.add_argument(
        "--copy",
        choices=("git", "walk"),
        default="git",
        help="how the working tree is listed: git ls-files (default) or a walk "
        "applying .gitignore (no git command)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="results file (default benchmarks/results.md, "
        "whose figures are also copied into benchmarks/README.md)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary copies")
    args = p.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    noop_runs = args.noop_runs or (2 if args.quick else 5)
    n = args.n or (QUICK_LARGE_N if args.quick else LARGE_N)
    parts = set(args.only or PARTS)
    make_test = (not args.quick) if args.make_test is None else args.make_test
    if not make_test:
        parts.discard("test")
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    commit_id = commit() if args.copy == "git" else _commit_from_files()
    start = time.perf_counter()
    load_start = loadavg()
    report = Report()
    base = Path(tempfile.mkdtemp(prefix="lenstop-bench-"))
    try:
        tree = make_tree(base, args.copy)
        hook = base / "hook" / "sitecustomize.py"
        hook.parent.mkdir()
        hook.write_text(IMPORT_HOOK, encoding="utf-8")
        if "alone" in parts:
            bench_alone(tree, runs, report, hook)
        if "peer" in parts:
            bench_peer(tree, runs, report)
        if "builds" in parts:
            bench_builds(tree, runs, noop_runs, args.edit, report, profile="noop-profile" in parts)
        if "large" in parts:
            bench_large(tree, runs, n, report)
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    if "test" in parts:
        bench_make_test(report)
    report.bounds = bounds(report)
    left_out = [x for x in PARTS if x not in parts]
    if left_out:
        report.sections.append(f"Left out in this run: {', '.join(left_out)}.")
    command = "make bench" if not argv else "python benchmarks/run.py " + " ".join(argv)
    text = markdown(report, command, commit_id, load_start, time.perf_counter() - start, args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if out.resolve() == RESULTS.resolve():
        update_readme(text)
    print(text)
    log(f"benchmark finished in {time.perf_counter() - start:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
