"""PDF layout checks from `pdftotext -bbox` (poppler-utils): words whose boxes collide.

`overlaps(pdf)` lists the pairs of word boxes on the same page that overlap by more than
0.5 pt in both x and y, the measure of the Quarto cases' `pdf-overlaps.txt`. Use it on any
PDF (the lead's whole-report test too); `pdftotext_missing()` gives the skip reason.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                   r"(.*?)</word>")


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def pdftotext_missing() -> str | None:
    """Why the checks cannot run here, or None."""
    if shutil.which("pdftotext") is None:
        return "pdftotext (poppler-utils) is not installed: apt-get install -y poppler-utils"
    return None


def words(pdf: Path) -> list[Word]:
    """Every word of `pdf` with its box (points, origin top left)."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    result = []
    for page, chunk in enumerate(out.split("<page ")[1:], start=1):
        for m in _WORD.finditer(chunk):
            x0, y0, x1, y1 = (float(v) for v in m.groups()[:4])
            result.append(Word(page, html.unescape(m.group(5)), x0, y0, x1, y1))
    return result


def overlaps(pdf: Path, tolerance: float = 0.5) -> list[str]:
    """Pairs of word boxes on one page overlapping by more than `tolerance` pt in x and y."""
    found = []
    all_words = words(pdf)
    for page in sorted({w.page for w in all_words}):
        ws = sorted((w for w in all_words if w.page == page), key=lambda w: w.x0)
        for i, a in enumerate(ws):
            for b in ws[i + 1:]:
                if b.x0 >= a.x1 - tolerance:
                    break
                dx = min(a.x1, b.x1) - max(a.x0, b.x0)
                dy = min(a.y1, b.y1) - max(a.y0, b.y0)
                if dx > tolerance and dy > tolerance:
                    found.append(f"page {page}: {a.text!r} [{a.x0:.1f},{a.y0:.1f},{a.x1:.1f},"
                                 f"{a.y1:.1f}] x {b.text!r} [{b.x0:.1f},{b.y0:.1f},{b.x1:.1f},"
                                 f"{b.y1:.1f}] overlap {dx:.1f} x {dy:.1f} pt")
    return found
