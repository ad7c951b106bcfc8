"""Strict as Quarto 1.7: each thing Quarto fails on, warns about or leaves unresolved is a
RenderError naming the file, the line and the construct; a failed render writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenstop.manuscript.render import RenderError, core, render
from lenstop.manuscript.render.__main__ import main

from .helpers import EPOCH, copy_fixture, edit


def _line(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _fails(proj: Path, tmp_path: Path, message: str, file: str, needle: str | None) -> None:
    with pytest.raises(RenderError, match=message) as info:
        render(proj, tmp_path / "out")
    assert info.value.file is not None and Path(info.value.file).name == file, info.value
    if needle is not None:
        assert info.value.line == _line(proj / file, needle), info.value
    assert not (tmp_path / "out").exists()


BODY = "The cohort holds {{< var cohort.n >}} patients"


@pytest.mark.parametrize(
    ("new", "message"),
    [
        # a numeric segment below the top level never resolves in Quarto 1.7
        ("{{< var km.rate.12 >}}", r"\{\{< var km\.rate\.12 >\}\}: the segment '12' is a "
                                   r"number, and Quarto 1\.7 never resolves"),
        ("{{< var cohort.0x1F >}}", r"the segment '0x1F' is a number"),
        ("{{< var km.1e3.x >}}", r"the segment '1e3' is a number"),
        ("{{< var cohort.nope >}}", r"unknown var key 'cohort\.nope'.*\?var:cohort\.nope"),
        ("{{< var km.median >}}", r"\{\{< var km\.median >\}\} names a mapping"),
        ("{{< var lst >}}", r"\{\{< var lst >\}\} names a list"),
        ("{{< var when >}}", r"names a date value"),
        ("{{< var multi >}}", r"the value spans several lines"),
        ("{{< meta nosuch >}}", r"unknown meta key 'nosuch'.*\?meta:nosuch"),
        ("{{< meta keywords >}}", r"\{\{< meta keywords >\}\} names a list"),
        ("{{< env HOME >}}", r"unknown shortcode \{\{< env HOME >\}\}: Quarto 1\.7 leaves "
                             r"it in the text and warns \"Shortcode 'env' not found\""),
        ("{{< var {{< var x >}} >}}", r"nested shortcodes are not supported"),
        ("`{{< var cohort.n >}}`", r"looks like code to Quarto 1\.7 .*article notebook.*"
                                   r"drop the backticks"),
        ("`{x}`", r"looks like code to Quarto 1\.7"),
        ("{{< pagebreak >}}", r"embed and pagebreak must stand alone"),
    ],
)
def test_shortcode_errors(tmp_path: Path, new: str, message: str) -> None:
    proj = copy_fixture(tmp_path)
    with (proj / "_variables.yml").open("a", encoding="utf-8") as fh:
        fh.write("lst: [a, b]\nwhen: 2024-08-05\nmulti: \"one\\ntwo\"\n")
    edit(proj / "report.qmd", BODY, f"The cohort holds {new} patients")
    _fails(proj, tmp_path, message, "report.qmd", "The cohort holds")


def test_shortcode_must_close_on_its_line(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "report.qmd", "RBC-TI means no", "RBC-TI {{< var cohort.n\n>}} means no")
    _fails(proj, tmp_path, r"a shortcode must open and close on one line", "report.qmd",
           "RBC-TI {{< var")


def test_quoted_digit_keys_resolve_at_the_top_level_and_with_a_letter(tmp_path: Path) -> None:
    """Quarto resolves a digit-only key at the top level ('7') and `rate.m12`."""
    proj = copy_fixture(tmp_path)
    with (proj / "_variables.yml").open("a", encoding="utf-8") as fh:
        fh.write("'7': seven\n")
    edit(proj / "report.qmd", BODY, "The cohort holds {{< var 7 >}} {{< var km.rate.m12 >}}")
    render(proj, tmp_path / "out", formats=("html",))
    assert "The cohort holds seven 80% (95% CI 72–86%)" in \
        (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_raw_typst_block_must_not_look_like_code(tmp_path: Path) -> None:
    """```{=typst} matches Quarto's "has computations" test (an article notebook would be
    rendered); ``` {=typst}, with a space, does not."""
    proj = copy_fixture(tmp_path)
    edit(proj / "report.qmd", "``` {=typst}", "```{=typst}")
    _fails(proj, tmp_path, r"write a raw block as ``` \{=typst\} \(with a space\)",
           "report.qmd", "```{=typst}")


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("@sec-methods;", "@sec-nowhere;", "@sec-nowhere",
         r"unresolved cross-reference @sec-nowhere .*Quarto 1\.7 prints \?@sec-nowhere"),
        ("@fig-hb,", "@fig-nothere,", "@fig-nothere", r"unresolved cross-reference @fig-nothere"),
        ("@fig-hb,", "[@fig-hb; @fig-ti-km],", "[@fig-hb", r"only a plain @fig-hb "
         r"cross-reference is supported \(no groups"),
        ("@fig-hb,", "[-@fig-hb],", "[-@fig-hb", r"only a plain @fig-hb"),
        ("@fig-hb,", "@Fig-hb,", "@Fig-hb", r"capitalised cross-references"),
        ("@fig-hb,", "@eq-one,", "@eq-one", r"@eq- cross-references are not supported"),
        ("see @sec-intro.", "see @sec-a.", "@sec-a", r"unresolved cross-reference @sec-a"),
        ("[@cheson2006; @crisa2024]", "[@nobody2020]", "@nobody2020",
         r"citation @nobody2020 is not in the bibliography"),
        ("# Key points {.unnumbered}", "# Key points {.unnumbered #sec-key}\n\nSee @sec-key.",
         "See @sec-key", r"@sec-key refers to an unnumbered section"),
        ("::: {.callout-note}", "::: {.callout-tip}", ".callout-tip",
         r"only callout-note and callout-warning are supported, not \.callout-tip"),
        ("::: {.callout-note}", '::: {.callout-note collapse="true"}', "collapse",
         r"callout attribute 'collapse' is not supported"),
        ("::: {.callout-note}", '::: {.content-visible when-format="html"}', "content-visible",
         r"conditional content \(\.content-visible\) is not supported"),
        ("after the references;", "after the references[^1];\n\n[^1]: A note.", "[^1];",
         r"footnotes are not supported"),
        ("{#fig-direct fig-alt", "{#direct fig-alt", None,  # and @fig-direct is unresolved
         r"2 problems: line \d+: unresolved .*; line 70: a captioned image needs a #fig- label"),
        ("notebooks/direct.png){#fig", "notebooks/missing.png){#fig", None,
         r"image file '.*missing\.png' does not exist"),
        ("{#tbl-direct}", "", None,
         r"2 problems: line 22: unresolved .*; line 57: a captioned table needs a #tbl- label"),
        ("02_ti_duration.ipynb#fig-hb", "02_ti_duration.ipynb#fig-missing", "fig-missing",
         r"no cell with id, label or tag 'fig-missing' in notebooks/02_ti_duration\.ipynb"),
        ("02_ti_duration.ipynb#fig-hb", "02_ti_duration.ipynb#fig-printed", "fig-printed",
         r"cell 'fig-printed' of notebooks/02_ti_duration\.ipynb prints to stdout, which "
         r"Quarto shows"),
        ("02_ti_duration.ipynb#fig-hb", "02_ti_duration.ipynb#fig-hb echo=false fold=true",
         "fold=true", r"embed option 'fold=true' is not supported"),
        ("02_ti_duration.ipynb#fig-hb", "04_absent.ipynb#fig-hb", "04_absent",
         r"04_absent\.ipynb does not exist"),
        ("# Introduction {#sec-intro}", "# Introduction {#sec-intro}\n\n# Again {#sec-intro}",
         "# Again", r"the label 'sec-intro' is used twice"),
    ],
)
def test_construct_errors(tmp_path: Path, old: str, new: str, needle: str | None,
                          message: str) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "report.qmd", old, new)
    _fails(proj, tmp_path, message, "report.qmd", needle)


def test_uncaptioned_image_is_not_a_float(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "report.qmd", "![Direct figure", "![](notebooks/direct.png)\n\n![Direct figure")
    render(proj, tmp_path / "out", formats=("html",))
    assert "Figure 4" not in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_sec_reference_needs_number_sections(tmp_path: Path) -> None:
    """Case 15: Quarto's Typst fails on @sec- without numbering; so does the whole render."""
    proj = copy_fixture(tmp_path)
    edit(proj / "_quarto.yml", "number-sections: true", "number-sections: false")
    _fails(proj, tmp_path, r"@sec-methods needs `number-sections: true`: without heading "
           r"numbers Quarto 1\.7's Typst fails", "report.qmd", "@sec-methods")


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("    toc: true\n", "    toc: true\n    embed-resources: true\n", "embed-resources",
         r"`embed-resources: true` in the html format of a manuscript project with notebooks "
         r"makes Quarto 1\.7 exit 1"),
        ("    toc: true\n", "    toc: true\n    fig-cap-location: top\n", "fig-cap-location",
         r"the Quarto option `fig-cap-location` is not supported by this renderer \(html "
         r"format\)"),
        ("    fontsize: 10pt\n", "    fontsize: 10pt\n    fig-pos: H\n", "fig-pos",
         r"`fig-pos` has no effect in Quarto 1\.7's html and typst formats .*"
         r"#set figure\(placement: auto\)"),
        ("number-sections: true", "crossref:\n  fig-prefix: Fig.", "crossref",
         r"the Quarto option `crossref` is not supported"),
        ("    fontsize: 10pt\n", "    fontsize: 10pt\n    mainfont: Arial\n", "mainfont",
         r"`mainfont` is not supported by this renderer \(typst format\)"),
        ("    toc-location: left", "    toc-location: right", "toc-location",
         r"only `left`"),
        ("date-format: iso", "date-format: \"D MMMM YYYY\"", "date-format",
         r"`date-format`: only `iso` and `long` are supported"),
        ("    citeproc: true", "    citeproc: yes", "citeproc", r"`citeproc`: expected a bool"),
        ("format:\n", "format:\n  docx: default\n", None,
         r"format\(s\) docx are not supported"),
        ("  output-dir: _manuscript\n", "  output-dir: _manuscript\n  execute-dir: file\n",
         None, r"project option\(s\) execute-dir are not supported"),
        ("    - notebook: notebooks/02_ti_duration.ipynb\n",
         "    - notebook: notebooks/02_ti_duration.ipynb\n      url: https://example.org\n",
         None, r"entries must be a path or \{notebook, title\}"),
    ],
)
def test_config_errors(tmp_path: Path, old: str, new: str, needle: str | None,
                       message: str) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "_quarto.yml", old, new)
    _fails(proj, tmp_path, message, "_quarto.yml", needle)


