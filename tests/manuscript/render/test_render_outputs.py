"""The fixture manuscript end to end: Quarto's file names, offline HTML, links, PDF layout."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pypdf
import pytest

from lenstop.manuscript.render import render

from .helpers import (
    EPOCH,
    broken_links,
    copy_fixture,
    html_text,
    network_urls,
    pdf_text,
)
from .htmltext import html_lines, sections
from .pdflayout import overlaps, pdftotext_missing, words

needs_pdftotext = pytest.mark.skipif(pdftotext_missing() is not None,
                                     reason=str(pdftotext_missing()))
LEFTOVERS = ["{{<", ">}}", "?@", "@fig-", "@tbl-", "@sec-", "?var", "?meta", "@crisa2024"]


@pytest.fixture(scope="module")
def out(rendered: tuple[Path, list[Path]]) -> Path:
    return rendered[0]


@pytest.fixture(scope="module")
def page(out: Path) -> str:
    return (out / "index.html").read_text(encoding="utf-8")


def test_files_are_quartos(rendered: tuple[Path, list[Path]]) -> None:
    """index.html and report.pdf, a preview and a copy of each notebook (the listed one and
    the unlisted one that is embedded), the project resources; nothing else."""
    out, written = rendered
    names = sorted(str(p.relative_to(out)) for p in written)
    assert names == ["index.html", "notebooks/02_ti_duration-preview.html",
                     "notebooks/02_ti_duration.ipynb", "notebooks/03_unlisted-preview.html",
                     "notebooks/03_unlisted.ipynb", "notebooks/direct.png", "report.pdf"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == names
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")


def test_no_broken_local_link(out: Path) -> None:
    assert broken_links(out) == []


def test_offline(out: Path) -> None:
    """No page loads anything over the network (no CDN or other external script, no web
    font, no remote image), and no http(s) URL appears outside hyperlinks."""
    for html_file in out.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        assert network_urls(text) == [], html_file.name
        assert not re.search(r"<script[^>]*\bsrc=", text), html_file.name  # inline only
        assert not re.search(r"<img[^>]+src=\"(?!data:)", text), html_file.name


def test_title_and_layout(page: str) -> None:
    assert "<title>Mini report: RBC-TI after lenalidomide (synthetic cohort)</title>" in page
    lines = html_lines(page)
    parts = sections(lines)
    header = parts["=== header#title-block-header (title block) ==="]
    assert header[:2] == ["Mini report: RBC-TI after lenalidomide (synthetic cohort)",
                          "Renderer test fixture"]
    for line in ("Authors", "Ada Example", "Example University, Bologna, Italy", "Published",
                 "2024-08-05", "Other Formats", "Typst", "Abstract", "Keywords",
                 "myelodysplastic neoplasm, lenalidomide"):
        assert line in header, line
    # the data-source banner (a warning callout before the first heading) is above the TOC
    assert header[-2:] == ["Data source", "SYNTHETIC DATA: no real patient."]
    assert page.index('id="lenstop-banner"') < page.index('id="TOC"') < page.index("<main")
    toc = parts["=== nav#TOC (table of contents) ==="]
    assert toc == ["Table of contents", "Key points", "1 Introduction", "2 Methods",
                   "2.1 Results for 118 patients", "References", "Notebooks",
                   "RBC-TI duration (listed title)", "Unlisted notebook heading"]


def test_notebook_links(page: str, out: Path) -> None:
    """The TOC lists both previews; every embedded figure and table links to its cell: the
    listed notebook's through the caption label (and image), the unlisted one's through
    Quarto's "Source:" line."""
    assert '<a href="notebooks/02_ti_duration-preview.html">RBC-TI duration (listed title)' \
        in page
    for label in ("fig-ti-km", "fig-hb", "tbl-baseline", "tbl-centres"):
        href = f"notebooks/02_ti_duration-preview.html#cell-{label}"
        assert re.search(rf'<a href="{re.escape(href)}" class="lenstop-nblink"', page), label
    assert ('<a href="notebooks/03_unlisted-preview.html#cell-tbl-unlisted" '
            'class="quarto-notebook-link">Source: Unlisted notebook heading</a>') in page
    assert page.count("Source:") == 1 + page.count('title="Source:')
    preview = (out / "notebooks/02_ti_duration-preview.html").read_text(encoding="utf-8")
    assert '<a href="../index.html">Back to Article</a>' in preview
    assert '<a download="" href="02_ti_duration.ipynb">Download Notebook</a>' in preview
    assert "#| label" not in preview and 'id="cell-fig-ti-km"' in preview


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_content(fmt: str, out: Path) -> None:
    text = html_text(out / "index.html") if fmt == "html" else pdf_text(out / "report.pdf")
    for value in ("Mini report: RBC-TI after lenalidomide (synthetic cohort)",
                  "118 patients", "50 of whom", "56 months with 49.5 months",
                  "80% (95% CI 72–86%) at 12 months", "(alpha 5.0e-2)",
                  "The title reads “Mini report: RBC-TI after lenalidomide (synthetic cohort)”",
                  "Results for 118 patients", "Methods are in Section 2; results in Figure 1, "
                  "Figure 2, Table 1, Table 2 and Table 3", "one more figure, Figure 3, and "
                  "Table 4", "Figure 1: Kaplan-Meier estimate of RBC-TI duration after stopping",
                  "Table 1: Baseline characteristics", "Table 3: Direct pipe table of outcomes "
                  "(118 patients)", "Median age, years", "Leipzig", "Pavia",
                  "HARMONY Alliance [1]", "IWG 2006 [1,2]", "Definitions RBC-TI means",
                  "Leukemia. 2024;38(10):2259–65.", "see Section 1."):
        assert value in text, value
    for bad in LEFTOVERS:
        assert bad not in text, bad
    # one bibliography, under the article's References heading, before the appendices
    assert "Bibliography" not in text
    assert text.index("References 1. Crisà") < text.index("Appendix A: Definitions") \
        < text.index("APPENDIX-A-TEXT") < text.index("Appendix B: Extra material")
    assert ("RAW-TYPST-TEXT" in text) == (fmt == "pdf")


