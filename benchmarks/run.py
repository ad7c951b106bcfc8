"""Benchmark the pipeline (`make bench`): print a table of medians and write benchmarks/results.md.

Measured (issue 6):
1. the slowest analysis notebook executed alone with papermill (the baseline);
2. a cold build (`lenstop build`, what `make report DATA=...` runs) from a clean output folder;
3. a no-op rebuild; 4. a rebuild after changing one notebook;
5. the whole analysis (`python -m lenstop.scale`) on generated cohorts of 1,000, 10,000 and
   100,000 patients: time and peak memory; 6. `make test`.

Builds run in a temporary copy of the working tree (its own build/ and .snakemake/, imported
first through PYTHONPATH), on a byte copy of the shipped cohort under another name, so the
committed notebooks, figures and results are never touched. The large cohorts are written
to build/bench/ (git-ignored). Nothing here prints patient-level data.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lenstop.notebooks import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results.md"
README = ROOT / "benchmarks" / "README.md"
SIZES = (1_000, 10_000, 100_000)
CHANGED_NOTEBOOK = "02_ti_duration"
BENCH_DATA = "benchcohort"
GIB = 1024**3

TARGET_COLD_RATIO = 1.6
TARGET_NOOP_S = 1.0
TARGET_SCALE_S = 30.0
TARGET_SCALE_BYTES = 2 * GIB
TARGET_TEST_S = 180.0


@dataclass
class Row:
    """One line of the results table."""

    measure: str
    runs: int
    value: str
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    scale_steps: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def env_for(project: Path) -> dict[str, str]:
    """Environment of the build commands: the project copy's code first, as `make` sets up."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project / "src"),
                                                      env.get("PYTHONPATH")]))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("SOURCE_DATE_EPOCH", "1722816000")
    env.pop("LENSTOP_OUTPUT_DIR", None)
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str], label: str) -> float:
    """Wall-clock seconds of a command; stops the benchmark if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    secs = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SystemExit(f"benchmark step failed: {label} (exit {proc.returncode})\n{tail}")
    return secs


def copy_project(dest: Path) -> None:
    """Copy the working tree (tracked and untracked, not ignored files) into `dest`."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    for name in sorted(set(listing.stdout.decode().split("\0")) - {""}):
        src = ROOT / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def fmt_s(secs: float) -> str:
    return f"{secs:.2f} s" if secs < 10 else f"{secs:.1f} s"


def verdict_max(value: float, limit: float, unit: str = "s") -> str:
    """'met' or how much the target is missed by (absolute and relative)."""
    if value <= limit:
        return "met"
    over = value - limit
    shown = f"{over:.2f} s" if unit == "s" else f"{over / GIB:.2f} GiB"
    return f"MISSED by {shown} (+{100 * over / limit:.0f}%)"


def median_of(runs: int, fn) -> tuple[float, list[float]]:
    values = [fn(i) for i in range(runs)]
    return statistics.median(values), values


NOTEBOOK_RUNNER = """
import sys, time
from pathlib import Path
from lenstop import config
from lenstop.notebooks import execute
nb, data, out = sys.argv[1:4]
start = time.perf_counter()
execute(config.NOTEBOOKS_DIR / f"{nb}.ipynb", Path(out) / f"{nb}.ipynb",
        {"data_path": data, "output_dir": out}, cwd=config.NOTEBOOKS_DIR)
print(time.perf_counter() - start)
"""


def notebook_alone(project: Path, env: dict, data: Path, nb: str) -> float:
    """Seconds of `execute` (papermill import, kernel start, all cells) for one notebook."""
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as out:
        proc = subprocess.run([sys.executable, "-c", NOTEBOOK_RUNNER, nb, str(data), out],
                              cwd=project, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"notebook {nb} failed:\n{proc.stderr[-2000:]}")
        return float(proc.stdout.strip().splitlines()[-1])


