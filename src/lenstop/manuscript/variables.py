"""The manuscript's variables: results.json as the nested strings report.qmd quotes.

`report.qmd` reads them with Quarto's `{{< var key >}}` shortcode from `_variables.yml`, so no
number in the text is typed by hand. This module only assembles them: numbers are written by
lenstop.content.fmt, sentences by `sentences`, the first page by `front_matter`, the paper's
figures by `published` and the build's commit and software by `provenance`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lenstop import config
from lenstop.content.fmt import (
    ci,
    median_iqr,
    missing_estimate,
    num,
    pct,
    percent,
    prop_ci,
    pval,
    ratio,
    share,
    with_ci,
)
from lenstop.manuscript import front_matter, provenance, published, sentences


def from_results(results: dict, commit: str | None = None) -> dict:
    """All manuscript variables from a merged results dict (nested, every leaf a string)."""
    c, ti, cy, rt, oc = (results[s] for s in ("cohort", "ti_duration", "cytogenetics",
                                              "retreatment", "outcomes"))
    sim = results["simulation"]
    meta = c["meta"]
    params = meta["parameters"]
    n = c["n_patients"]
    synthetic = bool(meta["synthetic"])
    report = front_matter.read_report_config()
    multi = {t["term"]: t for t in ti["cox_multivariable"]["terms"]}
    uni = {t["term"]: t for t in ti["cox_univariable"]}
    fg = {t["term"]: t for t in ti["fine_gray"]["terms"]}
    terms = {"ltb": "ltb", "cycles": "cycles_ge_cutoff", "age": "age_per10", "hb": "hb"}
    level = f"{round(100 * (1 - params['alpha']))}%"
    return {
        "data": front_matter.data_block(meta, params, report),
        "report": {"title": front_matter.report_title(report, synthetic)},
        "story": sentences.narrative(synthetic, meta["data_file"], str(n),
                                     num(ti["ti_median_months"]), str(ti["ti_loss_events"]),
                                     str(rt["retreated"]), str(rt["retreat_ti_regained"]["k"])),
        "declarations": front_matter.declarations(report, synthetic, params.get("min_cell") or 0),
        "params": {
            "cycles_cutoff": f"{params['cycles_cutoff']:g}",
            "tb_cutoff": f"{params['tb_cutoff']:g}",
            "alpha": f"{params['alpha']:g}",
            "ci_level": level,
            "landmarks": ", ".join(f"{t:g}" for t in params["landmarks"]),
            "min_cell": str(params.get("min_cell") or "none"),
            "disclosure": sentences.disclosure_text(params.get("min_cell") or 0),
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
            "missing": sentences.missing_text(c.get("missing", {})),
            "assessed": str(c.get("assessed", n)),
            "exclusions": sentences.exclusion_text(c.get("exclusions", []),
                                                   c.get("assessed", n), n),
            "definitions": " ".join(f"{e['definition'].rstrip('.')}." for e in
                                    c.get("exclusions", [])),
            "dates_imputed": sentences.imputed_text(c.get("dates_imputed", 0)),
        },
        "ti": {
            "events": str(ti["ti_loss_events"]),
            "events_pct": percent(ti["ti_loss_events"], ti["n_patients"]),
            **sentences.ti_texts(ti, level),
            "deaths_in_ti": str(ti["deaths_in_ti"]),
            "median": num(ti["ti_median_months"]),
            "median_ci": ci(*ti["ti_median_months_ci"]),
            "followup": num(ti["followup_median_months"]),
            "followup_ci": ci(*ti["followup_median_months_ci"]),
            # keys m12, m24, ...: Quarto 1.7 never resolves an all-digit var segment
            "rate": {f"m{k}": with_ci(r["survival"], r["ci_low"], r["ci_high"], level,
                                      pct=True) or missing_estimate(r)
                     for k, r in ti["ti_rate_at_months"].items()},
            "cif": {f"m{k}": with_ci(r["cif"], r["ci_low"], r["ci_high"], level, pct=True)
                    or missing_estimate(r) for k, r in ti["cif_at_months"].items()},
            "km_loss": {f"m{k}": (pct(1 - r["survival"])
                                  if r["survival"] is not None else missing_estimate(r))
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
            **sentences.cox_texts(ti, params),
            "checks": sentences.model_check_texts(ti, params, sentences.count_tests(results)),
        },
        "cyto": {
            "in_ccyr": str(cy["ccyr_at_stop"]),
            "reevaluated": str(cy["ccyr_reevaluated"]),
            "lost": str(cy["ccyr_lost"]["k"]),
            "lost_pct": prop_ci(cy["ccyr_lost"]),
            "months_to_reeval": median_iqr(cy["months_to_reeval"]),
            "fisher": pval(cy["ccyr_vs_ti"]["fisher_p"]),
            **sentences.cyto_texts(cy),
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
            "swimmer": sentences.swimmer_text(params.get("min_cell") or 0),
            **sentences.retreat_texts(rt),
        },
        "outcomes": sentences.outcome_texts(oc, level),
        "simulation": sentences.simulation_texts(sim),
        "sensitivity": sentences.sensitivity_texts(results.get("sensitivity", {})),
        "published": published.figures(),
        "software": provenance.software(),
        "build": {"commit": commit if commit is not None else provenance.git_commit(),
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

    keywords = list(front_matter.read_report_config().get("keywords") or [])
    if variables["data"]["synthetic"] == "true":
        keywords = ["synthetic data", "simulated cohort", *keywords]
    lines = [
        "// Generated by `lenstop variables`; do not edit (see lenstop/manuscript/variables.py).",
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

    variables = from_results(results, commit)
    text = ("# Generated by `lenstop variables` from results.json; do not edit.\n"
            + yaml.safe_dump(variables, sort_keys=True, allow_unicode=True,
                             default_flow_style=False, width=1000))
    write_atomic(Path(out), text)
    write_atomic(Path(out).with_name(TYPST_HEADER), typst_header(variables, line_numbers))
    return Path(out)
