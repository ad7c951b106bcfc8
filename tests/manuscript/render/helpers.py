"""Helpers for the renderer tests: the fixture project, text of HTML and PDF, local links."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .htmltext import html_lines

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "minireport"
CASES = Path(__file__).resolve().parent / "cases"
EPOCH = "1722816000"  # 2024-08-05T00:00:00Z


def copy_fixture(dest: Path) -> Path:
    """A writable copy of the fixture project (its relative csl path made absolute)."""
    proj = dest / "minireport"
    shutil.copytree(FIXTURE, proj, ignore=shutil.ignore_patterns("__pycache__", "_manuscript"))
    cfg = proj / "_quarto.yml"
    cfg.write_text(cfg.read_text().replace("../../../vancouver.csl",
                                           str(ROOT / "vancouver.csl")))
    return proj


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a text file (which must contain it)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def html_text(path: Path) -> str:
    """Visible text of an HTML file as one string, whitespace collapsed."""
    return " ".join(html_lines(path.read_text(encoding="utf-8")))


def pdf_text(path: Path, *, layout: bool = False) -> str:
    """`pdftotext -layout` of a PDF, soft hyphens dropped; unless `layout`, as one line with
    whitespace collapsed and a line that ends in a hyphen joined to the next (RBC-TI)."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(r"\xad\n\s*", "", text).replace("\xad", "")
    return text if layout else " ".join(re.sub(r"(?<=\w-)\n\s*", "", text).split())


def pdf_words(layout_text: str) -> list[str]:
    """The words of a `pdftotext -layout` text without page-number lines, soft hyphens or
    icon glyphs (Quarto's callouts carry Font Awesome icons, private-use characters)."""
    text = re.sub("[\xad\ue000-\uf8ff]", "", layout_text)
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"\s*\d+\s*", ln)]
    return " ".join(lines).split()


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append((tag, a[key] or ""))


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(out_dir: Path) -> list[str]:
    """Every local href/src in the HTML under `out_dir` whose file or #anchor is missing."""
    problems = []
    for page in sorted(out_dir.rglob("*.html")):
        for tag, ref in _parse(page).refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https", "mailto", "data") or parts.netloc:
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_file():
                problems.append(f"{page.relative_to(out_dir)}: <{tag}> {ref}: no such file")
            elif parts.fragment and target.suffix == ".html" \
                    and parts.fragment not in _parse(target).ids:
                problems.append(f"{page.relative_to(out_dir)}: <{tag}> {ref}: no such anchor")
    return problems


def network_urls(page: str) -> list[str]:
    """http(s) URLs in an HTML page other than hyperlinks and XML namespace names."""
    page = re.sub(r"<a\b[^>]*>", "", page)
    page = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    return re.findall(r"https?://[^\s\"'<>)]+", page)
