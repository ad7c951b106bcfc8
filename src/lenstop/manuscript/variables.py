"""The manuscript's variables: every number the prose quotes, formatted once from results.json.

`report.qmd` reads them with Quarto's `{{< var key >}}` shortcode from `_variables.yml`, so no
number in the text is typed by hand. Formatting rules (decimals, p-values, CIs, "not reached")
live here and nowhere else.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import subprocess
from pathlib import Path

import yaml

from lenstop import config
from lenstop.content.fmt import ci, num, pval

WITHHELD_PCT = "percentage withheld under the minimum cell size"
WITHHELD_MEDIAN = "withheld under the minimum cell size"
WITHHELD_AT_RISK = "withheld, as fewer patients than the minimum cell size were at risk"
BEYOND = "not estimable (beyond the longest follow-up)"
REPORTED_PACKAGES = ("lifelines", "statsmodels", "scipy", "pandas", "numpy", "pandera",
                     "matplotlib", "papermill", "snakemake", "pypandoc_binary",
                     "typst")


def n_pct(n: int, total: int) -> str:
    """'70 (59%)' (the published figures; the build's own counts go through `share`)."""
    return f"{n} ({100 * n / total:.0f}%)" if total else f"{n}"


def share(d: dict) -> str:
    """'70 (59%)' from a results {'n', 'pct'} pair; the count alone when pct is withheld."""
    return f"{d['n']}" if d.get("pct") is None else f"{d['n']} ({d['pct']:.0f}%)"


def withheld(d: dict) -> bool:
    """True when a results entry was withheld under the minimum cell size."""
    return bool(d.get("withheld")) or isinstance(d.get("n"), str) and \
        str(d["n"]).startswith("<")


def prop_ci(p: dict, digits: int = 1) -> str:
    """'58.3%; 95% CI 43.2–72.4%' from an exact_ci dict (reads right in parentheses)."""
    if p.get("proportion") is None:
        return (WITHHELD_PCT if withheld(p) or isinstance(p.get("k"), str) else
                "not estimable")
    level = round(100 * (1 - p["alpha"]))
    return (f"{100 * p['proportion']:.{digits}f}%; {level}% CI "
            f"{ci(p['ci_low'], p['ci_high'], digits, pct=True)}%")


def median_iqr(s: dict, digits: int = 1) -> str:
    """'19.7 (IQR 11.9–38.4)'."""
    if s.get("median") is None:
        return WITHHELD_MEDIAN if withheld(s) else "not available"
    return f"{num(s['median'], digits)} (IQR {ci(s['q1'], s['q3'], digits)})"


def ratio(t: dict, key: str = "hr") -> str:
    """'0.32 (95% CI 0.17–0.61; p < 0.001)' for one model term, or why it is missing."""
    if t.get(key) is None:
        if str(t.get("note") or "").startswith("withheld"):  # under the minimum cell size
            return str(t["note"]).replace("withheld: ", "withheld (") + ")"
        return "not estimable" + (f" ({t['note']})" if t.get("note") else "")
    return f"{t[key]:.2f} (95% CI {ci(t['ci_low'], t['ci_high'], 2)}; {pval(t['p'])})"


def count(n: int | str, noun: str) -> str:
    """'1 patient', '50 patients', '<5 patients'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def with_ci(value: float | None, low: float | None, high: float | None, level: str,
            digits: int = 1, pct: bool = False) -> str | None:
    """'45.2% (95% CI 33.1–58.0%)'; None if no value.

    The CI is left out when a limit is missing or both equal the estimate (no event yet).
    """
    if value is None:
        return None
    unit = "%" if pct else ""
    scale = 100 if pct else 1
    text = f"{scale * value:.{digits}f}{unit}"
    if low is not None and high is not None and not low == high == value:
        text += f" ({level} CI {ci(low, high, digits, pct=pct)}{unit})"
    return text


def percent(n: int | str, total: int) -> str:
    """'42%' of `total`, or 'not shown' for a count hidden under the minimum cell size."""
    if isinstance(n, str):
        return "not shown"
    return f"{100 * n / total:.0f}%" if total else "0%"


def n_pct_patients(n: int | str, total: int) -> str:
    """'50 patients (42%)', or '<5 patients' for a hidden count."""
    return count(n, "patient") + ("" if isinstance(n, str) else f" ({percent(n, total)})")


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


def _not_estimable(t: dict, labels: dict[str, str]) -> str:
    return f"not estimable ({plain_reason(t.get('note'), labels)})"


def median_text(median: float | None, low: float | None, high: float | None, level: str,
                events: int, what: str) -> str:
    """'56.3 months (95% CI 45.1–70.2)', or why the median was not reached."""
    if median is not None:
        return f"{num(median)} months ({level} CI {ci(low, high)})"
    if events == 0:
        return f"not reached (no patient had {what})"
    if low is not None:
        return f"not reached (lower {level} confidence limit {num(low)} months)"
    return f"not reached (fewer than half of the patients had {what})"


TERM_LABELS = {"ltb": "low transfusion burden", "cycles_ge_cutoff": "long LEN treatment",
               "age_per10": "age", "hb": "Hb at withdrawal"}
"""Plain names of the published model's terms, used in not-estimable reasons."""

MISSING_LABELS = {
    "tb_units_8wk_pre_len": "transfusion burden before LEN",
    "len_cycles": "LEN cycles",
    "len_dose_at_stop_mg": "LEN dose at withdrawal",
    "hb_at_stop_g_dl": "Hb at withdrawal",
    "anc_at_stop": "ANC at withdrawal",
    "plt_at_stop": "platelets at withdrawal",
}
"""The Table 1 characteristics a registry may leave blank, as the manuscript names them."""


def missing_text(missing: dict[str, int | str]) -> str:
    """'Hb at withdrawal for 5 patients and ANC at withdrawal for 3', or 'no value was missing'."""
    order = [*MISSING_LABELS, *sorted(set(missing) - set(MISSING_LABELS))]
    parts = [f"{MISSING_LABELS.get(k, k)} for {count(missing[k], 'patient')}"
             for k in order if missing.get(k)]
    return f"values were missing for {_join(parts)}" if parts else "no value was missing"


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


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(config.ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(config.ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    if out.returncode != 0:
        return "unknown (not a git checkout)"
    return out.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def software() -> dict[str, str]:
    """Versions of Python and the packages the methods section names."""
    versions = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        try:
            versions[name.replace("-", "_")] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name.replace("-", "_")] = "not installed"
    return versions


def _published() -> dict:
    """The paper's figures (the calibration targets), for the reproduction table."""
    from lenstop.ingest.synthetic import TARGETS as t

    reasons = dict(t.reasons)
    return {
        "n": str(t.n),
        "reason": {k: n_pct(v, t.n) for k, v in reasons.items()},
        "followup": f"{t.followup_median_months:g}",
        "events": str(t.ti_lost),
        "median": f"{t.ti_median_months:g}",
        "ccyr": f"{t.ccyr_lost}/{t.ccyr_reevaluated}",
        "retreated": str(t.retreated),
        "regained": str(t.regained),
    }


def _missing_estimate(row: dict) -> str:
    """Why a landmark estimate is missing: withheld under the minimum cell size, or beyond
    the follow-up."""
    return WITHHELD_AT_RISK if row.get("withheld") else BEYOND


STUDY_TITLE = ("Transfusion independence after lenalidomide discontinuation in del(5q) "
               "myelodysplastic neoplasm")
SYNTHETIC_DESCRIPTION = (
    "a synthetic cohort generated by this project's own code (lenstop.ingest.synthetic) and "
    "calibrated so that the analysis reproduces the published figures of the HARMONY "
    "Alliance study; it describes no real patient")


def read_report_config() -> dict:
    """config/report.yaml (authors, keywords, declarations); empty when absent."""
    path = config.REPORT_CONFIG
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _declaration(report: dict, key: str) -> str:
    text = str((report.get("declarations") or {}).get(key) or "").strip()
    return text or f"not stated (add `declarations: {key}:` to config/report.yaml)"


def report_title(report: dict, synthetic: bool) -> str:
    """The title (config/report.yaml `title`, else the study's), saying when data are synthetic."""
    title = str(report.get("title") or STUDY_TITLE)
    return title + (": a reproduction on synthetic data" if synthetic else "")


def declarations(report: dict, synthetic: bool, min_cell: int) -> dict[str, str]:
    """Data availability, funding, competing interests and ethics statements.

    For the synthetic cohort they state what is true of simulated data; for a registry
    extract they come from config/report.yaml, where the user is told to edit them.
    """
    if synthetic:
        return {
            "data_availability": (
                "The synthetic cohort, the code that generates it and every result are in "
                "the project repository; no patient data were used."),
            "code_availability": (
                "The analysis code, notebooks, workflow and manuscript sources are in the "
                "project repository (see Reproducibility); `make report` rebuilds this report."),
            "funding": "This reproduction received no dedicated funding.",
            "competing_interests": "No competing interests are declared.",
            "ethics": ("Not required: the data are simulated and describe no real patient, "
                       "so no ethics approval or consent applies."),
        }
    return {
        "data_availability": _declaration(report, "data_availability"),
        "code_availability": (
            "The analysis code, notebooks, workflow and manuscript sources are those of the "
            "lenstop project at the commit given under Reproducibility."),
        "funding": _declaration(report, "funding"),
        "competing_interests": _declaration(report, "competing_interests"),
        "ethics": _declaration(report, "ethics"),
    }


def exclusion_text(exclusions: list[dict], assessed: int | str, n: int | str) -> str:
    """'Of 120 patients assessed, 2 were excluded (...); 118 were analysed', or that none was."""
    excluded = [e for e in exclusions if e["n"] not in (0, "0")]
    if not excluded:
        return (f"All {assessed} patients assessed met the study's definitions and were "
                "analysed")
    return (f"Of {assessed} patients assessed, " + _join([f"{e['n']} were excluded because of "
            f"{e['label'][0].lower()}{e['label'][1:]}" for e in excluded]) + f"; {n} were analysed")


def imputed_text(k: int) -> str:
    """The Methods sentence on dates known to the month only."""
    if not k:
        return "Every date was known to the day."
    return (f"{count(k, 'date')} known only to the month {'was' if k == 1 else 'were'} set to "
            "the 15th of that month (and flagged).")


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
                                      pct=True) or _missing_estimate(r)
                     for k, r in rates.items()},
            "name": name,
        }
    out["aml"] = {
        "events": str(oc["aml_events"]),
        "cif": {f"m{k}": with_ci(r["cif"], r["ci_low"], r["ci_high"], level, pct=True)
                or _missing_estimate(r) for k, r in oc["aml_cif_at_months"].items()},
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
    parts = [f"{t['mean_hr']:.2f} for {TERM_SHORT.get(t['term'], t['term'])} (planted "
             f"{t['planted_hr']:.2f})" for t in sim["terms"]]
    cover = [t["coverage"] for t in sim["terms"]]
    power = [t["power"] for t in sim["terms"]]
    m = sim["median"]
    median = (f"{m['median_months']:.1f} months" if m.get("median_months") is not None
              else "not reached")
    return {
        "replicates": str(sim["replicates"]),
        "sentence": (
            f"In {sim['replicates']} cohorts of {sim['n']} patients drawn afresh from the "
            "generator's planted model, the analysis recovered geometric-mean hazard ratios of "
            + _join(parts) + f"; the 95% confidence intervals covered the planted values in "
            f"{100 * min(cover):.0f}% to {100 * max(cover):.0f}% of the cohorts, and the power "
            f"to detect each factor was {100 * min(power):.0f}% to {100 * max(power):.0f}% "
            f"(@tbl-simulation, @fig-simulation). The median RBC-TI duration over the cohorts "
            f"was {median} against a planted {m['planted_months']:.1f} months; "
            f"{m['not_reached']} of {m['replicates']} cohorts did not reach a median."),
    }


def departures(params: dict) -> str:
    """The first page's note when the build's analysis parameters are not the paper's."""
    changed = [f"{k} = {params[k]} (published {v})" for k, v in config.ANALYSIS.items()
               if k in params and params[k] != v]
    if not changed:
        return ""
    return (" ANALYSIS PARAMETERS DIFFER FROM THE PUBLISHED STUDY: " + "; ".join(changed)
            + ". Compare its numbers with the paper's only with that in mind.")


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
            parts.append(f"{short} from {min(hrs):.2f} to {max(hrs):.2f}")
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
        text += (f" The Kaplan-Meier median RBC-TI duration was {min(medians):.1f} months "
                 "at every point that estimates it" if min(medians) == max(medians) else
                 f" The Kaplan-Meier median RBC-TI duration ranged from {min(medians):.1f} "
                 f"to {max(medians):.1f} months")
        if cr is not None:
            text += ("; with death as a competing event, the cumulative incidence of loss "
                     + (f"reached 50% at {cr['median_months']:.1f} months"
                        if cr["median_months"] is not None else "did not reach 50%"))
        text += "."
    return {"n": str(len(points)), "sentence": text}


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


def disclosure_text(min_cell: int) -> str:
    """The Methods sentence on small counts (statistical disclosure control)."""
    if not min_cell:
        return "Every count is shown (no minimum cell size was set for this build)."
    return (f"To protect patients' privacy, counts from 1 to {min_cell - 1} are shown as "
            f"<{min_cell} (minimum cell size {min_cell}), counts from which such a count could "
            f"be worked out by subtraction as >={min_cell}, and the percentages, medians and "
            "confidence limits that would reveal a hidden count are withheld; figures do not "
            "draw single patients.")


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
            f"{ph['global_statistic']:.2f} on {ph['global_df']} df); by term, "
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
    hrs = _join([f"{t['hr']:.2f} (95% CI {ci(t['ci_low'], t['ci_high'], 2)}) for "
                 f"{TERM_SHORT.get(k, k)}" for k, t in multi.items() if t.get("hr") is not None])
    return (f"{text[0].upper()}{text[1:]} went with longer RBC-TI in the multivariable model "
            f"of {count(mv['n'], 'patient')}: hazard ratios {hrs}.")


TERM_SHORT = {"ltb": "low transfusion burden", "cycles_ge_cutoff": "long treatment",
              "age_per10": "age per 10 years", "hb": "Hb per g/dL"}


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
                + _join([f"{t['hr']:.2f}" for t in st["terms"] if t.get("hr") is not None])
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
                     f"RBC-TI at {100 * (1 - km['survival']):.1f}%, {gap:.1f} percentage points "
                     f"above the Aalen-Johansen cumulative incidence ({100 * aj['cif']:.1f}%), "
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
                       [f"{100 * r['cif']:.1f}% at {k} months" for k, r in at])
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


