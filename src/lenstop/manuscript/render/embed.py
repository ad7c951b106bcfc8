"""`{{< embed nb.ipynb#label >}}`: one executed cell's outputs, chosen as Quarto 1.7 chooses them.

The cell is found by cell id, then `#| label:`, then tag. Each output is shown by its best
representation in Quarto's order (HTML: text/html, text/markdown, SVG, PNG, JPEG; Typst:
text/markdown, SVG, PNG, JPEG, then text/html holding a table). An output Quarto would print
as text (text/plain only, stdout, stderr, errors) is a `RenderError`: embed clean cells.
The result is pandoc markdown in Quarto's div form, numbered by the Lua filter::

    ::: {#cell-fig-x .quarto-embed-nb-cell lenstop-nb-title="..." lenstop-nb-href="..."}
    ::: {#fig-x}
    ![](/abs/image.png){fig-alt="..."}

    Caption
    :::
    :::
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import yaml

from lenstop.manuscript.render import yaml12
from lenstop.manuscript.render.errors import RenderError

MIME_ORDER = {
    "html": ("text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg"),
    "typst": ("text/markdown", "image/svg+xml", "image/png", "image/jpeg", "text/html"),
}
_EXT = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}
_CELL_OPTIONS = {"label", "fig-cap", "fig-alt", "tbl-cap"}


def _attr(value: str) -> str:
    """A pandoc attribute value in double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _text(value: Any) -> str:
    """A notebook output's text (nbformat stores lists of lines or a string)."""
    return "".join(value) if isinstance(value, list) else str(value)


def cell_options(source: str) -> dict[str, Any]:
    """Quarto `#|` cell options at the top of a code cell, as a mapping."""
    lines = []
    for line in source.splitlines():
        if line.startswith("#|"):
            lines.append(line[2:].removeprefix(" "))
        elif line.strip() or lines:
            break
    try:
        opts = (yaml12.load("\n".join(lines)) or {}) if lines else {}
    except yaml.YAMLError as exc:
        raise ValueError(f"its #| options are not valid YAML ({exc})") from None
    return opts if isinstance(opts, dict) else {}


def notebook_title(nb: Any) -> str | None:
    """The title Quarto finds in a notebook: a front-matter `title`, else the first heading."""
    for cell in nb.cells:
        if cell.cell_type not in ("markdown", "raw"):
            continue
        src = cell.source.strip()
        if src.startswith("---"):
            try:
                front = yaml12.load(src.strip("-")) or {}
            except yaml.YAMLError:
                front = {}
            if isinstance(front, dict) and front.get("title"):
                return str(front["title"])
        m = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", src, re.MULTILINE)
        if cell.cell_type == "markdown" and m:
            return m.group(1)
    return None


def read_notebook(path: Path, file: Path | None = None, line: int | None = None) -> Any:
    """An executed notebook, or RenderError naming the embed that wants it."""
    if not path.is_file():
        raise RenderError(f"notebook {path} does not exist", file=file, line=line)
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types
        raise RenderError(f"cannot read notebook {path}: {exc}", file=file, line=line) from None


def find_cell(nb: Any, ident: str) -> tuple[Any, dict[str, Any]] | None:
    """The code cell with id, else `#| label:`, else tag `ident` (Quarto's order)."""
    code = [(c, cell_options(c.source)) for c in nb.cells if c.cell_type == "code"]
    for match in (lambda c, o: c.get("id") == ident,
                  lambda c, o: str(o.get("label", "")) == ident,
                  lambda c, o: ident in (c.get("metadata", {}).get("tags") or [])):
        hits = [(c, o) for c, o in code if match(c, o)]
        if hits:
            return hits[0]
    return None


