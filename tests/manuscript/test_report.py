"""The whole build: workflow, manuscript (HTML and PDF), no-op rebuild, Quarto when present.

The build runs on a copy of the shipped cohort, so it goes to build/<copy name>/ (staged
sources, executed notebooks, results) and never rewrites the committed outputs. It is the
session's shared build (`_builds.shipped_build`), brought back to the shipped cohort's bytes
if another test changed it, so the suite runs one full build fewer.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from lenstop import config
from lenstop.manuscript import results
from tests._builds import shipped_build
from tests.manuscript.render.pdflayout import overlaps, pdftotext_missing

pytestmark = pytest.mark.slow

FIGURES = ("fig-flow", "fig-ti-km", "fig-forest", "fig-ti-km-factors", "fig-ti-cif",
           "fig-survival", "fig-aml-cif", "fig-cyto-reeval", "fig-swimmer", "fig-second-ti",
           "fig-restart-cif", "fig-sensitivity", "fig-simulation")
TABLES = ("tbl-baseline", "tbl-cox", "tbl-cs-fg", "tbl-ccyr-ti", "tbl-reproduction",
          "tbl-strobe", "tbl-sensitivity", "tbl-simulation", "tbl-baseline-tests")
SECTIONS = ("Key points", "1 Introduction", "2 Methods", "3 Results", "4 Discussion",
            "Declarations", "References", "Appendix A: STROBE checklist",
            "Appendix B: Reproducibility", "Appendix C: Sensitivity analyses",
            "Appendix D: Simulation study", "Appendix E: Supplementary tables")


def _build(data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lenstop.cli", "build", "--data", str(data)],
                          capture_output=True, text=True, cwd=config.ROOT)


@pytest.fixture(scope="module")
def built(request):
    """A finished build of a copy of the shipped cohort; `first` is its first, full run."""
    build = shipped_build(request.config)
    return {"data": build.data, "out": build.out, "first": build.run}


@pytest.fixture(scope="module")
def html(built) -> str:
    return (built["out"] / "_manuscript" / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pdf_text(built) -> str:
    reader = pypdf.PdfReader(built["out"] / "_manuscript" / "report.pdf")
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def _plain(html: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text.replace("&nbsp;", " ").replace("\xa0", " "))


def _key_numbers(built) -> list[str]:
    r = results.read(built["out"] / "results" / "results.json")
    ti, cy, rt = r["ti_duration"], r["cytogenetics"], r["retreatment"]
    return [
        f"{r['cohort']['n_patients']} patients",
        f"{r['cohort']['stop_reason_counts']['intolerance']['n']} (59%)",
        f"{ti['ti_median_months']:.1f} months",
        f"{ti['followup_median_months']:.1f} months",
        f"{cy['ccyr_lost']['k']} of {cy['ccyr_reevaluated']}",
        f"{rt['retreat_ti_regained']['k']} regained",
    ]


def test_build_writes_report_in_the_build_folder(built):
    out = built["out"]
    for path in ("_manuscript/index.html", "_manuscript/report.pdf", "results/results.json",
                 "_variables.yml", "notebooks/02_ti_duration.ipynb", "figures/ti_km.svg"):
        assert (out / path).is_file(), path
    assert "[notebook 02_ti_duration] done" in built["first"].stdout


def test_every_figure_a_build_saves_has_svg_and_png(built):
    """Each figure the notebooks save lands in the build's figures/ as SVG and PNG, and the
    build saves the same figures as the committed run."""
    figures = built["out"] / "figures"
    svgs = {p.stem for p in figures.glob("*.svg")}
    pngs = {p.stem for p in figures.glob("*.png")}
    assert svgs == pngs and len(svgs) >= 7, sorted(svgs ^ pngs)
    assert svgs == {p.stem for p in config.FIGURES_DIR.glob("*.svg")}
    assert all((figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in pngs)


def test_results_equal_the_committed_ones_but_for_the_file_name(built):
    mine = results.read(built["out"] / "results" / "results.json")
    shipped = results.read(config.RESULTS_FILE)
    for section in shipped:
        assert mine[section]["meta"]["data_file"] == built["data"].name
        assert mine[section]["meta"]["synthetic"] is True  # same bytes as the shipped cohort
        mine[section]["meta"]["data_file"] = shipped[section]["meta"]["data_file"]
    assert mine == shipped


def test_html_and_pdf_hold_the_key_numbers(built, html, pdf_text):
    text = _plain(html)
    flat_pdf = re.sub(r"\s+", " ", pdf_text)
    for number in _key_numbers(built):
        assert number in text, number
        assert number in flat_pdf, number


def test_nothing_left_unresolved(html, pdf_text):
    for text in (_plain(html), pdf_text):
        for token in ("{{<", "?@", "?var", "@fig-", "@tbl-", "@sec-", "??"):
            assert token not in text, token


def test_every_figure_and_table_is_numbered_and_present(html, pdf_text):
    text = _plain(html)
    assert f"Figure {len(FIGURES)}:" in text and f"Figure {len(FIGURES) + 1}:" not in text
    assert f"Table {len(TABLES)}:" in text and f"Table {len(TABLES) + 1}:" not in text
    images = re.findall(r'<img[^>]+src="data:image/(?:svg\+xml|png)', html)
    assert len(images) >= len(FIGURES)
    for label in (*FIGURES, *TABLES):
        assert f'id="{label}"' in html, label
    assert f"Figure {len(FIGURES)}" in pdf_text


def test_pdf_sections_in_order(pdf_text):
    positions = [pdf_text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions), dict(zip(SECTIONS, positions, strict=True))
    assert positions == sorted(positions)


def test_synthetic_data_is_labelled_first(html, pdf_text):
    first_page = pdf_text[:3000]
    assert "SYNTHETIC DATA" in first_page
    assert "SYNTHETIC DATA" in _plain(html)[:6000]


def test_second_build_is_a_no_op(built):
    report = built["out"] / "_manuscript" / "report.pdf"
    before = report.stat().st_mtime_ns
    again = _build(built["data"])
    assert again.returncode == 0
    assert "nothing changed since the last build" in again.stdout  # lenstop.workflow.uptodate
    assert "[notebook" not in again.stdout
    assert report.stat().st_mtime_ns == before
    # without that record Snakemake runs and finds nothing to do either
    from lenstop.workflow import layout, uptodate

    uptodate.forget(layout.work_dir(built["out"]))
    again = _build(built["data"])
    assert again.returncode == 0
    assert "] started" not in again.stdout + again.stderr  # Snakemake ran no step
    assert "[notebook" not in again.stdout
    assert report.stat().st_mtime_ns == before


def test_private_build_folder_is_a_quarto_project_with_a_working_pre_render(built):
    """`quarto render build/<name>` reads _environment and runs workflow/pre-render.sh; run
    that step exactly as Quarto would (cwd = the build folder) and check it builds nothing."""
    out = built["out"]
    env_file = (out / "_environment").read_text()
    values = dict(re.findall(r'^(LENSTOP_\w+)="(.*)"$', env_file, flags=re.M))
    assert Path(values["LENSTOP_DATA"]) == built["data"].resolve()
    assert (out / "_quarto.yml").is_file() and (out / "report.qmd").is_file()
    run = subprocess.run(["sh", "workflow/pre-render.sh"], cwd=out, capture_output=True,
                         text=True, env={**os.environ, **values})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "[notebook" not in run.stdout
    assert (out / "_variables.yml").is_file()


@pytest.mark.skipif(pdftotext_missing() is not None, reason=str(pdftotext_missing()))
def test_pdf_has_no_colliding_words(built):
    """Tables fit their columns and figures sit clear of text (pdftotext word boxes)."""
    assert overlaps(built["out"] / "_manuscript" / "report.pdf") == []
