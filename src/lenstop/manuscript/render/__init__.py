"""Fallback renderer for the Quarto manuscript: pandoc + Lua filter + Typst, no Quarto needed.

`render(project_dir, out_dir)` turns a Quarto 1.7 manuscript project (`_quarto.yml` with
`project: type: manuscript`, `_variables.yml`, the article `.qmd`, executed notebooks) into the
files Quarto writes: `index.html` (offline, self-contained), `<article>.pdf` (Typst, bundled
fonts) and a preview page plus a copy of each notebook. It is as strict as Quarto 1.7: where
Quarto fails, warns or leaves something unresolved, it raises `RenderError` (file, line, what).
The supported subset and what fails: SUBSET.md beside this file.
"""

from lenstop.manuscript.render.core import FORMATS, render
from lenstop.manuscript.render.errors import RenderError

__all__ = ["FORMATS", "RenderError", "render"]