def bench_builds(report: Report, runs: int, noop_runs: int) -> None:
    """Items 1-4 in a temporary copy of the project."""
    with tempfile.TemporaryDirectory(prefix="lenstop-bench-") as tmp:
        project = Path(tmp)
        log(f"copying the project to {project}")
        copy_project(project)
        env = env_for(project)
        data = project / "data" / "private" / f"{BENCH_DATA}.csv"
        data.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project / "data" / "synthetic" / "cohort.csv", data)

        log("1. each notebook alone (papermill), to find the slowest")
        first = {nb: notebook_alone(project, env, data, nb) for nb in NOTEBOOKS}
        slowest = max(first, key=first.get)
        more = [notebook_alone(project, env, data, slowest) for _ in range(runs - 1)]
        baseline = statistics.median([first[slowest], *more])
        others = ", ".join(f"{nb[:2]} {first[nb]:.1f} s" for nb in NOTEBOOKS)
        report.rows.append(Row(f"1. slowest notebook alone, papermill ({slowest}; first runs: "
                               f"{others})", runs, fmt_s(baseline)))

        build = [str(VENV_BIN / "lenstop"), "build", "--data", str(data)]

        def cold(i: int) -> float:
            shutil.rmtree(project / "build", ignore_errors=True)
            shutil.rmtree(project / ".snakemake", ignore_errors=True)
            log(f"2. cold build, run {i + 1}/{runs}")
            return timed(build, project, env, "cold build")

        cold_s, _ = median_of(runs, cold)
        limit = TARGET_COLD_RATIO * baseline
        report.rows.append(Row("2. cold build (lenstop build = make report DATA=...): "
                               "validate, 4 notebooks, merge, render HTML + PDF", runs,
                               f"{fmt_s(cold_s)} = {cold_s / baseline:.2f} x baseline",
                               f"<= {TARGET_COLD_RATIO} x baseline = {fmt_s(limit)}",
                               verdict_max(cold_s, limit)))

        log(f"3. no-op rebuild x {noop_runs}")
        noop_s, _ = median_of(noop_runs, lambda i: timed(build, project, env, "no-op build"))
        report.rows.append(Row("3. no-op rebuild (nothing changed)", noop_runs, fmt_s(noop_s),
                               f"< {TARGET_NOOP_S:g} s", verdict_max(noop_s, TARGET_NOOP_S)))

        nb_path = project / "notebooks" / f"{CHANGED_NOTEBOOK}.ipynb"

        def changed(i: int) -> float:
            text = nb_path.read_text(encoding="utf-8")
            # a trivial edit of a markdown cell's text, different on every run
            nb = json.loads(text)
            cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
            src = "".join(cell["source"]).rstrip(" ")
            cell["source"] = src + " " * (i + 1)
            nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                               encoding="utf-8")
            log(f"4. rebuild after editing {CHANGED_NOTEBOOK}, run {i + 1}/{runs}")
            return timed(build, project, env, "rebuild after a notebook edit")

        changed_s, _ = median_of(runs, changed)
        report.rows.append(Row(f"4. rebuild after editing one notebook ({CHANGED_NOTEBOOK}: "
                               "that notebook, merge, variables, render)", runs,
                               f"{fmt_s(changed_s)} = {changed_s / baseline:.2f} x baseline"))


SCALE_RUNNER = """
import json, resource, sys, time
start = time.perf_counter()
from lenstop.scale import Timer, analyse
timer = Timer()
result = analyse(sys.argv[1], timer)
print(json.dumps({"n": result["n"], "total_s": time.perf_counter() - start,
                  "steps_s": timer.steps,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def bench_scale(report: Report, runs: int, sizes: tuple[int, ...]) -> None:
    """Item 5: generated cohorts, the whole analysis in a fresh process per run."""
    env = env_for(ROOT)
    out_dir = ROOT / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    measured = {}
    for n in sizes:
        path = out_dir / f"cohort-{n}.csv"
        log(f"5. generating {n} patients")
        gen_s = timed([str(VENV_BIN / "lenstop"), "synthesize", "--n", str(n), "--out",
                       str(path)], ROOT, env, f"synthesize {n}")
        results = []
        for i in range(runs):
            log(f"5. whole analysis of {n} patients, run {i + 1}/{runs}")
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", SCALE_RUNNER, str(path)], cwd=ROOT,
                                  env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"analysis of {n} patients failed:\n{proc.stderr[-3000:]}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["wall_s"] = wall
            results.append(res)
        wall = statistics.median(r["wall_s"] for r in results)
        peak = statistics.median(r["peak_rss_bytes"] for r in results)
        steps = {k: statistics.median(r["steps_s"][k] for r in results)
                 for k in results[0]["steps_s"]}
        measured[n] = (wall, peak, steps, gen_s)
    base_n = sizes[-1]
    for n in sizes:
        wall, peak, steps, gen_s = measured[n]
        per = wall / (n * math.log2(n)) / (measured[base_n][0] / (base_n * math.log2(base_n)))
        target, verdict = "", ""
        if n == 100_000:
            target = f"< {TARGET_SCALE_S:g} s and < {TARGET_SCALE_BYTES / GIB:g} GiB"
            over = [v for v in (verdict_max(wall, TARGET_SCALE_S),
                                verdict_max(peak, TARGET_SCALE_BYTES, unit="B")) if v != "met"]
            verdict = "; ".join(over) or "met"
        report.rows.append(Row(
            f"5. whole analysis, {n:,} patients (python -m lenstop.scale; generating the "
            f"cohort took {fmt_s(gen_s)})", runs,
            f"{fmt_s(wall)}, peak {peak / 2**20:.0f} MiB; time / (n log n) = {per:.2f} x "
            f"the {base_n:,} value", target, verdict))
    if len(sizes) >= 2:
        (n1, n2) = sizes[-2:]
        t1, t2 = measured[n1][0], measured[n2][0]
        a1, a2 = (sum(measured[n][2].values()) for n in (n1, n2))
        allowed = (n2 * math.log(n2)) / (n1 * math.log(n1))
        exponent = math.log(a2 / a1) / math.log(n2 / n1)
        ok = t2 / t1 <= allowed
        report.rows.append(Row(
            f"5. growth {n1:,} -> {n2:,} patients", runs,
            f"time x {t2 / t1:.1f} (analysis alone x {a2 / a1:.1f}, exponent "
            f"{exponent:.2f})", f"<= n log n: x {allowed:.1f}",
            "met" if ok else f"MISSED (x {t2 / t1:.1f} > x {allowed:.1f})"))
    report.scale_steps = measured[sizes[-1]][2]


def bench_make_test(report: Report) -> None:
    """Item 6: `make test` once, in the project itself (the tests write only to temp dirs)."""
    log("6. make test")
    env = dict(os.environ)
    env["PYTEST_ADDOPTS"] = f"{env.get('PYTEST_ADDOPTS', '')} --durations=8".strip()
    start = time.perf_counter()
    proc = subprocess.run(["make", "--no-print-directory", "test"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    secs = time.perf_counter() - start
    slow = re.findall(r"^\s*(\d+\.\d+)s (call|setup|teardown)\s+(\S+)", proc.stdout, re.M)
    if slow:
        report.notes += ["Slowest tests in `make test` (pytest --durations):", "",
                         *(f"- {secs_} s {phase} `{name}`" for secs_, phase, name in slow), ""]
    verdict = verdict_max(secs, TARGET_TEST_S)
    if proc.returncode != 0:
        verdict = f"make test FAILED (exit {proc.returncode}); {verdict}"
        log("\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:]))
    report.rows.append(Row("6. make test (ruff + pytest incl. nbval), after set-up", 1,
                           fmt_s(secs), f"< {TARGET_TEST_S / 60:g} min", verdict))


def machine() -> list[str]:
    """Facts that make the figures comparable: commit, cores, memory, CPU, Python."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") \
        else ""
    mem = "unknown"
    cpu = platform.processor() or platform.machine()
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kib / 2**20:.1f} GiB"
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    return [f"- commit: {commit}{dirty}",
            f"- machine: {os.cpu_count()} cores ({cpu.strip()}), {mem} RAM, "
            f"{platform.system()} {platform.machine()}",
            f"- Python {platform.python_version()}"]


