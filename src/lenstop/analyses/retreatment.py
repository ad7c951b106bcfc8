"""LEN re-treatment after loss of RBC-TI (notebook 04): who was re-treated and regained RBC-TI
(IWG response, evaluable patients by a stated rule), the intervals between the events, the
second RBC-TI beside the first, LEN restarts with death competing, and the swimmer plot, as
shareable outputs show them.

The estimators come from `lenstop.stats`; this module applies the minimum cell size, shapes
the printed lines, the figures and the results section `retreatment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lenstop.cohort.derive import ENDPOINTS, months_between
from lenstop.content.figures import MONTHS_LABEL, OKABE_ITO, data_stamp, finish_cif, km_figure
from lenstop.content.fmt import ci, num, pct
from lenstop.disclosure.suppression import Cell, Cells
from lenstop.stats import exact_ci, km_summary, retreatment_incidence

EVALUABLE_DAYS = 16 * 7
"""A response is RBC-TI regained and observed for at least 8 weeks (IWG); the evaluable
patients (stated rule) were followed for at least 16 weeks after restarting LEN, or responded
earlier: a shorter course cannot show a response."""

SWIMMER_MAX = 60
"""One line per patient stays readable (and small) up to about 60 patients; beyond, a fixed
random sample is drawn."""

SWIMMER_SEED = 20240805

SWIMMER_EVENTS = {
    "Loss of RBC-TI": ("ti_loss_date", "v", OKABE_ITO[1]),
    "LEN re-treatment": ("len_retreat_date", "s", OKABE_ITO[0]),
    "RBC-TI regained": ("retreat_ti_date", "o", OKABE_ITO[2]),
    "Second loss of RBC-TI": ("retreat_ti_loss_date", "X", OKABE_ITO[3]),
}
"""The swimmer plot's markers: label -> (date column, marker, colour)."""


@dataclass
class Response:
    """Losses of RBC-TI, re-treatments and responses, with counts as outputs show them."""

    retreated: pd.DataFrame
    with_regained: pd.DataFrame
    n_lost: Cell
    n_retreated: Cell
    share_retreated: dict
    regained: dict
    n_evaluable: Cell
    regained_evaluable: dict
    short: Cell
    restarted_in_ti: Cell
    evaluable: pd.DataFrame


def response(a: pd.DataFrame, cells: Cells, alpha: float) -> Response:
    """Who lost RBC-TI, was re-treated and regained it (Clopper-Pearson CIs), overall and
    among the evaluable patients (`EVALUABLE_DAYS`)."""
    lost_ti = a[a["ti_lost"] == 1]
    retreated = a[a["retreated"] == 1]
    # losses are quoted by notebooks 01 and 02 (shown unless small); the re-treated are a part
    n_lost = cells.count(len(lost_ti))
    n_retreated = cells.of(len(retreated), len(lost_ti))
    days_on = (retreated["end_date"] - retreated["len_retreat_date"]).dt.days
    evaluable = retreated[(days_on >= EVALUABLE_DAYS) | (retreated["regained_iwg"] == 1)]
    regained = cells.proportion(exact_ci(int(retreated["regained_iwg"].sum()), len(retreated),
                                         alpha=alpha), n=n_retreated)
    n_evaluable = cells.of(len(evaluable), len(retreated))
    regained_evaluable = cells.proportion(exact_ci(int(evaluable["regained_iwg"].sum()),
                                                   len(evaluable), alpha=alpha), n=n_evaluable)
    return Response(
        retreated=retreated, with_regained=retreated[retreated["regained_iwg"] == 1],
        n_lost=n_lost, n_retreated=n_retreated,
        share_retreated=cells.proportion(exact_ci(len(retreated), len(lost_ti), alpha=alpha),
                                         k=n_retreated, n=n_lost),
        regained=regained, n_evaluable=n_evaluable, regained_evaluable=regained_evaluable,
        short=cells.count(int(retreated["regained_short"].sum())),
        restarted_in_ti=cells.count(int(a["restarted_in_ti"].sum())), evaluable=evaluable)


def response_lines(r: Response) -> list[str]:
    """What the notebook prints of the re-treatments and responses."""
    share = ("" if r.share_retreated["proportion"] is None else
             f" ({pct(r.share_retreated['proportion'], 0)} of those who lost TI)")
    out = [f"Lost RBC-TI: {r.n_lost}; re-treated with LEN: {r.n_retreated}{share}"]
    g = r.regained
    if len(r.retreated) and g["proportion"] is not None:
        out.append(f"Regained RBC-TI: {g['k']}/{g['n']} = {pct(g['proportion'])} "
                   f"(95% CI {pct(g['ci_low'])}-{pct(g['ci_high'])})")
    elif len(r.retreated):
        out.append(f"Regained RBC-TI: {g['k']}/{g['n']} (proportion withheld: "
                   f"{g['withheld']})")
    else:
        out.append("Regained RBC-TI: no patient was re-treated")
    e = r.regained_evaluable
    if len(r.evaluable) and e["proportion"] is not None:
        out.append(f"Among the {r.n_evaluable} evaluable (>= 16 weeks after restarting, or a "
                   f"response): {e['k']}/{e['n']} = {pct(e['proportion'])}")
    out.append(f"Recorded as regained but observed < 8 weeks (no response): {r.short}; LEN "
               f"restarted while still in RBC-TI (not counted here): {r.restarted_in_ti}")
    return out


