"""Analysis variables derived from the validated cohort, in one tested place.

Time zero is LEN discontinuation. Months are days / 30.4375. Follow-up ends at death or, for
patients alive, at last contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .config import CYCLES_CUTOFF, DAYS_PER_MONTH, TB_CUTOFF_UNITS_8WK

TI_CENSORED, TI_LOST, DIED_IN_TI = 0, 1, 2
"""Codes of `ti_status` for competing risks: censored, loss of RBC-TI, death without loss."""

CR_CENSORED, CR_EVENT, CR_DIED = 0, 1, 2
"""Codes of `aml_status` and `retreat_status`: censored, the event, death without it first."""


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
             "Cumulative incidence of LEN re-treatment from LEN discontinuation, with death "
             "before re-treatment as a competing event; censored at last contact. A death "
             "rules re-treatment out, so 1 - Kaplan-Meier (censoring deaths) would overstate "
             "it."),
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
    - Re-treatment: `retreated`, `regained`, `months_to_regain`, `second_ti_months`,
      `second_ti_lost`; AML: `aml`, `aml_months` (blank without AML).
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

    retreated = d["len_retreat_date"].notna()
    d["retreated"] = _flag(retreated)
    d["regained"] = _flag(d["retreat_ti_regained"].eq("yes"), known=retreated)
    d["months_to_regain"] = months_between(d["len_retreat_date"], d["retreat_ti_date"])
    second_lost = d["retreat_ti_loss_date"].notna()
    d["second_ti_lost"] = _flag(second_lost, known=d["retreat_ti_date"].notna())
    d["second_ti_months"] = months_between(
        d["retreat_ti_date"], d["retreat_ti_loss_date"].where(second_lost, end))

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