def build(results: dict, commit: str | None = None) -> dict:
    """All manuscript variables from a merged results dict (nested, every leaf a string)."""
    c, ti, cy, rt, oc = (results[s] for s in ("cohort", "ti_duration", "cytogenetics",
                                              "retreatment", "outcomes"))
    sim = results["simulation"]
    meta = c["meta"]
    params = meta["parameters"]
    n = c["n_patients"]
    synthetic = bool(meta["synthetic"])
    report = read_report_config()
    multi = {t["term"]: t for t in ti["cox_multivariable"]["terms"]}
    uni = {t["term"]: t for t in ti["cox_univariable"]}
    fg = {t["term"]: t for t in ti["fine_gray"]["terms"]}
    terms = {"ltb": "ltb", "cycles": "cycles_ge_cutoff", "age": "age_per10", "hb": "hb"}
    level = f"{round(100 * (1 - params['alpha']))}%"
    return {
        "data": {
            "synthetic": "true" if synthetic else "false",
            "label": "the SYNTHETIC cohort shipped with this project (not patient data)"
            if synthetic else f"the registry extract {meta['data_file']}",
            "banner": (("SYNTHETIC DATA: every number, table and figure in this report comes "
                        "from a simulated cohort calibrated to the published figures. It "
                        "describes no real patient.") if synthetic else
                       (f"Built from the registry extract {meta['data_file']}. Confidential: "
                       "check the data-protection rules before sharing."
                       + ("" if params.get("min_cell") else
                          " NO MINIMUM CELL SIZE was applied (MIN_CELL=0): counts of single "
                          "patients may be shown; do not share this report outside the "
                          "registry."))) + departures(params),
            "subtitle": "Reproduction on a synthetic cohort (not patient data)" if synthetic
                        else f"Analysis of {meta['data_file']}",
            "title_note": ": a reproduction on synthetic data" if synthetic else "",
            "file": meta["data_file"],
            "sha256": meta["data_sha256"],
            "description": SYNTHETIC_DESCRIPTION if synthetic else
                           _declaration(report, "data"),
        },
        "report": {"title": report_title(report, synthetic)},
        "story": narrative(synthetic, meta["data_file"], str(n), num(ti["ti_median_months"]),
                           str(ti["ti_loss_events"]), str(rt["retreated"]),
                           str(rt["retreat_ti_regained"]["k"])),
        "declarations": declarations(report, synthetic, params.get("min_cell") or 0),
        "params": {
            "cycles_cutoff": f"{params['cycles_cutoff']:g}",
            "tb_cutoff": f"{params['tb_cutoff']:g}",
            "alpha": f"{params['alpha']:g}",
            "ci_level": level,
            "landmarks": ", ".join(f"{t:g}" for t in params["landmarks"]),
            "min_cell": str(params.get("min_cell") or "none"),
            "disclosure": disclosure_text(params.get("min_cell") or 0),
        },
        "cohort": {
            "n": str(n),
            "reason": {k: share(v) for k, v in c["stop_reason_counts"].items()},
            "female": share(c["female"]),
            "age": median_iqr(c["age_at_stop"]),
            "hb": median_iqr(c["hb_at_stop"]),
            "cycles": median_iqr(c["len_cycles"], 0),
            "months_in_ti": median_iqr(c["months_in_ti_on_len"]),
            "ltb": share(c["ltb"]),
            "cycles_ge": share(c["cycles_ge_cutoff"]),
            "isolated": share(c["isolated_del5q"]),
            "missing": missing_text(c.get("missing", {})),
            "assessed": str(c.get("assessed", n)),
            "exclusions": exclusion_text(c.get("exclusions", []), c.get("assessed", n), n),
            "definitions": " ".join(f"{e['definition'].rstrip('.')}." for e in
                                    c.get("exclusions", [])),
            "dates_imputed": imputed_text(c.get("dates_imputed", 0)),
        },
        "ti": {
            "events": str(ti["ti_loss_events"]),
            "events_pct": percent(ti["ti_loss_events"], ti["n_patients"]),
            **ti_texts(ti, level),
            "deaths_in_ti": str(ti["deaths_in_ti"]),
            "median": num(ti["ti_median_months"]),
            "median_ci": ci(*ti["ti_median_months_ci"]),
            "followup": num(ti["followup_median_months"]),
            "followup_ci": ci(*ti["followup_median_months_ci"]),
            # keys m12, m24, ...: Quarto 1.7 never resolves an all-digit var segment
            "rate": {f"m{k}": with_ci(r["survival"], r["ci_low"], r["ci_high"], level,
                                      pct=True) or _missing_estimate(r)
                     for k, r in ti["ti_rate_at_months"].items()},
            "cif": {f"m{k}": with_ci(r["cif"], r["ci_low"], r["ci_high"], level, pct=True)
                    or _missing_estimate(r) for k, r in ti["cif_at_months"].items()},
            "km_loss": {f"m{k}": (f"{100 * (1 - r['survival']):.1f}%"
                                  if r["survival"] is not None else _missing_estimate(r))
                        for k, r in ti["ti_rate_at_months"].items()},
        },
        "cox": {
            "multi": {k: ratio(multi.get(v, {"note": ti["cox_multivariable"]["note"]}))
                      for k, v in terms.items()},
            "uni": {k: ratio(uni.get(v, {})) for k, v in terms.items()},
            "fg": {k: ratio(fg.get(v, {"note": ti["fine_gray"]["note"]}), "shr")
                   for k, v in terms.items()},
            "multi_n": str(ti["cox_multivariable"]["n"] or 0),
            "multi_events": str(ti["cox_multivariable"]["events"] or 0),
            "multi_fitted": "true" if ti["cox_multivariable"]["note"] is None else "false",
            "multi_note": ti["cox_multivariable"]["note"] or "",
            "ph_global_p": pval(ti["ph_test"]["global_p"]) if ti["ph_test"] else "not tested",
            "n_candidates": str(len(ti["cox_univariable"])),
            **cox_texts(ti, params),
            "checks": model_check_texts(ti, params, count_tests(results)),
        },
        "cyto": {
            "in_ccyr": str(cy["ccyr_at_stop"]),
            "reevaluated": str(cy["ccyr_reevaluated"]),
            "lost": str(cy["ccyr_lost"]["k"]),
            "lost_pct": prop_ci(cy["ccyr_lost"]),
            "months_to_reeval": median_iqr(cy["months_to_reeval"]),
            "fisher": pval(cy["ccyr_vs_ti"]["fisher_p"]),
            **cyto_texts(cy),
        },
        "retreat": {
            "ti_lost": str(rt["ti_lost"]),
            "n": str(rt["retreated"]),
            "regained": str(rt["retreat_ti_regained"]["k"]),
            "regained_pct": prop_ci(rt["retreat_ti_regained"]),
            "loss_to_retreat": median_iqr(rt["months_loss_to_retreat"]),
            "to_regain": median_iqr(rt["months_to_regain"]),
            "second_n": str(rt["second_ti"]["n"]),
            "second_events": str(rt["second_ti"]["events"]),
            "second_median": num(rt["second_ti"]["median"]),
            "swimmer": ("shows the course of each re-treated patient" if not
                        params.get("min_cell") else "would show each re-treated patient's "
                        "course, which is not drawn when a minimum cell size is set"),
            **retreat_texts(rt),
        },
        "outcomes": outcome_texts(oc, level),
        "simulation": simulation_texts(sim),
        "sensitivity": sensitivity_texts(results.get("sensitivity", {})),
        "published": _published(),
        "software": software(),
        "build": {"commit": commit if commit is not None else _git_commit(),
                  "date": config.build_date().isoformat()},
    }


