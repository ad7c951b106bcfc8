"""The analysis table: the variables each analysis uses, derived from the validated cohort in one
tested place.

Time zero is LEN discontinuation. Months are days / 30.4375. Follow-up ends at death or, for
patients alive, at last contact.

The IWG definitions the Methods quote are applied here, not in validation:

- **Eligibility** (`eligibility`, `EXCLUSIONS`, `exclusion_counts`): RBC-TI at discontinuation
  needs at least 8 weeks (`MIN_TI_DAYS` = 56 days) without transfusion before the stop date.
  A patient who stopped LEN earlier is *excluded and counted*, not refused: the dates can be
  true (the registry holds a real patient who stopped LEN four weeks into a transfusion-free
  interval), and STROBE item 13 asks for the number excluded at each stage, with reasons, in
  the flow figure. Refusing the row would make the data manager delete it, and the exclusion
  would disappear from the report. Validation (`lenstop.ingest.schema.RULES`) keeps refusing data
  that cannot be true, such as a stop date before the transfusion-free interval began.
- **Re-treatment response** (`regained_iwg`, `retreatment_response`): a regained RBC-TI counts
  as a response only once 8 weeks without transfusion are observed (from `retreat_ti_date` to
  its loss, death or last contact). A shorter one stays in the re-treated denominator as *no
  response*, and is counted (`regained_short`) so the text can say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lenstop.config import CYCLES_CUTOFF, DAYS_PER_MONTH, MIN_TI_WEEKS, TB_CUTOFF_UNITS_8WK
from lenstop.ingest.schema import DATE_COLUMNS, IMPUTED_SUFFIX

TI_CENSORED, TI_LOST, DIED_IN_TI = 0, 1, 2
"""Codes of `ti_status` for competing risks: censored, loss of RBC-TI, death without loss."""

CR_CENSORED, CR_EVENT, CR_DIED = 0, 1, 2
"""Codes of `aml_status` and `retreat_status`: censored, the event, death without it first."""

MIN_TI_DAYS = 7 * MIN_TI_WEEKS
"""RBC-TI (IWG 2006 HI-E, kept by IWG 2018): at least 8 consecutive weeks, 56 days, without an
RBC transfusion (`config.MIN_TI_WEEKS`). Applies to RBC-TI at discontinuation and to RBC-TI
regained on re-treatment."""


@dataclass(frozen=True)
class Exclusion:
    """A reason a patient of a valid extract is not in the analysed cohort.

    `label` is the flow figure's box text; `definition` the sentence for the Methods;
    `applies(cohort)` is True for the patients it excludes.
    """

    key: str
    label: str
    definition: str
    applies: Callable[[pd.DataFrame], pd.Series]


def ti_days_before_stop(cohort: pd.DataFrame) -> pd.Series:
    """Days from the start of the transfusion-free interval to LEN discontinuation."""
    return (cohort["len_stop_date"] - cohort["ti_start_date"]).dt.days


EXCLUSIONS: dict[str, Exclusion] = {e.key: e for e in (
    Exclusion("ti_under_8_weeks", "RBC-TI for less than 8 weeks when LEN was stopped",
              f"LEN was stopped less than {MIN_TI_DAYS} days (8 weeks) after the "
              "transfusion-free interval began (len_stop_date - ti_start_date < "
              f"{MIN_TI_DAYS} days), so the patient was not in RBC-TI by IWG 2006/2018 at "
              "discontinuation",
              lambda c: (ti_days_before_stop(c) < MIN_TI_DAYS).fillna(False).astype(bool)),
)}
"""Every exclusion, in the order the flow figure applies them (a patient is counted under the
first that applies). Day-unknown dates (`<column>_imputed`) are used as read, on the 15th."""


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event endpoint of the analysis table: its columns and stated definition.

    kind "km": `event_col` is 0/1 (Kaplan-Meier); kind "cif": `event_col` holds the codes
    `CR_*` and the cumulative incidence of code 1 is estimated with death competing.
    """

    key: str
    label: str
    kind: Literal["km", "cif"]
    duration_col: str
    event_col: str
    definition: str


