"""The study's Table 1: the characteristics it lists, their labels, and the stop-reason groups.

Notebooks 01 (Table 1, flow figure) and 03 (cytogenetics) share these definitions, so a count
they both quote (patients in CCyR at withdrawal) is computed, and hidden under a minimum cell
size, the same way in both.
"""

from __future__ import annotations

import pandas as pd

from .tables import Row

REASONS = {"intolerance": "Intolerance", "physician": "Physician decision",
           "patient": "Patient decision", "unknown": "Unknown"}
"""Reasons for stopping LEN (the groups of Table 1), in the paper's order."""

GROUP = "stop_reason"

CCYR_AT_STOP = Row("ccyr_at_stop", "Cytogenetic response at withdrawal", "category",
                   (("yes", "CCyR"), ("no", "No CCyR"), ("not_assessed", "Not assessed")))


def table_data(analysis: pd.DataFrame) -> pd.DataFrame:
    """The analysis table with the two published dichotomies as labelled categories."""
    return analysis.assign(ltb_cat=analysis["ltb"].map({1: "low", 0: "high"}),
                           long_cat=analysis["cycles_ge_cutoff"].map({1: "yes", 0: "no"}))


def rows(tb_cutoff: float, cycles_cutoff: float) -> list[Row]:
    """Table 1's rows for the given cut-offs (they appear in two labels)."""
    return [
        Row("sex", "Sex", "category", (("F", "Female"), ("M", "Male"))),
        Row("ipssr", "IPSS-R at LEN start", "category",
            (("very_low", "Very low"), ("low", "Low"), ("intermediate", "Intermediate"))),
        Row("karyotype", "Karyotype", "category",
            (("isolated_del5q", "Isolated del(5q)"),
             ("del5q_plus1", "del(5q) + 1 abnormality"))),
        Row("tb_units_8wk_pre_len", "RBC units / 8 weeks before LEN", "continuous"),
        Row("ltb_cat", "Transfusion burden before LEN", "category",
            (("low", f"Low (< {tb_cutoff:g} units / 8 weeks)"),
             ("high", f"High (\u2265 {tb_cutoff:g} units / 8 weeks)"))),
        Row("len_cycles", "LEN cycles", "continuous", digits=0),
        Row("long_cat", f"LEN cycles \u2265 {cycles_cutoff:g}", "category",
            (("yes", "Yes"), ("no", "No"))),
        Row("len_months", "Months on LEN", "continuous"),
        Row("ti_before_stop_months", "Months in RBC-TI on LEN", "continuous"),
        Row("age_at_len_stop", "Age at withdrawal, years", "continuous"),
        Row("len_dose_at_stop_mg", "LEN dose at withdrawal, mg/day", "continuous"),
        Row("hb_at_stop_g_dl", "Hb at withdrawal, g/dL", "continuous"),
        Row("anc_at_stop", "ANC at withdrawal, \u00d710\u2079/L", "continuous", digits=2),
        Row("plt_at_stop", "Platelets at withdrawal, \u00d710\u2079/L", "continuous", digits=0),
        CCYR_AT_STOP,
    ]
