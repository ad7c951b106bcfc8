"""Each of the 17 Quarto 1.7.34 reference cases (tests/manuscript/render/cases) as a test of
the fallback.

Where Quarto rendered cleanly (exit 0, no warning), the fallback must show the same text: the
lines of `article.html.txt` (title block, table of contents, main text) and the words of
`pdf.txt`. Where Quarto failed, warned or did something unwanted, the fallback must raise
`RenderError` naming the construct; the case with those lines removed must then match the
remaining expected text. See each case's CASE.md for what Quarto did.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lenstop.manuscript.render import RenderError, render

from .helpers import CASES, EPOCH, broken_links, pdf_text, pdf_words
from .htmltext import html_lines
from .pdflayout import overlaps, pdftotext_missing

CLEAN = ["03-embed-figure", "04-embed-markdown-table", "05-sections-appendix",
         "06-citations-numeric-csl", "07-callout", "09-output-names",
         "10-embed-html-and-markdown-output", "11-citations-no-refs-heading",
         "12-citations-heading-without-refs-div", "13-notebooks-all-listed",
         "16-title-block-authors-abstract", "17-embed-resources-notebook-links-false"]
FAILING = {
    "01-variables": r"looks like code to Quarto 1\.7",
    "02-embed-resources": r"`embed-resources: true` in the html format of a manuscript project",
    "08-meta-pagebreak-unknown-shortcode": r"unknown meta key 'nosuchkey'",
    "14-shortcode-in-inline-code": r"looks like code to Quarto 1\.7",
    "15-sec-ref-without-number-sections": r"@sec-methods needs `number-sections: true`",
}
MARGIN_MARKER = "=== div#quarto-margin-sidebar ==="


def test_every_case_is_tested() -> None:
    assert sorted(CLEAN + list(FAILING)) == sorted(p.parent.name
                                                   for p in CASES.glob("*/CASE.md"))


def _expected(case: str, name: str) -> str:
    return (CASES / case / "expected" / name).read_text(encoding="utf-8")


def _copy(case: str, tmp: Path, change: Callable[[str], str] | None = None) -> Path:
    proj = tmp / case
    shutil.copytree(CASES / case / "input", proj)
    if change is not None:
        qmd = proj / "report.qmd"
        qmd.write_text(change(qmd.read_text(encoding="utf-8")), encoding="utf-8")
    return proj


def _render(proj: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv("QUARTO_PROFILE", raising=False)
    render(proj, proj / "_manuscript")
    return proj / "_manuscript"


def _html(out: Path) -> list[str]:
    """Our article text in Quarto's layout: the banner lifted above the table of contents is
    put back at the top of the main text, where Quarto 1.7 has it (the one intended change)."""
    page = (out / "index.html").read_text(encoding="utf-8")
    lines = html_lines(page)
    m = re.search(r'<div id="lenstop-banner">(.*?)</div>\n<div id="quarto-content">', page,
                  re.DOTALL)
    if m:
        banner = html_lines(m.group(1))
        toc = lines.index("=== nav#TOC (table of contents) ===")
        assert lines[toc - len(banner):toc] == banner
        del lines[toc - len(banner):toc]
        main = lines.index("=== main#quarto-document-content ===") + 1
        lines[main:main] = banner
    return lines


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.href: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.href, self.text = dict(attrs).get("href"), []

    def handle_data(self, data: str) -> None:
        if self.href is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href is not None:
            self.links.append((self.href, " ".join("".join(self.text).split())))
            self.href = None


def _links(out: Path) -> set[tuple[str, str]]:
    parser = _Links()
    parser.feed((out / "index.html").read_text(encoding="utf-8"))
    return set(parser.links)


@pytest.mark.parametrize("case", CLEAN)
def test_clean_case_html(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _render(_copy(case, tmp_path), monkeypatch)
    expected = [ln for ln in _expected(case, "article.html.txt").splitlines()
                if ln != MARGIN_MARKER]
    assert _html(out) == expected


@pytest.mark.parametrize("case", CLEAN)
def test_clean_case_links_and_files(case: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Quarto's links to report.pdf and to the notebook previews (their text too), and the
    files readers open: index.html, report.pdf, each preview (images are inlined here)."""
    out = _render(_copy(case, tmp_path), monkeypatch)
    ours = _links(out)
    for row in _expected(case, "links.txt").splitlines()[1:]:
        href, _, text = row.partition("\t")
        if not href.startswith("report_files/"):
            assert (href, text) in ours, row
    listing = _expected(case, "files.no-keep-typ.txt").split("# files created")[0]
    quarto = {ln for ln in listing.splitlines() if ln and not ln.startswith("#")}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    wanted = {f for f in quarto if not f.startswith(("site_libs/", "report_files/"))
              and "_files/" not in f and not f.endswith(".out.ipynb")}
    assert wanted <= written
    assert {f for f in written if f.endswith("-preview.html")} \
        == {f for f in quarto if f.endswith("-preview.html")}
    assert broken_links(out) == []