def _quartiles(cells: Cells, x: pd.Series, group: pd.DataFrame, group_n) -> dict:
    """Median (IQR) of `x` (withheld below min_cell patients), with its number of patients
    as the text quotes the group's size when everyone in the group has a value."""
    q = cells.quartiles(x)
    return {**q, "n": group_n if int(x.notna().sum()) == len(group) else q["n"]}


def intervals(r: Response, cells: Cells) -> dict[str, dict]:
    """Months from loss of RBC-TI to re-treatment, and from re-treatment to regained RBC-TI."""
    t = r.retreated
    return {
        "loss of TI -> re-treatment": _quartiles(
            cells, months_between(t["ti_loss_date"], t["len_retreat_date"]), t, r.n_retreated),
        "re-treatment -> regained TI": _quartiles(
            cells, r.with_regained["months_to_regain"], r.with_regained, r.regained["k"]),
    }


def interval_lines(iv: dict[str, dict]) -> list[str]:
    """What the notebook prints of the intervals."""
    out = []
    for name, s in iv.items():
        if s["n"] == 0:
            out.append(f"{name}: no patient")
        elif s["median"] is None:
            out.append(f"{name}: median withheld, n = {s['n']}")
        else:
            out.append(f"{name}: median {num(s['median'])} months (IQR {num(s['q1'])}-"
                       f"{num(s['q3'])}), n = {s['n']}")
    return out