ENDPOINTS: dict[str, Endpoint] = {e.key: e for e in (
    Endpoint("ti_duration", "RBC-TI duration", "km", "ti_months", "ti_lost",
             "Time from LEN discontinuation to loss of RBC-TI (first RBC transfusion for "
             "anaemia); patients who kept RBC-TI are censored at death or last contact."),
    Endpoint("ti_duration_censor_dmt", "RBC-TI duration censored at later treatment", "km",
             "ti_months_censor_dmt", "ti_lost_censor_dmt",
             "RBC-TI duration (loss of RBC-TI from LEN discontinuation), with patients also "
             "censored when, still in RBC-TI, they started a later disease-modifying therapy "
             "(dmt_start_date) or restarted LEN without a loss of RBC-TI (sensitivity "
             "analysis: the time off all treatment)."),
    Endpoint("os", "Overall survival", "km", "os_months", "os_event",
             "Time from LEN discontinuation to death from any cause; patients alive are "
             "censored at last contact."),
    Endpoint("ti_free", "RBC-TI-free survival", "km", "ti_free_months", "ti_free_event",
             "Time from LEN discontinuation to loss of RBC-TI or death from any cause, "
             "whichever comes first; censored at last contact."),
    Endpoint("efs", "Event-free survival", "km", "efs_months", "efs_event",
             "Time from LEN discontinuation to the first of loss of RBC-TI, progression to "
             "AML or death from any cause; censored at last contact."),
    Endpoint("aml", "AML progression", "cif", "aml_cif_months", "aml_status",
             "Cumulative incidence of progression to AML from LEN discontinuation, with "
             "death without AML as a competing event; censored at last contact."),
    Endpoint("retreatment", "LEN re-treatment", "cif", "retreat_cif_months", "retreat_status",
             "Cumulative incidence of LEN re-treatment from LEN discontinuation (any restart: "
             "after loss of RBC-TI, or while still in it with retreat_without_loss_reason), "
             "with death before re-treatment as a competing event; censored at last "
             "contact. A death rules re-treatment out, so 1 - Kaplan-Meier (censoring deaths) "
             "would overstate it."),
)}
"""Every endpoint the analysis table holds, keyed as results.json names them."""


