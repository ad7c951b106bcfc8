"""Validate a raw extract against the data dictionary with pandera and return the typed cohort.

Two pandera passes, both lazy so that every problem is reported at once:
1. the text cells: blanks where a value is required, dates that parse and exist, numbers,
   categories, unique patient ids;
2. the typed table: ranges, no future dates, and the clinical time-order rules of `schema.RULES`.
A cell already reported in pass 1 is not reported again in pass 2.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from .io import RawTable, read_raw
from .problems import DataError, Problem
from .schema import COLUMN_BY_NAME, COLUMNS, REQUIRED_COLUMNS, RULES, ColumnSpec

ID = "patient_id"


def load_cohort(path: str | Path, sheet: str | None = None,
                today: dt.date | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read and validate an extract; return (typed cohort, warnings) or raise DataError."""
    raw = read_raw(path, sheet=sheet)
    return validate_raw(raw, today=today), raw.warnings


def validate_raw(raw: RawTable, today: dt.date | None = None) -> pd.DataFrame:
    """Check a RawTable and return the typed cohort (one row per patient, in file order)."""
    frame = raw.frame
    problems = _check_columns(raw)
    if problems:
        raise DataError(problems)
    present = [c for c in COLUMNS if c.name in frame.columns]
    frame = frame[[c.name for c in present]]
    text = _normalise(frame)
    problems = _failures(_text_schema(present), text, raw, frame)
    typed = _typed(text)
    reported = {(p.row, p.column) for p in problems}
    today = today or dt.date.today()
    for p in _failures(_typed_schema(present, today), typed, raw, frame):
        if (p.row, p.column) not in reported:
            problems.append(p)
    if problems:
        raise DataError(problems)
    for spec in COLUMNS:  # optional columns absent from the file are blank
        if spec.name not in typed.columns:
            typed[spec.name] = pd.NaT if spec.kind == "date" else pd.NA
    return typed[[c.name for c in COLUMNS]]


