"""The study's Table 1: the characteristics it lists, their labels, and the stop-reason groups.

Notebooks 01 (Table 1, flow figure) and 03 (cytogenetics) share these definitions, so a count
they both quote (patients in CCyR at withdrawal) is computed, and hidden under a minimum cell
size, the same way in both.
"""

from __future__ import annotations

import pandas as pd

from lenstop.content.tables import Row

REASONS = {"intolerance": "Intolerance", "physician": "Physician decision",
           "patient": "Patient decision", "unknown": "Unknown"}
"""Reasons for stopping LEN (the groups of Table 1), in the paper's order."""

GROUP = "stop_reason"

CCYR_AT_STOP = Row("ccyr_at_stop", "Cytogenetic response at withdrawal", "category",
                   (("yes", "CCyR"), ("no", "No CCyR"), ("not_assessed", "Not assessed")))


MIN_GROUP = 5
"""Table 1 has no column for a reason given by fewer patients: such a reason is merged into
"patient decision" (the closest in kind: neither toxicity nor a physician's choice)."""


def table_data(analysis: pd.DataFrame) -> pd.DataFrame:
    """The analysis table with the two published dichotomies as labelled categories, and the
    stop reasons of fewer than `MIN_GROUP` patients merged (`group_labels` names the result)."""
    from lenstop.cohort.derive import merge_sparse

    reasons, _rule = merge_sparse(analysis[GROUP].astype(object), min_n=MIN_GROUP,
                                  into="patient")
    return analysis.assign(ltb_cat=analysis["ltb"].map({1: "low", 0: "high"}),
                           long_cat=analysis["cycles_ge_cutoff"].map({1: "yes", 0: "no"}),
                           **{GROUP: reasons.astype(object)})


def group_labels(analysis: pd.DataFrame) -> tuple[dict[str, str], str]:
    """Table 1's columns after the merge (labels, in the paper's order) and the rule as a
    sentence for the table note ('' when no reason was merged)."""
    counts = analysis[GROUP].value_counts()
    merged = [k for k in REASONS if k != "patient" and 0 < counts.get(k, 0) < MIN_GROUP]
    labels = {k: v for k, v in REASONS.items() if k not in merged}
    if not merged:
        return labels, ""
    names = [REASONS[k].lower() for k in merged]
    labels["patient"] = "Patient decision or " + " or ".join(names)
    return labels, (f"Reasons given for fewer than {MIN_GROUP} patients ({', '.join(names)}) "
                    "are counted with patient decision.")


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