def months_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Months from `start` to `end` (days / 30.4375); blank where either date is blank."""
    return (end - start).dt.days / DAYS_PER_MONTH


def _flag(mask: pd.Series, known: pd.Series | None = None) -> pd.Series:
    """0/1 as nullable Int64; blank where `known` is False."""
    out = mask.fillna(False).astype(bool).astype("Int64")
    if known is not None:
        out = out.mask(~known)
    return out


def analysis_table(cohort: pd.DataFrame, cycles_cutoff: float = CYCLES_CUTOFF,
                   tb_cutoff: float = TB_CUTOFF_UNITS_8WK) -> pd.DataFrame:
    """The cohort plus every analysis variable the notebooks use (one row per patient).

    Added columns:
    - `ti_months`, `ti_lost`: RBC-TI duration from discontinuation to loss of TI, or to the end
      of follow-up (death or last contact) for patients who kept TI (censored).
    - `ti_status`: 0 censored alive in TI, 1 lost TI, 2 died without losing TI (competing event).
    - `fu_months`, `died`, `fu_reverse_event`: follow-up from discontinuation to death or last
      contact; the reverse Kaplan-Meier event is being alive at last contact.
    - `ltb`: low transfusion burden before LEN (units / 8 weeks below `tb_cutoff`; IWG 2018
      high burden is >= 8 units / 16 weeks, i.e. >= 4 / 8 weeks); `cycles_ge_cutoff`: LEN cycles
      >= `cycles_cutoff`; `age_per10`: age at withdrawal / 10; `hb`: Hb at withdrawal, g/dL.
    - `ti_before_stop_months`, `len_months`: time in TI on LEN, and on LEN, before stopping.
    - Cytogenetics: `cyto_reevaluated`, `months_to_reeval`, `ccyr_lost_flag` (blank unless
      re-evaluated in CCyR).
    - Re-treatment: `retreated` (LEN re-treatment after loss of RBC-TI), `regained` (as
      recorded), `months_to_regain`, `second_ti_months`, `second_ti_lost`; AML: `aml`,
      `aml_months` (blank without AML).
    - IWG definitions: `ti_before_stop_days`; `eligible` (0/1) and `excluded_for` (the first
      `EXCLUSIONS` key that applies, blank if eligible), see `eligibility`; `regained_days`
      (days of regained RBC-TI observed: to its loss, death or last contact), `regained_iwg`
      (regained for >= 8 weeks: the response), `regained_short` (recorded as regained, under 8
      weeks observed: no response); both blank unless re-treated after loss.
    - `restarted_in_ti`: LEN restarted without a prior loss of RBC-TI
      (`retreat_without_loss_reason` given); such a restart is not in `retreated`.
    - Later therapy: `later_dmt` (0/1), `dmt_months` (discontinuation to its start);
      `ti_censored_at_dmt` (0/1: a later therapy or a LEN restart began while still in
      RBC-TI), `ti_months_censor_dmt` and `ti_lost_censor_dmt`: RBC-TI duration censored there
      (endpoint `ti_duration_censor_dmt`, a sensitivity analysis).
    - `n_dates_imputed`: how many of the patient's dates had no day (set to the 15th).
    - Endpoints (see `ENDPOINTS` for their definitions): `os_months`, `os_event`;
      `ti_free_months`, `ti_free_event`; `efs_months`, `efs_event`; `aml_cif_months`,
      `aml_status` and `retreat_cif_months`, `retreat_status` (codes `CR_*`).
    - `dose_level`: LEN dose at withdrawal as a category (`dose_category`).
    """
    d = cohort.copy()
    stop = d["len_stop_date"]
    died = d["death_date"].notna()
    end = d["death_date"].where(died, d["last_followup_date"])
    lost = d["ti_loss_date"].notna()

    d["end_date"] = end
    d["ti_lost"] = _flag(lost)
    d["ti_months"] = months_between(stop, d["ti_loss_date"].where(lost, end))
    d["died"] = _flag(died)
    d["ti_status"] = pd.Series(TI_CENSORED, index=d.index, dtype="Int64")
    d.loc[lost, "ti_status"] = TI_LOST
    d.loc[~lost & died, "ti_status"] = DIED_IN_TI
    d["fu_months"] = months_between(stop, end)
    d["fu_reverse_event"] = _flag(~died)

    tb = d["tb_units_8wk_pre_len"].astype("Float64")
    d["ltb"] = _flag(tb < tb_cutoff, known=tb.notna())
    cycles = d["len_cycles"].astype("Float64")
    d["cycles_ge_cutoff"] = _flag(cycles >= cycles_cutoff, known=cycles.notna())
    d["age_per10"] = d["age_at_len_stop"].astype("Float64") / 10
    d["hb"] = d["hb_at_stop_g_dl"].astype("Float64")
    d["male"] = _flag(d["sex"].eq("M"))
    d["del5q_plus1"] = _flag(d["karyotype"].eq("del5q_plus1"))
    d["ti_before_stop_months"] = months_between(d["ti_start_date"], stop)
    d["len_months"] = months_between(d["len_start_date"], stop)

    reeval = d["cyto_reeval_date"].notna()
    d["cyto_reevaluated"] = _flag(reeval)
    d["months_to_reeval"] = months_between(stop, d["cyto_reeval_date"])
    in_ccyr_reeval = reeval & d["ccyr_at_stop"].eq("yes").fillna(False)
    d["ccyr_lost_flag"] = _flag(d["ccyr_lost"].eq("yes"), known=in_ccyr_reeval)

    restart = _optional(d, "retreat_without_loss_reason").notna()
    retreat = d["len_retreat_date"]
    retreated = retreat.notna() & ~restart
    d["retreated"] = _flag(retreated)
    d["restarted_in_ti"] = _flag(retreat.notna() & restart)
    d["regained"] = _flag(d["retreat_ti_regained"].eq("yes"), known=retreated)
    d["months_to_regain"] = months_between(d["len_retreat_date"], d["retreat_ti_date"])
    second_lost = d["retreat_ti_loss_date"].notna()
    d["second_ti_lost"] = _flag(second_lost, known=d["retreat_ti_date"].notna())
    d["second_ti_months"] = months_between(
        d["retreat_ti_date"], d["retreat_ti_loss_date"].where(second_lost, end))
    regained_days = (d["retreat_ti_loss_date"].where(second_lost, end)
                     - d["retreat_ti_date"]).dt.days
    d["regained_days"] = regained_days.astype("Int64")
    has_regain = d["retreat_ti_date"].notna()
    d["regained_iwg"] = _flag(has_regain & (regained_days >= MIN_TI_DAYS), known=retreated)
    d["regained_short"] = _flag(has_regain & (regained_days < MIN_TI_DAYS), known=retreated)

    d["ti_before_stop_days"] = ti_days_before_stop(d).astype("Int64")
    flags = eligibility(d)
    d["eligible"] = _flag(flags["eligible"])
    d["excluded_for"] = flags["excluded_for"]

    dmt = pd.to_datetime(_optional(d, "dmt_start_date"))
    d["later_dmt"] = _flag(dmt.notna())
    d["dmt_months"] = months_between(stop, dmt)
    treated = pd.concat([dmt, retreat.where(restart)], axis=1).min(axis=1)
    in_ti = treated.notna() & (~lost | (treated < d["ti_loss_date"])).fillna(False)
    d["ti_censored_at_dmt"] = _flag(in_ti)
    d["ti_months_censor_dmt"] = d["ti_months"].where(~in_ti, months_between(stop, treated))
    d["ti_lost_censor_dmt"] = _flag(lost & ~in_ti)
    flags = [f"{c}{IMPUTED_SUFFIX}" for c in DATE_COLUMNS if f"{c}{IMPUTED_SUFFIX}" in d]
    d["n_dates_imputed"] = (d[flags].astype(bool).sum(axis=1) if flags
                            else pd.Series(0, index=d.index)).astype("Int64")

    d["aml"] = _flag(d["aml_date"].notna())
    d["aml_months"] = months_between(stop, d["aml_date"])

    d["os_months"] = d["fu_months"]
    d["os_event"] = d["died"]
    d["ti_free_months"] = d["ti_months"]  # loss of TI, else death or last contact
    d["ti_free_event"] = _flag(lost | died)
    aml = d["aml_date"].notna()
    first = pd.concat([d["ti_loss_date"], d["aml_date"], end], axis=1).min(axis=1)
    d["efs_months"] = months_between(stop, first)
    d["efs_event"] = _flag(lost | aml | died)
    d["aml_cif_months"], d["aml_status"] = _competing(stop, d["aml_date"], end, died)
    d["retreat_cif_months"], d["retreat_status"] = _competing(
        stop, d["len_retreat_date"], end, died)
    d["dose_level"] = dose_category(d["len_dose_at_stop_mg"])
    return d


def _optional(d: pd.DataFrame, column: str) -> pd.Series:
    """An optional column, blank throughout if a hand-made frame lacks it (a validated cohort
    always has every column)."""
    return d[column] if column in d.columns else pd.Series(pd.NA, index=d.index, dtype=object)


def eligibility(cohort: pd.DataFrame) -> pd.DataFrame:
    """Which patients of a valid cohort the analysis includes, and why the others are not.

    Takes the validated cohort (or `analysis_table` of it). Returns a frame with the cohort's
    index: one boolean column per `EXCLUSIONS` key (True where that reason applies),
    `excluded_for` (the first reason that applies, in `EXCLUSIONS` order; <NA> if none) and
    `eligible` (True where none applies). Exclude with `cohort[eligibility(cohort)["eligible"]]`
    (`included`), and draw the boxes from `exclusion_counts`.
    """
    out = pd.DataFrame(index=cohort.index)
    first = pd.Series(pd.NA, index=cohort.index, dtype="string")
    for key, exclusion in EXCLUSIONS.items():
        hit = exclusion.applies(cohort).reindex(cohort.index).fillna(False).astype(bool)
        out[key] = hit
        first = first.mask(first.isna() & hit, key)
    out["excluded_for"] = first
    out["eligible"] = first.isna().astype(bool)
    return out


def included(cohort: pd.DataFrame) -> pd.DataFrame:
    """The patients the analysis includes (rows of `cohort` that no `EXCLUSIONS` applies to)."""
    return cohort.loc[eligibility(cohort)["eligible"]]


def exclusion_counts(cohort: pd.DataFrame) -> pd.DataFrame:
    """The flow figure's exclusion boxes, one row per `EXCLUSIONS` reason in order.

    Columns: `reason` (the key), `label` (the box text), `definition` (for the Methods), `n`
    (patients excluded at this step: those for whom it is the first reason), `n_any` (every
    patient it applies to) and `remaining` (patients left after the step). Patients assessed
    are `len(cohort)`; patients analysed are the last `remaining`. Every reason has a row, with
    n = 0 when it excludes nobody, so the figure can say that the definition was checked.
    """
    flags = eligibility(cohort)
    left = len(cohort)
    rows = []
    for key, exclusion in EXCLUSIONS.items():
        n = int((flags["excluded_for"] == key).sum())
        left -= n
        rows.append({"reason": key, "label": exclusion.label, "definition": exclusion.definition,
                     "n": n, "n_any": int(flags[key].sum()), "remaining": left})
    return pd.DataFrame(rows, columns=["reason", "label", "definition", "n", "n_any",
                                       "remaining"])


def retreatment_response(cohort: pd.DataFrame) -> dict[str, int]:
    """Re-treatment counts with the 8-week definition of a regained RBC-TI applied.

    Takes the validated cohort (or `analysis_table` of it; pass `included(...)` to count the
    analysed patients only). Keys: `retreated` (LEN re-treatment after loss of RBC-TI: the
    denominator), `regained_recorded` (retreat_ti_regained = yes), `regained` (RBC-TI regained
    and observed for at least 8 weeks: the response numerator), `regained_short` (recorded as
    regained but observed for under 8 weeks: counted as no response), `restarted_in_ti` (LEN
    restarted without a loss of RBC-TI: not re-treatment after loss, not in the denominator).
    """
    a = cohort if "regained_iwg" in cohort.columns else analysis_table(cohort)
    return {"retreated": int(a["retreated"].sum()),
            "regained_recorded": int(a["regained"].sum()),
            "regained": int(a["regained_iwg"].sum()),
            "regained_short": int(a["regained_short"].sum()),
            "restarted_in_ti": int(a["restarted_in_ti"].sum())}


def _competing(start: pd.Series, event_date: pd.Series, end: pd.Series, died: pd.Series
               ) -> tuple[pd.Series, pd.Series]:
    """Months to the event, else to death or last contact, and status CR_EVENT / CR_DIED /
    CR_CENSORED (an event on the day of death counts as the event)."""
    has = event_date.notna()
    months = months_between(start, event_date.where(has, end))
    status = pd.Series(CR_CENSORED, index=start.index, dtype="Int64")
    status[~has & died.astype(bool)] = CR_DIED
    status[has] = CR_EVENT
    return months, status


def dose_category(dose_mg: pd.Series) -> pd.Series:
    """LEN dose as an ordered category labelled '2.5 mg', '5 mg', ... (levels: the doses
    observed, in increasing order); blank stays blank. A few fixed doses are levels, not a
    linear term."""
    values = pd.to_numeric(dose_mg, errors="coerce").astype(float)
    levels = np.unique(values[np.isfinite(values)])
    labels = [f"{v:g} mg" for v in levels]
    out = values.map(dict(zip(levels, labels, strict=True)), na_action="ignore")
    return pd.Series(pd.Categorical(out, categories=labels, ordered=True), index=dose_mg.index)


def merge_sparse(values: pd.Series, min_n: int = 5, into: str | None = None,
                 label: str | None = None) -> tuple[pd.Series, str]:
    """Categories with fewer than `min_n` patients merged into `into`, or omitted (blank).

    Returns the recoded series and the rule as a sentence for the Methods. With `into` the
    sparse levels join that level (created if new); if the result is still below `min_n` it
    is omitted too. Without `into` their patients are set to missing, so a complete-case
    model leaves them out. Category order is kept; `label` names the variable in the text.
    """
    if min_n < 1:
        raise ValueError("min_n must be at least 1")
    name = label or str(values.name or "the variable")
    series = values if isinstance(values.dtype, pd.CategoricalDtype) else \
        values.astype("category")
    counts = series.value_counts(sort=False)
    sparse = [lv for lv in series.cat.categories if 0 < counts.get(lv, 0) < min_n]
    movers = [lv for lv in sparse if lv != into]
    if not movers and into not in sparse:
        return series, f"No category of {name} had fewer than {min_n} patients."

    def listing(levels):
        return ", ".join(f"{lv} (n = {int(counts[lv])})" for lv in levels)

    rule = f"Categories of {name} with fewer than {min_n} patients"
    if into is None:
        return (series.cat.remove_categories(sparse),
                f"{rule} were left out (complete-case): {listing(sparse)}.")
    cats = [lv for lv in series.cat.categories if lv not in movers]
    if into not in cats:
        cats.append(into)
    merged = series.astype(object).where(~series.isin(movers), into)
    out = pd.Series(pd.Categorical(merged, categories=cats, ordered=series.cat.ordered),
                    index=series.index)
    size = int((out == into).sum())
    done = f"{rule} were merged into '{into}': {listing(movers)}" if movers else \
        f"{rule} had no other category to merge into '{into}'"
    if size >= min_n:
        return out, done + "."
    return (out.cat.remove_categories([into]),
            f"{done}; with {size} patient{'' if size == 1 else 's'} '{into}' was still too "
            "small and was left out (complete-case).")
