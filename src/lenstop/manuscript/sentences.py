"""The manuscript's sentences: each results section in English that reads right for any cohort,
saying why a number is missing (too few events, withheld, nobody re-treated) rather than a gap."""

from __future__ import annotations

import re

from lenstop.content.fmt import (
    WITHHELD_AT_RISK,
    ci,
    count,
    median_iqr,
    median_text,
    missing_estimate,
    n_pct_patients,
    num,
    pct,
    prop_ci,
    pval,
    ratio,
    with_ci,
)

TERM_LABELS = {"ltb": "low transfusion burden", "cycles_ge_cutoff": "long LEN treatment",
               "age_per10": "age", "hb": "Hb at withdrawal"}
"""Plain names of the published model's terms, used in not-estimable reasons."""


TERM_SHORT = {"ltb": "low transfusion burden", "cycles_ge_cutoff": "long treatment",
              "age_per10": "age per 10 years", "hb": "Hb per g/dL"}


MISSING_LABELS = {
    "tb_units_8wk_pre_len": "transfusion burden before LEN",
    "len_cycles": "LEN cycles",
    "len_dose_at_stop_mg": "LEN dose at withdrawal",
    "hb_at_stop_g_dl": "Hb at withdrawal",
    "anc_at_stop": "ANC at withdrawal",
    "plt_at_stop": "platelets at withdrawal",
}
"""The Table 1 characteristics a registry may leave blank, as the manuscript names them."""


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"


_EVENTS_PER_TERM = re.compile(r"(<?\d+) events for (\d+) term\(s\); at least (\d+) events "
                              r"per term \((\d+)\) are needed")


def plain_reason(note: str | None, labels: dict[str, str]) -> str:
    """A model's not-estimable reason in words, with term names replaced by their labels."""
    note = note or "not enough data"
    m = _EVENTS_PER_TERM.fullmatch(note)
    if m:
        events = m[1] if m[1].startswith("<") else int(m[1])  # '<5': a hidden count
        terms, needed = int(m[2]), int(m[4])
        model = "a one-factor model" if terms == 1 else f"a model of {terms} factors"
        return f"{count(events, 'event')}, and {model} needs at least {needed}"
    for term, label in labels.items():
        note = note.replace(f"'{term}'", label)
    return note


def _not_estimable(t: dict, labels: dict[str, str]) -> str:
    return f"not estimable ({plain_reason(t.get('note'), labels)})"


def ratio_list(items: list[tuple[str, dict]], key: str, labels: dict[str, str],
               noun: str, suffix: str = "") -> str:
    """'the <noun>s<suffix> were A for X, B for Y and C for Z', or why none was estimated.

    `items` are (phrase, term dict) pairs; a term without an estimate reads 'not estimable
    (reason)' in place, and when no term has one the reason is given once.
    """
    if all(t.get(key) is None for _p, t in items):
        notes = list(dict.fromkeys(plain_reason(t.get("note"), labels) for _p, t in items))
        return f"no {noun}{suffix} could be estimated ({'; '.join(notes)})"
    parts = [f"{ratio(t, key) if t.get(key) is not None else _not_estimable(t, labels)} "
             f"{phrase}" for phrase, t in items]
    if len(parts) == 1:
        return f"the {noun}{suffix} was {parts[0]}"
    return f"the {noun}s{suffix} were " + _join(parts)


def _direction(term: str, hr: float, cycles_cutoff: str) -> str:
    """The level of a factor that goes with longer RBC-TI (hazard ratio below 1 = longer)."""
    longer = hr < 1
    return {
        "ltb": "low transfusion burden before LEN" if longer else
               "high transfusion burden before LEN",
        "cycles_ge_cutoff": f"at least {cycles_cutoff} LEN cycles" if longer else
                            f"fewer than {cycles_cutoff} LEN cycles",
        "age_per10": "older age" if longer else "younger age",
        "hb": "higher haemoglobin at withdrawal" if longer else
              "lower haemoglobin at withdrawal",
    }[term]


