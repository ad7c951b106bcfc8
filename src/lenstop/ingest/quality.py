"""The data-quality report for the data manager: every problem of an extract, grouped by
centre and rule, with counts, the rows affected and what to fix (HTML, and an .xlsx the
registry can annotate).

It names rows and patient ids, so it is written only where git ignores it (by default
`build/<extract stem>/quality/`), never into a shareable output.
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from pathlib import Path

import pandas as pd

from lenstop import config
from lenstop.ingest.problems import DataError, Problem

NO_CENTRE = "(centre unknown)"


def _centres(path: Path, sheet: str | None, mapping) -> dict[str, str]:
    """Row label -> centre, read from the extract itself (through its crosswalk)."""
    from lenstop.ingest.crosswalk import apply_crosswalk, as_crosswalk
    from lenstop.ingest.readers import read_raw

    cw = as_crosswalk(mapping)
    try:
        raw = read_raw(path, sheet=sheet, delimiter=cw.delimiter if cw else None,
                       id_columns=(cw.columns.get("patient_id", "patient_id"), "patient_id")
                       if cw else ("patient_id",))
        if cw is not None:
            raw = apply_crosswalk(raw, cw)
    except DataError:
        return {}
    if "centre" not in raw.frame.columns:
        return {}
    return {label: (str(c) if c is not None and str(c).strip() else NO_CENTRE)
            for label, c in zip(raw.row_labels, raw.frame["centre"], strict=False)}


def groups(problems: list[Problem], centres: dict[str, str]) -> pd.DataFrame:
    """One line per centre, column and rule: count, rows, patients and what to fix."""
    by: dict[tuple[str, str, str], list[Problem]] = defaultdict(list)
    for p in problems:
        centre = centres.get(p.row, NO_CENTRE) if p.row else "(whole file)"
        by[(centre, p.column or "-", p.rule or "-")].append(p)
    rows = [{"Centre": centre, "Column": column, "Rule": rule, "Problems": len(ps),
             "Rows": ", ".join(p.row for p in ps if p.row) or "-",
             "Patients": ", ".join(sorted({p.patient_id for p in ps if p.patient_id})) or "-",
             "What to fix": ps[0].what()}
            for (centre, column, rule), ps in sorted(by.items())]
    return pd.DataFrame(rows, columns=["Centre", "Column", "Rule", "Problems", "Rows",
                                       "Patients", "What to fix"])


def report_dir(path: Path) -> Path:
    """Where the report of extract `path` goes (git-ignored): build/<stem>/quality/."""
    return config.BUILD_DIR / Path(path).stem / "quality"


def write(path: str | Path, problems: list[Problem], warnings: list[str],
          sheet: str | None = None, mapping=None, out: Path | None = None) -> tuple[Path, Path]:
    """Write `report.html` and `report.xlsx` for the extract at `path`; return their paths."""
    from lenstop.disclosure.placement import git_ignored
    from lenstop.errors import PrivacyError
    from lenstop.files import write_atomic

    path = Path(path)
    out = Path(out) if out else report_dir(path)
    if git_ignored(out / "report.html") is False:
        raise PrivacyError(f"the data-quality report names rows and patients; it is written "
                           f"only where git ignores it, not in {out}")
    table = groups(problems, _centres(path, sheet, mapping) if problems else {})
    detail = pd.DataFrame([{"Row": p.row, "Patient": p.patient_id, "Column": p.column,
                            "Rule": p.rule, "Value": p.value, "Problem": p.what(),
                            "Comment": ""} for p in problems],
                          columns=["Row", "Patient", "Column", "Rule", "Value", "Problem",
                                   "Comment"])
    title = f"Data-quality report: {path.name}"
    summary = (f"{len(problems)} problem(s) in {detail['Row'].replace('', None).nunique()} "
               f"row(s), {len(table)} group(s) by centre, column and rule."
               if problems else "All checks passed: no problem found.")
    notes = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 6px;"
        "vertical-align:top;text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p><strong>Confidential:</strong> this page names "
        "rows and patient ids of the extract; keep it inside the registry.</p>"
        f"<p>{html.escape(summary)}</p>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + ("<h2>Problems by centre and rule</h2>" + table.to_html(index=False, escape=True)
           if problems else "")
        + "</body></html>\n")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "report.html", page)
    xlsx = out / "report.xlsx"
    tmp = out / f".report.xlsx.tmp{os.getpid()}"
    with pd.ExcelWriter(tmp, engine="openpyxl") as book:
        table.to_excel(book, sheet_name="By centre and rule", index=False)
        detail.to_excel(book, sheet_name="Every problem", index=False)
    tmp.replace(xlsx)
    return out / "report.html", xlsx
