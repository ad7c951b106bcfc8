"""The render pipeline: shortcodes in Python, then pandoc + Lua filter, then Typst for the PDF."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .errors import RenderError
from .notebooks import Embedder
from .project import (
    Project,
    format_date,
    load_project,
    merged_metadata,
    normalize_authors,
)
from .shortcodes import ShortcodeContext, resolve_markdown, resolve_metadata

log = logging.getLogger(__name__)

FORMATS = {"html": ("html", "html"), "pdf": ("typst", "pdf")}
"""Public format name -> (pandoc/Quarto target, file extension)."""

_STRIP_META = {"author", "authors", "affiliations", "date", "date-format", "bibliography", "csl",
               "format", "execute", "jupyter", "engine", "metadata-files", "project",
               "manuscript", "notebook-links", "notebook-view", "title-block-banner"}


def _asset(name: str) -> Path:
    return Path(str(resources.files("lenstop.render").joinpath(name)))


def _pandoc_path() -> str:
    try:
        import pypandoc
    except ImportError:  # pragma: no cover - pinned dependency
        raise RenderError("pypandoc (pypandoc_binary) is not installed") from None
    try:
        return pypandoc.get_pandoc_path()
    except OSError as exc:  # pragma: no cover
        raise RenderError(f"pandoc is not available: {exc}") from None


# ------------------------------------------------------------------ metadata for pandoc

def _resolve_resource(value: str, key: str, project: Project) -> str:
    for base in (project.article.parent, project.root):
        path = (base / value).resolve()
        if path.is_file():
            return str(path)
    raise RenderError(f"{key} file {value!r} not found (looked next to the article and in "
                      "the project folder)", file=project.article)


def _typst_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _plain(text: str) -> str:
    """Markdown-ish metadata text reduced to plain text for PDF document properties."""
    return re.sub(r"[*_`\[\]]", "", text).strip()


def _pandoc_metadata(meta: dict[str, Any], target: str,
                     project: Project) -> tuple[dict[str, Any], list[str]]:
    """(metadata for the YAML block, extra pandoc arguments)."""
    out = {k: v for k, v in meta.items() if k not in _STRIP_META}
    authors, affiliations = normalize_authors(meta)
    if authors:
        out["author"] = [a["name"] for a in authors]
        out["lenstop-authors"] = authors
        corresponding = [a["name"] + (f" ({a['email']})" if a.get("email") else "")
                         for a in authors if a.get("corresponding")]
        if corresponding:
            out["lenstop-corresponding"] = corresponding
    if affiliations:
        out["lenstop-affiliations"] = affiliations
    date_text, day = format_date(meta.get("date"), meta.get("date-format"))
    if date_text:
        out["lenstop-date"] = date_text
        out["date"] = day.isoformat() if day else date_text
    if target == "html" and "toc" not in out:
        out["toc"] = True
    # file paths go on the command line: in the YAML block pandoc would read them as markdown
    variables: list[str] = []
    bib = meta.get("bibliography")
    if bib:
        for b in bib if isinstance(bib, list) else [bib]:
            variables.append("--bibliography=" + _resolve_resource(str(b), "bibliography",
                                                                   project))
    if meta.get("csl"):
        variables.append("--csl=" + _resolve_resource(str(meta["csl"]), "csl", project))
    if target == "typst":
        lang = str(meta.get("lang") or "en").replace("_", "-").split("-")
        if re.fullmatch(r"[A-Za-z]{2,3}", lang[0]):
            variables += ["-V", f"lenstop-typst-lang={lang[0].lower()}"]
        if len(lang) > 1 and re.fullmatch(r"[A-Za-z]{2}", lang[1]):
            variables += ["-V", f"lenstop-typst-region={lang[1].upper()}"]
        parts = []
        if authors:
            parts.append("author: (" + ", ".join(_typst_str(_plain(a["name"])) for a in authors)
                         + ",)")
        kws = meta.get("keywords")
        if isinstance(kws, list) and kws:
            parts.append("keywords: (" + ", ".join(_typst_str(_plain(str(k))) for k in kws)
                         + ",)")
        if parts:
            variables += ["-V", "lenstop-typst-docmeta=" + ", ".join(parts)]
    return out, variables


def _notebook_view(meta: dict[str, Any], project: Project) -> dict[str, dict[str, Any]]:
    """Titles/urls for "Source:" links: `notebook-view`, then `manuscript.notebooks` entries."""
    out: dict[str, dict[str, Any]] = {}
    listed = (project.config.get("manuscript") or {}).get("notebooks") or []
    for source in (listed, meta.get("notebook-view")):
        if isinstance(source, list):
            for entry in source:
                if isinstance(entry, dict) and entry.get("notebook"):
                    key = str(PurePosixPath(str(entry["notebook"])))
                    out[key] = {**out.get(key, {}), **entry}
    return out


# ------------------------------------------------------------------ pandoc and typst

def _line_of(text: str, needle: str) -> int | None:
    m = re.search(re.escape(needle) + r"(?![\w-])", text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _filter_errors(stderr: str, project: Project) -> RenderError | None:
    m = re.search(r"<<LENSTOP\n(.*?)\nLENSTOP>>", stderr, re.DOTALL)
    if not m:
        return None
    source = project.article.read_text(encoding="utf-8")
    problems: list[tuple[int | None, str]] = []
    for row in m.group(1).splitlines():
        kind, key, message = (row.split("\t", 2) + ["", ""])[:3]
        needle = {"xref": "@" + key, "meta": key, "image": key, "cond": key}.get(kind, "#" + key)
        line = _line_of(source, needle)
        if line is None and kind == "xref":
            line = _line_of(source, "@" + key[:1].upper() + key[1:])
        problems.append((line, message))
    first_line = problems[0][0]
    if len(problems) == 1:
        return RenderError(problems[0][1], file=project.article, line=first_line)
    text = "; ".join((f"line {ln}: " if ln else "") + msg for ln, msg in problems)
    return RenderError(f"{len(problems)} problems: {text}", file=project.article,
                       line=first_line)


def _run_pandoc(args: list[str], project: Project, cwd: Path) -> str:
    proc = subprocess.run([_pandoc_path(), *args], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", check=False)
    err = _filter_errors(proc.stderr, project)
    if err is not None:
        raise err
    if proc.returncode != 0:
        raise RenderError(f"pandoc failed (exit {proc.returncode}): "
                          + " ".join(proc.stderr.split())[:1500], file=project.article)
    source = project.article.read_text(encoding="utf-8")
    missing = re.findall(r"\[WARNING\] Citeproc: citation (\S+) not found", proc.stderr)
    if missing:
        key = missing[0]
        keys = ", ".join("@" + k for k in dict.fromkeys(missing))
        raise RenderError(f"citation {keys} not found in the bibliography",
                          file=project.article, line=_line_of(source, "@" + key))
    for pattern, what in ((r"\[WARNING\] Could not fetch resource (.*)", "resource not found"),
                          (r"\[WARNING\] Duplicate identifier '?([^'\n]*)", "duplicate id")):
        hit = re.search(pattern, proc.stderr)
        if hit:
            raise RenderError(f"pandoc: {what}: {hit.group(1).strip()}", file=project.article)
    for line in proc.stderr.splitlines():
        if line.strip():
            log.warning("pandoc: %s", line.strip())
    return proc.stderr


def _pdf_timestamp(day: _dt.date | None) -> int:
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
    import typst

    try:
        pdf = typst.compile(str(typ), root="/", font_paths=[], ignore_system_fonts=True,
                            format="pdf", timestamp=timestamp)
    except typst.TypstError as exc:
        detail = " ".join(f"{exc.message} {getattr(exc, 'diagnostic', '')}".split())
        raise RenderError(f"Typst could not compile the PDF: {detail[:1500]}",
                          file=project.article) from None
    except RuntimeError as exc:
        raise RenderError(f"Typst could not compile the PDF: {exc}", file=project.article) \
            from None
    assert isinstance(pdf, bytes)
    return pdf


def _render_one(project: Project, target: str, workdir: Path) -> bytes:
    workdir.mkdir(parents=True, exist_ok=True)
    source = project.article.read_text(encoding="utf-8")
    meta = merged_metadata(project, target)
    meta = resolve_metadata(meta, ShortcodeContext(project.variables, {}, target),
                            project.article, source)
    links = meta.get("notebook-links", True)
    embedder = Embedder(project_root=project.root, doc_dir=project.article.parent, fmt=target,
                        workdir=workdir, notebook_view=_notebook_view(meta, project),
                        notebook_links=links in (True, "inline"))
    ctx = ShortcodeContext(project.variables, meta, target, embed=embedder)
    body = resolve_markdown(project.body, ctx, project.article, project.body_first_line)
    pmeta, variables = _pandoc_metadata(meta, target, project)
    doc = ("---\n" + yaml.safe_dump(pmeta, sort_keys=True, allow_unicode=True, width=10_000)
           + "---\n\n" + body + "\n")
    src = workdir / "input.md"
    src.write_text(doc, encoding="utf-8")
    datadir = workdir / "pandoc-data"
    datadir.mkdir(exist_ok=True)
    args = [str(src), "--from", "markdown", "--standalone",
            "--lua-filter", str(_asset("quarto_subset.lua")), "--citeproc",
            "--data-dir", str(datadir),
            "--metadata", f"lenstop-format={target}",
            "--metadata", f"lenstop-docdir={project.article.parent}",
            *variables]
    if pmeta.get("toc"):
        args += ["--toc", f"--toc-depth={int(pmeta.get('toc-depth', 3))}"]
    if target == "html":
        css = workdir / "style.html"
        css.write_text("<style>\n" + _asset("templates/style.css").read_text("utf-8")
                       + "</style>\n", encoding="utf-8")
        out = workdir / "report.html"
        args += ["--to", "html5", "--template", str(_asset("templates/template.html")),
                 "--embed-resources", "--section-divs", "--mathml", "--wrap=none",
                 "--include-in-header", str(css), "--output", str(out)]
        _run_pandoc(args, project, workdir)
        return out.read_bytes()
    out = workdir / "report.typ"
    args += ["--to", "typst", "--template", str(_asset("templates/template.typ")),
             "--output", str(out)]
    _run_pandoc(args, project, workdir)
    _, day = format_date(meta.get("date"), None)
    return _compile_typst(out, _pdf_timestamp(day), project)


# ------------------------------------------------------------------ public API

def _atomic_write(dest: Path, data: bytes) -> None:
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
           formats: Iterable[str] = ("html", "pdf")) -> dict[str, Path]:
    """Render the manuscript project at `project_dir` into `out_dir`.

    Returns {"html": out_dir/<article>.html, "pdf": out_dir/<article>.pdf} for the formats
    asked. `variables` replaces `_variables.yml` when given. Every format is rendered in a
    temporary folder first; files in `out_dir` are replaced (atomically, one `os.replace`
    each) only when all formats succeeded, so a failed render leaves the last good report.
    Raises `RenderError` for anything wrong with the sources.
    """
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise RenderError(f"unknown format(s) {unknown or formats!r}; choose from "
                          f"{sorted(FORMATS)}")
    project = load_project(Path(project_dir), variables)
    out_dir = Path(out_dir)
    rendered: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="lenstop-render-") as tmp:
        for fmt in formats:
            target, _ = FORMATS[fmt]
            rendered[fmt] = _render_one(project, target, Path(tmp) / target)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt, data in rendered.items():
        dest = out_dir / f"{project.article.stem}.{FORMATS[fmt][1]}"
        _atomic_write(dest, data)
        paths[fmt] = dest
    return paths