def missing_text(missing: dict[str, int | str]) -> str:
    """'Hb at withdrawal for 5 patients and ANC at withdrawal for 3', or 'no value was missing'."""
    order = [*MISSING_LABELS, *sorted(set(missing) - set(MISSING_LABELS))]
    parts = [f"{MISSING_LABELS.get(k, k)} for {count(missing[k], 'patient')}"
             for k in order if missing.get(k)]
    return f"values were missing for {_join(parts)}" if parts else "no value was missing"


def lower_first(label: str) -> str:
    """A label inside a sentence: its first letter in lower case, unless the first word is an
    abbreviation ('RBC-TI for less than 8 weeks' stays, 'Missing date' -> 'missing date')."""
    word = label.split(" ", 1)[0]
    return label if sum(c.isupper() for c in word) > 1 else label[:1].lower() + label[1:]


def exclusion_text(exclusions: list[dict], assessed: int | str, n: int | str) -> str:
    """'Of 120 patients assessed, 2 were excluded (...); 118 were analysed', or that none was."""
    excluded = [e for e in exclusions if e["n"] not in (0, "0")]
    if not excluded:
        return (f"All {assessed} patients assessed met the study's definitions and were "
                "analysed")
    return (f"Of {assessed} patients assessed, " + _join([f"{e['n']} were excluded because of "
            f"{lower_first(e['label'])}" for e in excluded]) + f"; {n} were analysed")


def imputed_text(k: int) -> str:
    """The Methods sentence on dates known to the month only."""
    if not k:
        return "Every date was known to the day."
    return (f"{count(k, 'date')} known only to the month {'was' if k == 1 else 'were'} set to "
            "the 15th of that month (and flagged).")


def disclosure_text(min_cell: int) -> str:
    """The Methods sentence on small counts (statistical disclosure control)."""
    if not min_cell:
        return "Every count is shown (no minimum cell size was set for this build)."
    return (f"To protect patients' privacy, counts from 1 to {min_cell - 1} are shown as "
            f"<{min_cell} (minimum cell size {min_cell}), counts from which such a count could "
            f"be worked out by subtraction as >={min_cell}, and the percentages, medians and "
            "confidence limits that would reveal a hidden count are withheld; figures do not "
            "draw single patients.")


def narrative(synthetic: bool, file: str, n: str, median: str, events: str,
              retreated: str, regained: str) -> dict[str, str]:
    """The sentences that draw conclusions: what a reproduction shows on the synthetic cohort,
    the extract's own findings (with its numbers) on a registry extract."""
    question = ("How long does red-cell transfusion independence last after lenalidomide is "
                "stopped in lower-risk del(5q) MDS, and does LEN work again after relapse?")
    if synthetic:
        return {
            "question": question,
            "finding": (
                f"On a synthetic cohort of {n} simulated patients calibrated to the published "
                f"figures, the pipeline recovers them: median RBC-TI duration {median} months, "
                f"{events} losses of RBC-TI and {regained} of {retreated} re-treated patients "
                "regaining RBC-TI."),
            "meaning": (
                "These numbers describe simulated data and are not clinical evidence; the same "
                "code, run on a registry extract, reports that registry's estimates."),
            "conclusion": (
                "The analysis code reproduces the published analysis on simulated data calibrated "
                "to its figures; this build is a test of the pipeline, not evidence about "
                "patients."),
            "discussion": (
                "This build runs the published analysis on a synthetic cohort. The cohort was "
                "generated from a planted model and calibrated so that its summary figures "
                "match the paper's; @tbl-reproduction checks that calibration. Agreement there "
                "shows that the pipeline computes what the paper reports, not that the paper's "
                "findings hold: every estimate in this report describes simulated patients."),
        }
    return {
        "question": question,
        "finding": (
            f"In {n} patients of {file} who stopped LEN while transfusion independent, the median "
            f"RBC-TI duration was {median} months ({events} lost RBC-TI); {regained} of "
            f"{retreated} re-treated patients regained RBC-TI."),
        "meaning": ("The interpretation of these estimates is the authors' to write: edit the "
                    "Discussion of report.qmd before sharing this report."),
        "conclusion": (
            f"In this extract ({n} patients), the median RBC-TI duration after stopping LEN was "
            f"{median} months, and {regained} of {retreated} re-treated patients regained RBC-TI."),
        "discussion": (
            f"This report analyses {file} with the published study's methods; @tbl-reproduction "
            "sets its figures beside the published ones. The interpretation of these estimates "
            "is the authors' to write: replace this paragraph in the Discussion of report.qmd."),
    }


