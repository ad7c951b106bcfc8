"""The study's data dictionary: one row per patient, every column, type, unit, rule and definition.

`COLUMNS` and `RULES` are the single source of truth: the pandera schemas in `validate`, the
data dictionary in `data/README.md` (checked by a test) and the synthetic generator all read them.

A rule refuses data that cannot be true: a date before one it must follow, an answer without the
event it answers. A row that can be true but does not meet the study's definitions is valid data
and is not refused here: RBC-TI for less than 8 weeks at discontinuation excludes the patient
and a regained RBC-TI observed for less than 8 weeks is no response, both counted by
`lenstop.cohort.derive` (`eligibility`, `EXCLUSIONS`) so that the flow figure can show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Kind = Literal["id", "text", "category", "int", "float", "date"]

DAY_UNKNOWN_DAY = 15
"""A date whose day is unknown (written YYYY-MM) is read as this day of its month, mid-month,
and flagged in `<column>_imputed` (see `imputed_flag`): never a silent guess."""
IMPUTED_SUFFIX = "_imputed"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the registry extract."""

    name: str
    kind: Kind
    definition: str
    nullable: bool = True
    required: bool = True
    unit: str = ""
    allowed: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def rule_text(self) -> str:
        """Human-readable statement of the allowed values (used in messages and the dictionary)."""
        if self.kind == "date":
            return ("an ISO date YYYY-MM-DD that exists in the calendar, or YYYY-MM when the "
                    f"day is unknown (read as the {DAY_UNKNOWN_DAY}th and flagged)")
        if self.kind == "category":
            return "one of " + ", ".join(self.allowed)
        if self.kind in ("int", "float"):
            what = "a whole number" if self.kind == "int" else "a number"
            unit = f" {self.unit}" if self.unit else ""
            return f"{what} from {self.low:g} to {self.high:g}{unit}"
        if self.kind == "id":
            return "non-empty, unique pseudonymous code"
        return "free text"


RESTART_REASONS = ("cytogenetic_relapse", "falling_hb", "other")
"""Reasons for restarting LEN without a prior loss of RBC-TI (`retreat_without_loss_reason`)."""
DMT_TYPES = ("esa", "luspatercept", "hma", "allo_hsct", "other")
"""Later disease-modifying therapies (`dmt_type`)."""

C = ColumnSpec
COLUMNS: tuple[ColumnSpec, ...] = (
    C("patient_id", "id", "Pseudonymous patient code from the registry; never a name, initials "
      "or hospital number.", nullable=False),
    C("centre", "text", "Pseudonymous or named treating centre (UTF-8 or Windows-1252 text).",
      nullable=False),
    C("sex", "category", "Sex recorded in the registry.", nullable=False, allowed=("F", "M")),
    C("age_at_len_stop", "float", "Age at LEN discontinuation (no birth date is kept).",
      nullable=False, unit="years", low=18, high=105),
    C("ipssr", "category", "IPSS-R risk category at LEN start; the study enrolled lower-risk "
      "MDS only.", nullable=False, allowed=("very_low", "low", "intermediate")),
    C("karyotype", "category", "del(5q) isolated or with one additional abnormality "
      "(WHO MDS-5q).", nullable=False, allowed=("isolated_del5q", "del5q_plus1")),
    C("tb_units_8wk_pre_len", "float", "RBC transfusion burden before LEN, mean units per 8 "
      "weeks over the 16 weeks before LEN start (IWG 2018 counts per 16 weeks: halve those).",
      unit="RBC units / 8 weeks", low=0, high=20),
    C("len_start_date", "date", "First day of lenalidomide.", nullable=False),
    C("ti_start_date", "date", "First day of the first >= 8-week transfusion-free interval on "
      "LEN (RBC-TI, IWG 2006 HI-E).", nullable=False),
    C("len_cycles", "int", "Number of 28-day LEN cycles given before discontinuation.",
      unit="cycles", low=1, high=200),
    C("len_dose_at_stop_mg", "float", "Daily LEN dose at withdrawal.", unit="mg/day",
      low=2.5, high=25),
    C("len_stop_date", "date", "Date LEN was discontinued while in RBC-TI (time zero).",
      nullable=False),
    C("stop_reason", "category", "Why LEN was stopped: intolerance (toxicity), physician "
      "decision, patient decision, or unknown.", nullable=False,
      allowed=("intolerance", "physician", "patient", "unknown")),
    C("hb_at_stop_g_dl", "float", "Haemoglobin at LEN withdrawal.", unit="g/dL", low=3, high=20),
    C("anc_at_stop", "float", "Absolute neutrophil count at withdrawal.", unit="x10^9/L",
      low=0, high=50),
    C("plt_at_stop", "float", "Platelet count at withdrawal.", unit="x10^9/L", low=0, high=2000),
    C("ccyr_at_stop", "category", "Complete cytogenetic response at withdrawal: no del(5q) "
      "metaphases / FISH negative.", nullable=False, allowed=("yes", "no", "not_assessed")),
    C("cyto_reeval_date", "date", "Date of the first cytogenetic re-evaluation after "
      "discontinuation (blank: none)."),
    C("ccyr_lost", "category", "Result of that re-evaluation for patients in CCyR at "
      "withdrawal: del(5q) found again (yes) or not (no); blank without a re-evaluation.",
      allowed=("yes", "no")),
    C("ti_loss_date", "date", "Loss of RBC-TI: first RBC transfusion for anaemia after "
      "discontinuation (blank: TI kept)."),
    C("aml_date", "date", "Date of progression to AML (blank: none)."),
    C("len_retreat_date", "date", "Start of LEN re-treatment after loss of RBC-TI, or of a "
      "LEN restart while still in RBC-TI when retreat_without_loss_reason says why (blank: "
      "not re-treated)."),
    C("retreat_without_loss_reason", "category", "Why LEN was restarted while still in RBC-TI "
      "(no loss of RBC-TI on or before len_retreat_date): cytogenetic relapse (del(5q) found "
      "again), falling Hb, or another reason; blank for a re-treatment after loss of RBC-TI "
      "and for patients not re-treated (optional column).", required=False,
      allowed=RESTART_REASONS),
    C("retreat_ti_regained", "category", "RBC-TI (>= 8 weeks without transfusion) regained on "
      "re-treatment after loss of RBC-TI; blank if not re-treated, or restarted while in "
      "RBC-TI.", allowed=("yes", "no")),
    C("retreat_ti_date", "date", "Start of the regained RBC-TI on re-treatment (it counts as a "
      "response once 8 weeks without transfusion are observed: see lenstop.cohort.derive)."),
    C("retreat_ti_loss_date", "date", "Loss of the regained RBC-TI (optional column; blank: "
      "kept).", required=False),
    C("dmt_type", "category", "First disease-modifying therapy other than LEN started after "
      "discontinuation: erythropoiesis-stimulating agent (esa), luspatercept, hypomethylating "
      "agent (hma: azacitidine, decitabine), allogeneic stem-cell transplant (allo_hsct), or "
      "other (a trial drug, say); blank: none (optional column).", required=False,
      allowed=DMT_TYPES),
    C("dmt_start_date", "date", "Start of that therapy (the day of transplant for allo_hsct); "
      "blank with dmt_type (optional column).", required=False),
    C("death_date", "date", "Date of death (blank: alive at last follow-up)."),
    C("last_followup_date", "date", "Date of last contact; equals the date of death for "
      "patients who died.", nullable=False),
)
del C

COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS = tuple(c.name for c in COLUMNS if c.required)
DATE_COLUMNS = tuple(c.name for c in COLUMNS if c.kind == "date")


def imputed_flag(column: str) -> str:
    """The name of the boolean column validation adds for date `column`: True where the
    extract gave only year and month and the day was set to `DAY_UNKNOWN_DAY`."""
    return f"{column}{IMPUTED_SUFFIX}"


IMPUTED_FLAGS = tuple(imputed_flag(c) for c in DATE_COLUMNS)
"""The flags validation adds after the dictionary's columns, one per date column (in order)."""


@dataclass(frozen=True)
class Rule:
    """A rule across columns of one patient's row; `column` is the one blamed when it fails.

    `ok(frame)` returns True per row where the rule holds; blanks it does not need pass.
    """

    id: str
    column: str
    text: str
    involves: tuple[str, ...]
    ok: Callable[[pd.DataFrame], pd.Series]


def _order_holds(d: pd.DataFrame, later: str, earlier: str) -> pd.Series:
    return d[later].isna() | d[earlier].isna() | (d[later] >= d[earlier])


def _order(later: str, earlier: str, text: str, blame: str | None = None) -> Rule:
    def ok(d: pd.DataFrame) -> pd.Series:
        return _order_holds(d, later, earlier)

    return Rule(f"{later} >= {earlier}", blame or later, text, (earlier, later), ok)


