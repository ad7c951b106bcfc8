"""Read a Quarto manuscript project as Quarto 1.7 does, and refuse what this renderer lacks.

Configuration: `_quarto.yml`, then the active profiles' `_quarto-<name>.yml` (QUARTO_PROFILE or
`profile=`, else `profile: default:`; the first listed wins), then `_quarto.yml.local`. One
format's metadata: project top level < project `format.<fmt>` < front matter < front matter
`format.<fmt>`. Merging is Quarto's: mappings key by key, lists concatenated (duplicates
dropped), a scalar meeting a list joins it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from lenstop.manuscript.render import yaml12
from lenstop.manuscript.render.errors import RenderError
from lenstop.manuscript.render.quarto_options import QUARTO_OPTIONS

FORMAT_KEYS = ("html", "typst")

_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                           re.DOTALL)
# Quarto 1.7's test for "the article has computations" (manuscript.ts): such a line makes it
# render an extra article notebook (report-preview.html, report.embed.ipynb, report.out.ipynb)
_CODE_HINTS = (re.compile(r"`+\{[^.]+.*\}"), re.compile(r'"cell_type"\s*:\s*"code"'))

_PROJECT_ONLY = {"project", "manuscript", "format", "profile"}
_PROJECT_KEYS = {"type", "output-dir", "pre-render", "post-render", "render", "resources"}
_MANUSCRIPT_KEYS = {"article", "notebooks"}
SUPPORTED = {
    "html": {"embed-resources", "notebook-links", "notebook-view", "toc-location", "theme"},
    "typst": {"papersize", "margin", "fontsize", "citeproc", "section-numbering"},
    "both": {"title", "subtitle", "author", "affiliations", "date", "date-format", "abstract",
             "keywords", "bibliography", "csl", "number-sections", "toc", "toc-depth", "lang",
             "include-in-header"},
}
# No effect on the output of a manuscript whose notebooks are executed beforehand
IGNORED = {"execute", "enabled", "engine", "jupyter", "freeze", "cache", "daemon", "keep-md",
           "keep-ipynb", "keep-typ"}
# LaTeX-only in Quarto 1.7: silently without effect in both renderers, so refused here
_LATEX_ONLY = {"fig-pos": "for Typst, write `#set figure(placement: auto)` in include-in-header",
               "geometry": "use `margin:` in format typst",
               "linestretch": "for Typst, write `#set par(leading: ...)` in include-in-header"}
_IGNORED_DIRS = {"node_modules", "renv", "packrat", "venv", "env", "site-packages"}


@dataclass
class Notebook:
    """A notebook of the manuscript: listed in `manuscript: notebooks:` or found in the project."""

    path: Path
    rel: str
    title: str | None = None
    order: int | None = None


@dataclass
class Project:
    """Everything read from disk before rendering."""

    root: Path
    config: dict[str, Any]
    config_files: list[Path]
    article: Path
    source: str
    front_matter: dict[str, Any]
    body: str
    body_first_line: int
    """1-based line of the article where `body` starts (for error messages)."""
    variables: dict[str, Any]
    notebooks: list[Notebook] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)


def _load_yaml(path: Path, what: str) -> Any:
    """A YAML file read as Quarto reads it (YAML 1.2), errors with file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError(f"{what} not found", file=path) from None
    try:
        return yaml12.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RenderError(f"{what} is not valid YAML ({getattr(exc, 'problem', exc)})",
                          file=path, line=mark.line + 1 if mark is not None else None) from None


