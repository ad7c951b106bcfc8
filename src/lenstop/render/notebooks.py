"""`{{< embed nb.ipynb#label >}}`: pull one executed cell's output out of a notebook.

The cell is found as Quarto does: cell `id` == label, else the `#| label:` option, else a cell
tag. Its `#|` options give the caption (`fig-cap` / `tbl-cap`) and alt text (`fig-alt`).

The result is pandoc markdown in Quarto's div form, which the Lua filter numbers like any other
figure or table::

    ::: {#fig-x .lenstop-embed lenstop-source-title="nb.ipynb" lenstop-source-href="..."}
    ![](/abs/path/image.png){fig-alt="..."}

    Caption
    :::

Nothing is executed: outputs must already be in the notebook.
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

from .errors import RenderError

_IMAGE_PREFERENCE = {
    "html": ("image/svg+xml", "image/png", "image/jpeg"),
    "typst": ("image/png", "image/jpeg", "image/svg+xml"),
}
_EXT = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}


def _attr(value: str) -> str:
    """A pandoc attribute value in double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def cell_options(source: str) -> dict[str, Any]:
    """Quarto `#|` cell options at the top of a code cell, as a mapping."""
    lines = []
    for line in source.splitlines():
        if line.startswith("#|"):
            lines.append(line[2:].removeprefix(" "))
        elif line.strip() == "" and not lines:
            continue
        else:
            break
    if not lines:
        return {}
    try:
        opts = yaml.safe_load("\n".join(lines)) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"its #| options are not valid YAML ({exc})") from None
    return opts if isinstance(opts, dict) else {}


