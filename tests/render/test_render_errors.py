"""Errors name the problem (key, label, reference) and its line; failures keep old outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenstop.render import RenderError, core, render
from lenstop.render.__main__ import main

from .helpers import EPOCH, copy_fixture


def _break(proj: Path, old: str, new: str) -> None:
    qmd = proj / "report.qmd"
    text = qmd.read_text(encoding="utf-8")
    assert old in text, old
    qmd.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line(proj: Path, needle: str) -> int:
    for i, line in enumerate((proj / "report.qmd").read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        ("{{< var cohort.lost_ti >}} of whom", "{{< var cohort.nope >}} of whom",
         "cohort.nope", ["unknown variable 'cohort.nope'", "?var:cohort.nope"]),
        ("{{< embed {{< var build.notebooks >}}/", "{{< embed {{< var build.nb >}}/",
         "build.nb", ["unknown variable 'build.nb'"]),
        ("title: \"Mini report: RBC-TI after lenalidomide ({{< var cohort.label >}})\"",
         "title: \"Mini report ({{< var cohort.zzz >}})\"", "cohort.zzz",
         ["unknown variable 'cohort.zzz'"]),
        ("{{< var cohort.n >}} patients, ", "{{< var cohort >}} patients, ", "var cohort >",
         ["variable 'cohort' is a dict"]),
        ("02_ti_duration.ipynb#fig-hb", "02_ti_duration.ipynb#fig-missing", "fig-missing",
         ["no cell labelled 'fig-missing'", "02_ti_duration.ipynb"]),
        ("02_ti_duration.ipynb#fig-hb", "03_absent.ipynb#fig-hb", "03_absent",
         ["03_absent.ipynb does not exist"]),
        ("@fig-hb,", "@fig-nothere,", "@fig-nothere",
         ["unresolved cross-reference @fig-nothere"]),
        ("and @tbl-direct.", "and @tbl-absent.", "@tbl-absent",
         ["unresolved cross-reference @tbl-absent"]),
        ("in\n@sec-methods;", "in\n@sec-nowhere;", "@sec-nowhere",
         ["unresolved cross-reference @sec-nowhere"]),
        ("[@cheson2006; @crisa2024]", "[@nobody2020]", "@nobody2020",
         ["citation @nobody2020 not found"]),
        ('when-meta="flags.synthetic"', 'when-meta="flags.typo"', "flags.typo",
         ["'flags.typo'", "not set"]),
        ("{{< embed notebooks/02_ti_duration.ipynb#fig-hb >}}",
         "Text {{< embed notebooks/02_ti_duration.ipynb#fig-hb >}}", "Text {{< embed",
         ["must stand alone"]),
        ("{{< var cohort.n >}} patients, ", "{{< env HOME >}} patients, ", "env HOME",
         ["unsupported shortcode"]),
    ],
)
def test_error_names_problem_and_line(tmp_path: Path, old: str, new: str, needle: str,
                                      expected: list[str]) -> None:
    proj = copy_fixture(tmp_path)
    _break(proj, old, new)
    with pytest.raises(RenderError) as info:
        render(proj, tmp_path / "out", formats=("html",))
    message = str(info.value)
    for part in expected:
        assert part in message, message
    assert info.value.file is not None and info.value.file.endswith("report.qmd")
    assert info.value.line == _line(proj, needle), message
    assert not (tmp_path / "out" / "report.html").exists()


def test_missing_embed_output(tmp_path: Path) -> None:
    import nbformat

    proj = copy_fixture(tmp_path)
    nb_path = proj / "notebooks" / "02_ti_duration.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "fig-hb" in cell.source:
            cell.outputs = []
    nbformat.write(nb, str(nb_path))
    with pytest.raises(RenderError, match=r"cell 'fig-hb' of notebooks/02_ti_duration.ipynb "
                                          r"has no outputs"):
        render(proj, tmp_path / "out", formats=("html",))


def test_failed_render_keeps_previous_output(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    proj = copy_fixture(tmp_path)
    out = tmp_path / "out"
    good = render(proj, out)
    before = {fmt: p.read_bytes() for fmt, p in good.items()}

    # 1. a source error: nothing is written
    _break(proj, "@fig-hb,", "@fig-gone,")
    with pytest.raises(RenderError, match="fig-gone"):
        render(proj, out)
    assert {fmt: p.read_bytes() for fmt, p in good.items()} == before

    # 2. HTML succeeds (with new content) but the PDF step fails: HTML is not replaced either
    _break(proj, "@fig-gone,", "@fig-hb,")
    _break(proj, "APPENDIX-TEXT", "CHANGED-TEXT")

    def boom(*args: object, **kwargs: object) -> bytes:
        raise RenderError("simulated Typst failure")

    monkeypatch.setattr(core, "_compile_typst", boom)
    with pytest.raises(RenderError, match="simulated"):
        render(proj, out)
    assert {fmt: p.read_bytes() for fmt, p in good.items()} == before
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.pdf"]


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = copy_fixture(tmp_path)
    assert main([str(proj), "--out", str(tmp_path / "ok"), "--format", "html"]) == 0
    assert (tmp_path / "ok" / "report.html").is_file()
    assert "report.html" in capsys.readouterr().out
    _break(proj, "@fig-hb,", "@fig-gone,")
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