def test_embed_resources_with_notebook_links_false_is_quartos_way(tmp_path: Path) -> None:
    """Case 17: with `notebook-links: false` Quarto renders; so does this renderer, without
    the notebook list and the links (the previews are still written)."""
    proj = copy_fixture(tmp_path)
    edit(proj / "_quarto.yml", "    toc: true\n",
         "    toc: true\n    embed-resources: true\n    notebook-links: false\n")
    paths = render(proj, tmp_path / "out", formats=("html",))
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Notebooks" not in page and "-preview.html" not in page
    assert tmp_path / "out" / "notebooks" / "02_ti_duration-preview.html" in paths


def test_notebook_view_false_writes_no_preview(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "_quarto.yml", "    toc: true\n", "    toc: true\n    notebook-view: false\n")
    paths = render(proj, tmp_path / "out", formats=("html",))
    assert sorted(p.name for p in paths) == ["direct.png", "index.html"]
    assert "-preview.html" not in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_unlisted_notebooks_with_other_documents(tmp_path: Path) -> None:
    """Without `manuscript: notebooks:` Quarto takes every document of the project as a
    notebook; `project: render:` limits the inputs."""
    proj = copy_fixture(tmp_path)
    text = (proj / "_quarto.yml").read_text(encoding="utf-8")
    start = text.index("  notebooks:\n")
    end = text.index("\nmetadata-files")
    (proj / "_quarto.yml").write_text(text[:start] + text[end:], encoding="utf-8")
    (proj / "NOTES.md").write_text("# Notes\n", encoding="utf-8")
    _fails(proj, tmp_path, r"Quarto 1\.7 treats every document of the project as a "
           r"manuscript notebook \(NOTES\.md\)", "_quarto.yml", None)
    edit(proj / "_quarto.yml", "  resources:", "  render: [report.qmd]\n  resources:")
    render(proj, tmp_path / "out", formats=("html",))
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Source: RBC-TI duration</a>" in page  # embeds of unlisted notebooks link