def test_html_appendix_block(page: str) -> None:
    """As in Quarto: the appendices follow the References section inside #quarto-appendix,
    with h2 headings left out of the table of contents."""
    assert page.index('id="refs"') < page.index('id="quarto-appendix"') \
        < page.index("Appendix A: Definitions")
    assert re.search(r'<h2[^>]*class="[^"]*quarto-appendix-heading[^"]*"[^>]*>Appendix A', page)
    toc = page[page.index('<nav id="TOC"'):page.index("</nav>")]
    assert "Appendix" not in toc


def test_pdf_properties(out: Path) -> None:
    reader = pypdf.PdfReader(out / "report.pdf")
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Mini report: RBC-TI after lenalidomide (synthetic cohort)"
    assert meta.author == "Ada Example, Bo Sample"
    assert meta["/Keywords"] == "myelodysplastic neoplasm, lenalidomide"
    stamp = dt.datetime.fromtimestamp(int(EPOCH), tz=dt.UTC).strftime("D:%Y%m%d%H%M%S")
    assert meta["/CreationDate"].startswith(stamp)
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # papersize a4
    # the Kaplan-Meier figure has an SVG output, which Typst draws as vectors (Quarto's typst
    # format prefers SVG too); the other two figures are PNG
    assert sum(len(p.images) for p in reader.pages) == 2


@needs_pdftotext
def test_pdf_margins_and_header(out: Path) -> None:
    """`margin: {x: 2cm}` puts text 2 cm from the left edge; include-in-header's
    `set text(size: 8pt)` for tables reaches the table cells."""
    ws = words(out / "report.pdf")
    assert min(w.x0 for w in ws) == pytest.approx(2 / 2.54 * 72, abs=1.5)
    cell = next(w for w in ws if w.text == "Leipzig")
    body = next(w for w in ws if w.text == "Stopping")
    assert (cell.y1 - cell.y0) < 0.85 * (body.y1 - body.y0)


@needs_pdftotext
def test_no_overlapping_words(out: Path) -> None:
    assert overlaps(out / "report.pdf") == []


@needs_pdftotext
def test_review_profile_numbers_lines(tmp_path: Path, out: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`_quarto-review.yml` is merged over _quarto.yml when the profile is active (by
    argument or QUARTO_PROFILE); its include-in-header is added to the project's, as Quarto
    concatenates lists, and numbers the lines."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    proj = copy_fixture(tmp_path)
    plain = pdf_text(out / "report.pdf", layout=True)
    for how in ("argument", "env"):
        if how == "env":
            monkeypatch.setenv("QUARTO_PROFILE", "review")
        render(proj, tmp_path / how, formats=("pdf",),
               profile="review" if how == "argument" else None)
        text = pdf_text(tmp_path / how / "report.pdf", layout=True)
        numbered = [ln for ln in text.splitlines() if re.match(r"\s*\d+\s+\S", ln)]
        assert len(numbered) > 30, how
        assert not [ln for ln in plain.splitlines() if re.match(r"\s*\d+\s+Stopping", ln)]
        assert any(re.match(r"\s*\d+\s+Stopping lenalidomide", ln) for ln in numbered)
        ws = words(tmp_path / how / "report.pdf")  # the project's header still applies
        cell = next(w for w in ws if w.text == "Leipzig")
        assert (cell.y1 - cell.y0) < 0.85 * max(w.y1 - w.y0 for w in ws if w.text == "cohort")


def test_byte_identical_rerender(rendered: tuple[Path, list[Path]], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out, written = rendered
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.delenv("QUARTO_PROFILE", raising=False)
    again = render(copy_fixture(tmp_path), tmp_path / "second")
    assert [p.relative_to(tmp_path / "second") for p in again] \
        == [p.relative_to(out) for p in written]
    for first, second in zip(written, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_variables_argument_replaces_file(tmp_path: Path) -> None:
    variables = {"cohort": {"n": 7, "lost_ti": 3, "median_ti_months": "12", "label": "toy",
                            "banner": "Toy"},
                 "km": {"median": {"ti": 12.5, "followup": 30}, "rate": {"m12": "x"},
                        "alpha": "0.05"}}
    paths = render(copy_fixture(tmp_path), tmp_path / "out", variables=variables,
                   formats=("html",))
    assert [p.name for p in paths][0] == "index.html"
    text = html_text(tmp_path / "out" / "index.html")
    assert "The cohort holds 7 patients, 3 of whom" in text
    assert "12.5 months with 30 months" in text and "(alpha 0.05)" in text
    assert not (tmp_path / "out" / "report.pdf").exists()
    assert "Other Formats" not in text  # no link to a PDF that was not written


@needs_pdftotext
def test_typst_toc(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    text = (proj / "_quarto.yml").read_text(encoding="utf-8")
    (proj / "_quarto.yml").write_text(text.replace("    citeproc: true", "    citeproc: true\n"
                                                   "    toc: true\n    toc-depth: 1"))
    render(proj, tmp_path / "out", formats=("pdf",))
    pdf = pdf_text(tmp_path / "out" / "report.pdf")
    assert pdf.count("Table of contents") == 1
    assert pdf.count("Introduction") == 2 and pdf.count("Results for 118 patients") == 1