def table(report: Report) -> str:
    lines = ["| Measure | Runs | Median | Target | Result |", "|:--|--:|:--|:--|:--|"]
    for r in report.rows:
        lines.append(f"| {r.measure} | {r.runs} | {r.value} | {r.target} | {r.verdict} |")
    return "\n".join(lines)


def markdown(report: Report, command: str) -> str:
    steps = "\n".join(f"| {name} | {secs:.2f} s |" for name, secs in report.scale_steps.items())
    parts = ["# Benchmark results", "",
             f"Written by `{command}`; each figure is the median of the runs shown.", "",
             *machine(), "", table(report), ""]
    if steps:
        parts += ["Where the time of the largest analysis goes (median per step):", "",
                  "| Step | Time |", "|:--|--:|", steps, ""]
    parts += report.notes
    return "\n".join(parts).rstrip() + "\n"


def update_readme(text: str) -> None:
    """Put the latest results between the markers of benchmarks/README.md."""
    if not README.exists():
        return
    readme = README.read_text(encoding="utf-8")
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        tail = rest.split(end, 1)[1]
        body = text.split("\n", 2)[2]  # without the '# Benchmark results' title
        README.write_text(f"{head}{start}\n{body}{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median); default 3")
    p.add_argument("--noop-runs", type=int, default=5, help="runs of the no-op rebuild")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                   help="cohort sizes for the whole analysis")
    p.add_argument("--skip", nargs="*", default=[], choices=["builds", "scale", "test"],
                   help="leave out some measurements (the results file says so)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results file")
    args = p.parse_args(argv)
    report = Report()
    start = time.perf_counter()
    if "builds" not in args.skip:
        bench_builds(report, args.runs, args.noop_runs)
    if "scale" not in args.skip:
        bench_scale(report, args.runs, tuple(args.sizes))
    if "test" not in args.skip:
        bench_make_test(report)
    if args.skip:
        report.notes.append(f"Left out in this run: {', '.join(args.skip)}.")
    command = "make bench" if not (argv or sys.argv[1:]) else \
        "python benchmarks/run.py " + " ".join(argv or sys.argv[1:])
    text = markdown(report, command)
    args.out.write_text(text, encoding="utf-8")
    if args.out.resolve() == RESULTS.resolve():
        update_readme(text)
    print(table(report))
    log(f"benchmark finished in {time.perf_counter() - start:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