def quarto_merge(base: Any, over: Any) -> Any:
    """Quarto's `mergeConfigs`: mappings merge, lists concatenate without duplicates."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = quarto_merge(out[key], value) if key in out else value
        return out
    if isinstance(base, list) or isinstance(over, list):
        if base is None or base == [] or over is None:
            return over if base in (None, []) else base
        items = (base if isinstance(base, list) else [base]) + \
            (over if isinstance(over, list) else [over])
        seen, out_list = set(), []
        for item in items:
            key = json.dumps(item, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                out_list.append(item)
        return out_list
    return over


def _profiles(config: dict[str, Any], profile: str | list[str] | None,
              cfg_path: Path) -> list[str]:
    """The active profile names; removes `profile:` from the configuration."""
    spec = config.pop("profile", None)
    if spec is not None and (not isinstance(spec, dict) or set(spec) - {"default"}):
        raise RenderError("`profile:` supports only `default:` here (no profile groups)",
                          file=cfg_path)
    chosen: Any = profile if profile is not None else os.environ.get("QUARTO_PROFILE")
    if not chosen and spec:
        chosen = spec.get("default")
    if isinstance(chosen, list):
        chosen = ",".join(str(c) for c in chosen)
    return [p for p in re.split(r"[ ,]+", str(chosen or "")) if p]


def load_project(project_dir: Path, variables: dict[str, Any] | None = None,
                 profile: str | list[str] | None = None) -> Project:
    """Read and check the project at `project_dir` (RenderError for anything unsupported)."""
    root = Path(project_dir).resolve()
    cfg_path = root / "_quarto.yml"
    if not cfg_path.is_file():
        raise RenderError("no _quarto.yml in the project folder", file=root)
    config = _load_yaml(cfg_path, "_quarto.yml") or {}
    if not isinstance(config, dict):
        raise RenderError("_quarto.yml must be a mapping", file=cfg_path)
    files = [cfg_path]
    meta_files = config.pop("metadata-files", None) or []
    for name in meta_files if isinstance(meta_files, list) else [meta_files]:
        path = root / str(name)
        layer = _load_yaml(path, f"metadata file {name} (metadata-files in _quarto.yml)") or {}
        if not isinstance(layer, dict):
            raise RenderError("a metadata file must be a mapping", file=path)
        config = quarto_merge(config, layer)
        files.append(path)
    active = _profiles(config, profile, cfg_path)
    extra = [root / f"_quarto-{name}{ext}" for name in reversed(active)
             for ext in (".yml", ".yaml")]
    extra += [root / "_quarto.yml.local", root / "_quarto.yaml.local"]
    for path in extra:
        if path.is_file():
            layer = _load_yaml(path, path.name) or {}
            if not isinstance(layer, dict):
                raise RenderError("a configuration file must be a mapping", file=path)
            config = quarto_merge(config, layer)
            files.append(path)
    _check_project_keys(config, cfg_path)
    article = root / str(config["manuscript"].get("article", "index.qmd"))
    try:
        source = article.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError("manuscript article not found (manuscript.article in _quarto.yml)",
                          file=article) from None
    front, body, first = split_front_matter(source, article)
    for lineno, line in enumerate(source.splitlines(), start=1):
        if any(rx.search(line) for rx in _CODE_HINTS):
            raise RenderError(
                "this line looks like code to Quarto 1.7 (a code span or block starting with "
                "`{`), so it would also render an article notebook (report-preview.html, "
                "report.embed.ipynb, report.out.ipynb) and, with embed-resources, fail; write "
                "it differently: drop the backticks around a shortcode, start the code span "
                "with another character, or write a raw block as ``` {=typst} (with a space)",
                file=article, line=lineno)
    if variables is None:
        var_path = root / "_variables.yml"
        variables = (_load_yaml(var_path, "_variables.yml") or {}) if var_path.is_file() else {}
    if not isinstance(variables, dict):
        raise RenderError("variables must be a mapping", file=root / "_variables.yml")
    project = Project(root=root, config=config, config_files=files, article=article,
                      source=source, front_matter=front, body=body, body_first_line=first,
                      variables=variables, profiles=active)
    project.notebooks = _notebooks(project)
    return project


def _check_project_keys(config: dict[str, Any], cfg_path: Path) -> None:
    """Refuse project, manuscript and format options this renderer lacks."""
    proj = config.get("project") or {}
    if not isinstance(proj, dict) or proj.get("type") != "manuscript":
        raise RenderError("project.type must be 'manuscript' (a Quarto manuscript project)",
                          file=cfg_path)
    unknown = sorted(set(proj) - _PROJECT_KEYS)
    if unknown:
        raise RenderError(f"project option(s) {', '.join(unknown)} are not supported by this "
                          "renderer", file=cfg_path)
    manuscript = config.get("manuscript")
    if not isinstance(manuscript, dict):
        config["manuscript"] = manuscript = {}
    unknown = sorted(set(manuscript) - _MANUSCRIPT_KEYS)
    if unknown:
        raise RenderError(f"manuscript option(s) {', '.join(unknown)} are not supported by "
                          "this renderer", file=cfg_path)
    if not str(manuscript.get("article", "index.qmd")).endswith(".qmd"):
        raise RenderError("manuscript.article must be a .qmd file", file=cfg_path)
    formats = config.get("format") or {}
    if not isinstance(formats, dict):
        formats = {str(formats): {}}
    unknown = sorted(set(formats) - set(FORMAT_KEYS))
    if unknown:
        raise RenderError(f"format(s) {', '.join(unknown)} are not supported by this renderer "
                          "(it renders html and typst)", file=cfg_path)


def _visible(rel: PurePosixPath) -> bool:
    """Whether Quarto considers a project path (not `_*`, `.*`, venv, ...)."""
    return not any(part.startswith(("_", ".")) or part in _IGNORED_DIRS for part in rel.parts)


def _notebooks(project: Project) -> list[Notebook]:
    """`manuscript: notebooks:` (in order), else every notebook in the project, as Quarto."""
    cfg = project.root / "_quarto.yml"
    listed = project.config["manuscript"].get("notebooks")
    out: list[Notebook] = []
    if listed is not None:
        for i, entry in enumerate(listed if isinstance(listed, list) else [listed]):
            if isinstance(entry, str):
                entry = {"notebook": entry}
            if not isinstance(entry, dict) or set(entry) - {"notebook", "title"} \
                    or not entry.get("notebook"):
                raise RenderError("manuscript: notebooks: entries must be a path or "
                                  "{notebook, title} (url and download-url are not supported)",
                                  file=cfg)
            rel = PurePosixPath(str(entry["notebook"]).lstrip("/"))
            path = (project.root / rel).resolve()
            if not path.is_file():
                raise RenderError(f"listed notebook {rel} does not exist", file=cfg)
            out.append(Notebook(path, str(rel), entry.get("title"), i))
        return out
    proj = project.config.get("project") or {}
    output_dir = str(proj.get("output-dir", "_manuscript"))
    render = proj.get("render")
    candidates: list[Path] = []
    if render is not None:
        for pattern in render if isinstance(render, list) else [render]:
            candidates += [p for p in sorted(project.root.glob(str(pattern))) if p.is_file()]
    else:
        for dirpath, dirnames, filenames in os.walk(project.root):
            rel_dir = PurePosixPath(Path(dirpath).relative_to(project.root).as_posix())
            dirnames[:] = sorted(d for d in dirnames if _visible(PurePosixPath(d))
                                 and str(rel_dir / d) != output_dir)
            candidates += [Path(dirpath) / f for f in sorted(filenames)]
    others = []
    for path in candidates:
        rel = PurePosixPath(path.relative_to(project.root).as_posix())
        if not _visible(rel) or str(rel).startswith(output_dir + "/"):
            continue
        if path.suffix == ".ipynb" and not re.search(r"\.(out|embed)\.", path.name):
            out.append(Notebook(path.resolve(), str(rel)))
        elif path.suffix in (".qmd", ".md", ".Rmd", ".rmd", ".markdown") \
                and path.resolve() != project.article.resolve() \
                and not re.fullmatch(r"README\.[Rrq]?md", path.name):
            others.append(str(rel))
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5
                                         else "")
        raise RenderError("without `manuscript: notebooks:` Quarto 1.7 treats every document "
                          f"of the project as a manuscript notebook ({shown}); list the "
                          "notebooks, or restrict the inputs with `project: render:`",
                          file=cfg)
    return out


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int]:
    """Return (front matter mapping, body text, 1-based line where the body starts)."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text, 1
    try:
        front = yaml12.load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RenderError(f"front matter is not valid YAML ({getattr(exc, 'problem', exc)})",
                          file=path, line=mark.line + 2 if mark is not None else None) from None
    if not isinstance(front, dict):
        raise RenderError("front matter must be a YAML mapping", file=path, line=1)
    return front, text[m.end():], text[: m.end()].count("\n") + 1


