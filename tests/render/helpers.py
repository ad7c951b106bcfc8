"""Helpers for the renderer tests: the fixture project, text extraction."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pypdf

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "minireport"
EPOCH = "1722816000"  # 2024-08-05T00:00:00Z


def copy_fixture(dest: Path) -> Path:
    """A writable copy of the fixture project (its relative csl path made absolute)."""
    proj = dest / "minireport"
    shutil.copytree(FIXTURE, proj, ignore=shutil.ignore_patterns("__pycache__", "_manuscript"))
    cfg = proj / "_quarto.yml"
    cfg.write_text(cfg.read_text().replace("../../../vancouver.csl",
                                           str(ROOT / "vancouver.csl")))
    return proj


def html_text(raw: str) -> str:
    """Visible text of an HTML document, whitespace collapsed, NBSP as space."""
    body = raw.split("<body>", 1)[1]
    body = re.sub(r"<svg.*?</svg>", " ", body, flags=re.DOTALL)
    body = re.sub(r"</?(?:p|div|h\d|li|tr|td|th|caption|figcaption|figure|section|table|thead|"
                  r"tbody|ol|ul|nav|header|main|br|img)\b[^>]*>", " ", body)
    text = html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")
    return " ".join(text.split())


def pdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(str(path))
    text = " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")
    return " ".join(text.split())
