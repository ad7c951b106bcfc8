"""Fallback renderer for the Quarto manuscript: pandoc + Lua filter + Typst, no Quarto needed.

`render(project_dir, out_dir)` turns a Quarto manuscript project (`_quarto.yml` with
`project: type: manuscript`, `_variables.yml`, the article `.qmd`, executed `.ipynb` notebooks)
into a self-contained `report.html` and a `report.pdf` (Typst, bundled fonts only). The same
sources render with Quarto 1.7; this module supports the documented subset below and fails with
`RenderError` (file, line, what) on anything outside it instead of printing `?var:` / `?@`.

Supported subset (details and Quarto differences: SUBSET.md beside this file)
1. Front matter merged over `_quarto.yml` (top level, `metadata-files`, `format.html` /
   `format.typst`): title, subtitle, author(s) with Quarto's affiliation schema, date
   (`today` = SOURCE_DATE_EPOCH's date), date-format, abstract, keywords, bibliography, csl,
   lang, toc, toc-depth, toc-title, number-sections, crossref prefixes, appendix-style.
2. `{{< var a.b.c >}}` from `_variables.yml` (and `{{< meta key >}}`, `{{< pagebreak >}}`),
   anywhere on a line, in front matter strings, and nested in other shortcodes:
   `{{< embed {{< var build.notebooks >}}/02_ti_duration.ipynb#fig-ti-km >}}`.
3. `{{< embed nb.ipynb#label >}}` alone on a line: the cell's image (SVG preferred for HTML,
   PNG for PDF) as a figure with `fig-cap`/`fig-alt`, or for `tbl-` labels its table
   (`text/markdown`, else `text/html` parsed by pandoc) with `tbl-cap`; "Source:" link in HTML.
4. Cross-references `@fig-x`, `@tbl-x`, `@sec-x`, `@Fig-x`, `[-@fig-x]`, `[Fig @fig-x]`,
   numbered in source order ("Figure 1", captions "Figure 1: ..."); citations `[@key]` go to
   citeproc with the bibliography and CSL from the metadata.
5. Callouts `.callout-note|warning|important|tip|caution`, title from `title=` or a first heading.
6. `# Heading {.appendix}` sections moved after the references, under "Appendices".
7. `.content-visible` / `.content-hidden` with `when-format` / `unless-format` (html, typst;
   `pdf` means LaTeX in Quarto and never matches here) and `when-meta` / `unless-meta`
   (boolean metadata keys, dotted paths).
8. Direct figures `![Cap](path){#fig-x fig-alt="..."}`, pipe tables with `: Cap {#tbl-x}`, and
   Quarto's div form `::: {#fig-x}` / `::: {#tbl-x}` (caption = last paragraph).

Outputs are byte-reproducible: PDF creation date = SOURCE_DATE_EPOCH, else the document date,
else 1970-01-01. CLI: `python -m lenstop.render PROJECT_DIR --out OUT_DIR` (exit 2 on RenderError).
"""

from .core import FORMATS, render
from .errors import RenderError

__all__ = ["FORMATS", "RenderError", "render"]
