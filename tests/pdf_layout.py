"""Word boxes of a PDF (poppler's `pdftotext -bbox`) and the pairs that overlap: a table whose
columns are too narrow, or a figure drawn over text, shows up as words on top of words."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                   r"(.*?)</word>")

HAVE_PDFTOTEXT = shutil.which("pdftotext") is not None
NO_PDFTOTEXT = "pdftotext (Debian package poppler-utils) is not installed"


def words(pdf: Path) -> list[tuple[int, float, float, float, float, str]]:
    """(page, x0, y0, x1, y1, text) for every word of `pdf`."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    found, page = [], 0
    for line in out.splitlines():
        if "<page " in line:
            page += 1
        elif m := _WORD.search(line):
            found.append((page, *map(float, m.groups()[:4]), html.unescape(m.group(5))))
    return found


def overlaps(pdf: Path, tolerance: float = 0.5) -> list[str]:
    """'page N: "a" over "b"' for each pair of words on one page whose boxes overlap by more
    than `tolerance` points both across and down."""
    by_page: dict[int, list] = {}
    for w in words(pdf):
        by_page.setdefault(w[0], []).append(w)
    found = []
    for page, ws in sorted(by_page.items()):
        ws.sort(key=lambda w: w[1])
        for i, a in enumerate(ws):
            for b in ws[i + 1:]:
                if b[1] >= a[3] - tolerance:
                    break  # sorted by left edge: no later word can reach back over `a`
                if (min(a[3], b[3]) - max(a[1], b[1]) > tolerance
                        and min(a[4], b[4]) - max(a[2], b[2]) > tolerance):
                    found.append(f'page {page}: "{a[5]}" over "{b[5]}"')
    return found
