"""The render pipeline: shortcodes in Python, pandoc with the Lua filter, Typst for the PDF.

Writes what Quarto 1.7 writes for a manuscript project (the files readers open): the article
as `index.html`, the PDF as `<article>.pdf`, and for each notebook an offline preview
`<dir>/<name>-preview.html` plus a copy of the `.ipynb`. Everything is rendered in a temporary
folder first; files in the output folder are replaced (one `os.replace` each) only when all
formats succeeded, so a failed render leaves the last good report in place.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lenstop.manuscript.render.embed import Embedder, notebook_title, read_notebook
from lenstop.manuscript.render.errors import RenderError
from lenstop.manuscript.render.previews import preview_name, remote_resource, render_preview
from lenstop.manuscript.render.project import (
    Notebook,
    Project,
    format_date,
    include_in_header,
    load_project,
    merged_metadata,
    normalize_authors,
)
from lenstop.manuscript.render.shortcodes import (
    ShortcodeContext,
    resolve_markdown,
    resolve_metadata,
)

log = logging.getLogger(__name__)

FORMATS = ("html", "pdf")


def _asset(name: str) -> Path:
    """A file shipped with this package (Lua filters, templates)."""
    return Path(str(resources.files("lenstop.manuscript.render").joinpath(name)))


def _pandoc_path() -> str:
    """The pandoc binary of pypandoc-binary (the pinned pandoc 3.9)."""
    import pypandoc

    try:
        return pypandoc.get_pandoc_path()
    except OSError as exc:  # pragma: no cover - pinned dependency
        raise RenderError(f"pandoc is not available: {exc}") from None


def _resource(value: str, key: str, project: Project) -> Path:
    """A bibliography or CSL file, next to the article or in the project folder."""
    for base in (project.article.parent, project.root):
        if (base / value).is_file():
            return (base / value).resolve()
    raise RenderError(f"{key} file {value!r} not found (looked next to the article and in the "
                      "project folder)", file=project.article)


def _typst_str(text: str) -> str:
    """A Typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _plain(text: str) -> str:
    """Markdown-ish metadata text reduced to plain text (HTML <title>, PDF properties)."""
    return " ".join(re.sub(r"[*_`\[\]]", "", text).split())


# ------------------------------------------------------------------ pandoc

def _line_of(source: str, needle: str, *, last: bool = False, word: bool = True) -> int | None:
    """1-based line of `needle` in `source` (a whole label or key unless `word` is false)."""
    hits = list(re.finditer(re.escape(needle) + (r"(?![\w-])" if word else ""), source))
    if not hits:
        return None
    return source.count("\n", 0, hits[-1 if last else 0].start()) + 1


def _filter_errors(stderr: str, project: Project) -> RenderError | None:
    """The Lua filter's collected problems as one RenderError, with lines."""
    m = re.search(r"<<LENSTOP\n(.*?)\nLENSTOP>>", stderr, re.DOTALL)
    if not m:
        return None
    problems: list[tuple[int | None, str]] = []
    for row in dict.fromkeys(m.group(1).splitlines()):
        kind, key, message = (row.split("\t", 2) + ["", ""])[:3]
        needle = {"dup": "#" + key, "caption": "#" + key}.get(kind, key)
        line = _line_of(project.source, needle, last=kind == "dup",
                        word=kind in ("xref", "cite", "dup", "caption")) if needle else None
        problems.append((line, message))
    problems.sort(key=lambda p: (p[0] is None, p[0] or 0))
    first = problems[0][0]
    if len(problems) == 1:
        return RenderError(problems[0][1], file=project.article, line=first)
    text = "; ".join((f"line {ln}: " if ln else "") + msg for ln, msg in problems)
    return RenderError(f"{len(problems)} problems: {text}", file=project.article, line=first)