@pytest.mark.skipif(pdftotext_missing() is not None, reason=str(pdftotext_missing()))
@pytest.mark.parametrize("case", [c for c in CLEAN if c != "04-embed-markdown-table"])
def test_clean_case_pdf(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _render(_copy(case, tmp_path), monkeypatch)
    assert pdf_words(pdf_text(out / "report.pdf", layout=True)) \
        == pdf_words(_expected(case, "pdf.txt"))
    assert overlaps(out / "report.pdf") == []


@pytest.mark.skipif(pdftotext_missing() is not None, reason=str(pdftotext_missing()))
def test_wide_table_collides_as_in_quarto(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Case 04: the text around the wide table matches, and its columns, as narrow as
    Quarto's (widths from the dash counts), collide in the same 12 places."""
    case = "04-embed-markdown-table"
    out = _render(_copy(case, tmp_path), monkeypatch)
    ours = pdf_words(pdf_text(out / "report.pdf", layout=True))
    theirs = pdf_words(_expected(case, "pdf.txt"))
    caption = "Table 2: A wide table: nine columns with long cell text.".split()
    head = next(i for i in range(len(theirs)) if theirs[i:i + 2] == caption[:2])
    head += len(caption)
    assert ours[:head] == theirs[:head]
    assert ours[-3:] == theirs[-3:] == ["End", "of", "text."]

    def pairs(rows: list[str]) -> set[tuple[str, str]]:
        return {tuple(re.findall(r"'([^']*)'", row.replace("\\xad", ""))[:2])
                for row in rows}

    quarto = [ln for ln in _expected(case, "pdf-overlaps.txt").splitlines()
              if ln.startswith("page")]
    assert len(quarto) == 12
    assert pairs(quarto) <= pairs(overlaps(out / "report.pdf"))


@pytest.mark.parametrize(("case", "message"), sorted(FAILING.items()))
def test_failing_case_is_refused(case: str, message: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    proj = _copy(case, tmp_path)
    with pytest.raises(RenderError, match=message):
        _render(proj, monkeypatch)
    assert not (proj / "_manuscript").exists()


# Cases 01 and 08: each line Quarto warned about fails alone, naming its shortcode; without
# those lines (and with the code span of P14 written without backticks) the rest matches.
PROBLEMS = {
    "01-variables": [
        ("P02 ", r"\{\{< var ti\.rate\.12 >\}\}: the segment '12' is a number", r"P02 "),
        ("P03 ", r"\{\{< var ti\.rate\.24 >\}\}: the segment '24' is a number", r"P03 "),
        ("P04 ", r"\{\{< var tu\.rate\.12 >\}\}: the segment '12' is a number", r"P04 "),
        ("P06b ", r"\{\{< var mid\.12\.y >\}\}: the segment '12' is a number", r"P06b "),
        ("P07 ", r"unknown var key 'nope'", r"P07 "),
        ("P08 ", r"unknown var key 'a\.nope'", r"P08 "),
        ("P12 ", r"\{\{< var items >\}\} names a list", r"P12 "),
        ("P13 ", r"\{\{< var ti\.rate >\}\} names a mapping", r"P13 "),
        ("| {{< var md >}} | {{< var ti.rate.12 >}} |", r"the segment '12' is a number",
         r"bold and an en dash –(\s*\|)?\s+\?var:ti\.rate\.12"),
    ],
    "08-meta-pagebreak-unknown-shortcode": [
        ("M4 ", r"unknown meta key 'nosuchkey'", r"M4 "),
        ("M5 ", r"unknown shortcode \{\{< nosuch >\}\}", r"M5 "),
        ("M6 ", r"unknown shortcode \{\{< nosuch arg1 key=value >\}\}", r"M6 "),
    ],
}
_FIXES = {"01-variables": lambda t: t.replace("`{{< var file >}}`", "{{< var file >}}"),
          "14-shortcode-in-inline-code": lambda t: t.replace("`{{< var file >}}`",
                                                             "{{< var file >}}")}


def _without(case: str, text: str) -> str:
    text = _FIXES.get(case, lambda t: t)(text)
    drop = [p for p, _, _ in PROBLEMS.get(case, [])]
    return "\n".join(ln for ln in text.split("\n") if not ln.startswith(tuple(drop)))


@pytest.mark.parametrize(("case", "line", "message"),
                         [(c, line, msg) for c, rows in PROBLEMS.items()
                          for line, msg, _ in rows])
def test_warned_line_fails_alone(case: str, line: str, message: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def only(text: str) -> str:
        clean = _without(case, text).split("\n")
        bad = next(ln for ln in text.split("\n") if ln.startswith(line))
        return "\n".join([*clean, "", bad] if not bad.startswith("|") else
                         [*clean, "", "| a | b |", "|---|---|", bad])

    proj = _copy(case, tmp_path, only)
    with pytest.raises(RenderError, match=message) as info:
        _render(proj, monkeypatch)
    assert info.value.line is not None and info.value.file.endswith("report.qmd")
    source = (proj / "report.qmd").read_text(encoding="utf-8").splitlines()
    assert source[info.value.line - 1].startswith(line)


@pytest.mark.parametrize("case", ["01-variables", "08-meta-pagebreak-unknown-shortcode",
                                  "14-shortcode-in-inline-code"])
def test_case_without_warned_lines(case: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What Quarto printed for the lines it did resolve: vars in the title, abstract, a
    heading, captions and table cells; Markdown in values; Haskell-style numbers (0.05 ->
    5.0e-2, 2.0 -> 2); meta title; escaped shortcodes; the page break."""
    out = _render(_copy(case, tmp_path, lambda t: _without(case, t)), monkeypatch)
    gone = [re.compile(expect) for _, _, expect in PROBLEMS.get(case, [])]

    def keep(line: str) -> bool:
        return not any(rx.match(line.strip()) for rx in gone)

    expected = [ln for ln in _expected(case, "article.html.txt").splitlines()
                if ln != MARGIN_MARKER and keep(ln)]
    assert _html(out) == expected
    if pdftotext_missing() is None:
        kept = [ln for ln in _expected(case, "pdf.txt").splitlines() if keep(ln)]
        assert pdf_words(pdf_text(out / "report.pdf", layout=True)) == pdf_words("\n".join(kept))
    if case == "08-meta-pagebreak-unknown-shortcode":
        import pypdf

        pages = pypdf.PdfReader(out / "report.pdf").pages
        assert len(pages) == 2 and "After the page break" in pages[1].extract_text()