def _given(col: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda d: d[col].notna()


def _is(d: pd.DataFrame, col: str, value: str) -> pd.Series:
    """Row-wise `col == value`, False where blank."""
    return d[col].eq(value).fillna(False).astype(bool)


EVENT_DATES = (
    "cyto_reeval_date", "ti_loss_date", "aml_date", "len_retreat_date", "retreat_ti_date",
    "retreat_ti_loss_date", "dmt_start_date",
)
"""Dates of events after discontinuation: none may precede it, nor follow death or last contact."""

RESTART = "retreat_without_loss_reason"

RULES: tuple[Rule, ...] = (
    _order("ti_start_date", "len_start_date", "RBC-TI cannot start before LEN"),
    _order("len_stop_date", "ti_start_date", "LEN is stopped while in RBC-TI, so after TI began"),
    *(_order(c, "len_stop_date", f"{c} cannot precede LEN discontinuation")
      for c in (*EVENT_DATES, "death_date", "last_followup_date")),
    *(_order("death_date", c, "nothing can happen after death", blame=c) for c in EVENT_DATES),
    *(_order("last_followup_date", c, "last follow-up cannot precede a recorded event")
      for c in EVENT_DATES),
    Rule("death_date = last_followup_date", "last_followup_date",
         "for a patient who died, last follow-up is the date of death",
         ("death_date", "last_followup_date"),
         lambda d: d["death_date"].isna() | (d["death_date"] == d["last_followup_date"])),
    Rule("re-treatment needs loss of TI", "len_retreat_date",
         "LEN re-treatment is recorded only after loss of RBC-TI, but ti_loss_date is blank; "
         "for LEN restarted while still in RBC-TI, give the reason in "
         "retreat_without_loss_reason",
         ("ti_loss_date", "len_retreat_date", RESTART),
         lambda d: d["len_retreat_date"].isna() | _given("ti_loss_date")(d) | _given(RESTART)(d)),
    Rule("len_retreat_date >= ti_loss_date", "len_retreat_date",
         "re-treatment follows loss of RBC-TI (a restart while still in RBC-TI needs "
         "retreat_without_loss_reason)", ("ti_loss_date", "len_retreat_date", RESTART),
         lambda d: _order_holds(d, "len_retreat_date", "ti_loss_date") | _given(RESTART)(d)),
    Rule("restart reason needs restart date", RESTART,
         "a reason for restarting LEN while in RBC-TI needs the restart date (len_retreat_date)",
         (RESTART, "len_retreat_date"),
         lambda d: d[RESTART].isna() | _given("len_retreat_date")(d)),
    Rule("restart without loss precedes any loss", RESTART,
         "retreat_without_loss_reason is for LEN restarted while still in RBC-TI, but "
         "ti_loss_date is on or before len_retreat_date: leave it blank for a re-treatment "
         "after loss", (RESTART, "ti_loss_date", "len_retreat_date"),
         lambda d: d[RESTART].isna() | d["ti_loss_date"].isna() | d["len_retreat_date"].isna()
         | (d["ti_loss_date"] > d["len_retreat_date"])),
    Rule("regained answer needs re-treatment", "retreat_ti_regained",
         "an answer on regained RBC-TI needs a re-treatment date (len_retreat_date)",
         ("len_retreat_date", "retreat_ti_regained"),
         lambda d: d["retreat_ti_regained"].isna() | _given("len_retreat_date")(d)),
    Rule("re-treatment needs regained answer", "retreat_ti_regained",
         "a patient re-treated after loss of RBC-TI needs yes or no for regained RBC-TI",
         ("len_retreat_date", "retreat_ti_regained", RESTART),
         lambda d: d["len_retreat_date"].isna() | _given("retreat_ti_regained")(d)
         | _given(RESTART)(d)),
    Rule("no regained answer after a restart in TI", "retreat_ti_regained",
         "RBC-TI can be regained only after it was lost: leave retreat_ti_regained blank when "
         "LEN was restarted while in RBC-TI (retreat_without_loss_reason given)",
         (RESTART, "retreat_ti_regained"),
         lambda d: d[RESTART].isna() | d["retreat_ti_regained"].isna()),
    Rule("regained date iff regained", "retreat_ti_date",
         "a regained-TI date goes with retreat_ti_regained = yes, and yes needs that date",
         ("retreat_ti_regained", "retreat_ti_date"),
         lambda d: d["retreat_ti_date"].notna() == _is(d, "retreat_ti_regained", "yes")),
    _order("retreat_ti_date", "len_retreat_date", "RBC-TI is regained only after re-treatment"),
    Rule("second loss needs regained TI", "retreat_ti_loss_date",
         "loss of the regained TI needs a regained-TI date (retreat_ti_date)",
         ("retreat_ti_date", "retreat_ti_loss_date"),
         lambda d: d["retreat_ti_loss_date"].isna() | _given("retreat_ti_date")(d)),
    _order("retreat_ti_loss_date", "retreat_ti_date", "the regained TI is lost after it began"),
    Rule("CCyR loss needs re-evaluation", "ccyr_lost",
         "ccyr_lost is answered only with a cytogenetic re-evaluation date (cyto_reeval_date)",
         ("cyto_reeval_date", "ccyr_lost"),
         lambda d: d["ccyr_lost"].isna() | _given("cyto_reeval_date")(d)),
    Rule("re-evaluation in CCyR needs answer", "ccyr_lost",
         "a re-evaluated patient in CCyR at withdrawal needs yes or no for ccyr_lost",
         ("cyto_reeval_date", "ccyr_at_stop", "ccyr_lost"),
         lambda d: ~(_given("cyto_reeval_date")(d) & _is(d, "ccyr_at_stop", "yes"))
         | _given("ccyr_lost")(d)),
    Rule("CCyR loss needs CCyR", "ccyr_lost",
         "CCyR can be lost only by a patient in CCyR at withdrawal (ccyr_at_stop = yes)",
         ("ccyr_at_stop", "ccyr_lost"),
         lambda d: d["ccyr_lost"].isna() | _is(d, "ccyr_at_stop", "yes")),
    Rule("later therapy type iff date", "dmt_start_date",
         "a later therapy needs both its type (dmt_type) and its start date (dmt_start_date)",
         ("dmt_type", "dmt_start_date"),
         lambda d: d["dmt_type"].notna() == d["dmt_start_date"].notna()),
)