def ti_texts(ti: dict, level: str) -> dict[str, str]:
    """Sentences on follow-up, events and RBC-TI duration that read right for any cohort."""
    events, n = ti["ti_loss_events"], ti["n_patients"]
    fu = ti["followup_median_months"]
    fu_low, fu_high = ti["followup_median_months_ci"]
    followup = (f"{num(fu)} months ({level} CI {ci(fu_low, fu_high)})" if fu is not None else
                "not estimable (fewer than half of the patients were followed up to a last "
                "contact alive)")
    median = WITHHELD_AT_RISK if ti.get("ti_median_withheld") else median_text(
        ti["ti_median_months"], *ti["ti_median_months_ci"], level, events, "lost RBC-TI")
    deaths = ti["deaths_in_ti"]
    return {
        "followup_text": followup,
        "median_text": median,
        "events_sentence": f"{n_pct_patients(events, n)} lost RBC-TI and {deaths} "
                           f"died without losing it.",
        "abstract": (f"After a median follow-up of {num(fu)} months, " if fu is not None else
                     "Over the available follow-up, ")
        + (f"{count(events, 'patient')} lost RBC-TI; the median RBC-TI duration was {median}."
           if events else "no patient lost RBC-TI, so the median RBC-TI duration was not "
           "reached."),
    }