@dataclass
class Embedder:
    """Resolves embed targets for one output format, writing images into `workdir`."""

    project_root: Path
    doc_dir: Path
    fmt: str
    workdir: Path
    titles: dict[str, str]
    """Project-relative notebook path -> title for links (listed title, else its own)."""
    listed: set[str]
    inline_links: bool = True
    used: dict[str, set[str]] = field(default_factory=dict)
    """Notebook (project-relative) -> labels embedded from it."""
    _cache: dict[Path, Any] = field(default_factory=dict)

    def __call__(self, target: str, options: list[str], file: Path, line: int | None) -> str:
        """The markdown for one `{{< embed target options >}}`."""
        echo = False
        for opt in options:
            if opt not in ("echo=true", "echo=false"):
                raise RenderError(f"embed option {opt!r} is not supported (only echo=true)",
                                  file=file, line=line)
            echo = opt == "echo=true"
        rel, sep, ident = target.partition("#")
        if not sep or not ident or not rel.endswith(".ipynb"):
            raise RenderError(f"embed target {target!r} must be path.ipynb#label (whole "
                              "notebooks and .qmd sources are not supported)", file=file,
                              line=line)
        path = (self.project_root / rel.lstrip("/") if rel.startswith("/")
                else self.doc_dir / rel).resolve()
        if path not in self._cache:
            self._cache[path] = read_notebook(path, file, line)
        nb = self._cache[path]
        try:
            nb_rel = path.relative_to(self.project_root).as_posix()
        except ValueError:
            raise RenderError(f"embedded notebook {path} is outside the project", file=file,
                              line=line) from None
        try:
            found = find_cell(nb, ident)
        except ValueError as exc:
            raise RenderError(f"a cell of {nb_rel} is unreadable: {exc}", file=file,
                              line=line) from None
        if found is None:
            raise RenderError(f"no cell with id, label or tag {ident!r} in {nb_rel}", file=file,
                              line=line)
        cell, opts = found
        label = str(opts.get("label") or ident)
        where = f"cell {label!r} of {nb_rel}"
        extra = sorted(set(opts) - _CELL_OPTIONS)
        if extra:
            raise RenderError(f"{where}: cell option(s) {', '.join(extra)} are not supported "
                              "by this renderer", file=file, line=line)
        blocks = self._outputs(cell, label, PurePosixPath(nb_rel).stem, where, file, line)
        self.used.setdefault(nb_rel, set()).add(label)
        title = self.titles.get(nb_rel) or notebook_title(nb) or path.name
        preview = str(PurePosixPath(nb_rel).with_name(PurePosixPath(nb_rel).stem
                                                      + "-preview.html"))
        attrs = [f"#cell-{label}", ".quarto-embed-nb-cell",
                 f"lenstop-nb-title={_attr(title)}",
                 f"lenstop-nb-href={_attr(preview + '#cell-' + label)}",
                 f"lenstop-nb-listed={_attr('1' if nb_rel in self.listed else '0')}",
                 f"lenstop-nb-inline={_attr('1' if self.inline_links else '0')}"]
        parts = ["::::: {" + " ".join(attrs) + "}"]
        if echo:
            parts.append(_code_block(cell.source, nb))
        if label.startswith(("fig-", "tbl-")):
            kind = "fig-cap" if label.startswith("fig-") else "tbl-cap"
            caption = opts.get(kind)
            if not isinstance(caption, str) or not caption.strip():
                raise RenderError(f"{where} needs a one-line `#| {kind}:` (a numbered float "
                                  "needs a caption; sub-captions are not supported)", file=file,
                                  line=line)
            if label.startswith("fig-") and not (len(blocks) == 1 and blocks[0][0] == "image"):
                raise RenderError(f"{where} must have exactly one image output", file=file,
                                  line=line)
            if label.startswith("tbl-") and any(kind_ == "image" for kind_, _ in blocks):
                raise RenderError(f"{where}: a table cell must not show an image", file=file,
                                  line=line)
            body = [b for _, b in blocks]
            if label.startswith("fig-") and opts.get("fig-alt"):
                body = [body[0] + f"{{fig-alt={_attr(str(opts['fig-alt']))}}}"]
            parts += ["::: {#" + label + "}", *body, "", " ".join(caption.split()), ":::"]
        else:
            parts += [b for _, b in blocks]
        parts.append(":::::")
        return "\n\n".join(parts)

    def _outputs(self, cell: Any, label: str, stem: str, where: str, file: Path,
                 line: int | None) -> list[tuple[str, str]]:
        """(kind, markdown) for each output, by Quarto's representation order."""
        outputs = cell.get("outputs", [])
        if not outputs:
            raise RenderError(f"{where} has no outputs (is the notebook executed?)", file=file,
                              line=line)
        blocks: list[tuple[str, str]] = []
        for n, out in enumerate(outputs, start=1):
            otype = out.get("output_type")
            if otype == "error":
                raise RenderError(f"{where} has an error output ({out.get('ename')}: "
                                  f"{out.get('evalue')}); re-run the notebook", file=file,
                                  line=line)
            if otype == "stream":
                raise RenderError(f"{where} prints to {out.get('name')}, which Quarto shows "
                                  "in the embed; do not print in an embedded cell", file=file,
                                  line=line)
            data = out.get("data", {})
            order = MIME_ORDER[self.fmt]
            mime = next((m for m in order if m in data and (
                m != "text/html" or self.fmt == "html" or "<table" in _text(data[m]))), None)
            if mime is None:
                raise RenderError(f"{where}: output {n} has no representation Quarto shows as "
                                  f"anything but plain text ({', '.join(sorted(data))})",
                                  file=file, line=line)
            if mime in _EXT:
                blocks.append(("image", self._image(data[mime], mime, f"{stem}-{label}-{n}",
                                                    where, file, line)))
            elif mime == "text/markdown":
                blocks.append(("markdown", _text(data[mime]).strip("\n")))
            else:
                html = _text(data[mime]).strip()
                fence = "`" * (max([len(m) for m in re.findall(r"`+", html)] + [2]) + 1)
                blocks.append(("html", f"{fence}{{=html}}\n{html}\n{fence}"))
        return blocks

    def _image(self, payload: Any, mime: str, name: str, where: str, file: Path,
               line: int | None) -> str:
        """Write one image output into the work folder; its markdown image."""
        payload = _text(payload)
        if mime == "image/svg+xml":
            raw = payload.encode("utf-8")
        else:
            try:
                raw = base64.b64decode(payload)
            except (binascii.Error, ValueError):
                raise RenderError(f"{where}: {mime} output is not valid base64", file=file,
                                  line=line) from None
        img = self.workdir / "embed" / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + "."
                                        + _EXT[mime])
        img.parent.mkdir(parents=True, exist_ok=True)
        img.write_bytes(raw)
        return f"![](<{img.as_posix()}>)"


def _code_block(source: str, nb: Any) -> str:
    """The cell's code without its `#|` lines, as Quarto shows it for `echo=true`."""
    lines = [ln for ln in source.splitlines() if not ln.startswith("#|")]
    code = "\n".join(lines).strip("\n")
    lang = (nb.metadata.get("kernelspec") or {}).get("language") \
        or (nb.metadata.get("language_info") or {}).get("name") or "python"
    fence = "`" * (max([len(m) for m in re.findall(r"`+", code)] + [2]) + 1)
    return f"{fence} {{.{lang} .cell-code}}\n{code}\n{fence}"