@dataclass
class Embedder:
    """Resolves embed targets for one output format, writing images into `workdir`."""

    project_root: Path
    doc_dir: Path
    fmt: str
    workdir: Path
    notebook_view: dict[str, dict[str, Any]] = field(default_factory=dict)
    notebook_links: bool = True
    _cache: dict[Path, Any] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)

    def _load(self, path: Path, file: Path, line: int | None) -> Any:
        if path not in self._cache:
            if not path.is_file():
                raise RenderError(f"embedded notebook {path} does not exist", file=file,
                                  line=line)
            try:
                self._cache[path] = nbformat.read(str(path), as_version=4)
            except Exception as exc:  # nbformat raises several unrelated types
                raise RenderError(f"cannot read notebook {path}: {exc}", file=file,
                                  line=line) from None
        return self._cache[path]

    def _find_cell(self, nb: Any, ident: str, nb_name: str, file: Path,
                   line: int | None) -> tuple[Any, dict[str, Any]]:
        code = [c for c in nb.cells if c.cell_type == "code"]
        parsed = []
        for cell in code:
            try:
                parsed.append((cell, cell_options(cell.source)))
            except ValueError as exc:
                raise RenderError(f"a cell of {nb_name} is unreadable: {exc}", file=file,
                                  line=line) from None
        for match in (
            lambda c, o: c.get("id") == ident,
            lambda c, o: str(o.get("label", "")) == ident,
            lambda c, o: ident in (c.get("metadata", {}).get("tags") or []),
        ):
            hits = [(c, o) for c, o in parsed if match(c, o)]
            if len(hits) > 1:
                raise RenderError(f"{len(hits)} cells of {nb_name} match {ident!r}; labels must "
                                  "be unique", file=file, line=line)
            if hits:
                return hits[0]
        raise RenderError(f"no cell labelled {ident!r} (#| label: {ident}) in notebook {nb_name}",
                          file=file, line=line)

    def __call__(self, target: str, file: Path, line: int | None) -> str:
        if "#" not in target:
            raise RenderError(f"embed target {target!r} needs a cell label: path.ipynb#label "
                              "(embedding whole notebooks is not supported)", file=file,
                              line=line)
        rel, ident = target.rsplit("#", 1)
        if not rel.endswith(".ipynb"):
            raise RenderError(f"embed target {target!r}: only .ipynb notebooks are supported",
                              file=file, line=line)
        path = (self.project_root / rel.lstrip("/")) if rel.startswith("/") \
            else (self.doc_dir / rel)
        path = path.resolve()
        nb = self._load(path, file, line)
        try:
            proj_rel = PurePosixPath(path.relative_to(self.project_root).as_posix())
        except ValueError:
            proj_rel = PurePosixPath(path.name)
        nb_name = str(proj_rel)
        cell, opts = self._find_cell(nb, ident, nb_name, file, line)
        label = str(opts.get("label") or ident)
        where = f"cell {label!r} of {nb_name}"
        outputs = [o for o in cell.get("outputs", [])
                   if o.get("output_type") in ("display_data", "execute_result", "error")]
        for o in outputs:
            if o.get("output_type") == "error":
                raise RenderError(f"{where} has an error output ({o.get('ename')}: "
                                  f"{o.get('evalue')}); re-run the notebook", file=file,
                                  line=line)
        if not outputs:
            raise RenderError(f"{where} has no outputs (is the notebook executed?)",
                              file=file, line=line)
        self.used.append(nb_name)
        view = self.notebook_view.get(nb_name, {})
        title = str(view.get("title") or _notebook_title(nb) or path.name)
        href = str(view.get("url") or nb_name)
        attrs = [".lenstop-embed"]
        if self.notebook_links:
            attrs += [f"lenstop-source-title={_attr(title)}",
                      f"lenstop-source-href={_attr(href)}"]
        if label.startswith("tbl-"):
            body, caption = self._table(outputs, opts, where, file, line)
        elif label.startswith("fig-") or not _text_outputs(outputs):
            body, caption = self._figure(outputs, opts, label, path.stem, where, file, line)
        else:
            body, caption = _text_outputs(outputs), ""
        if label.startswith(("fig-", "tbl-")):
            if not caption:
                kind = "fig-cap" if label.startswith("fig-") else "tbl-cap"
                raise RenderError(f"{where} has no `#| {kind}:`; a numbered figure/table "
                                  "needs a caption", file=file, line=line)
            head = "::: {#" + label + " " + " ".join(attrs) + "}"
        else:
            head = "::: {" + " ".join(attrs) + "}"
        parts = [head, body]
        if caption:
            parts += ["", caption]
        parts.append(":::")
        return "\n".join(parts)

    def _figure(self, outputs: list[Any], opts: dict[str, Any], label: str, stem: str,
                where: str, file: Path, line: int | None) -> tuple[str, str]:
        images = [o for o in outputs if any(m in o.get("data", {}) for m in _EXT)]
        if len(images) != 1:
            raise RenderError(f"{where} has {len(images)} image outputs; an embedded figure "
                              "needs exactly one (sub-figures are not supported)",
                              file=file, line=line)
        data = images[0]["data"]
        mime = next(m for m in _IMAGE_PREFERENCE[self.fmt] if m in data)
        payload = data[mime]
        if isinstance(payload, list):
            payload = "".join(payload)
        if mime == "image/svg+xml":
            raw = payload.encode("utf-8")
        else:
            try:
                raw = base64.b64decode(payload)
            except (binascii.Error, ValueError):
                raise RenderError(f"{where}: {mime} output is not valid base64", file=file,
                                  line=line) from None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{stem}--{label}")
        img = self.workdir / "embed" / f"{safe}.{_EXT[mime]}"
        img.parent.mkdir(parents=True, exist_ok=True)
        img.write_bytes(raw)
        caption = _one_line(opts.get("fig-cap"), "fig-cap", where, file, line)
        alt = _one_line(opts.get("fig-alt"), "fig-alt", where, file, line)
        attr = "{" + (f"fig-alt={_attr(alt)}" if alt else "") + "}"
        return f"![](<{img.as_posix()}>){attr}", caption

    def _table(self, outputs: list[Any], opts: dict[str, Any], where: str, file: Path,
               line: int | None) -> tuple[str, str]:
        tables = [o for o in outputs
                  if "text/markdown" in o.get("data", {}) or "text/html" in o.get("data", {})]
        if len(tables) != 1:
            raise RenderError(f"{where} has {len(tables)} table outputs (text/markdown or "
                              "text/html); an embedded table needs exactly one", file=file,
                              line=line)
        data = tables[0]["data"]
        caption = _one_line(opts.get("tbl-cap"), "tbl-cap", where, file, line)
        if "text/markdown" in data:
            text = data["text/markdown"]
            text = "".join(text) if isinstance(text, list) else text
            return text.strip("\n"), caption
        html = data["text/html"]
        html = "".join(html) if isinstance(html, list) else html
        ticks = max([len(m) for m in re.findall(r"`+", html)] + [2]) + 1
        fence = "`" * ticks
        return f"{fence}{{=html}}\n{html.strip()}\n{fence}", caption


def _text_outputs(outputs: list[Any]) -> str:
    """Markdown for the text/markdown (else text/html) outputs of an unnumbered embed."""
    parts = []
    for o in outputs:
        data = o.get("data", {})
        if "text/markdown" in data:
            text = data["text/markdown"]
            parts.append(("".join(text) if isinstance(text, list) else text).strip("\n"))
        elif "text/html" in data:
            html = data["text/html"]
            html = "".join(html) if isinstance(html, list) else html
            fence = "`" * (max([len(m) for m in re.findall(r"`+", html)] + [2]) + 1)
            parts.append(f"{fence}{{=html}}\n{html.strip()}\n{fence}")
    return "\n\n".join(parts)


def _one_line(value: Any, key: str, where: str, file: Path, line: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        raise RenderError(f"{where}: `{key}` is a list (sub-captions are not supported)",
                          file=file, line=line)
    return " ".join(str(value).split())


def _notebook_title(nb: Any) -> str | None:
    """Title from the notebook's first raw cell YAML front matter, as Quarto reads it."""
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("---"):
            try:
                front = yaml.safe_load(cell.source.strip().strip("-")) or {}
            except yaml.YAMLError:
                return None
            if isinstance(front, dict) and front.get("title"):
                return str(front["title"])
        if cell.cell_type != "raw":
            break
    return None