def test_typst_error_is_a_render_error(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "_header.typ", "#show table:", "#show table: set text(size: nope)\n#show table:")
    with pytest.raises(RenderError, match=r"Typst could not compile the PDF: .*nope"):
        render(proj, tmp_path / "out", formats=("pdf",))


def test_typst_warning_is_a_render_error(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "_header.typ", "#show table:", '#set text(font: "No Such Font")\n#show table:')
    with pytest.raises(RenderError, match=r"(?i)Typst warned: .*no such font"):
        render(proj, tmp_path / "out", formats=("pdf",))


def test_failed_render_keeps_previous_output(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    proj = copy_fixture(tmp_path)
    out = tmp_path / "out"
    good = render(proj, out)
    before = {p: p.read_bytes() for p in good}

    # 1. a source error: nothing is written
    edit(proj / "report.qmd", "@fig-hb,", "@fig-gone,")
    with pytest.raises(RenderError, match="fig-gone"):
        render(proj, out)
    assert {p: p.read_bytes() for p in good} == before

    # 2. HTML succeeds (with new content) but the PDF step fails: HTML is not replaced either
    edit(proj / "report.qmd", "@fig-gone,", "@fig-hb,")
    edit(proj / "report.qmd", "APPENDIX-A-TEXT", "CHANGED-TEXT")

    def boom(*args: object, **kwargs: object) -> bytes:
        raise RenderError("simulated Typst failure")

    monkeypatch.setattr(core, "_compile_typst", boom)
    with pytest.raises(RenderError, match="simulated"):
        render(proj, out)
    assert {p: p.read_bytes() for p in good} == before
    assert sorted(p for p in out.rglob("*") if p.is_file()) == sorted(good)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = copy_fixture(tmp_path)
    assert main([str(proj), "--out", str(tmp_path / "ok"), "--format", "html"]) == 0
    assert (tmp_path / "ok" / "index.html").is_file()
    assert "index.html" in capsys.readouterr().out
    edit(proj / "report.qmd", "@fig-hb,", "@fig-gone,")
    assert main([str(proj), "--out", str(tmp_path / "bad"), "--format", "html"]) == 2
    err = capsys.readouterr().err
    assert "report.qmd, line" in err and "@fig-gone" in err
    assert "Traceback" not in err


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="unknown format"):
        render(tmp_path, tmp_path / "out", formats=("docx",))


