"""Read a Quarto manuscript project: `_quarto.yml`, `_variables.yml`, the article's front matter.

Metadata is merged the way Quarto layers it for one output format:
project top level < project `metadata-files` < project `format.<fmt>` < document front matter
< document `metadata-files` < document `format.<fmt>`. Mappings merge key by key; any other
value (lists included) is replaced by the later layer.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import RenderError

# Keys of _quarto.yml that configure the project, not the document.
_PROJECT_ONLY_KEYS = {"project", "manuscript", "format", "profile", "website", "book",
                      "metadata-files"}
# Output formats this renderer knows, and the Quarto `format:` key each one reads.
FORMAT_KEYS = {"html": "html", "typst": "typst"}

_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                           re.DOTALL)


@dataclass
class Project:
    """Everything read from disk before rendering one document."""

    root: Path
    config: dict[str, Any]
    article: Path
    front_matter: dict[str, Any]
    body: str
    body_first_line: int
    """1-based line of the article where `body` starts (for error messages)."""
    variables: dict[str, Any]


def _load_yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError(f"{what} not found", file=path) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = None
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        raise RenderError(f"{what} is not valid YAML ({getattr(exc, 'problem', exc)})",
                          file=path, line=line) from None


def load_project(project_dir: Path, variables: dict[str, Any] | None = None) -> Project:
    root = Path(project_dir).resolve()
    cfg_path = root / "_quarto.yml"
    if not cfg_path.is_file():
        raise RenderError("no _quarto.yml in the project folder", file=root)
    config = _load_yaml(cfg_path, "_quarto.yml") or {}
    if not isinstance(config, dict):
        raise RenderError("_quarto.yml must be a mapping", file=cfg_path)
    proj = config.get("project") or {}
    if proj.get("type", "default") != "manuscript":
        raise RenderError("project.type must be 'manuscript' (a Quarto manuscript project)",
                          file=cfg_path)
    manuscript = config.get("manuscript") or {}
    article_name = manuscript.get("article", "index.qmd")
    if not str(article_name).endswith(".qmd"):
        raise RenderError(f"manuscript.article must be a .qmd file, got {article_name!r}",
                          file=cfg_path)
    article = root / article_name
    try:
        text = article.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError("manuscript article not found (manuscript.article in _quarto.yml)",
                          file=article) from None
    front, body, first = split_front_matter(text, article)

    if variables is None:
        var_path = root / "_variables.yml"
        variables = (_load_yaml(var_path, "_variables.yml") or {}) if var_path.is_file() else {}
    if not isinstance(variables, dict):
        raise RenderError("variables must be a mapping", file=root / "_variables.yml")
    return Project(root=root, config=config, article=article, front_matter=front, body=body,
                   body_first_line=first, variables=variables)


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int]:
    """Return (front matter mapping, body text, 1-based line where the body starts)."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text, 1
    try:
        front = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None
        raise RenderError(f"front matter is not valid YAML ({getattr(exc, 'problem', exc)})",
                          file=path, line=line) from None
    if not isinstance(front, dict):
        raise RenderError("front matter must be a YAML mapping", file=path, line=1)
    consumed = text[: m.end()]
    return front, text[m.end():], consumed.count("\n") + 1


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _format_options(node: Any, fmt_key: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    opts = node.get(fmt_key)
    return opts if isinstance(opts, dict) else {}


def _metadata_files(owner: dict[str, Any], base_dir: Path, src: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    files = owner.get("metadata-files") or []
    if isinstance(files, str):
        files = [files]
    for name in files:
        path = (base_dir / name).resolve()
        data = _load_yaml(path, f"metadata file {name!r} (metadata-files in {src.name})") or {}
        if not isinstance(data, dict):
            raise RenderError("metadata file must be a mapping", file=path)
        merged = deep_merge(merged, data)
    return merged


def merged_metadata(project: Project, fmt: str) -> dict[str, Any]:
    """The document metadata Quarto would see when rendering `fmt` ("html" or "typst")."""
    fmt_key = FORMAT_KEYS[fmt]
    cfg = project.config
    top = {k: v for k, v in cfg.items() if k not in _PROJECT_ONLY_KEYS}
    meta = deep_merge({}, top)
    meta = deep_merge(meta, _metadata_files(cfg, project.root, project.root / "_quarto.yml"))
    meta = deep_merge(meta, _format_options(cfg.get("format"), fmt_key))
    front = {k: v for k, v in project.front_matter.items()
             if k not in ("format", "metadata-files")}
    meta = deep_merge(meta, front)
    meta = deep_merge(meta, _metadata_files(project.front_matter, project.article.parent,
                                            project.article))
    meta = deep_merge(meta, _format_options(project.front_matter.get("format"), fmt_key))
    return meta


# ---------------------------------------------------------------- authors and affiliations

def _name_text(name: Any) -> str:
    if isinstance(name, str):
        return name
    if isinstance(name, dict):
        if name.get("literal"):
            return str(name["literal"])
        parts = [name.get("given"), name.get("dropping-particle"),
                 name.get("non-dropping-particle"), name.get("family")]
        return " ".join(str(p) for p in parts if p)
    return str(name)


def _affiliation_text(aff: dict[str, Any]) -> str:
    parts = [aff.get("department"), aff.get("name")]
    place = [aff.get("city"), aff.get("region") or aff.get("state"), aff.get("country")]
    text = ", ".join(str(p) for p in parts + place if p)
    return text


def normalize_authors(meta: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Quarto's author/affiliation schema -> (authors, numbered affiliations) for the templates.

    Accepted: `author` (or `authors`) as a string, a list of strings, or a list of mappings with
    `name` (string or {given, family, literal}), `email`, `orcid`, `corresponding`,
    `affiliations` (strings, {ref: id}, or inline mappings) / `affiliation`; plus an optional
    top-level `affiliations` list with `id`s.
    """
    raw = meta.get("author", meta.get("authors"))
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        raw = [raw]
    by_id: dict[str, dict[str, Any]] = {}
    for aff in meta.get("affiliations") or []:
        if isinstance(aff, dict) and aff.get("id"):
            by_id[str(aff["id"])] = aff
    numbered: list[str] = []

    def number_of(text: str) -> int:
        if text not in numbered:
            numbered.append(text)
        return numbered.index(text) + 1

    authors = []
    for item in raw:
        if not isinstance(item, dict):
            authors.append({"name": str(item), "marks": ""})
            continue
        affs = item.get("affiliations", item.get("affiliation")) or []
        if not isinstance(affs, list):
            affs = [affs]
        marks = []
        for aff in affs:
            if isinstance(aff, dict) and "ref" in aff:
                ref = str(aff["ref"])
                if ref not in by_id:
                    raise RenderError(f"author {_name_text(item.get('name'))!r} refers to "
                                      f"affiliation {ref!r}, which is not in `affiliations`")
                text = _affiliation_text(by_id[ref])
            elif isinstance(aff, dict):
                text = _affiliation_text(by_id.get(str(aff.get("id")), aff))
            else:
                text = _affiliation_text(by_id[str(aff)]) if str(aff) in by_id else str(aff)
            if text:
                marks.append(number_of(text))
        entry: dict[str, Any] = {
            "name": _name_text(item.get("name", "")),
            "marks": ",".join(str(m) for m in marks),
        }
        for key in ("email", "orcid"):
            if item.get(key):
                entry[key] = str(item[key])
        attrs = item.get("attributes") or {}
        if item.get("corresponding") or (isinstance(attrs, dict) and attrs.get("corresponding")):
            entry["corresponding"] = True
        authors.append(entry)
    if len(numbered) <= 1:  # a single affiliation needs no marks
        for a in authors:
            a["marks"] = ""
    affiliations = [{"mark": str(i + 1) if len(numbered) > 1 else "", "text": t}
                    for i, t in enumerate(numbered)]
    return authors, affiliations


# ---------------------------------------------------------------- dates

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def build_date(source_date_epoch: str | None = None) -> _dt.date:
    """SOURCE_DATE_EPOCH's date (UTC) if set, else today."""
    sde = source_date_epoch if source_date_epoch is not None else os.environ.get(
        "SOURCE_DATE_EPOCH")
    if sde:
        try:
            return _dt.datetime.fromtimestamp(int(sde), tz=_dt.UTC).date()
        except ValueError:
            raise RenderError(f"SOURCE_DATE_EPOCH must be an integer, got {sde!r}") from None
    return _dt.date.today()


def format_date(value: Any, date_format: Any = None) -> tuple[str, _dt.date | None]:
    """Render `date` metadata. Returns (text, parsed date or None).

    `today`/`now`/`last-modified` mean the build date (SOURCE_DATE_EPOCH when set).
    ISO dates are formatted with `date-format`: `long` (default, "August 5, 2024"), `iso`, or a
    pattern of the tokens YYYY, MMMM, MMM, MM, M, DD, D. Other strings are kept as written.
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
    fmt = str(date_format or "long")
    if fmt == "iso":
        return day.isoformat(), day
    if fmt in ("long", "full"):
        fmt = "MMMM D, YYYY"
    elif fmt == "medium":
        fmt = "MMM D, YYYY"
    elif fmt == "short":
        fmt = "M/D/YY"
    tokens = {
        "YYYY": f"{day.year:04d}", "YY": f"{day.year % 100:02d}",
        "MMMM": _MONTHS[day.month - 1], "MMM": _MONTHS[day.month - 1][:3],
        "MM": f"{day.month:02d}", "M": str(day.month), "DD": f"{day.day:02d}", "D": str(day.day),
    }
    out = re.sub(r"YYYY|YY|MMMM|MMM|MM|M|DD|D", lambda m: tokens[m.group(0)], fmt)
    return out, day
