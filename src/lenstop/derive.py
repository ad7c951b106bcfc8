"""Analysis variables derived from the validated cohort, in one tested place.

Time zero is LEN discontinuation. Months are days / 30.4375. Follow-up ends at death or, for
patients alive, at last contact.
"""

from __future__ import annotations

import pandas as pd

from .config import CYCLES_CUTOFF, DAYS_PER_MONTH, TB_CUTOFF_UNITS_8WK

TI_CENSORED, TI_LOST, DIED_IN_TI = 0, 1, 2
"""Codes of `ti_status` for competing risks: censored, loss of RBC-TI, death without loss."""


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
      `second_ti_lost`; AML: `aml`, `aml_months`.
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
    return d