def _format_options(node: Any, fmt: str) -> dict[str, Any]:
    """The `format: <fmt>:` mapping of a configuration layer."""
    if not isinstance(node, dict):
        return {}
    opts = node.get(fmt)
    return opts if isinstance(opts, dict) else {}


def where(project: Project, key: str) -> tuple[Path, int | None]:
    """The file (and line) that sets `key`, for error messages: the last one that does."""
    found: tuple[Path, int | None] = (project.config_files[0], None)
    for path in [*project.config_files, project.article]:
        text = project.source if path == project.article else path.read_text(encoding="utf-8")
        if path == project.article:
            m = _FRONT_MATTER.match(text)
            text = m.group(0) if m else ""
        for lineno, line in enumerate(text.splitlines(), start=1):
            if re.match(rf"\s*{re.escape(key)}\s*:", line):
                found = (path, lineno)
    return found


def merged_metadata(project: Project, fmt: str) -> dict[str, Any]:
    """The document metadata Quarto sees when rendering `fmt` ("html" or "typst"), checked."""
    cfg = project.config
    meta = {k: v for k, v in cfg.items() if k not in _PROJECT_ONLY}
    meta = quarto_merge(meta, _format_options(cfg.get("format"), fmt))
    front = project.front_matter
    meta = quarto_merge(meta, {k: v for k, v in front.items() if k != "format"})
    meta = quarto_merge(meta, _format_options(front.get("format"), fmt))
    if isinstance(front.get("format"), dict) and set(front["format"]) - set(FORMAT_KEYS):
        raise RenderError("the front matter may only configure the html and typst formats",
                          file=project.article)
    supported = SUPPORTED["both"] | SUPPORTED["html"] | SUPPORTED["typst"] | IGNORED
    for key in meta:
        if key in _LATEX_ONLY:
            path, line = where(project, key)
            raise RenderError(f"`{key}` has no effect in Quarto 1.7's html and typst formats "
                              f"(it is a LaTeX option); {_LATEX_ONLY[key]}", file=path,
                              line=line)
        if key in QUARTO_OPTIONS and key not in supported:
            path, line = where(project, key)
            raise RenderError(f"the Quarto option `{key}` is not supported by this renderer "
                              f"({fmt} format); remove it, or see SUBSET.md", file=path,
                              line=line)
    _check_values(project, meta, fmt)
    return meta


