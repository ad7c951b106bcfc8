"""The prose follows the data source (issue 13): on the synthetic cohort the report says what a
reproduction shows and draws no clinical conclusion; on a registry extract it states that
extract's findings with its own numbers and sends the authors to the sections they write."""

from __future__ import annotations

import copy
import re

import pytest

from lenstop import config
from lenstop.manuscript import results, variables

CLINICAL_CLAIMS = re.compile(
    r"leaves many of them transfusion independent|a treatment pause is safest|planned "
    r"discontinuation could be offered|LEN often works again", re.I)


@pytest.fixture(scope="module")
def shipped() -> dict:
    return results.read(config.RESULTS_FILE)


def _as_extract(merged: dict, name: str) -> dict:
    real = copy.deepcopy(merged)
    for section in real.values():
        section["meta"].update(synthetic=False, data_file=name)
    return real


def test_synthetic_build_draws_no_clinical_conclusion(shipped):
    v = variables.from_results(shipped, commit="t")
    story = v["story"]
    assert "not evidence about patients" in story["conclusion"]
    assert "simulated" in story["finding"] and "not clinical evidence" in story["meaning"]
    assert v["report"]["title"].endswith(": a reproduction on synthetic data")
    assert "no real patient" in v["data"]["banner"] and "Not required" in \
        v["declarations"]["ethics"]
    for text in (*story.values(), v["data"]["description"]):
        assert not CLINICAL_CLAIMS.search(text), text


def test_a_registry_extract_states_its_own_findings(shipped):
    v = variables.from_results(_as_extract(shipped, "registry_2026-11.xlsx"), commit="t")
    story = v["story"]
    n, median = shipped["cohort"]["n_patients"], shipped["ti_duration"]["ti_median_months"]
    assert story["conclusion"].startswith(f"In this extract ({n} patients), the median RBC-TI "
                                          f"duration after stopping LEN was {median:.1f} months")
    assert "registry_2026-11.xlsx" in story["finding"]
    assert "edit the Discussion of report.qmd" in story["meaning"]
    assert "synthetic" not in " ".join(story.values()).lower()
    assert not v["report"]["title"].endswith("synthetic data")
    assert "config/report.yaml" in v["declarations"]["funding"] or \
        "Edit:" in v["declarations"]["funding"]  # the user is told to write it
    assert "NO MINIMUM CELL SIZE" in v["data"]["banner"]  # min_cell 0 on a real extract


def test_the_manuscript_has_no_fixed_clinical_claim():
    text = (config.ROOT / "report.qmd").read_text(encoding="utf-8")
    assert not CLINICAL_CLAIMS.search(text)
    assert "{{< var story.conclusion >}}" in text and "{{< var story.discussion >}}" in text
