"""Command line: `lenstop validate | crosswalk | synthesize | dictionary | build | scan`.

Data problems are printed as one report (file, row, patient, column, rule, value) with exit
code 2 and no traceback; they go to the terminal only, never to a log file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lenstop import config
from lenstop.ingest.problems import DataError


def _validate(args: argparse.Namespace) -> int:
    from lenstop.ingest.validate import load_cohort

    if args.stamp:  # the workflow's rule: the crosswalk comes from config.MAPPING_ENV
        from lenstop.workflow.stamp import validate_stamp

        if args.mapping:
            os.environ[config.MAPPING_ENV] = str(Path(args.mapping).resolve())
        validate_stamp(Path(args.data), Path(args.stamp), sheet=args.sheet)
        return 0
    try:
        cohort, warnings = load_cohort(args.data, sheet=args.sheet, mapping=args.mapping)
    except DataError as exc:
        if args.report:
            _quality_report(args, exc.problems, list(exc.notes))
        raise
    from lenstop.workflow.stamp import print_loading_messages

    print_loading_messages(warnings)
    print(f"{Path(args.data).name}: {len(cohort)} patients, all checks passed.")
    if args.report:
        _quality_report(args, [], warnings)
    return 0


def _quality_report(args: argparse.Namespace, problems: list, warnings: list[str]) -> None:
    """Write the data-quality report (lenstop.ingest.quality) and say where (on stderr)."""
    from lenstop.ingest.quality import write

    page, book = write(Path(args.data), problems, warnings, sheet=args.sheet,
                       mapping=args.mapping)
    print(f"data-quality report (names rows: keep it in the registry): {page} and {book.name}",
          file=sys.stderr)


def _crosswalk(args: argparse.Namespace) -> int:
    """Write a starting crosswalk for DATA (to --out, never over a file, or to the terminal)."""
    from lenstop.ingest.crosswalk import draft_crosswalk
    from lenstop.ingest.problems import Problem
    from lenstop.ingest.readers import read_raw

    text = draft_crosswalk(read_raw(args.data, sheet=args.sheet))
    if not args.out:
        print(text, end="")
        return 0
    out = Path(args.out)
    if out.exists():
        raise DataError([Problem(out, rule="not overwritten", message=(
            "already exists; give another --out, or delete it first"))])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}: complete it, then run lenstop validate {args.data} --mapping {out}")
    return 0


def _synthesize(args: argparse.Namespace) -> int:
    from lenstop.ingest.synthetic import generate, to_csv_text

    cohort, seed = generate(n=args.n, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(to_csv_text(cohort), encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out} ({len(cohort)} synthetic patients, seed {seed})")
    return 0


def _dictionary(args: argparse.Namespace) -> int:
    from lenstop.ingest.dictionary import markdown_table

    print(markdown_table())
    return 0


def _build(args: argparse.Namespace) -> int:
    from lenstop.workflow.pipeline import build

    return build(Path(args.data), sheet=args.sheet, until=args.until, min_cell=args.min_cell,
                 replace=args.replace, line_numbers=args.line_numbers,
                 mapping=Path(args.mapping) if args.mapping else None,
                 sensitivity=not args.no_sensitivity,
                 grid=Path(args.grid) if args.grid else None,
                 profile=Path(args.profile) if args.profile else None,
                 params=_build_parameters(args))


def _build_parameters(args: argparse.Namespace) -> dict:
    """--params FILE (the `analysis:` keys of config/config.yaml) then each --param KEY=VALUE;
    neither: $LENSTOP_PARAMS (a build folder's Quarto `_environment` sets it)."""
    import yaml

    from lenstop.errors import StepError

    values: dict = {} if args.params or args.param else config.build_parameters()
    if args.params:
        try:
            data = yaml.safe_load(Path(args.params).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise StepError(f"cannot read the parameters file {args.params}: {exc}") from None
        values.update(data.get("analysis", data) if isinstance(data, dict) else {})
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise StepError(f"--param {item!r}: write KEY=VALUE, e.g. cycles_cutoff=6")
        values[key.strip()] = yaml.safe_load(value)
    return values


def _simulate(args: argparse.Namespace) -> int:
    from lenstop.workflow.pipeline import simulate

    return simulate(args.replicates, args.first_seed, Path(args.out) if args.out else None,
                    Path(args.profile) if args.profile else None)


def _job(args: argparse.Namespace) -> int:
    """The workflow jobs of the grid and the simulation run as commands (the grid's points
    run inside Snakemake: rule `sensitivity_point`)."""
    from lenstop.workflow.layout import step

    if args.command == "sensitivity-gather":
        from lenstop.analyses import sensitivity

        points = sensitivity.gather(args.files, sensitivity.load_grid(args.grid))
        sensitivity.write_point(points, args.output)
    elif args.command == "simulate-batch":
        from lenstop.analyses import simulation

        with step(f"simulate seeds {args.first}-{args.last}"):
            simulation.write_batch(args.first, args.last, args.output)
    elif args.command == "simulate-summary":
        from lenstop.analyses import simulation

        with step("simulation summary"):
            simulation.write_summary(args.files, args.out)
    return 0


def _scan(args: argparse.Namespace) -> int:
    from lenstop.disclosure import leak_scan

    paths = args.paths or [str(_default_build(args.data))]
    count = leak_scan.check(paths, Path(args.data), sheet=args.sheet,
                          sources=[config.ROOT / s for s in config.MANUSCRIPT_SOURCES])
    print(f"{count} files scanned: no patient id or individual date of "
          f"{Path(args.data).name} found.")
    return 0


def _default_build(data: str) -> Path:
    from lenstop.workflow.layout import build_dir

    return build_dir(Path(data))


def _step(args: argparse.Namespace) -> int:
    from lenstop.workflow import steps

    if args.command == "run-notebook":
        if args.sensitivity:
            from lenstop.analyses.sensitivity import POINTS_ENV

            os.environ[POINTS_ENV] = (args.sensitivity if args.sensitivity == "skip" else
                                      str(Path(args.sensitivity).resolve()))
        from lenstop.workflow.notebooks import run_notebook

        run_notebook(args.name, Path(args.data), Path(args.out), args.min_cell,
                     args.sheet)
    elif args.command == "merge":
        steps.merge(Path(args.out), args.min_cell, Path(args.data) if args.data else None)
    elif args.command == "variables":
        steps.write_variables(Path(args.out), bool(args.line_numbers))
    elif args.command == "stage":
        steps.stage(Path(args.out), Path(args.data) if args.data else None,
                    args.min_cell, args.sheet)
    elif args.command == "render":
        steps.render(Path(args.project))
    elif args.command == "publish":
        from lenstop.workflow.publish import publish

        publish(Path(args.data), Path(args.out), args.until, sheet=args.sheet,
                         stamp=Path(args.stamp) if args.stamp else None)
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and `--help`)."""
    p = argparse.ArgumentParser(prog="lenstop", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check an extract and print every problem at once")
    v.add_argument("data", help="CSV, Excel (.xlsx, .xls, .ods), Parquet, SAS, SPSS or Stata file")
    v.add_argument("--sheet", help="Excel sheet to read (default: the one with patient_id)")
    v.add_argument("--stamp", help="on success, write a validation stamp here (workflow use)")
    v.add_argument("--report", action="store_true",
                   help="also write the data-quality report (HTML and .xlsx) into the "
                   "git-ignored build/<extract>/quality/")
    v.add_argument("--mapping", metavar="FILE",
                   help="crosswalk (YAML) from the extract's columns, codes and units to the "
                   "data dictionary's (see data/README.md)")
    v.set_defaults(func=_validate)
    x = sub.add_parser("crosswalk", help="write a starting crosswalk from an extract's header")
    x.add_argument("data", help="the registry's extract (any format validate reads)")
    x.add_argument("--out", metavar="FILE", help="write it here (default: the terminal)")
    x.add_argument("--sheet", help="Excel sheet to read")
    x.set_defaults(func=_crosswalk)
    s = sub.add_parser("synthesize", help="write the calibrated synthetic cohort")
    s.add_argument("--out", default=str(config.SYNTHETIC_COHORT))
    s.add_argument("--n", type=int, default=118, help="number of patients (default 118)")
    s.add_argument("--seed", type=int, default=config.SYNTHETIC_SEED)
    s.set_defaults(func=_synthesize)
    d = sub.add_parser("dictionary", help="print the data dictionary as a markdown table")
    d.set_defaults(func=_dictionary)
    b = sub.add_parser("build", help="validate DATA, run the notebooks, render the report")
    b.add_argument("--data", default=str(config.SYNTHETIC_COHORT))
    b.add_argument("--sheet")
    b.add_argument("--until", choices=("variables", "report", "sensitivity"),
                   default="report",
                   help="stop after the manuscript variables (Quarto pre-render) or render; "
                   "sensitivity: run the sensitivity grid only")
    b.add_argument("--min-cell", type=int, default=None, metavar="K",
                   help="show counts below K as '<K' in shareable outputs (default "
                   f"{config.PRIVATE_MIN_CELL_SIZE} for a registry extract, "
                   f"{config.MIN_CELL_SIZE} for the synthetic cohort; 0 = no suppression)")
    b.add_argument("--mapping", metavar="CROSSWALK", default=os.environ.get("LENSTOP_MAPPING"),
                   help="crosswalk YAML from the extract to the data dictionary "
                   "(default: $LENSTOP_MAPPING)")
    b.add_argument("--line-numbers", action="store_true",
                   help="number the lines of the PDF (for review)")
    b.add_argument("--replace", action="store_true",
                   help="take over the build folder of another extract of the same name")
    b.add_argument("--no-sensitivity", action="store_true",
                   help="skip the sensitivity grid (the appendix says so; builds into "
                   "build/<name>-nogrid/)")
    b.add_argument("--grid", metavar="YAML",
                   help="the sensitivity grid (default config/sensitivity.yaml)")
    b.add_argument("--profile", metavar="DIR",
                   help="run the jobs through this Snakemake profile (workflow/profiles/slurm: "
                   "on a Slurm cluster)")
    b.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="an analysis parameter other than the paper's (config/config.yaml), "
                   "e.g. cycles_cutoff=6; the build goes to a folder of its own")
    b.add_argument("--params", metavar="YAML",
                   help="analysis parameters from a file (the keys of config/config.yaml)")
    b.set_defaults(func=_build)
    m = sub.add_parser("simulate", help="run the planted-vs-recovered simulation study")
    m.add_argument("--replicates", "-R", type=int, default=200,
                   help="cohorts drawn from the planted model (default 200, as the report)")
    m.add_argument("--first-seed", type=int, default=1)
    m.add_argument("--out", metavar="DIR",
                   help="where summary.json goes (default build/simulation/R<replicates>)")
    m.add_argument("--profile", metavar="DIR",
                   help="run the jobs through this Snakemake profile (e.g. Slurm)")
    m.set_defaults(func=_simulate)
    c = sub.add_parser("scan", help="check built outputs for patient ids and dates of DATA")
    c.add_argument("paths", nargs="*", help="files or folders (default: DATA's build folder)")
    c.add_argument("--data", required=True, help="the extract the outputs were built from")
    c.add_argument("--sheet")
    c.set_defaults(func=_scan)
    # the workflow's steps (called by workflow/Snakefile)
    r = sub.add_parser("run-notebook", help="workflow step: execute one notebook")
    r.add_argument("name")
    r.add_argument("--data", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--min-cell", type=int, default=None)
    r.add_argument("--sheet")
    r.add_argument("--sensitivity", metavar="POINTS",
                   help="the gathered grid points for notebook 07, or 'skip'")
    r.set_defaults(func=_step)
    j = sub.add_parser("sensitivity-gather", help="workflow step: the grid's points, in order")
    j.add_argument("files", nargs="+")
    j.add_argument("--grid", required=True)
    j.add_argument("--output", required=True)
    j.set_defaults(func=_job)
    j = sub.add_parser("simulate-batch", help="workflow job: replicates of seeds FIRST-LAST")
    j.add_argument("--first", type=int, required=True)
    j.add_argument("--last", type=int, required=True)
    j.add_argument("--output", required=True)
    j.set_defaults(func=_job)
    j = sub.add_parser("simulate-summary", help="workflow step: bias, coverage and power")
    j.add_argument("files", nargs="+")
    j.add_argument("--out", required=True)
    j.set_defaults(func=_job)
    for name, text in (("merge", "merge results sections"),
                       ("variables", "write _variables.yml from results.json"),
                       ("stage", "copy manuscript sources into the staging area")):
        q = sub.add_parser(name, help=f"workflow step: {text}")
        q.add_argument("--out", required=True)
        if name in ("merge", "stage"):
            q.add_argument("--min-cell", type=int, default=None)
        if name == "merge":
            q.add_argument("--data", help="the build's extract: every section must be of it")
        if name == "variables":
            q.add_argument("--line-numbers", type=int, default=0, help="1: number PDF lines")
        if name == "stage":
            q.add_argument("--data", help="the extract (stages the Quarto files for it)")
            q.add_argument("--sheet")
        q.set_defaults(func=_step)
    q = sub.add_parser("render", help="workflow step: render the manuscript (pandoc, Typst)")
    q.add_argument("--project", required=True)
    q.set_defaults(func=_step)
    q = sub.add_parser("publish", help="workflow step: publish the staged outputs")
    q.add_argument("--data", required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--until", choices=("variables", "report"), default="report")
    q.add_argument("--sheet")
    q.add_argument("--stamp")
    q.set_defaults(func=_step)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad data, 0 on success)."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except DataError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    except Exception as exc:  # a failed step: say which and why, without a traceback
        from lenstop.errors import GridError, PrivacyError, StepError
        from lenstop.manuscript.render import RenderError

        if isinstance(exc, StepError | RenderError | PrivacyError | GridError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("interrupted; nothing was overwritten.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