def cox_texts(ti: dict, params: dict) -> dict[str, str]:
    """Sentences on the Cox and Fine-Gray models, with the patients each used or why not fitted."""
    cut = f"{params['cycles_cutoff']:g}"
    n_all = ti["n_patients"]
    keys = ("ltb", "cycles_ge_cutoff", "age_per10", "hb")
    uni = {t["term"]: t for t in ti["cox_univariable"]}
    mv = ti["cox_multivariable"]
    multi = {t["term"]: t for t in mv["terms"]}
    fgm = ti["fine_gray"]
    fg = {t["term"]: t for t in fgm["terms"]}
    labels = TERM_LABELS | {"cycles_ge_cutoff": f"at least {cut} LEN cycles"}

    def items(table: dict, note: str | None, phrases: tuple[str, ...]) -> list:
        return [(ph, table.get(k, {"note": note})) for k, ph in zip(keys, phrases, strict=True)]

    uni_phrases = ("for low transfusion burden before LEN", f"for at least {cut} LEN cycles",
                   "per 10 years of age", "per g/dL of Hb at withdrawal")
    short = ("for low transfusion burden", f"for at least {cut} cycles", "per 10 years of age",
             "per g/dL of Hb")
    sizes = [t["n"] for t in uni.values() if t.get("n") is not None] or [0]
    numbers = [n for n in sizes if not isinstance(n, str)]
    lo, hi = min(numbers, default=0), max(numbers, default=0)
    if len(numbers) == len(sizes) and lo == n_all:
        uni_used = f"each fitted on all {n_all} patients"
    elif len(numbers) < len(sizes):  # a size hidden under the minimum cell size
        uni_used = "each fitted on the patients with a known value of its factor"
    else:
        uni_used = ("each fitted on the patients with a known value of its factor, "
                    f"{lo if lo == hi else f'{lo} to {hi}'} of {n_all}")
    if mv["n"] is not None:
        dropped = mv["n_dropped"] or 0
        used = (f"all {n_all} patients" if not dropped else
                f"the {mv['n']} of {n_all} patients with complete data ({dropped} left out for "
                "missing values)")
        multi_sentence = (f"In the multivariable model, fitted on {used} with "
                          f"{count(mv['events'], 'event')}, "
                          + ratio_list(items(multi, mv["note"], short), "hr", labels,
                                       "hazard ratio") + ".")
    else:
        multi_sentence = ("The multivariable model of the four published factors could not be "
                          f"estimated on these data ({plain_reason(mv['note'], labels)}); no "
                          "adjusted hazard ratios are reported.")
    if fgm["n"] is not None:
        losses = f"{fgm['events']} loss{'' if fgm['events'] == 1 else 'es'} of RBC-TI"
        fg_sentence = (f"In the Fine-Gray model ({count(fgm['n'], 'patient')}, {losses}, "
                       f"{fgm['competing']} competing deaths), "
                       + ratio_list(items(fg, fgm["note"], short), "shr", labels,
                                    "subdistribution hazard ratio") + ".")
    else:
        fg_sentence = ("The Fine-Gray model of the four factors could not be estimated on these "
                       f"data ({plain_reason(fgm['note'], labels)}).")
    ph = ti["ph_test"]
    return {
        "uni_sentence": ratio_list(items(uni, None, uni_phrases), "hr", labels,
                                   "hazard ratio", " for loss of RBC-TI"),
        "uni_used": uni_used,
        "multi_sentence": multi_sentence,
        "fg_sentence": fg_sentence,
        "ph_sentence": (
            "The score test of proportional hazards on Kaplan-Meier-transformed time (as R's "
            f"cox.zph) gave a global {pval(ph['global_p'])} (chi-square "
            f"{num(ph['global_statistic'], 2)} on {ph['global_df']} df); by term, "
            + _join([f"{pval(t['p'])} for {labels.get(t['term'], t['term'])}"
                     for t in ph["terms"]]) + "." if ph else
                        "Proportional hazards were not tested, as no multivariable model was "
                        "fitted."),
        "abstract": _abstract_cox(mv, multi, params, cut, labels),
    }


def _abstract_cox(mv: dict, multi: dict, params: dict, cut: str, labels: dict) -> str:
    if mv["n"] is None:
        return ("The multivariable Cox model of the four published factors could not be "
                f"estimated ({plain_reason(mv['note'], labels)}).")
    sig = [_direction(k, t["hr"], cut) for k, t in multi.items()
           if t.get("hr") is not None and t.get("p") is not None and t["p"] < params["alpha"]]
    if not sig:
        return (f"No factor of the multivariable model ({count(mv['n'], 'patient')}) was "
                "significantly associated with RBC-TI duration.")
    text = _join(sig)
    hrs = _join([f"{num(t['hr'], 2)} (95% CI {ci(t['ci_low'], t['ci_high'], 2)}) for "
                 f"{TERM_SHORT.get(k, k)}" for k, t in multi.items() if t.get("hr") is not None])
    return (f"{text[0].upper()}{text[1:]} went with longer RBC-TI in the multivariable model "
            f"of {count(mv['n'], 'patient')}: hazard ratios {hrs}.")


def count_tests(results: dict) -> int:
    """How many p-values the build reports (every 'p' or '*_p' entry with a value; the
    sensitivity grid's points are shown as hazard ratios with CIs, without p-values)."""
    def walk(node) -> int:
        if isinstance(node, dict):
            return sum((1 if (k == "p" or k.endswith("_p")) and isinstance(v, int | float)
                        and not isinstance(v, bool) else 0) + walk(v) for k, v in node.items())
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0
    return walk({k: v for k, v in results.items() if k != "sensitivity"})


