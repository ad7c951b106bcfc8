"""The data-source banner sits above the table of contents in Quarto's HTML too: Quarto 1.7
puts a warning callout before the first heading at the top of the text column, beside the
table of contents (reference case 07), and config/banner-above-toc.html, included in the
page head by _quarto.yml, moves it into the title block. Checked in headless Chromium on the
page structure Quarto 1.7.34 wrote for case 07."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
import yaml

from lenstop import config

from .render.helpers import CASES

SCRIPT = config.ROOT / "config" / "banner-above-toc.html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _quarto_page(head: str) -> str:
    """Case 07's <main> as Quarto 1.7.34 wrote it, inside Quarto's page skeleton (the title
    block moved above #quarto-content, the left table of contents beside <main>)."""
    main = (CASES / "07-callout" / "expected" / "article-body.html").read_text(encoding="utf-8")
    return (f"<!DOCTYPE html><html><head>{head}</head><body>"
            '<header id="title-block-header" class="quarto-title-block default toc-left '
            'page-columns page-full"><div class="quarto-title-banner page-columns page-full">'
            '<div class="quarto-title column-body"><h1 class="title">Callout</h1></div>'
            '<div><div class="abstract"><p>Abstract.</p></div></div></div></header>'
            '<div id="quarto-content" class="page-columns page-rows-contents '
            'page-layout-article toc-left"><div id="quarto-sidebar-toc-left" class="sidebar '
            f'toc-left"><nav id="TOC"><h2>Table of contents</h2></nav></div>{main}</div>'
            "</body></html>")


class _Where(HTMLParser):
    """Which element (header, nav, main) each callout sits in, in document order."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.callouts: list[tuple[str, str]] = []
        self.order: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("header", "nav", "main"):
            self.order.append(tag)
        if "callout" in (a.get("class") or "").split():
            kind = next(c for c in a["class"].split() if c.startswith("callout-")
                        and c != "callout-style-default" and c != "callout-titled")
            self.callouts.append((kind, next((t for t in reversed(self.stack)
                                              if t in ("header", "nav", "main")), "")))
        if tag not in ("br", "img", "meta", "link", "input", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass


def _dom(page: str, tmp_path) -> _Where:
    """The page's DOM after its scripts ran, as headless Chromium gives it."""
    path = tmp_path / "index.html"
    path.write_text(page, encoding="utf-8")
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True)
    where = _Where()
    where.feed(run.stdout)
    return where


def test_quarto_yml_includes_the_script():
    html = yaml.safe_load((config.ROOT / "_quarto.yml").read_text())["format"]["html"]
    assert html["include-in-header"] == "config/banner-above-toc.html"
    assert "<script src" not in SCRIPT.read_text()  # inline: the page needs no network


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make sysdeps` "
                                            "installs it where this is root with apt-get)")
def test_the_banner_moves_above_the_table_of_contents(tmp_path):
    before = _dom(_quarto_page(""), tmp_path)
    assert before.callouts == [("callout-warning", "main"), ("callout-note", "main")]
    after = _dom(_quarto_page(SCRIPT.read_text(encoding="utf-8")), tmp_path)
    # the banner is in the title block, before the table of contents; the note in Section 1
    # (not before the first heading) stays where it is
    assert after.callouts == [("callout-warning", "header"), ("callout-note", "main")]
    assert after.order == ["header", "nav", "main"]


def test_every_file_quarto_yml_names_is_staged_into_build_folders():
    """A build folder renders its own copy of the manuscript's sources: a file _quarto.yml
    reads (theme, include, bibliography, style, metadata) but the build does not stage would
    make that render fail. The Typst header is written by the build itself."""
    q = yaml.safe_load((config.ROOT / "_quarto.yml").read_text())
    html, typst = q["format"]["html"], q["format"]["typst"]
    named = {q["manuscript"]["article"], q["bibliography"], q["csl"], *q["metadata-files"],
             *(t for t in html["theme"] if "." in t), html["include-in-header"]}
    assert named - set(config.MANUSCRIPT_SOURCES) == set()
    assert typst["include-in-header"] == "_manuscript-header.typ"
