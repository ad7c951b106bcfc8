"""Quarto syntax variants beyond the main fixture: reference forms, div floats, spans, refs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenstop.render import RenderError, render

from .helpers import copy_fixture, html_text, pdf_text

BODY = """---
title: Variants
author: Solo Author
date: 2024-08-05
date-format: "D MMMM YYYY"
crossref:
  fig-prefix: Fig.
---

# First {#sec-first}

Refs: [-@fig-div], [Panel @fig-div], @Fig-div, [@fig-div; @tbl-div], @tbl-div [@crisa2024].
Span: [in-html]{.content-visible when-format="html"}[in-typst]{.content-visible
when-format="typst"}[in-latex]{.content-visible when-format="pdf"}.

::: {#fig-div}
![](notebooks/direct.png)

Div-form figure caption
:::

::: {#tbl-div}
| a | b |
|---|---|
| 1 | 2 |

Div-form table caption
:::

{{< embed notebooks/02_ti_duration.ipynb#cell-4 >}}

{{< pagebreak >}}

::: {.callout-tip}
Tip without a title.
:::

# Bibliography {.unnumbered}

::: {#refs}
:::

# Later {.appendix}

Back matter.
"""


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("variants")
    proj = copy_fixture(base)
    (proj / "report.qmd").write_text(BODY, encoding="utf-8")
    return render(proj, base / "out")


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_reference_forms(variant: dict[str, Path], fmt: str) -> None:
    text = html_text(variant["html"].read_text()) if fmt == "html" else pdf_text(variant["pdf"])
    assert "Refs: 1, Panel 1, Fig. 1, Fig. 1, Table 1, Table 1 [1]." in text
    assert "Figure 1: Div-form figure caption" in text
    assert "Table 1: Div-form table caption" in text
    # embed by cell id without a fig-/tbl- prefix: the markdown output as body text
    assert "Characteristic Value Patients 118" in text
    assert "Tip Tip without a title." in text
    assert "5 August 2024" in text
    refs = text.index("Bibliography 1. Crisà")
    assert text.index("Back matter.", refs) > text.index("Appendices", refs)
    assert text.count("Bibliography") == (2 if fmt == "html" else 1)  # html: + TOC entry
    assert "in-latex" not in text
    if fmt == "html":
        assert "in-html" in text and "in-typst" not in text
    else:
        assert "in-typst" in text and "in-html" not in text


def test_pagebreak_in_pdf(variant: dict[str, Path]) -> None:
    import pypdf

    pages = pypdf.PdfReader(str(variant["pdf"])).pages
    assert len(pages) == 2
    assert "Tip without a title" in pages[1].extract_text()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[@fig-div; @tbl-div]", "[@fig-div; @crisa2024]", "mixes cross-references"),
        ("\nDiv-form figure caption\n", "\n", "figure 'fig-div' has no caption"),
        ("# First {#sec-first}", "# First {#sec-first}\n\n![A](nowhere.png){#fig-nowhere}",
         "nowhere.png' does not exist"),
        ("# Later {.appendix}", "| x |\n|---|\n| 1 |\n\n: Again {#tbl-div}\n\n# Later",
         "the label 'tbl-div' is used twice"),
        ('when-format="typst"', 'when-profile="x"', "when-profile is not supported"),
    ],
)
def test_variant_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    proj = copy_fixture(tmp_path)
    assert old in BODY
    (proj / "report.qmd").write_text(BODY.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RenderError, match=message):
        render(proj, tmp_path / "out", formats=("html",))