def model_check_texts(ti: dict, params: dict, n_tests: int) -> dict[str, str]:
    """Linearity, centre, competing-risk and multiplicity sentences for the model section."""
    alpha = params["alpha"]
    lin = [t for t in ti.get("linearity", []) if t.get("p") is not None]
    linearity = ("Natural cubic splines (3 df) " + (
        "did not fit better than linear terms for " if all(t["p"] >= alpha for t in lin)
        else "fitted better than linear terms for some factors: ")
        + _join([f"{TERM_SHORT.get(t['term'], t['term'])} ({pval(t['p'])})" for t in lin])
        + "." if lin else "Linearity was not tested (no multivariable model).")
    centre = ti.get("cox_centre", {})
    cl, st = centre.get("cluster", {}), centre.get("strata", {})
    if cl.get("terms"):
        centre_text = (
            f"With standard errors robust to clustering within the {cl['n_centres']} centres, "
            + _join([f"{TERM_SHORT.get(t['term'], t['term'])} {ratio(t)}" for t in cl["terms"]])
            + (("; stratified by centre, the hazard ratios were "
                + _join([num(t["hr"], 2) for t in st["terms"] if t.get("hr") is not None])
                + " in the same order") if st.get("terms") else "") + ".")
    else:
        centre_text = "The centre sensitivity analysis could not be fitted."
    cs = {t["term"]: t for t in ti["cox_multivariable"]["terms"]}
    fg = {t["term"]: t for t in ti["fine_gray"]["terms"]}
    differ = [k for k in cs if k in fg and cs[k].get("p") is not None
              and fg[k].get("p") is not None and (cs[k]["p"] < alpha) != (fg[k]["p"] < alpha)]
    cs_fg = ("Cause-specific and subdistribution hazard ratios agreed in direction and "
             "significance for every factor (@tbl-cs-fg)." if not differ else
             "Cause-specific and subdistribution hazard ratios disagreed (@tbl-cs-fg) for "
             + _join([f"{TERM_SHORT.get(k, k)}: cause-specific {ratio(cs[k])}, subdistribution "
                      f"{ratio(fg[k], 'shr')}" for k in differ])
             + ". The subdistribution hazard also counts the patients who died in "
             "RBC-TI, who can no longer lose it, so a factor that goes with death (as age does) "
             "weighs less on the cumulative incidence than on the rate of loss among the living.")
    km, aj = ti["ti_rate_at_months"].get("60", {}), ti["cif_at_months"].get("60", {})
    if km.get("survival") is not None and aj.get("cif") is not None:
        gap = 100 * ((1 - km["survival"]) - aj["cif"])
        overstate = (f"At 60 months one minus Kaplan-Meier put the probability of having lost "
                     f"RBC-TI at {pct(1 - km['survival'])}, {num(gap)} percentage points "
                     f"above the Aalen-Johansen cumulative incidence ({pct(aj['cif'])}), "
                     "because it treats the patients who died in RBC-TI as if they could still "
                     "lose it.")
    else:
        overstate = "The 60-month estimates are not available for this cohort."
    multiplicity = (
        f"This report gives {n_tests} p-values, each at a two-sided level of {alpha:g}, without "
        "adjustment for multiplicity: apart from the published model's four factors, they are "
        "descriptive, and about one in twenty would fall below that level by chance alone.")
    return {"linearity": linearity, "centre": centre_text, "cs_fg": cs_fg,
            "km_overstatement": overstate, "multiplicity": multiplicity,
            "reason_rule": ti.get("reason_rule", "")}