def _run_pandoc(args: list[str], project: Project, cwd: Path) -> None:
    """Run pandoc; any filter problem, failure or warning is a RenderError."""
    proc = subprocess.run([_pandoc_path(), *args], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", check=False)
    err = _filter_errors(proc.stderr, project)
    if err is not None:
        raise err
    if proc.returncode != 0:
        raise RenderError(f"pandoc failed (exit {proc.returncode}): "
                          + " ".join(proc.stderr.split())[:1500], file=project.article)
    warnings = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    if warnings:
        raise RenderError("pandoc warned: " + " ".join(" ".join(warnings).split())[:1500],
                          file=project.article)


def _pandoc_args(meta: dict[str, Any], project: Project, fmt: str, workdir: Path,
                 body: str) -> tuple[list[str], dict[str, Any]]:
    """(command-line arguments, metadata block) shared by both formats."""
    pmeta: dict[str, Any] = {k: meta[k] for k in ("title", "subtitle", "abstract", "toc",
                                                    "toc-depth", "papersize", "fontsize")
                             if meta.get(k) is not None}
    if isinstance(meta.get("keywords"), list):
        pmeta["keywords"] = [str(k) for k in meta["keywords"]]
    authors = normalize_authors(meta)
    if authors:
        pmeta["lenstop-authors"] = authors
        pmeta["author"] = [a["name"] for a in authors]
        pmeta["lenstop-author-heading"] = "Author" if len(authors) == 1 else "Authors"
        n_affs = len({a for au in authors for a in au["affiliations"]})
        pmeta["lenstop-affiliation-heading"] = "Affiliation" if n_affs <= 1 else "Affiliations"
    date_text, _ = format_date(meta.get("date"), meta.get("date-format"), fmt)
    if date_text:
        pmeta["lenstop-date"] = date_text
    src = workdir / "input.md"
    src.write_text("---\n" + yaml.safe_dump(pmeta, sort_keys=True, allow_unicode=True,
                                            width=10_000) + "---\n\n" + body + "\n",
                   encoding="utf-8")
    numbered = meta.get("number-sections") is True
    typst_numbering = numbered or bool(meta.get("section-numbering"))
    args = [str(src), "--from", "markdown", "--standalone", "--wrap=none",
            "--data-dir", str(workdir / "pandoc-data"),
            "--lua-filter", str(_asset("quarto_subset.lua")),
            "--metadata", f"lenstop-format={fmt}",
            "--metadata", f"lenstop-docdir={project.article.parent}",
            "--metadata", f"lenstop-number-sections={str(numbered).lower()}",
            "--metadata", f"lenstop-typst-numbering={str(typst_numbering).lower()}",
            "--metadata", f"lenstop-notebook-links={str(_links(meta) is not False).lower()}"]
    bib = meta.get("bibliography")
    for b in bib if isinstance(bib, list) else ([bib] if bib else []):
        args.append(f"--bibliography={_resource(str(b), 'bibliography', project)}")
    if meta.get("csl"):
        args.append(f"--csl={_resource(str(meta['csl']), 'csl', project)}")
    for i, text in enumerate(include_in_header(project, meta)):
        inc = workdir / f"header-{i}.txt"
        inc.write_text(text, encoding="utf-8")
        args += ["--include-in-header", str(inc)]
    return args, pmeta


def _pdf_timestamp(day: _dt.date | None) -> int:
    """PDF creation time: SOURCE_DATE_EPOCH, else the document date, else 0."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return int(sde)
        except ValueError:
            raise RenderError(f"SOURCE_DATE_EPOCH must be an integer, got {sde!r}") from None
    if day is not None:
        return int(_dt.datetime(day.year, day.month, day.day, tzinfo=_dt.UTC).timestamp())
    return 0


def _compile_typst(typ: Path, timestamp: int, project: Project) -> bytes:
    """Typst -> PDF bytes with bundled fonts only; Typst warnings are errors."""
    import typst

    try:
        pdf, warnings = typst.compile_with_warnings(
            str(typ), root="/", font_paths=[], ignore_system_fonts=True, format="pdf",
            timestamp=timestamp)
    except typst.TypstError as exc:
        detail = " ".join(f"{exc.message} {getattr(exc, 'hints', '')}".split())
        raise RenderError(f"Typst could not compile the PDF: {detail[:1500]}",
                          file=project.article) from None
    if warnings:
        text = "; ".join(" ".join(f"{w.message} {w.hints}".split()) for w in warnings)
        raise RenderError(f"Typst warned: {text[:1500]}", file=project.article)
    assert isinstance(pdf, bytes)
    return pdf


# ------------------------------------------------------------------ the two formats

def _links(meta: dict[str, Any]) -> bool | str:
    """`notebook-links` (true, false, inline, global); false without previews."""
    return False if meta.get("notebook-view") is False else meta.get("notebook-links", True)


def _notebook_titles(project: Project) -> dict[str, str]:
    """Listed notebooks -> title (listed title, else its own, else the name)."""
    titles = {}
    for nb in project.notebooks:
        titles[nb.rel] = nb.title or notebook_title(read_notebook(nb.path)) or nb.path.name
    return titles


def _body(project: Project, meta: dict[str, Any], fmt: str,
          workdir: Path) -> tuple[str, dict[str, Any], Embedder]:
    """The metadata and the body with shortcodes resolved for one format."""
    ctx = ShortcodeContext(project.variables, {}, fmt)
    meta = resolve_metadata(meta, ctx, project.article, project.source)
    links = _links(meta)
    embedder = Embedder(project_root=project.root, doc_dir=project.article.parent, fmt=fmt,
                        workdir=workdir, titles=_notebook_titles(project),
                        listed={nb.rel for nb in project.notebooks},
                        inline_links=links in (True, "inline"))
    ctx = ShortcodeContext(project.variables, meta, fmt, embed=embedder)
    body = resolve_markdown(project.body, ctx, project.article, project.body_first_line)
    return body, meta, embedder


def _previews(project: Project, meta: dict[str, Any],
              embedder: Embedder) -> list[tuple[Notebook, str]]:
    """(notebook, title) of every notebook with a preview, in Quarto's order."""
    if meta.get("notebook-view") is False:
        return []
    titles = _notebook_titles(project)
    notebooks = list(project.notebooks)
    for rel in sorted(embedder.used):
        if rel not in titles:
            path = project.root / rel
            notebooks.append(Notebook(path, rel))
            titles[rel] = notebook_title(read_notebook(path)) or path.name
    listed = sorted((nb for nb in notebooks if nb.order is not None),
                    key=lambda nb: nb.order or 0)
    others = sorted((nb for nb in notebooks if nb.order is None),
                    key=lambda nb: titles[nb.rel].casefold())
    return [(nb, titles[nb.rel]) for nb in listed + others]


def _render_html(project: Project, workdir: Path, pdf_name: str | None) -> dict[str, bytes]:
    """index.html, the notebook previews and their .ipynb copies, as bytes."""
    workdir.mkdir(parents=True, exist_ok=True)
    meta = merged_metadata(project, "html")
    body, meta, embedder = _body(project, meta, "html", workdir)
    args, pmeta = _pandoc_args(meta, project, "html", workdir, body)
    previews = _previews(project, meta, embedder)
    if pdf_name:
        args += ["-V", f'lenstop-other-formats=<p><a href="{html.escape(pdf_name)}">Typst</a>'
                       "</p>"]
    if previews and _links(meta) in (True, "global"):
        items = "".join(f'<li><a href="{html.escape(preview_name(nb.rel))}">'
                        f"{html.escape(title)}</a></li>" for nb, title in previews)
        args += ["-V", f"lenstop-notebooks=<ul>{items}</ul>"]
    css = workdir / "style.html"
    css.write_text("<style>\n" + _asset("templates/style.css").read_text("utf-8")
                   + "</style>\n", encoding="utf-8")
    out = workdir / "index.html"
    args += ["--to", "html5", "--template", str(_asset("templates/article.html")),
             "--section-divs", "--embed-resources", "--mathml", "--include-in-header", str(css),
             "--metadata", "pagetitle=" + _plain(str(meta.get("title") or project.article.stem)),
             "--output", str(out)]
    if meta.get("toc") is True:
        args += ["--toc", f"--toc-depth={int(meta.get('toc-depth', 3))}"]
    if meta.get("bibliography"):
        args.append("--citeproc")
    _run_pandoc(args, project, workdir)
    page = out.read_text(encoding="utf-8")
    remote = remote_resource(page)
    if remote is not None:
        raise RenderError(f"the HTML would load a resource over the network ({remote!r})",
                          file=project.article)
    files = {"index.html": page.encode("utf-8")}
    for nb, title in previews:
        notebook = read_notebook(nb.path)
        files[preview_name(nb.rel)] = render_preview(notebook, nb.rel, title)
        files[nb.rel] = nb.path.read_bytes()
    return files


def _render_pdf(project: Project, workdir: Path) -> bytes:
    """The PDF as bytes: pandoc to Typst (as Quarto writes it), then Typst."""
    workdir.mkdir(parents=True, exist_ok=True)
    meta = merged_metadata(project, "typst")
    body, meta, _ = _body(project, meta, "typst", workdir)
    args, pmeta = _pandoc_args(meta, project, "typst", workdir, body)
    citeproc = meta.get("citeproc") is True
    if meta.get("bibliography") and not citeproc:
        bib = meta["bibliography"]
        for b in bib if isinstance(bib, list) else [bib]:
            path = _resource(str(b), "bibliography", project)
            if path.suffix not in (".bib", ".yml", ".yaml"):
                raise RenderError(f"Typst reads only .bib and .yml bibliographies, not "
                                  f"{path.name} (or set `citeproc: true` in format typst)",
                                  file=project.article)
            args += ["-V", f"lenstop-bibliography={path}"]
        if meta.get("csl"):
            args += ["-V", f"lenstop-csl={_resource(str(meta['csl']), 'csl', project)}"]
    parts = []
    if meta.get("title"):
        parts.append("title: " + _typst_str(_plain(str(meta["title"]))))
    if pmeta.get("author"):
        parts.append("author: (" + "".join(_typst_str(_plain(a)) + ", "
                                           for a in pmeta["author"]) + ")")
    if pmeta.get("keywords"):
        parts.append("keywords: (" + "".join(_typst_str(_plain(k)) + ", "
                                             for k in pmeta["keywords"]) + ")")
    if parts:
        args += ["-V", "lenstop-docmeta=" + ", ".join(parts)]
    margin = meta.get("margin")
    if isinstance(margin, dict):
        args += ["-V", "lenstop-margin=" + "".join(f"{k}: {v}, " for k, v in margin.items())]
    if str(meta.get("lang", "en")) == "en-GB":
        args += ["-V", "lenstop-region=GB"]
    numbering = meta.get("section-numbering") or ("1.1.a" if meta.get("number-sections")
                                                  else None)
    if numbering:
        args += ["-V", f"lenstop-sectionnumbering={numbering}"]
    out = workdir / "report.typ"
    args += ["--to", "typst-citations" if citeproc else "typst",
             "--template", str(_asset("templates/article.typ"))]
    if citeproc and meta.get("bibliography"):
        args.append("--citeproc")
    args += ["--lua-filter", str(_asset("typst_tables.lua")), "--output", str(out)]
    _run_pandoc(args, project, workdir)
    _, day = format_date(meta.get("date"), None, "typst")
    return _compile_typst(out, _pdf_timestamp(day), project)


def _resources(project: Project) -> dict[str, bytes]:
    """`project: resources:` globs: files copied into the output folder, as Quarto does."""
    globs = (project.config.get("project") or {}).get("resources") or []
    files = {}
    for pattern in globs if isinstance(globs, list) else [globs]:
        matches = [p for p in sorted(project.root.glob(str(pattern))) if p.is_file()]
        if not matches:
            raise RenderError(f"project resources {pattern!r} match no file",
                              file=project.root / "_quarto.yml")
        for path in matches:
            files[path.relative_to(project.root).as_posix()] = path.read_bytes()
    return files


# ------------------------------------------------------------------ public API

def _atomic_write(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` through a temporary file and one os.replace."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render(project_dir: Path, out_dir: Path, *, variables: dict[str, Any] | None = None,
           formats: Iterable[str] = FORMATS,
           profile: str | list[str] | None = None) -> list[Path]:
    """Render the manuscript project at `project_dir` into `out_dir`; return the paths written.

    `formats` is a subset of ("html", "pdf"): HTML writes `index.html` and the notebook
    previews with their `.ipynb`, PDF writes `<article>.pdf`. `variables` replaces
    `_variables.yml`; `profile` (else QUARTO_PROFILE) selects `_quarto-<profile>.yml`.
    Raises `RenderError` for anything Quarto 1.7 would not render cleanly.
    """
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise RenderError(f"unknown format(s) {unknown or formats!r}; choose from {FORMATS}")
    project = load_project(Path(project_dir), variables, profile)
    pdf_name = project.article.stem + ".pdf"
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="lenstop-render-") as tmp:
        if "html" in formats:
            files.update(_render_html(project, Path(tmp) / "html",
                                      pdf_name if "pdf" in formats else None))
        if "pdf" in formats:
            files[pdf_name] = _render_pdf(project, Path(tmp) / "typst")
    files.update(_resources(project))
    out_dir = Path(out_dir)
    written = []
    for rel in sorted(files):
        _atomic_write(out_dir / rel, files[rel])
        written.append(out_dir / rel)
    return written
