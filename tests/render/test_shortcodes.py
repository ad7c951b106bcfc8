"""Unit tests of shortcode resolution and the metadata helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lenstop.render import RenderError
from lenstop.render.notebooks import cell_options
from lenstop.render.project import format_date, normalize_authors
from lenstop.render.shortcodes import (
    ShortcodeContext,
    resolve_markdown,
    resolve_text,
    scalar_text,
)

VARS = {"a": {"b": {"c": "deep"}}, "n": 118, "x": 56.0, "y": 0.25, "flag": True,
        "dir": "notebooks", "dotted.key": "dot"}
F = Path("doc.qmd")


def ctx(embed=None) -> ShortcodeContext:
    return ShortcodeContext(VARS, {"title": "T", "nested": {"k": 3}}, "html", embed=embed)


@pytest.mark.parametrize(
    ("src", "out"),
    [
        ("{{< var a.b.c >}}", "deep"),
        ("n={{< var n >}}, x={{< var x >}}, y={{< var y >}}", "n=118, x=56, y=0.25"),
        ("{{< var flag >}}", "true"),
        ("{{<var n>}}", "118"),
        ("{{< var dotted\\.key >}}", "dot"),
        ("{{< meta title >}} {{< meta nested.k >}}", "T 3"),
        ("literal {{{< var n >}}}", "literal {{< var n >}}"),
    ],
)
def test_resolve_text(src: str, out: str) -> None:
    assert resolve_text(src, ctx(), F, 1) == out


def test_nested_shortcode_reaches_embed() -> None:
    seen = []

    def embed(target: str, file: Path, line: int | None) -> str:
        seen.append((target, line))
        return "::: {#fig-x}\nBODY\n:::"

    body = "intro\n\n{{< embed {{< var dir >}}/nb.ipynb#fig-x >}}\n\nend"
    out = resolve_markdown(body, ctx(embed), F, first_line=10)
    assert seen == [("notebooks/nb.ipynb#fig-x", 12)]
    assert "::: {#fig-x}\nBODY\n:::" in out
    assert out.startswith("intro\n") and out.endswith("end")


def test_shortcodes_false_code_block_is_left_alone() -> None:
    body = "```{.markdown shortcodes=false}\n{{< var nope >}}\n```\n{{< var n >}}"
    assert resolve_markdown(body, ctx(), F, 1) == \
        "```{.markdown shortcodes=false}\n{{< var nope >}}\n```\n118"


def test_unknown_key_names_key_and_line() -> None:
    with pytest.raises(RenderError) as info:
        resolve_markdown("ok\n\nsee {{< var a.b.zz >}}", ctx(), F, first_line=5)
    assert info.value.line == 7
    assert "'a.b.zz'" in str(info.value) and "doc.qmd, line 7" in str(info.value)


def test_unbalanced() -> None:
    with pytest.raises(RenderError, match="unbalanced"):
        resolve_text("{{< var n", ctx(), F, 1)


@pytest.mark.parametrize(("value", "text"),
                         [(1e21, "1e+21"), (1e-7, "1e-7"), (False, "false"), ({}, None)])
def test_scalar_text(value: object, text: str | None) -> None:
    assert scalar_text(value) == text


def test_cell_options() -> None:
    src = '#| label: fig-a\n#| fig-cap: "A: b"\n#| fig-alt: alt\nplot()\n#| not: this'
    assert cell_options(src) == {"label": "fig-a", "fig-cap": "A: b", "fig-alt": "alt"}
    assert cell_options("plot()") == {}


def test_authors_schema() -> None:
    meta = {
        "author": [
            {"name": {"given": "Ada", "family": "Example"}, "affiliations": [{"ref": "u"}],
             "corresponding": True, "email": "a@x"},
            {"name": "Bo Sample", "affiliations": ["Free text lab"]},
            "Cy Plain",
        ],
        "affiliations": [{"id": "u", "name": "Uni", "city": "Pavia", "country": "Italy"}],
    }
    authors, affs = normalize_authors(meta)
    assert [a["name"] for a in authors] == ["Ada Example", "Bo Sample", "Cy Plain"]
    assert [a["marks"] for a in authors] == ["1", "2", ""]
    assert authors[0]["corresponding"] is True
    assert [a["text"] for a in affs] == ["Uni, Pavia, Italy", "Free text lab"]
    with pytest.raises(RenderError, match="affiliation 'zz'"):
        normalize_authors({"author": [{"name": "X", "affiliations": [{"ref": "zz"}]}]})


def test_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    assert format_date(dt.date(2024, 8, 5)) == ("August 5, 2024", dt.date(2024, 8, 5))
    assert format_date("2024-08-05", "iso")[0] == "2024-08-05"
    assert format_date("2024-08-05", "D MMMM YYYY")[0] == "5 August 2024"
    assert format_date("Summer 2024") == ("Summer 2024", None)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1722816000")
    assert format_date("today", "iso")[0] == "2024-08-05"
