"""Offline HTML previews of the executed notebooks, where Quarto 1.7 writes its previews.

`notebooks/<name>.ipynb` -> `<out>/notebooks/<name>-preview.html` (nbconvert, JupyterLab
template without scripts), with a "Back to Article" link, a "Download Notebook" link to the
copied `.ipynb` beside it, and an anchor `cell-<label>` on every labelled code cell (the
target of the article's links). The `#|` option lines are hidden, as in Quarto's previews.
"""

from __future__ import annotations

import copy
import functools
import re
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from lenstop.manuscript.render.embed import cell_options
from lenstop.manuscript.render.errors import RenderError

# Markup that makes a browser fetch something: the pages must work offline
_REMOTE = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio|embed)\b[^>]*?\s(?:src|href)\s*=\s*"
    r"[\"']?\s*(https?:)?//|@import\s+(?:url\()?\s*[\"']?\s*(https?:)?//"
    r"|url\(\s*[\"']?\s*(https?:)?//", re.IGNORECASE)


def preview_name(rel: str) -> str:
    """Project-relative notebook path -> the preview's path under the output folder."""
    p = PurePosixPath(rel)
    return str(p.with_name(p.stem + "-preview.html"))


def remote_resource(html: str) -> str | None:
    """The first markup in `html` that would load something over the network, if any."""
    m = _REMOTE.search(html)
    return html[m.start(): m.start() + 120] if m else None


@functools.cache
def _exporter():
    """One nbconvert exporter per process: its templates compile once, not per notebook (a
    quarter of the render's time went to compiling them seven times)."""
    from nbconvert import HTMLExporter

    templates = Path(str(resources.files("lenstop.manuscript.render").joinpath("templates")))
    return HTMLExporter(template_name="lab", extra_template_paths=[str(templates)],
                        template_file="nbpreview.html.j2", embed_images=True)


def render_preview(nb: Any, rel: str, title: str) -> bytes:
    """The preview page of notebook `nb` (project-relative path `rel`) as bytes."""
    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            opts = cell_options(cell.source)
        except ValueError:
            opts = {}
        if opts.get("label"):
            cell.metadata["lenstop_anchor"] = f"cell-{opts['label']}"
        cell.source = "\n".join(ln for ln in cell.source.splitlines()
                                if not ln.startswith("#|")).strip("\n")
    depth = len(PurePosixPath(rel).parts) - 1
    body, _ = _exporter().from_notebook_node(nb, resources={"lenstop": {
        "back": "../" * depth + "index.html", "download": PurePosixPath(rel).name,
        "title": title}})
    # JupyterLab's stylesheet credits its sources in comments: no URL left in the page
    body = re.sub(r"<style[^>]*>.*?</style>", lambda m: re.sub(r"/\*.*?\*/", "", m.group(0),
                                                              flags=re.DOTALL),
                  body, flags=re.DOTALL)
    remote = remote_resource(body)
    if remote is not None:
        raise RenderError(f"the preview of {rel} would load a resource over the network "
                          f"({remote!r}); the notebook's outputs must not reference remote "
                          "fonts, scripts or images")
    return body.encode("utf-8")