TYPST_HEADER = "_manuscript-header.typ"
"""Raw Typst the PDF formats include before the document (_quarto.yml `include-in-header`):
PDF metadata, table typesetting and the optional line numbers. Written beside _variables.yml."""


def typst_header(variables: dict, line_numbers: bool = False) -> str:
    """The Typst header: PDF title and keywords (saying 'synthetic' when the data are), tables
    set small and unhyphenated so that they fit the page, and line numbers for review."""
    def string(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    keywords = list(read_report_config().get("keywords") or [])
    if variables["data"]["synthetic"] == "true":
        keywords = ["synthetic data", "simulated cohort", *keywords]
    lines = [
        "// Generated by `lenstop variables`; do not edit (see lenstop/variables.py).",
        f"#set document(title: {string(variables['report']['title'])}, "
        f"keywords: ({', '.join(string(k) for k in keywords)},))",
        "// tables: smaller type, no hyphenation, left-aligned cells that wrap at spaces",
        '#show figure.where(kind: "quarto-float-tbl"): set text(size: 8pt, hyphenate: false)',
        '#show figure.where(kind: "quarto-float-tbl"): set par(justify: false)',
        "#show table: set text(size: 8pt, hyphenate: false)",
        "#show table.cell: set par(justify: false)",
        "#show heading: set text(hyphenate: false)",

    ]
    if line_numbers:
        lines += ["// line numbers for review (LINE_NUMBERS=1)",
                  '#set par.line(numbering: "1", numbering-scope: "page")']
    return "\n".join(lines) + "\n"


def write(results: dict, out: Path, commit: str | None = None,
          line_numbers: bool = False) -> Path:
    """Write `_variables.yml` (sorted keys, block style) and the Typst header, atomically."""
    from lenstop.files import write_atomic

    variables = build(results, commit)
    text = ("# Generated by `lenstop variables` from results.json; do not edit.\n"
            + yaml.safe_dump(variables, sort_keys=True, allow_unicode=True,
                             default_flow_style=False, width=1000))
    write_atomic(Path(out), text)
    write_atomic(Path(out).with_name(TYPST_HEADER), typst_header(variables, line_numbers))
    return Path(out)