def second_ti_figure(r: Response, landmarks, alpha: float, data_label: str, min_cell: int):
    """The second RBC-TI (from regaining it) beside the same patients' first (from stopping
    LEN), Kaplan-Meier; an empty, labelled panel when nobody regained RBC-TI. Returns the
    figure and the second RBC-TI's `km_summary` (None without responders)."""
    import matplotlib.pyplot as plt

    if len(r.with_regained):
        second = km_summary(r.with_regained, "second_ti_months", "second_ti_lost",
                            landmarks=landmarks, alpha=alpha)
        first_fit = km_summary(r.with_regained, "ti_months", "ti_lost", landmarks=(),
                               alpha=alpha).fitter
        fig = km_figure({"Second RBC-TI (from regaining it)": second.fitter,
                         "First RBC-TI of the same patients (from stopping LEN)": first_fit},
                        ylabel="Probability of keeping RBC-TI", data_label=data_label,
                        min_cell=min_cell)
    else:  # nobody regained RBC-TI: an empty, labelled panel instead of a crash
        second = None
        fig, ax = plt.subplots(figsize=(6.5, 4.6))
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("Probability of keeping RBC-TI")
        data_stamp(fig, data_label)
        ax.text(0.5, 0.5, "No patient regained RBC-TI on LEN re-treatment",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.35")
    fig.axes[0].set_xlabel("Months since the RBC-TI began")
    return fig, second


@dataclass
class Course:
    """The second RBC-TI, the responders' first, and LEN restarts, as outputs show them."""

    any_regained: bool
    second_shown: dict
    first: dict | None
    restart: Any
    """`retreatment_incidence`: restarts with death before them competing (Aalen-Johansen)."""
    restart_shown: list[dict]


def course(a: pd.DataFrame, r: Response, second, cells: Cells, landmarks, alpha: float,
           min_cell: int) -> Course:
    """Summaries of the second RBC-TI (`second`, from `second_ti_figure`; estimates of fewer
    than `min_cell` patients withheld: they would be those patients' own times), of the same
    patients' first RBC-TI, and of the time to any LEN restart."""
    if second is None:
        second_shown = {"n": 0, "events": 0, "n_dropped": 0, "median": None,
                        "median_ci": [None, None], "landmarks": [], "alpha": alpha}
    else:
        second_shown = {**cells.km(second),  # at risk hidden, estimates of few withheld
                        "n": r.regained["k"] if second.n == len(r.with_regained)
                        else cells.count(second.n),
                        "events": cells.of(second.events, second.n),
                        "n_dropped": cells.count(second.n_dropped)}
        if second.n < min_cell:
            second_shown |= {"median": None, "median_ci": [None, None], "landmarks": [],
                             "withheld": f"fewer than {min_cell} patients"}
    # the same patients' first RBC-TI (all of them lost it, so it is fully observed)
    first = (cells.km(km_summary(r.with_regained, "ti_months", "ti_lost", landmarks=(),
                                 alpha=alpha))
             if len(r.with_regained) >= max(min_cell, 1) else None)
    restart = retreatment_incidence(a, landmarks, alpha)
    return Course(any_regained=second is not None, second_shown=second_shown, first=first,
                  restart=restart,
                  restart_shown=cells.landmarks(restart.landmarks, float("inf")))


def course_lines(c: Course) -> list[str]:
    """What the notebook prints of the second RBC-TI, the first, and LEN restarts."""
    s = c.second_shown
    if not c.any_regained:
        out = ["Second TI: no patient regained RBC-TI"]
    else:
        withheld = bool(s.get("withheld") or s.get("median_withheld"))
        median_text = ("withheld" if withheld else
                       "not reached" if s["median"] is None else f"{num(s['median'])} months")
        low, high = s["median_ci"]
        band = "" if withheld or (low is None and high is None) else \
            f" (95% CI {ci(low, high)})"  # an open upper limit reads 'not reached'
        out = [f"Second TI: {s['events']} losses among {s['n']}; median {median_text}{band}; "
               "deaths in the second RBC-TI are censored"]
    if c.first is not None and c.first["median"] is not None:
        out.append(f"Their first RBC-TI: median {num(c.first['median'])} months")
    out += [f"  restarted LEN by {x['time']:g} months: {pct(x['cif'])}"
            for x in c.restart_shown if x["cif"] is not None]
    return out


def restart_figure(c: Course, a: pd.DataFrame, data_label: str, min_cell: int):
    """Cumulative incidence of any LEN restart (Aalen-Johansen, band), at risk below."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    c.restart.fitter.plot(ax=ax, color=OKABE_ITO[1], label="LEN restarted (Aalen-Johansen)")
    finish_cif(fig, ax, data_label, at_risk=(a, ENDPOINTS["retreatment"]), min_cell=min_cell)
    return fig


def swimmer_figure(r: Response, cells: Cells, data_label: str, min_cell: int):
    """One line per re-treated patient from discontinuation to death or last contact, with
    the events as markers (at most `SWIMMER_MAX`, sorted by follow-up); a note instead when a
    minimum cell size is set (a line would show one patient's course)."""
    import matplotlib.pyplot as plt

    retreated = r.retreated
    if not cells.allows_individual_marks():
        fig, ax = plt.subplots(figsize=(6.5, 2.0))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "Individual courses are not drawn when a minimum cell size is set "
                f"(min_cell = {min_cell}).", transform=ax.transAxes, ha="center",
                va="center", fontsize=9, color="0.35")
        return fig
    course_ = retreated.sort_values("fu_months")
    sample_note = ""
    if len(course_) > SWIMMER_MAX:
        course_ = course_.sample(SWIMMER_MAX, random_state=SWIMMER_SEED).sort_values("fu_months")
        sample_note = f"; random sample of {SWIMMER_MAX} of {len(retreated)}"
    course_ = course_.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, max(3.0, 0.11 * len(course_) + 1.2)))
    ax.hlines(course_.index, 0, course_["fu_months"], color="0.75", lw=1.2)
    for label, (col, marker, colour) in SWIMMER_EVENTS.items():
        x = months_between(course_["len_stop_date"], course_[col])
        ax.scatter(x, course_.index, marker=marker, s=16, color=colour, label=label, zorder=3)
    alive = course_["died"] == 0
    ax.scatter(course_.loc[alive, "fu_months"], course_.index[alive], marker=">", s=14,
               color="0.3", label="Alive at last contact", zorder=3)
    ax.scatter(course_.loc[~alive, "fu_months"], course_.index[~alive], marker="x", s=14,
               color="0.1", label="Died", zorder=3)
    ax.set_yticks([])
    ax.set_ylabel("Re-treated patients")
    ax.set_xlabel(MONTHS_LABEL)
    ax.set_xlim(left=0)
    if course_.empty:
        ax.text(0.5, 0.5, "No patient was re-treated with LEN", transform=ax.transAxes,
                ha="center", va="center", fontsize=9, color="0.35")
    else:
        ax.set_xticks(range(0, int(course_["fu_months"].max()) + 12, 12))
        ax.legend(loc="lower right", fontsize=7)
    data_stamp(fig, data_label + sample_note)
    fig.tight_layout()
    return fig


def section(r: Response, iv: dict[str, dict], c: Course) -> dict[str, Any]:
    """The results section `retreatment` (what the manuscript's variables read)."""
    return {
        "ti_lost": r.n_lost,
        "retreated": r.n_retreated,
        "retreated_of_lost": r.share_retreated,
        "retreat_ti_regained": r.regained,
        "evaluable": r.n_evaluable,
        "evaluable_rule_days": EVALUABLE_DAYS,
        "retreat_ti_regained_evaluable": r.regained_evaluable,
        "regained_short": r.short,
        "restarted_in_ti": r.restarted_in_ti,
        "months_loss_to_retreat": iv["loss of TI -> re-treatment"],
        "months_to_regain": iv["re-treatment -> regained TI"],
        "second_ti": c.second_shown,
        "first_ti_of_responders": ({"median": c.first["median"],
                                    "median_ci": c.first["median_ci"]}
                                   if c.first is not None else None),
        "restart_cif_at_months": {f"{x['time']:g}": x for x in c.restart_shown},
    }