def cyto_texts(cy: dict) -> dict[str, str]:
    """Sentences on cytogenetic re-evaluation, including when nobody was re-evaluated."""
    in_ccyr, reev, lost = cy["ccyr_at_stop"], cy["ccyr_reevaluated"], cy["ccyr_lost"]["k"]
    fisher = cy["ccyr_vs_ti"]["fisher_p"]
    if in_ccyr == 0:
        sentence = ("No patient was in complete cytogenetic response (CCyR) at withdrawal, so "
                    "loss of CCyR could not be studied.")
        abstract = "No patient was in complete cytogenetic response at withdrawal."
    elif reev == 0:
        sentence = (f"Of {count(in_ccyr, 'patient')} in CCyR at withdrawal, none had a "
                    "cytogenetic re-evaluation after discontinuation, so loss of CCyR could not "
                    "be assessed.")
        abstract = ("No patient in complete cytogenetic response at withdrawal had a "
                    "cytogenetic re-evaluation.")
    else:
        sentence = (f"Of {count(in_ccyr, 'patient')} in CCyR at withdrawal, {reev} had a "
                    "cytogenetic re-evaluation, a median of "
                    f"{median_iqr(cy['months_to_reeval'])} months after discontinuation; "
                    f"{lost} of them lost CCyR ({prop_ci(cy['ccyr_lost'])}).")
        abstract = (f"{lost} of {count(reev, 'patient')} re-evaluated in complete cytogenetic "
                    "response lost it.")
    split = cy.get("ccyr_lost_by_timing", {})
    before, after = split.get("before", {}), split.get("after", {})
    timing = ""
    if reev and before.get("n") and after.get("n"):
        timing = (f"Of the re-evaluations, {after['n']} came after the loss of RBC-TI, when "
                  f"anaemia may have prompted them; {after['k']} of these found CCyR lost "
                  f"({prop_ci(after)}), against {before['k']} of the {before['n']} done before "
                  f"the loss or in patients who kept RBC-TI ({prop_ci(before)}).")
    odds = cy["ccyr_vs_ti"]
    if fisher is None:
        fisher_text = "no test without re-evaluated patients"
    elif odds.get("odds_ratio") is not None:
        fisher_text = (f"odds ratio {num(odds['odds_ratio'], 2)}, 95% CI "
                       f"{ci(odds['or_ci_low'], odds['or_ci_high'], 2)}; Fisher's exact test, "
                       f"{pval(fisher)}")
    else:
        fisher_text = f"Fisher's exact test, {pval(fisher)}"
    return {
        "sentence": sentence,
        "abstract": abstract,
        "timing": timing,
        "fisher_text": fisher_text,
    }


