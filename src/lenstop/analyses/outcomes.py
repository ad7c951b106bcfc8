"""The secondary endpoints (notebook 05): overall, RBC-TI-free and event-free survival, and the
cumulative incidence of AML with death competing, as shareable outputs show them.

The estimates come from `lenstop.stats.endpoints` (definitions in
`lenstop.cohort.derive.ENDPOINTS`); this module applies the minimum cell size, draws the two
figures and shapes the results section, so that the notebook reads as question, call, figure,
sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lenstop.cohort.derive import CR_DIED, ENDPOINTS
from lenstop.content.figures import OKABE_ITO, finish_cif, km_figure
from lenstop.content.fmt import ci, ci_band, num
from lenstop.disclosure.suppression import Cells, km_stop
from lenstop.stats.competing import CIFSummary, cumulative_incidence
from lenstop.stats.endpoints import aml_incidence, endpoint_summary
from lenstop.stats.survival import KMSummary

SURVIVAL = ("os", "ti_free", "efs")
"""The Kaplan-Meier endpoints of the section, in the order the report gives them."""


@dataclass
class Outcomes:
    """Each endpoint's estimate (`fits`) and the same as outputs show it (`shown`)."""

    fits: dict[str, KMSummary]
    shown: dict[str, dict]
    aml: CIFSummary
    aml_shown: list[dict]
    aml_stop: float
    death_without_aml: CIFSummary
    censor_dmt: dict
    """RBC-TI duration censored at a later disease-modifying therapy or LEN restart (shown)."""
    n_censored_at_dmt: int


def estimate(a: pd.DataFrame, cells: Cells, landmarks, alpha: float) -> Outcomes:
    """Fit every secondary endpoint on the analysis table `a` and apply the minimum cell size."""
    fits = {k: endpoint_summary(a, k, landmarks, alpha) for k in SURVIVAL}
    os_fit = fits["os"]
    aml = aml_incidence(a, landmarks, alpha)
    # the incidence curves stop where the overall-survival curve does (same risk set)
    stop = km_stop(os_fit.fitter, cells.min_cell)
    death = cumulative_incidence(a, ENDPOINTS["aml"].duration_col, ENDPOINTS["aml"].event_col,
                                 cause=CR_DIED, landmarks=landmarks, alpha=alpha)
    sensitivity = endpoint_summary(a, "ti_duration_censor_dmt", landmarks, alpha)
    return Outcomes(fits=fits, shown={k: cells.km(v) for k, v in fits.items()}, aml=aml,
                    aml_shown=cells.landmarks(aml.landmarks, stop), aml_stop=stop,
                    death_without_aml=death, censor_dmt=cells.km(sensitivity),
                    n_censored_at_dmt=int(a["ti_censored_at_dmt"].sum()))


def _pct(row: dict, key: str) -> str:
    if row.get("withheld"):
        return f"withheld ({row['withheld']})"
    if row[key] is None:
        return "not estimable (beyond the follow-up)"
    return f"{row[key]:.1%}{ci_band(row['ci_low'], row['ci_high'], pct=True)}"


def lines(o: Outcomes, cells: Cells) -> list[str]:
    """What the notebook prints: events, median (95% CI) and landmarks of each endpoint."""
    out = []
    for key in SURVIVAL:
        fit, shown = o.fits[key], o.shown[key]
        low, high = shown["median_ci"]
        median = ("withheld" if shown.get("median_withheld") else
                  "not reached" + (f" (lower 95% confidence limit {num(low)} months)"
                                   if low is not None else "")
                  if shown["median"] is None else
                  f"{num(shown['median'])} months (95% CI {ci(low, high)})")
        out.append(f"{ENDPOINTS[key].label}: {cells.of(fit.events, fit.n)} events in {fit.n} "
                   f"patients; median {median}")
        out += [f"  at {r['time']:g} months: {_pct(r, 'survival')}" for r in shown["landmarks"]]
    aml_events = cells.of(o.aml.events.get(1, 0), o.aml.n)
    sens = o.censor_dmt
    out.append(f"RBC-TI duration censored at later therapy or LEN restart in RBC-TI "
               f"({cells.count(o.n_censored_at_dmt)} censored there): median "
               + ("not reached" if sens["median"] is None else f"{sens['median']:.1f} months"))
    out.append(f"AML progression: {aml_events} of {o.aml.n} patients (death without AML "
               "competing)")
    out += [f"  cumulative incidence at {r['time']:g} months: {_pct(r, 'cif')}"
            for r in o.aml_shown]
    return out


def survival_figure(o: Outcomes, data_label: str, min_cell: int):
    """Overall, RBC-TI-free and event-free survival in one Kaplan-Meier plot, at risk below."""
    fitters = {ENDPOINTS[k].label: o.fits[k].fitter for k in SURVIVAL}
    return km_figure(fitters, ylabel="Probability", data_label=data_label, ci=False,
                     min_cell=min_cell)


def aml_figure(o: Outcomes, a: pd.DataFrame, data_label: str, min_cell: int = 0):
    """Cumulative incidence of AML and of death without AML (Aalen-Johansen), with the
    patients still at risk of either (alive, AML-free, followed) below."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    o.aml.fitter.plot(ax=ax, color=OKABE_ITO[1], label="AML progression",
                      loc=slice(0, o.aml_stop))
    o.death_without_aml.fitter.plot(ax=ax, color=OKABE_ITO[0], ci_show=False,
                                    label="Death without AML", loc=slice(0, o.aml_stop))
    finish_cif(fig, ax, data_label, at_risk=(a, ENDPOINTS["aml"]), min_cell=min_cell)
    return fig


def section(o: Outcomes, cells: Cells) -> dict:
    """The results section `outcomes` (keys documented in results/README.md)."""
    out: dict = {"definitions": {k: ENDPOINTS[k].definition for k in (*SURVIVAL, "aml")}}
    for key in SURVIVAL:
        fit, shown = o.fits[key], o.shown[key]
        out[f"{key}_n"] = fit.n
        out[f"{key}_events"] = cells.of(fit.events, fit.n)
        out[f"{key}_median_months"] = shown["median"]
        out[f"{key}_median_months_ci"] = shown["median_ci"]
        out[f"{key}_rate_at_months"] = {f"{r['time']:g}": r for r in shown["landmarks"]}
    out["ti_censor_dmt_median_months"] = o.censor_dmt["median"]
    out["ti_censor_dmt_median_months_ci"] = o.censor_dmt["median_ci"]
    out["ti_censor_dmt_censored"] = cells.count(o.n_censored_at_dmt)
    out["aml_events"] = cells.of(o.aml.events.get(1, 0), o.aml.n)
    out["aml_cif_at_months"] = {f"{r['time']:g}": r for r in o.aml_shown}
    return out
