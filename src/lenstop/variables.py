"""The manuscript's variables: every number the prose quotes, formatted once from results.json.

`report.qmd` reads them with Quarto's `{{< var key >}}` shortcode from `_variables.yml`, so no
number in the text is typed by hand. Formatting rules (decimals, p-values, CIs, "not reached")
live here and nowhere else.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

import yaml

from . import config

DASH = "\u2013"  # en dash between CI limits
REPORTED_PACKAGES = ("lifelines", "statsmodels", "scipy", "pandas", "numpy", "pandera",
                     "matplotlib", "great-tables", "papermill", "snakemake", "pypandoc_binary",
                     "typst")


def num(x: float | None, digits: int = 1) -> str:
    """A number with fixed decimals; 'not reached' for None."""
    return "not reached" if x is None else f"{x:.{digits}f}"


def ci(low: float | None, high: float | None, digits: int = 1, pct: bool = False) -> str:
    """'low–high' (percentages when `pct`), with 'not reached' for an open limit."""
    f = (lambda v: num(None if v is None else 100 * v, digits)) if pct else \
        (lambda v: num(v, digits))
    return f"{f(low)}{DASH}{f(high)}"


def pval(p: float | None) -> str:
    """'p < 0.001' or 'p = 0.012' (three decimals), as journals print them."""
    if p is None:
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def n_pct(n: int, total: int) -> str:
    """'70 (59%)'."""
    return f"{n} ({100 * n / total:.0f}%)" if total else f"{n}"


def prop_ci(p: dict, digits: int = 1) -> str:
    """'58.3% (95% CI 43.2–72.4%)' from an exact_ci dict."""
    if p.get("proportion") is None:
        return "not estimable"
    level = round(100 * (1 - p["alpha"]))
    return (f"{100 * p['proportion']:.{digits}f}% ({level}% CI "
            f"{ci(p['ci_low'], p['ci_high'], digits, pct=True)}%)")


def median_iqr(s: dict, digits: int = 1) -> str:
    """'19.7 (IQR 11.9–38.4)'."""
    if s.get("median") is None:
        return "not available"
    return f"{num(s['median'], digits)} (IQR {ci(s['q1'], s['q3'], digits)})"


def ratio(t: dict, key: str = "hr") -> str:
    """'0.32 (95% CI 0.17–0.61; p < 0.001)' for one model term, or why it is missing."""
    if t.get(key) is None:
        return "not estimable" + (f" ({t['note']})" if t.get("note") else "")
    return f"{t[key]:.2f} (95% CI {ci(t['ci_low'], t['ci_high'], 2)}; {pval(t['p'])})"


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
    from .synthetic import TARGETS as t

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


def build(results: dict, commit: str | None = None) -> dict:
    """All manuscript variables from a merged results dict (nested, every leaf a string)."""
    c, ti, cy, rt = (results[s] for s in ("cohort", "ti_duration", "cytogenetics",
                                          "retreatment"))
    meta = c["meta"]
    params = meta["parameters"]
    n = c["n_patients"]
    synthetic = bool(meta["synthetic"])
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
            "banner": ("SYNTHETIC DATA: every number, table and figure in this report comes "
                       "from a simulated cohort calibrated to the published figures. It "
                       "describes no real patient.") if synthetic else
                      (f"Built from the registry extract {meta['data_file']}. Confidential: "
                       "check the data-protection rules before sharing."),
            "subtitle": "Reproduction on a synthetic cohort (not patient data)" if synthetic
                        else f"Analysis of {meta['data_file']}",
            "file": meta["data_file"],
            "sha256": meta["data_sha256"],
        },
        "params": {
            "cycles_cutoff": f"{params['cycles_cutoff']:g}",
            "tb_cutoff": f"{params['tb_cutoff']:g}",
            "alpha": f"{params['alpha']:g}",
            "ci_level": level,
            "landmarks": ", ".join(f"{t:g}" for t in params["landmarks"]),
        },
        "cohort": {
            "n": str(n),
            "reason": {k: n_pct(v["n"], n) for k, v in c["stop_reason_counts"].items()},
            "female": n_pct(c["female"]["n"], n),
            "age": median_iqr(c["age_at_stop"]),
            "hb": median_iqr(c["hb_at_stop"]),
            "cycles": median_iqr(c["len_cycles"], 0),
            "months_in_ti": median_iqr(c["months_in_ti_on_len"]),
            "ltb": n_pct(c["ltb"]["n"], c["ltb"]["known"]),
            "cycles_ge": n_pct(c["cycles_ge_cutoff"]["n"], c["cycles_ge_cutoff"]["known"]),
            "isolated": n_pct(c["isolated_del5q"], n),
        },
        "ti": {
            "events": str(ti["ti_loss_events"]),
            "events_pct": f"{100 * ti['ti_loss_events'] / ti['n_patients']:.0f}%",
            "deaths_in_ti": str(ti["deaths_in_ti"]),
            "median": num(ti["ti_median_months"]),
            "median_ci": ci(*ti["ti_median_months_ci"]),
            "followup": num(ti["followup_median_months"]),
            "followup_ci": ci(*ti["followup_median_months_ci"]),
            "rate": {k: (f"{100 * r['survival']:.1f}% ({level} CI "
                         f"{ci(r['ci_low'], r['ci_high'], 1, pct=True)}%)"
                         if r["survival"] is not None else "not estimable")
                     for k, r in ti["ti_rate_at_months"].items()},
            "cif": {k: (f"{100 * r['cif']:.1f}% ({level} CI "
                        f"{ci(r['ci_low'], r['ci_high'], 1, pct=True)}%)"
                        if r["cif"] is not None else "not estimable")
                    for k, r in ti["cif_at_months"].items()},
            "km_loss": {k: (f"{100 * (1 - r['survival']):.1f}%"
                            if r["survival"] is not None else "not estimable")
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
            "ph_min_p": pval(ti["ph_test"]["min_p_bonferroni"]) if ti["ph_test"] else
                        "not tested",
            "n_candidates": str(len(ti["cox_univariable"])),
        },
        "cyto": {
            "in_ccyr": str(cy["ccyr_at_stop"]),
            "reevaluated": str(cy["ccyr_reevaluated"]),
            "lost": str(cy["ccyr_lost"]["k"]),
            "lost_pct": prop_ci(cy["ccyr_lost"]),
            "months_to_reeval": median_iqr(cy["months_to_reeval"]),
            "fisher": pval(cy["ccyr_vs_ti"]["fisher_p"]),
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
        },
        "published": _published(),
        "software": software(),
        "build": {"commit": commit if commit is not None else _git_commit()},
    }


def write(results: dict, out: Path, commit: str | None = None) -> Path:
    """Write `_variables.yml` (sorted keys, block style) atomically."""
    from .results import write_atomic

    text = ("# Generated by `lenstop variables` from results.json; do not edit.\n"
            + yaml.safe_dump(build(results, commit), sort_keys=True, allow_unicode=True,
                             default_flow_style=False, width=1000))
    write_atomic(Path(out), text)
    return Path(out)