def retreat_texts(rt: dict) -> dict[str, str]:
    """Sentences on LEN re-treatment and the second RBC-TI, including when nobody had one."""
    lost, n, k = rt["ti_lost"], rt["retreated"], rt["retreat_ti_regained"]["k"]
    second = rt["second_ti"]
    if lost == 0:
        sentence = "No patient lost RBC-TI, so none was re-treated with LEN."
    elif n == 0:
        sentence = (f"Of the {count(lost, 'patient')} who lost RBC-TI, none was re-treated "
                    "with LEN.")
    else:
        sentence = (f"Of the {count(lost, 'patient')} who lost RBC-TI, {n} "
                    f"{'was' if n == 1 else 'were'} re-treated with LEN, a median of "
                    f"{median_iqr(rt['months_loss_to_retreat'])} months after loss of RBC-TI. "
                    + (f"{k} regained RBC-TI ({prop_ci(rt['retreat_ti_regained'])}), a median "
                       f"of {median_iqr(rt['months_to_regain'])} months after re-starting LEN."
                       if k else "No re-treated patient regained RBC-TI."))
    if second["n"]:
        withheld_median = second.get("withheld") or second.get("median_withheld")
        median = (WITHHELD_AT_RISK if withheld_median else median_text(
            second["median"], *second["median_ci"], "95%", second["events"],
            "lost the second RBC-TI"))
        first = rt.get("first_ti_of_responders") or {}
        against = (f", against a median first RBC-TI of {num(first['median'])} months in the "
                   "same patients" if first.get("median") is not None else "")
        second_sentence = (f"The second RBC-TI was lost by {second['events']} of "
                           f"{count(second['n'], 'patient')} (median duration {median}, with "
                           f"deaths in the second RBC-TI censored{against}).")
    else:
        second_sentence = ""
    evaluable, ev = rt.get("evaluable"), rt.get("retreat_ti_regained_evaluable") or {}
    weeks = int(rt.get("evaluable_rule_days", 112)) // 7
    evaluable_sentence = (
        f"Among the {evaluable} evaluable patients (followed for at least {weeks} weeks after "
        f"restarting LEN, or responding earlier), {ev.get('k')} regained RBC-TI "
        f"({prop_ci(ev)})." if evaluable and ev.get("n") else "")
    short, restarted = rt.get("regained_short", 0), rt.get("restarted_in_ti", 0)
    extra = []
    if short not in (0, "0", None):
        extra.append(f"{count(short, 'patient')} recorded as regaining RBC-TI for less than 8 "
                     "weeks counted as no response (IWG)")
    if restarted not in (0, "0", None):
        extra.append(f"{count(restarted, 'patient')} restarted LEN while still transfusion "
                     "independent (for cytogenetic relapse or falling Hb) and are not counted "
                     "as re-treated after loss")
    restart_text = (" ".join(f"{e[0].upper()}{e[1:]}." for e in extra))
    cif = rt.get("restart_cif_at_months", {})
    at = [(k, r) for k, r in cif.items() if r.get("cif") is not None and k in ("12", "24", "60")]
    restart_cif = ("With death as a competing event, the cumulative incidence of any LEN "
                   "restart after discontinuation was " + _join(
                       [f"{pct(r['cif'])} at {k} months" for k, r in at])
                   + " (@fig-restart-cif)." if at else "")
    return {
        "sentence": sentence,
        "second_sentence": second_sentence,
        "restart_cif": restart_cif,
        "evaluable_sentence": evaluable_sentence,
        "restart_sentence": restart_text,
        "abstract": (f"Of {count(n, 'patient')} re-treated with LEN, {k} regained RBC-TI "
                     f"({prop_ci(rt['retreat_ti_regained'])})." if n else
                     "No patient was re-treated with LEN."),
    }


def outcome_texts(oc: dict, level: str) -> dict:
    """Sentences on overall, RBC-TI-free and event-free survival and AML (notebook 05)."""
    names = {"os": "overall survival", "ti_free": "RBC-TI-free survival",
             "efs": "event-free survival"}
    out: dict = {}
    for key, name in names.items():
        rates = oc[f"{key}_rate_at_months"]
        out[key] = {
            "events": str(oc[f"{key}_events"]),
            "median": median_text(oc[f"{key}_median_months"], *oc[f"{key}_median_months_ci"],
                                  level, oc[f"{key}_events"], "an event"),
            "rate": {f"m{k}": with_ci(r["survival"], r["ci_low"], r["ci_high"], level,
                                      pct=True) or missing_estimate(r)
                     for k, r in rates.items()},
            "name": name,
        }
    out["aml"] = {
        "events": str(oc["aml_events"]),
        "cif": {f"m{k}": with_ci(r["cif"], r["ci_low"], r["ci_high"], level, pct=True)
                or missing_estimate(r) for k, r in oc["aml_cif_at_months"].items()},
    }
    out["definitions"] = {k: v.rstrip(".") for k, v in oc["definitions"].items()}
    censored = oc.get("ti_censor_dmt_censored", 0)
    out["censor_dmt"] = (
        f"Censoring RBC-TI duration at the start of a later disease-modifying therapy or a LEN "
        f"restart in RBC-TI ({count(censored, 'patient')}) gave a median of "
        + median_text(oc["ti_censor_dmt_median_months"], *oc["ti_censor_dmt_median_months_ci"],
                      level, 1, "lost RBC-TI") + "."
        if censored not in (0, "0", None) else
        "No patient received a later disease-modifying therapy while in RBC-TI, so censoring "
        "there changes nothing.")
    return out