def test_not_a_manuscript_project(tmp_path: Path) -> None:
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    with pytest.raises(RenderError, match="manuscript"):
        render(tmp_path, tmp_path / "out")


def test_front_matter_var_error_names_its_line(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    edit(proj / "report.qmd", "({{< var cohort.label >}})", "({{< var cohort.labl >}})")
    _fails(proj, tmp_path, r"unknown var key 'cohort\.labl'", "report.qmd", "cohort.labl")


def test_missing_metadata_file(tmp_path: Path) -> None:
    proj = copy_fixture(tmp_path)
    (proj / "_authors.yml").unlink()
    _fails(proj, tmp_path, r"metadata file _authors\.yml .* not found", "_authors.yml", None)


def test_profile_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`profile: default:` applies when neither QUARTO_PROFILE nor `profile=` is given."""
    monkeypatch.delenv("QUARTO_PROFILE", raising=False)
    proj = copy_fixture(tmp_path)
    (proj / "_quarto-strict.yml").write_text("format:\n  html:\n    code-fold: true\n")
    edit(proj / "_quarto.yml", "execute:", "profile:\n  default: strict\n\nexecute:")
    _fails(proj, tmp_path, r"`code-fold` is not supported", "_quarto-strict.yml", "code-fold")
    render(proj, tmp_path / "out", formats=("html",), profile="review")