def _fail(project: Project, key: str, what: str) -> RenderError:
    """A RenderError about option `key`, at the file and line that set it."""
    path, line = where(project, key)
    return RenderError(f"`{key}`: {what}", file=path, line=line)


def _check_values(project: Project, meta: dict[str, Any], fmt: str) -> None:
    """Refuse option values this renderer (or Quarto 1.7) does not handle."""
    kinds: dict[str, tuple[type, ...]] = {
        "number-sections": (bool,), "toc": (bool,), "toc-depth": (int,), "citeproc": (bool,),
        "embed-resources": (bool,), "papersize": (str,), "fontsize": (str,),
        "section-numbering": (str,), "csl": (str,), "title": (str,), "subtitle": (str,),
        "abstract": (str,)}
    for key, types in kinds.items():
        if key in meta and not isinstance(meta[key], types):
            raise _fail(project, key, f"expected a {types[0].__name__}")
    if meta.get("date-format") not in (None, "iso", "long"):
        raise _fail(project, "date-format", "only `iso` and `long` are supported")
    if str(meta.get("lang", "en")) not in ("en", "en-US", "en-GB"):
        raise _fail(project, "lang", "only English (en, en-US, en-GB) is supported")
    if meta.get("notebook-links", True) not in (True, False, "inline", "global"):
        raise _fail(project, "notebook-links", "expected true, false, inline or global")
    if meta.get("notebook-view", False) is not False:
        raise _fail(project, "notebook-view", "only `notebook-view: false` is supported")
    if meta.get("toc-location", "left") != "left":
        raise _fail(project, "toc-location", "only `left` (Quarto's manuscript default) is "
                    "supported")
    margin = meta.get("margin")
    if margin is not None and (not isinstance(margin, dict) or set(margin) - {
            "x", "y", "top", "bottom", "left", "right"}):
        raise _fail(project, "margin", "expected a mapping of x, y, top, bottom, left, right")
    if fmt == "html" and meta.get("embed-resources") is True \
            and meta.get("notebook-links", True) is not False \
            and meta.get("notebook-view", True) is not False and project.notebooks:
        raise _fail(project, "embed-resources",
                    "`embed-resources: true` in the html format of a manuscript project with "
                    "notebooks makes Quarto 1.7 exit 1 (\"NotFound: rename "
                    "'notebooks/<nb>-preview.html' -> '_manuscript/notebooks/<nb>-preview.html'"
                    "\"); remove it (the notebook previews need separate files) or set "
                    "`notebook-links: false`")


