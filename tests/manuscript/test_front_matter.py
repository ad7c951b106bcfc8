"""The first page follows the data source: title, banner, subtitle and declarations say when
the data are synthetic, and on a registry extract quote config/report.yaml or ask for it."""

from __future__ import annotations

from lenstop import config
from lenstop.manuscript import front_matter

META = {"synthetic": True, "data_file": "cohort.csv", "data_sha256": "abc"}


def test_title_says_when_the_data_are_synthetic():
    assert front_matter.report_title({}, True) == \
        front_matter.STUDY_TITLE + ": a reproduction on synthetic data"
    assert front_matter.report_title({"title": "My registry"}, False) == "My registry"


def test_data_block_of_the_synthetic_cohort():
    d = front_matter.data_block(META, dict(config.ANALYSIS, min_cell=0), {})
    assert d["synthetic"] == "true" and d["title_note"] == front_matter.SYNTHETIC_TITLE_NOTE
    assert d["banner"].startswith("SYNTHETIC DATA:") and "no real patient" in d["banner"]
    assert d["description"] == front_matter.SYNTHETIC_DESCRIPTION
    assert (d["file"], d["sha256"]) == ("cohort.csv", "abc")


def test_data_block_of_an_extract_warns_without_a_minimum_cell_size():
    meta = dict(META, synthetic=False, data_file="registry.xlsx")
    open_build = front_matter.data_block(meta, dict(config.ANALYSIS, min_cell=0), {})
    assert open_build["synthetic"] == "false" and open_build["title_note"] == ""
    assert open_build["subtitle"] == "Analysis of registry.xlsx"
    assert "NO MINIMUM CELL SIZE" in open_build["banner"]
    assert open_build["description"].startswith("not stated (add `declarations: data:`")
    safe = front_matter.data_block(meta, dict(config.ANALYSIS, min_cell=5, cycles_cutoff=6),
                                   {"declarations": {"data": "Registry X, 2010-2024"}})
    assert "NO MINIMUM CELL SIZE" not in safe["banner"]
    assert safe["banner"].endswith("Compare its numbers with the paper's only with that in "
                                   "mind.")
    assert safe["description"] == "Registry X, 2010-2024"


def test_departures_name_each_changed_parameter():
    assert front_matter.departures(dict(config.ANALYSIS)) == ""
    text = front_matter.departures(dict(config.ANALYSIS, alpha=0.01, tb_cutoff=3))
    assert "alpha = 0.01 (published 0.05)" in text and "tb_cutoff = 3 (published 4" in text


def test_declarations_of_an_extract_come_from_report_yaml():
    synthetic = front_matter.declarations({}, True, 0)
    assert synthetic["ethics"].startswith("Not required")
    own = front_matter.declarations({"declarations": {"funding": " Grant 1 "}}, False, 5)
    assert own["funding"] == "Grant 1"
    assert own["ethics"] == "not stated (add `declarations: ethics:` to config/report.yaml)"
    assert set(own) == set(synthetic)
    # the published counts' minimum cell size is part of what may be shared
    assert own["data_availability"].endswith(
        "In this report, counts below 5 are shown as <5 (minimum cell size).")
    shared = {"declarations": {"data_availability": "On request to the registry."}}
    assert front_matter.declarations(shared, False, 0)["data_availability"] == \
        "On request to the registry."
    assert front_matter.declarations(shared, False, 10)["data_availability"] == (
        "On request to the registry. In this report, counts below 10 are shown as <10 "
        "(minimum cell size).")


def test_report_config_is_empty_when_absent(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "REPORT_CONFIG", tmp_path / "report.yaml")
    assert front_matter.read_report_config() == {}
    (tmp_path / "report.yaml").write_text("title: T\nkeywords: [a]\n", encoding="utf-8")
    assert front_matter.read_report_config() == {"title": "T", "keywords": ["a"]}
