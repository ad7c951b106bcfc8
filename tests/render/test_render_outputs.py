"""End-to-end: the fixture manuscript renders to HTML and PDF with every subset feature."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pypdf
import pytest

from lenstop.render import render

from .helpers import EPOCH, FIXTURE, html_text, pdf_text

LEFTOVERS = ["{{<", ">}}", "?@", "@fig-", "@tbl-", "@sec-", "?var", "@crisa2024"]


@pytest.fixture(scope="module")
def html_raw(rendered: dict[str, Path]) -> str:
    return rendered["html"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def html_plain(html_raw: str) -> str:
    return html_text(html_raw)


@pytest.fixture(scope="module")
def pdf_plain(rendered: dict[str, Path]) -> str:
    return pdf_text(rendered["pdf"])


def test_outputs_exist(rendered: dict[str, Path]) -> None:
    assert set(rendered) == {"html", "pdf"}
    assert rendered["html"].name == "report.html"
    assert rendered["pdf"].name == "report.pdf"
    assert rendered["pdf"].read_bytes().startswith(b"%PDF")
    assert not [p for p in rendered["html"].parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_common_content(fmt: str, html_plain: str, pdf_plain: str) -> None:
    text = html_plain if fmt == "html" else pdf_plain
    # variables (plain, nested key, float printed like Quarto, in title/abstract/heading)
    for value in ("118 patients", "50 of whom", "56 months with 49.5 months",
                  "(synthetic cohort)", "Results for 118 patients",
                  "the median duration of transfusion independence was 56 months"):
        assert value in text, value
    # numbered figures/tables, captions, cross-references in order of appearance
    for value in ("Figure 1: Kaplan-Meier estimate of RBC-TI duration after stopping LEN",
                  "Figure 2: Haemoglobin at LEN withdrawal",
                  "Figure 3: Direct figure written in markdown",
                  "Table 1: Baseline characteristics",
                  "Table 2: Patients by centre (HTML output)",
                  "Table 3: Direct pipe table of outcomes (118 patients)",
                  "Methods are in Section 2; results in Figure 1, Figure 2, Table 1, Table 2 "
                  "and Table 3", "(Section 3) has one more figure, Figure 3"):
        assert value in text, value
    # embedded table bodies (markdown and HTML outputs), direct table with variables
    for value in ("Median age, years", "Leipzig", "Lost RBC-TI 50"):
        assert value in text, value
    # citations through citeproc + the Vancouver CSL
    assert "HARMONY Alliance [1]" in text
    assert "IWG 2006 [1,2]" in text
    assert "1. Crisà E, Kubasch AS, Gioia D, Germing U, Jonasova A, Efficace F, et al." in text
    assert "Leukemia. 2024;38(10):2259–65." in text
    assert "2. Cheson BD, Greenberg PL, Bennett JM." in text
    # callouts
    assert "Synthetic data Every number here comes from a synthetic cohort" in text
    assert "Definitions RBC-TI means" in text
    # conditional content
    assert "SHOWN-WHEN-SYNTHETIC" in text
    assert "HIDDEN-PRIVATE" not in text
    # appendix after the references, under "Appendices"
    refs = text.index("References 1. Crisà")
    appendices = text.index("Appendices", refs)
    assert appendices < text.index("Extra material", appendices) \
        < text.index("APPENDIX-TEXT", appendices)
    assert text.count("APPENDIX-TEXT") == 1
    # title block
    for value in ("Ada Example", "Bo Sample", "Example University, Bologna, Italy",
                  "August 5, 2024", "Renderer test fixture", "lenalidomide"):
        assert value in text, value
    for bad in LEFTOVERS:
        assert bad not in text, bad


def test_format_conditions(html_plain: str, pdf_plain: str) -> None:
    assert "HTML-ONLY-TEXT" in html_plain and "HTML-ONLY-TEXT" not in pdf_plain
    assert "PDF-ONLY-TEXT" in pdf_plain and "PDF-ONLY-TEXT" not in html_plain


def test_html_is_self_contained(html_raw: str) -> None:
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', html_raw)
    assert len(srcs) == 3
    assert all(s.startswith("data:image/") for s in srcs)
    # SVG preferred for HTML when the notebook has it, PNG otherwise
    assert sum(s.startswith("data:image/svg+xml") for s in srcs) == 1
    assert sum(s.startswith("data:image/png") for s in srcs) == 2
    assert "<script" not in html_raw
    assert not re.search(r'(src|href)="https?://(?!doi\.org)', html_raw)
    for bad in LEFTOVERS:
        assert bad not in html_raw.replace('data-cites="crisa2024"', ""), bad


def test_html_structure(html_raw: str) -> None:
    assert '<figure id="fig-ti-km">' in html_raw
    assert 'alt="Step curve falling from 1.0 to 0.45 over 60 months"' in html_raw
    assert '<a href="#fig-ti-km" class="quarto-xref">Figure\u00a01</a>' in html_raw
    assert '<table id="tbl-direct">' in html_raw
    assert 'class="callout callout-important"' in html_raw
    assert ('Source: <a href="notebooks/02_ti_duration.ipynb">RBC-TI duration (manuscript.'
            'notebooks title)</a>') in html_raw
    assert '<nav id="TOC"' in html_raw
    assert '<span class="header-section-number">2.1</span>' in html_raw


def test_pdf_properties(rendered: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(str(rendered["pdf"]))
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 3  # two embedded notebook figures + the direct figure, all PNG
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Mini report: RBC-TI after lenalidomide (synthetic cohort)"
    assert meta.author == "Ada Example, Bo Sample"
    stamp = dt.datetime.fromtimestamp(int(EPOCH), tz=dt.UTC).strftime("D:%Y%m%d%H%M%S")
    assert meta["/CreationDate"].startswith(stamp)


def test_byte_identical_rerender(rendered: dict[str, Path], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    again = render(FIXTURE, tmp_path / "second")
    for fmt in ("html", "pdf"):
        assert again[fmt].read_bytes() == rendered[fmt].read_bytes(), fmt


def test_variables_argument_replaces_file(tmp_path: Path) -> None:
    variables = {"build": {"notebooks": "notebooks"},
                 "cohort": {"n": 7, "lost_ti": 3, "median_ti_months": "12", "label": "toy"},
                 "km": {"median": {"ti": 12.5, "followup": 30}}}
    out = render(FIXTURE, tmp_path, variables=variables, formats=("html",))
    assert set(out) == {"html"}
    text = html_text(out["html"].read_text(encoding="utf-8"))
    assert "The cohort holds 7 patients, 3 of whom" in text
    assert "12.5 months with 30 months" in text
    assert "118" not in text.split("References")[0].replace("Patients 118", "")