def include_in_header(project: Project, meta: dict[str, Any]) -> list[str]:
    """The texts of `include-in-header`: file paths (project-relative) or `{text:}`/`{file:}`."""
    raw = meta.get("include-in-header")
    items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    texts = []
    for item in items:
        if isinstance(item, dict) and set(item) == {"text"}:
            texts.append(str(item["text"]))
            continue
        name = item.get("file") if isinstance(item, dict) and set(item) == {"file"} else item
        if not isinstance(name, str):
            raise _fail(project, "include-in-header", "expected a file path, {text: ...} or "
                        "{file: ...}")
        for base in (project.article.parent, project.root):
            if (base / name).is_file():
                texts.append((base / name).read_text(encoding="utf-8"))
                break
        else:
            raise _fail(project, "include-in-header", f"file {name!r} not found")
    return texts


# ---------------------------------------------------------------- authors and affiliations

def _name_text(name: Any) -> str:
    """An author name: a string, or {given, family} / {literal}."""
    if isinstance(name, dict):
        if name.get("literal"):
            return str(name["literal"])
        return " ".join(str(name[k]) for k in ("given", "family") if name.get(k))
    return str(name)


def normalize_authors(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Quarto's author schema -> [{name, affiliations: [text], email}] for the templates.

    `author` is a string, a list of strings, or a list of mappings with `name` (string or
    {given, family, literal}), `email` and `affiliations` (strings, `- ref: id` into the
    top-level `affiliations` list, or inline {name, department, city, country}).
    """
    raw = meta.get("author", meta.get("authors"))
    if raw is None:
        return []
    by_id = {str(a["id"]): a for a in meta.get("affiliations") or []
             if isinstance(a, dict) and a.get("id")}

    def aff_text(aff: Any) -> str:
        if isinstance(aff, dict) and "ref" in aff:
            if str(aff["ref"]) not in by_id:
                raise RenderError(f"affiliation ref {aff['ref']!r} is not in `affiliations`")
            aff = by_id[str(aff["ref"])]
        if isinstance(aff, dict):
            return ", ".join(str(aff[k]) for k in ("department", "name", "city", "region",
                                                  "country") if aff.get(k))
        return str(aff)

    authors = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict):
            authors.append({"name": str(item), "affiliations": []})
            continue
        affs = item.get("affiliations", item.get("affiliation")) or []
        entry: dict[str, Any] = {"name": _name_text(item.get("name", "")),
                                 "affiliations": [aff_text(a) for a in
                                                  (affs if isinstance(affs, list) else [affs])]}
        if item.get("email"):
            entry["email"] = str(item["email"])
        authors.append(entry)
    return authors


# ---------------------------------------------------------------- dates

def build_date() -> _dt.date:
    """SOURCE_DATE_EPOCH's date (UTC) if set, else today."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return _dt.datetime.fromtimestamp(int(sde), tz=_dt.UTC).date()
        except ValueError:
            raise RenderError(f"SOURCE_DATE_EPOCH must be an integer, got {sde!r}") from None
    return _dt.date.today()


def format_date(value: Any, date_format: str | None, fmt: str) -> tuple[str, _dt.date | None]:
    """`date` as Quarto prints it: `iso` (2024-08-05) or `long` (August 5, 2024).

    Without `date-format`, HTML uses `long` and Typst `iso`, as in Quarto 1.7. `today`
    means the build date (SOURCE_DATE_EPOCH when set). Other strings are printed as written.
    """
    if value is None:
        return "", None
    day: _dt.date | None = None
    if isinstance(value, _dt.datetime):
        day = value.date()
    elif isinstance(value, _dt.date):
        day = value
    elif isinstance(value, str) and value.strip() in ("today", "now", "last-modified"):
        day = build_date()
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        day = _dt.date.fromisoformat(value.strip())
    if day is None:
        return str(value), None
    style = date_format or ("long" if fmt == "html" else "iso")
    if style == "iso":
        return day.isoformat(), day
    return f"{day.strftime('%B')} {day.day}, {day.year}", day