def simulation_texts(sim: dict) -> dict:
    """Planted against recovered (notebook 06): the sentence the Discussion quotes."""
    if not sim.get("terms"):
        return {"sentence": "The simulation study was not run.", "replicates": "0"}
    parts = [f"{num(t['mean_hr'], 2)} for {TERM_SHORT.get(t['term'], t['term'])} (planted "
             f"{num(t['planted_hr'], 2)})" for t in sim["terms"]]
    cover = [t["coverage"] for t in sim["terms"]]
    power = [t["power"] for t in sim["terms"]]
    m = sim["median"]
    median = (f"{num(m['median_months'])} months" if m.get("median_months") is not None
              else "not reached")
    return {
        "replicates": str(sim["replicates"]),
        "sentence": (
            f"In {sim['replicates']} cohorts of {sim['n']} patients drawn afresh from the "
            "generator's planted model, the analysis recovered geometric-mean hazard ratios of "
            + _join(parts) + f"; the 95% confidence intervals covered the planted values in "
            f"{pct(min(cover), 0)} to {pct(max(cover), 0)} of the cohorts, and the power "
            f"to detect each factor was {pct(min(power), 0)} to {pct(max(power), 0)} "
            f"(@tbl-simulation, @fig-simulation). The median RBC-TI duration over the cohorts "
            f"was {median} against a planted {num(m['planted_months'])} months; "
            f"{m['not_reached']} of {m['replicates']} cohorts did not reach a median."),
    }


def sensitivity_texts(sens: dict) -> dict:
    """The sensitivity grid (notebook 07): how far each hazard ratio and the median move."""
    points = sens.get("points") or []
    if not points:
        return {"n": "0", "sentence": "The sensitivity grid was not run for this build "
                "(SENSITIVITY=0), so the appendix of sensitivity analyses is empty."}
    parts = []
    for term, short in TERM_SHORT.items():
        hrs = [t["hr"] for p in points for t in p["terms"]
               if t["term"] == term and t["hr"] is not None]
        if hrs:
            parts.append(f"{short} from {num(min(hrs), 2)} to {num(max(hrs), 2)}")
    missing = [p["label"] for p in points if not p["terms"]]
    medians = [p["median_months"] for p in points
               if p["median_estimator"] == "Kaplan-Meier" and p["median_months"] is not None]
    cr = next((p for p in points if p["model"] == "Fine-Gray"), None)
    text = f"Across the {len(points)} definitions of the sensitivity grid " \
        "(@tbl-sensitivity, @fig-sensitivity), "
    if not parts:
        text += ("the multivariable model could not be estimated under any of them (too few "
                 "patients or events; see the table's note).")
        missing = []
    else:
        text += "the hazard ratios ranged for " + _join(parts) + "."
    if missing:
        text += (" The model could not be fitted for " + _join([f"“{m}”" for m in missing])
                 + " (too few patients or events on one side; see the table's note).")
    if medians:
        text += (f" The Kaplan-Meier median RBC-TI duration was {num(min(medians))} months "
                 "at every point that estimates it" if min(medians) == max(medians) else
                 f" The Kaplan-Meier median RBC-TI duration ranged from {num(min(medians))} "
                 f"to {num(max(medians))} months")
        if cr is not None:
            text += ("; with death as a competing event, the cumulative incidence of loss "
                     + (f"reached 50% at {num(cr['median_months'])} months"
                        if cr["median_months"] is not None else "did not reach 50%"))
        text += "."
    return {"n": str(len(points)), "sentence": text}


def swimmer_text(min_cell: int) -> str:
    """What the re-treatment swimmer plot shows: each patient's course, or why it is not drawn."""
    return ("shows the course of each re-treated patient" if not min_cell else
            "would show each re-treated patient's course, which is not drawn when a minimum "
            "cell size is set")
