"""`python -m lenstop.manuscript.render PROJECT_DIR [--out DIR] [--format html|pdf]
[--profile NAME]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from lenstop.manuscript.render import yaml12
from lenstop.manuscript.render.core import FORMATS, render
from lenstop.manuscript.render.errors import RenderError


def main(argv: list[str] | None = None) -> int:
    """Render from the command line; exit status 2 and a one-paragraph message on RenderError."""
    parser = argparse.ArgumentParser(
        prog="python -m lenstop.manuscript.render",
        description="Render a Quarto manuscript project to HTML and PDF without Quarto "
        "(pandoc + Typst), as strictly as Quarto 1.7.",
    )
    parser.add_argument("project_dir", type=Path, help="folder holding _quarto.yml")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: PROJECT_DIR/_manuscript)")
    parser.add_argument("--format", dest="formats", action="append", choices=FORMATS,
                        help="output format; repeat for several (default: html and pdf)")
    parser.add_argument("--profile", default=None,
                        help="Quarto project profile(s), comma-separated (default: "
                        "QUARTO_PROFILE)")
    parser.add_argument("--variables", type=Path, default=None,
                        help="YAML file used instead of PROJECT_DIR/_variables.yml")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else args.project_dir / "_manuscript"
    try:
        variables = None
        if args.variables is not None:
            try:
                variables = yaml12.load(args.variables.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise RenderError(f"cannot read variables file: {exc}",
                                  file=args.variables) from None
        paths = render(args.project_dir, out, variables=variables,
                       formats=tuple(args.formats or FORMATS), profile=args.profile)
    except RenderError as exc:
        print(f"render error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
