"""Unit tests: shortcode resolution, numbers as Quarto prints them, YAML 1.2, metadata merge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lenstop.manuscript.render import RenderError, yaml12
from lenstop.manuscript.render.embed import cell_options
from lenstop.manuscript.render.project import format_date, normalize_authors, quarto_merge
from lenstop.manuscript.render.shortcodes import (
    ShortcodeContext,
    resolve_markdown,
    resolve_text,
    scalar_text,
)

VARS = {"a": {"b": {"c": "deep"}}, "n": 118, "x": 56.0, "y": 0.25, "flag": True,
        "7": "seven", "rate": {"m12": "r12"}}
F = Path("doc.qmd")


def ctx() -> ShortcodeContext:
    return ShortcodeContext(VARS, {"title": "T", "nested": {"k": 3}}, "html")


@pytest.mark.parametrize(
    ("src", "out"),
    [
        ("{{< var a.b.c >}}", "deep"),
        ("n={{< var n >}}, x={{< var x >}}, y={{< var y >}}", "n=118, x=56, y=0.25"),
        ("{{< var flag >}} {{< var 7 >}} {{< var rate.m12 >}}", "true seven r12"),
        ("{{<var n>}}", "118"),
        ("{{< meta title >}} {{< meta nested.k >}}", "T 3"),
        ("literal {{{< var n >}}}", "literal {{< var n >}}"),
    ],
)
def test_resolve_text(src: str, out: str) -> None:
    assert resolve_text(src, ctx(), F, 1) == out


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.05, "5.0e-2"), (0.099, "9.9e-2"), (-0.02, "-2.0e-2"), (0.5, "0.5"), (0.1, "0.1"),
     (2.0, "2"), (12.5, "12.5"), (1.0e7, "10000000"), (12345678.5, "1.23456785e7"),
     (10000000, "10000000"), (True, "true"), (False, "false"), ("0.05", "0.05"),
     ({}, None), ([1], None), (float("nan"), None), (dt.date(2024, 1, 1), None)],
)
def test_numbers_print_as_quarto_prints_them(value: object, text: str | None) -> None:
    """Case 01: Haskell `show` for non-integral numbers, integers for whole ones."""
    assert scalar_text(value) == text


def test_yaml_is_read_as_yaml_1_2() -> None:
    data = yaml12.load("a: yes\nb: 1.0e7\nc: 017\nd: 1:20\ne: on\nf: 0o17\ng: True\n")
    assert data == {"a": "yes", "b": 1.0e7, "c": 17, "d": "1:20", "e": "on", "f": 15,
                    "g": True}
    assert scalar_text(data["b"]) == "10000000"


def test_pipe_table_with_shortcode_gets_dash_widths_and_cell_paragraphs() -> None:
    """Case 01: like Quarto, a pipe table holding a shortcode takes its column widths from the
    separator (scaled past 72 characters, same shares) and a cell that is only a shortcode
    becomes a paragraph; a table without shortcodes is left alone."""
    body = "| A | B |\n|:------|---:|\n| {{< var n >}} | x {{< var y >}} |"
    out = resolve_markdown(body, ctx(), F, 1).split("\n")
    cells = out[1].strip("|").split("|")
    assert len(out[1]) > 72 and cells[0].startswith(":") and cells[1].endswith(":")
    assert len(cells[0]) * 4 == len(cells[1]) * 7
    assert out[2] == "| [118]{.lenstop-cellpara} | x 0.25 |"
    plain = "| A | B |\n|:------|---:|\n| 1 | 2 |"
    assert resolve_markdown(plain, ctx(), F, 1) == plain


def test_error_names_key_and_line() -> None:
    with pytest.raises(RenderError) as info:
        resolve_markdown("ok\n\nsee {{< var a.b.zz >}}", ctx(), F, first_line=5)
    assert info.value.line == 7
    assert "'a.b.zz'" in str(info.value) and "doc.qmd, line 7" in str(info.value)


def test_cell_options() -> None:
    src = '#| label: fig-a\n#| fig-cap: "A: b"\n#| fig-alt: alt\nplot()\n#| not: this'
    assert cell_options(src) == {"label": "fig-a", "fig-cap": "A: b", "fig-alt": "alt"}
    assert cell_options("plot()") == {}


def test_quarto_merge() -> None:
    """Quarto's merge: mappings key by key, lists concatenated without duplicates."""
    base = {"a": {"x": 1, "y": [1, 2]}, "k": ["p"], "s": "one"}
    over = {"a": {"y": [2, 3]}, "k": "q", "s": "two"}
    assert quarto_merge(base, over) == {"a": {"x": 1, "y": [1, 2, 3]}, "k": ["p", "q"],
                                        "s": "two"}


def test_authors_schema() -> None:
    meta = {
        "author": [
            {"name": {"given": "Ada", "family": "Example"}, "affiliations": [{"ref": "u"}],
             "email": "a@x"},
            {"name": "Bo Sample", "affiliations": ["Free text lab"]},
            "Cy Plain",
        ],
        "affiliations": [{"id": "u", "name": "Uni", "city": "Pavia", "country": "Italy"}],
    }
    authors = normalize_authors(meta)
    assert [a["name"] for a in authors] == ["Ada Example", "Bo Sample", "Cy Plain"]
    assert [a["affiliations"] for a in authors] == [["Uni, Pavia, Italy"], ["Free text lab"],
                                                    []]
    assert authors[0]["email"] == "a@x"
    with pytest.raises(RenderError, match="affiliation ref 'zz'"):
        normalize_authors({"author": [{"name": "X", "affiliations": [{"ref": "zz"}]}]})


def test_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quarto 1.7: HTML defaults to `long`, Typst to `iso`; `today` is the build date."""
    assert format_date(dt.date(2024, 8, 5), None, "html") == ("August 5, 2024",
                                                               dt.date(2024, 8, 5))
    assert format_date("2024-08-05", None, "typst")[0] == "2024-08-05"
    assert format_date("2024-08-05", "iso", "html")[0] == "2024-08-05"
    assert format_date("Summer 2024", None, "html") == ("Summer 2024", None)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1722816000")
    assert format_date("today", "iso", "html")[0] == "2024-08-05"