def _check_columns(raw: RawTable) -> list[Problem]:
    cols = list(raw.frame.columns)
    problems = [Problem(raw.path, row="header", column=c, rule="unique column names",
                        message="the column appears more than once")
                for c in sorted({c for c in cols if cols.count(c) > 1})]
    missing = [c.name for c in COLUMNS if c.required and c.name not in cols]
    if len(missing) > len(REQUIRED_COLUMNS) // 2:
        # most names unknown: the file was split wrongly or is not an extract of this study
        if len(cols) == 1 and raw.delimiter:
            read = "as one single column (no comma, semicolon, tab or | between the names)"
        else:
            read = f"as {len(cols)} columns"
        problems.append(Problem(
            raw.path, row="header", rule="required columns",
            message=f"{len(missing)} of the {len(REQUIRED_COLUMNS)} required columns are missing "
            f"({', '.join(missing)}); the header was read {read}. Wrong delimiter (use "
            "comma, semicolon, tab or |), no header line, or not an extract with this study's "
            "column names (see data/README.md)?",
            value=_clip(" | ".join(cols))))
        return problems
    problems += [Problem(raw.path, row="header", column=c, rule="required column",
                         message="required column is missing") for c in missing]
    extra = [c for c in cols if c not in COLUMN_BY_NAME]
    if extra:
        raw.warnings.append(f"{raw.path.name}: ignoring {len(extra)} column(s) not in the data "
                            f"dictionary: {', '.join(extra)}")
    return problems


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories compared case-insensitively (sex upper-case, the rest lower-case)."""
    out = frame.copy()
    for spec in COLUMNS:
        if spec.kind == "category" and spec.name in out:
            s = out[spec.name]
            out[spec.name] = s.where(s.isna(), s.str.upper() if spec.name == "sex"
                                     else s.str.lower())
    return out


def _parses_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").notna()


def _parses_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").notna()


def _parses_whole(s: pd.Series) -> pd.Series:
    x = pd.to_numeric(s, errors="coerce")
    return x.notna() & (x == x.round())


def _text_checks(spec: ColumnSpec) -> list[pa.Check]:
    if spec.kind == "date":
        return [pa.Check(_parses_date, error=spec.rule_text())]
    if spec.kind == "int":
        return [pa.Check(_parses_whole, error="a whole number")]
    if spec.kind == "float":
        return [pa.Check(_parses_number, error="a number (use '.' for decimals)")]
    if spec.kind == "category":
        return [pa.Check.isin(spec.allowed, error=spec.rule_text())]
    return []


def _text_schema(present: list[ColumnSpec]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        c.name: pa.Column(object, nullable=c.nullable, unique=c.kind == "id",
                          checks=_text_checks(c))
        for c in present
    })


def _typed(text: pd.DataFrame) -> pd.DataFrame:
    """Convert text cells to dates and numbers; unparseable cells (already reported) are blank."""
    out = text.copy()
    for col in out.columns:
        spec = COLUMN_BY_NAME[col]
        if spec.kind == "date":
            out[col] = pd.to_datetime(out[col], format="%Y-%m-%d", errors="coerce")
        elif spec.kind == "int":
            out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
        elif spec.kind == "float":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Float64")
        else:
            out[col] = out[col].astype("string")
    return out


def _typed_schema(present: list[ColumnSpec], today: dt.date) -> pa.DataFrameSchema:
    limit = pd.Timestamp(today)
    names = {c.name for c in present}
    columns = {}
    for c in present:
        checks = []
        if c.kind in ("int", "float"):
            checks.append(pa.Check.in_range(c.low, c.high, error=c.rule_text()))
        if c.kind == "date":
            checks.append(pa.Check.le(
                limit, error=f"a date not in the future (on or before {today})"))
        columns[c.name] = pa.Column(nullable=True, checks=checks)
    rules = [pa.Check(_holds(r), name=r.id, error=r.id) for r in RULES if set(r.involves) <= names]
    return pa.DataFrameSchema(columns, checks=rules)


def _holds(rule):
    """The rule's row-wise result; NA (a blank or already-reported cell) counts as holding."""
    return lambda d: rule.ok(d).fillna(True).astype(bool)


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame, raw: RawTable,
              text: pd.DataFrame) -> list[Problem]:
    """Run `schema` lazily and turn pandera's failure cases into Problems.

    Values are shown from `text`, the cells as the file holds them (before case folding).
    """
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    rules = {r.id: r for r in RULES}
    problems: list[Problem] = []
    seen: set[tuple] = set()
    for case in cases.itertuples(index=False):
        idx = case.index
        if idx is None or (isinstance(idx, float) and pd.isna(idx)):
            problems.append(Problem(raw.path, column=str(case.column or ""), rule=str(case.check),
                                    message=str(case.check)))
            continue
        idx = int(idx)
        row, pid = raw.row_labels[idx], _pid(text, idx)
        check = str(case.check)
        if check in rules:  # a rule across columns: one problem per row, blamed on one column
            rule = rules[check]
            key = (idx, rule.id)
            if key in seen:
                continue
            seen.add(key)
            value = ", ".join(f"{c}={_show(text.at[idx, c])}" for c in rule.involves)
            problems.append(Problem(raw.path, row, pid, rule.column, rule.id, rule.text, value))
            continue
        column = str(case.column)
        if check == "not_nullable":
            check, message = "required value", "must not be blank"
        elif check == "field_uniqueness":
            check, message = "unique patient id", "duplicate patient id (ids must be unique)"
        else:
            message = f"must be {check}"
        problems.append(Problem(raw.path, row, pid, column, check, message,
                                _show(text.at[idx, column])))
    return problems


def _pid(text: pd.DataFrame, idx: int) -> str:
    if ID not in text.columns:
        return ""
    value = text.at[idx, ID]
    return "" if pd.isna(value) else str(value)


def _show(value) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "(blank)"
    if isinstance(value, float) and pd.isna(value):
        return "(blank)"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _clip(text: str, width: int = 80) -> str:
    """At most `width` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"
