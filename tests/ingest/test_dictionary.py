"""The data dictionary in data/README.md is the one the code validates against."""

from lenstop import config
from lenstop.ingest.dictionary import (
    CROSSWALK_BEGIN,
    CROSSWALK_END,
    between_markers,
    crosswalk_section,
    markdown_table,
    update_readme,
)
from lenstop.ingest.schema import COLUMNS, REQUIRED_COLUMNS, RULES

ISSUE_COLUMNS = (
    "patient_id centre sex age_at_len_stop ipssr karyotype tb_units_8wk_pre_len len_start_date "
    "ti_start_date len_cycles len_dose_at_stop_mg len_stop_date stop_reason hb_at_stop_g_dl "
    "anc_at_stop plt_at_stop ccyr_at_stop cyto_reeval_date ccyr_lost ti_loss_date aml_date "
    "len_retreat_date retreat_ti_regained retreat_ti_date death_date last_followup_date"
).split()


def test_readme_table_is_generated_from_schema():
    text = (config.DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert between_markers(text) == markdown_table()


def test_readme_crosswalk_guide_is_generated_from_the_code():
    text = (config.DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert between_markers(text, CROSSWALK_BEGIN, CROSSWALK_END) == crosswalk_section()
    assert update_readme(text) == text  # `update_readme` would change nothing


def test_study_columns_are_all_required():
    assert set(ISSUE_COLUMNS) <= set(REQUIRED_COLUMNS)


def test_no_identifying_columns():
    names = {c.name for c in COLUMNS}
    assert not names & {"name", "birth_date", "date_of_birth", "initials", "hospital_number"}


def test_every_rule_names_known_columns():
    names = {c.name for c in COLUMNS}
    for rule in RULES:
        assert rule.column in names and set(rule.involves) <= names, rule.id


def test_registry_columns_are_optional_and_documented():
    """Issue 14's data model: optional columns, so that existing extracts stay valid."""
    from lenstop.ingest.schema import COLUMN_BY_NAME, DMT_TYPES, IMPUTED_FLAGS, RESTART_REASONS

    text = (config.DATA_DIR / "README.md").read_text(encoding="utf-8")
    for name, allowed in (("retreat_without_loss_reason", RESTART_REASONS),
                          ("dmt_type", DMT_TYPES), ("dmt_start_date", ())):
        spec = COLUMN_BY_NAME[name]
        assert not spec.required and spec.nullable and spec.allowed == allowed
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert "(optional column)" in row and all(a in row for a in allowed)
    assert RESTART_REASONS == ("cytogenetic_relapse", "falling_hb", "other")
    assert DMT_TYPES == ("esa", "luspatercept", "hma", "allo_hsct", "other")
    assert "| `<date column>_imputed`" in between_markers(text)
    assert all(f"`{flag}`" in text for flag in IMPUTED_FLAGS)
    assert "YYYY-MM when the day is unknown" in text
