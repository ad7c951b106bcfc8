"""Visible text of an HTML page in the form of the Quarto cases' `article.html.txt`.

One block per line, whitespace normalised (NBSP as a space), table cells joined by ` | `,
images as `[img alt="…"]`, and `=== … ===` marker lines where the title block, the table of
contents and `<main>` begin. Checked against Quarto's own `article-body.html` in the tests.
"""

from __future__ import annotations

from html.parser import HTMLParser

BLOCKS = {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
          "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
          "nav", "ol", "p", "pre", "section", "table", "thead", "tbody", "tfoot", "tr", "ul",
          "caption", "details", "summary", "br"}
MARKERS = {("header", "title-block-header"): "=== header#title-block-header (title block) ===",
           ("nav", "TOC"): "=== nav#TOC (table of contents) ===",
           ("main", "quarto-document-content"): "=== main#quarto-document-content ==="}
_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "source", "wbr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.cells: list[str] | None = None
        self.skip = 0

    def flush(self) -> None:
        text = " ".join("".join(self.buf).replace("\xa0", " ").split())
        self.buf = []
        if not text:
            return
        if self.cells is not None:
            self.cells[-1] = (self.cells[-1] + " " + text).strip()
        else:
            self.lines.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style", "template", "head"):
            self.skip += 1
            return
        if self.skip:
            return
        if tag in ("td", "th") and self.cells is not None:
            self.flush()
            self.cells.append("")
            return
        if tag in BLOCKS or tag == "img":
            self.flush()
        if tag == "tr":
            self.cells = []
        marker = MARKERS.get((tag, a.get("id") or ""))
        if marker:
            self.lines.append(marker)
        if tag == "img" and a.get("alt"):
            line = f'[img alt="{a["alt"]}"]'
            if self.cells is not None:
                self.cells[-1] = (self.cells[-1] + " " + line).strip()
            else:
                self.lines.append(line)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "head"):
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag in ("td", "th") and self.cells is not None:
            self.flush()
            return
        if tag == "tr" and self.cells is not None:
            self.flush()
            cells, self.cells = self.cells, None
            if any(cells):
                self.lines.append(" ".join(" | ".join(cells).split()))
            return
        if tag in BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.buf.append(data)


def html_lines(page: str) -> list[str]:
    """The visible lines of `page` (a whole document or a fragment)."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    parser.flush()
    return parser.lines


def sections(lines: list[str]) -> dict[str, list[str]]:
    """Lines grouped by the marker that precedes them ("" before the first marker)."""
    out: dict[str, list[str]] = {"": []}
    key = ""
    for line in lines:
        if line.startswith("=== ") and line.endswith(" ==="):
            key = line
            out[key] = []
        else:
            out[key].append(line)
    return out
