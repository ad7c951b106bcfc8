"""Validate a raw extract against the data dictionary with pandera and return the typed cohort.

Two pandera passes, both lazy so that every problem is reported at once:
1. the text cells: blanks where a value is required, dates that parse and exist, numbers,
   categories, unique patient ids;
2. the typed table: ranges, no future dates, and the clinical time-order rules of `schema.RULES`.
A cell already reported in pass 1 is not reported again in pass 2. Header problems (missing,
unknown or repeated columns) are reported together with those of the columns that are there,
and a whole column written in another convention (day-first dates, decimal commas, Hb in g/L)
is told what crosswalk line fixes it.

A date whose day is unknown, written year-month (`2019-05`, or the crosswalk's `date_format`
without its day: `05.2019` for `%d.%m.%Y`), is read as the 15th of the month and flagged: the
cohort gets a boolean `<column>_imputed` per date column (`schema.IMPUTED_FLAGS`) and the
warnings count them per column. A year alone is refused: it cannot be placed in follow-up.

The IWG definitions the analysis applies (RBC-TI for at least 8 weeks before discontinuation, a
regained RBC-TI observed for 8 weeks) are not validation rules: a row that misses them is true
data about a patient the study does not include, so `lenstop.cohort.derive.eligibility` excludes
and counts it for the flow figure (STROBE item 13) instead of refusing the extract.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from lenstop.ingest.crosswalk import (
    Crosswalk,
    apply_crosswalk,
    as_crosswalk,
    date_format_hint,
    likely_date_formats,
    likely_unit,
    looks_decimal_comma,
)
from lenstop.ingest.problems import DataError, Problem
from lenstop.ingest.readers import RawTable, read_raw
from lenstop.ingest.schema import (
    COLUMN_BY_NAME,
    COLUMNS,
    DATE_COLUMNS,
    DAY_UNKNOWN_DAY,
    IMPUTED_FLAGS,
    REQUIRED_COLUMNS,
    RULES,
    ColumnSpec,
    imputed_flag,
)

ID = "patient_id"
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
"""Day 0 of Excel's serial dates (1900 date system, with its leap-year bug built in)."""


def load_cohort(path: str | Path, sheet: str | None = None,
                mapping: str | Path | Crosswalk | None = None,
                today: dt.date | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read and validate an extract; return (typed cohort, warnings) or raise DataError.

    `mapping` is a crosswalk (a YAML path or a parsed `Crosswalk`) for an extract that does
    not use the dictionary's names, codes, units or date format.
    """
    cw = as_crosswalk(mapping)
    ids = (cw.columns.get(ID, ID), ID) if cw else (ID,)
    try:
        raw = read_raw(path, sheet=sheet, delimiter=cw.delimiter if cw else None,
                       id_columns=ids)
    except DataError as exc:  # the crosswalk's own problems too, all at once
        if cw and cw.problems:
            raise DataError(exc.problems + list(cw.problems), exc.notes) from None
        raise
    if cw is not None:
        raw = apply_crosswalk(raw, cw)
    return validate_raw(raw, today=today), raw.warnings


def validate_raw(raw: RawTable, today: dt.date | None = None) -> pd.DataFrame:
    """Check a RawTable and return the typed cohort (one row per patient, in file order)."""
    problems = list(raw.problems) + _check_columns(raw)
    frame = raw.frame.loc[:, ~raw.frame.columns.duplicated()]
    shown = raw.shown if raw.shown is not None else raw.frame
    shown = shown.loc[:, ~shown.columns.duplicated()]
    present = [c for c in COLUMNS if c.name in frame.columns]
    frame = frame[[c.name for c in present]]
    shown = shown[[c.name for c in present]]
    frame = _serial_dates(frame, raw)
    fmt = raw.crosswalk.date_format if isinstance(raw.crosswalk, Crosswalk) else None
    frame, imputed = _impute_days(frame, raw, fmt)
    text = _normalise(frame)
    found = _failures(_text_schema(present, fmt), text, raw, shown)
    found = _conventions(found, frame, raw)
    settled = _settled(raw)
    problems += [p for p in found if (p.row, p.column) not in settled]
    reported = settled | {(p.row, p.column) for p in found}
    typed = _typed(text)
    for spec in COLUMNS:  # optional columns absent from the file are blank (rules see them)
        if not spec.required and spec.name not in typed.columns:
            typed[spec.name] = pd.NaT if spec.kind == "date" else pd.NA
    hints = _unit_hints(typed, raw)
    problems += hints
    hinted = {p.column for p in hints}
    today = today or dt.date.today()
    schema = _typed_schema(present, today, set(typed.columns))
    for p in _failures(schema, typed, raw, shown, imputed):
        if (p.row, p.column) in reported:
            continue
        if p.column in hinted and p.rule == COLUMN_BY_NAME[p.column].rule_text():
            continue  # out of range because of the unit: the hint says so once
        problems.append(p)
    if problems:
        raise DataError(problems, raw.warnings)
    for column in DATE_COLUMNS:
        flag = pd.Series(False, index=typed.index)
        flag.iloc[sorted(i for i, c in imputed if c == column)] = True
        typed[imputed_flag(column)] = flag
    return typed[[*(c.name for c in COLUMNS), *IMPUTED_FLAGS]]


_YEAR_MONTH = re.compile(r"\d{4}-\d{2}")
_YEAR_ONLY = re.compile(r"\d{4}")


def month_format(date_format: str | None) -> str | None:
    """How an extract whose dates are written `date_format` writes a date without its day:
    the format with its day code and one separator beside it removed (`%d.%m.%Y` -> `%m.%Y`,
    `%m/%d/%Y` -> `%m/%Y`, `%Y%m%d` -> `%Y%m`); None for no format or one without `%d`."""
    if not date_format or "%d" not in date_format:
        return None
    i = date_format.index("%d")
    start, end = i, i + 2
    if date_format[end:end + 1] not in ("", "%"):  # "%d." and the like: drop the separator
        end += 1
    elif i >= 1 and date_format[i - 1] != "%" and (i < 2 or date_format[i - 2] != "%"):
        start -= 1  # "-%d" at the end: drop the separator before it
    fmt = date_format[:start] + date_format[end:]
    return fmt or None


def _impute_days(frame: pd.DataFrame, raw: RawTable, date_format: str | None
                 ) -> tuple[pd.DataFrame, set[tuple[int, str]]]:
    """Day-unknown dates (year and month: ISO `YYYY-MM`, or the crosswalk's `date_format`
    without its day) as ISO dates on the 15th; returns the frame and the (row position,
    column) of every such cell, with one warning per column counting them."""
    forms = ["%Y-%m"]
    other = month_format(date_format)
    if other and other != "%Y-%m":
        forms.append(other)
    out, imputed = frame, set()
    for column in DATE_COLUMNS:
        if column not in frame.columns:
            continue
        s = frame[column]
        text = s.where(s.map(lambda v: isinstance(v, str)))
        if text.isna().all():
            continue
        full = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").notna()
        if date_format:
            full |= pd.to_datetime(text, format=date_format, errors="coerce").notna()
        month = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        for form in forms:
            cand = text.where(~full & month.isna())
            if form == "%Y-%m":  # strictly 4 + 2 digits: "2019-5" is no ISO month
                cand = cand.where(cand.map(lambda v: isinstance(v, str)
                                           and _YEAR_MONTH.fullmatch(v) is not None))
            month = month.fillna(pd.to_datetime(cand, format=form, errors="coerce"))
        hit = month.notna()
        if not hit.any():
            continue
        if out is frame:
            out = frame.copy()
        out.loc[hit, column] = (month[hit] + pd.Timedelta(days=DAY_UNKNOWN_DAY - 1)
                                ).dt.strftime("%Y-%m-%d")
        positions = [i for i, h in enumerate(hit.to_numpy()) if h]
        imputed |= {(i, column) for i in positions}
        n = len(positions)
        raw.warnings.append(
            f"{raw.path.name}: {n} date{'s' if n != 1 else ''} of {column} had no day: set to "
            f"the {DAY_UNKNOWN_DAY}th ({imputed_flag(column)} is True for "
            f"{'them' if n != 1 else 'it'})")
    return out, imputed


def _settled(raw: RawTable) -> set[tuple[str, str]]:
    """The (row label, column) of the cells the crosswalk already reported."""
    return {(raw.row_labels[i], c) for i, c in raw.settled}


def _check_columns(raw: RawTable) -> list[Problem]:
    cols = list(raw.frame.columns)
    problems = [Problem(raw.path, row="header", column=c, rule="unique column names",
                        message="the column appears more than once")
                for c in sorted({c for c in cols if cols.count(c) > 1})]
    missing = [c.name for c in COLUMNS if c.required and c.name not in cols]
    absent = missing + [c.name for c in COLUMNS if not c.required and c.name not in cols]
    extra = list(dict.fromkeys(c for c in cols if c not in COLUMN_BY_NAME))
    closest = {c: _closest(c, absent) for c in extra}
    fix = ("map them in a crosswalk (`lenstop crosswalk FILE` writes a first one; then "
           "--mapping CROSSWALK)")
    if len(missing) > len(REQUIRED_COLUMNS) // 2:
        # most names unknown: the file was split wrongly or is not an extract of this study
        if len(cols) == 1 and raw.delimiter:
            read = "as one single column (no comma, semicolon, tab or | between the names)"
        else:
            read = f"as {len(cols)} columns"
        unknown = ""
        if extra and len(cols) > 1:
            named = [f"{c} ({closest[c]}?)" if closest[c] else c for c in extra]
            unknown = (f" Not dictionary columns: {_clip(', '.join(named), 240)}; if they are "
                       f"the study's columns under other names, {fix}.")
        problems.append(Problem(
            raw.path, row="header", rule="required columns",
            message=f"{len(missing)} of the {len(REQUIRED_COLUMNS)} required columns are missing "
            f"({', '.join(missing)}); the header was read {read}. Wrong delimiter (use "
            "comma, semicolon, tab or |), no header line, or not an extract with this study's "
            f"column names (see data/README.md)?{unknown}",
            value=_clip(" | ".join(cols))))
        return problems
    by_target = {}
    for c in extra:
        if closest[c]:
            by_target.setdefault(closest[c], c)
    problems += [Problem(raw.path, row="header", column=c, rule="required column",
                         message="required column is missing"
                         + (f"; the file has a column {by_target[c]!r}: rename it, or {fix}"
                            if c in by_target else ""))
                 for c in missing]
    if extra:
        guesses = [f"{c} looks like {closest[c]}" for c in extra if closest[c]]
        raw.warnings.append(f"{raw.path.name}: ignoring {len(extra)} column(s) not in the data "
                            f"dictionary: {', '.join(extra)}"
                            + (f"; {', '.join(guesses)}: rename, or {fix}" if guesses else ""))
    return problems


def _closest(name: str, names: list[str]) -> str | None:
    """The dictionary column most like `name` (case and separators ignored), if any is."""
    def fold(n: str) -> str:
        return re.sub(r"[^a-z0-9]", "", n.lower())

    folded = {fold(n): n for n in names}
    hit = difflib.get_close_matches(fold(name), folded, n=1, cutoff=0.6)
    return folded[hit[0]] if hit else None


def _serial_dates(frame: pd.DataFrame, raw: RawTable) -> pd.DataFrame:
    """Excel serial numbers (e.g. 43466) in date columns of a workbook or a CSV saved from
    one as dates, with a count in the warnings."""
    if raw.format not in ("excel", "text"):
        return frame
    out, count = frame.copy(), 0
    for spec in COLUMNS:
        if spec.kind != "date" or spec.name not in out.columns:
            continue
        s = out[spec.name]
        serial = s.map(lambda v: isinstance(v, str) and v.isdigit() and len(v) == 5).astype(bool)
        if serial.any():
            days = pd.to_numeric(s[serial])
            out.loc[serial, spec.name] = (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")
                                          ).dt.strftime("%Y-%m-%d")
            count += int(serial.sum())
    if count:
        raw.warnings.append(f"{raw.path.name}: {count} date cell{'s' if count != 1 else ''} "
                            "held Excel serial numbers (days since 1899-12-30), read as dates")
    return out


def _conventions(found: list[Problem], frame: pd.DataFrame, raw: RawTable) -> list[Problem]:
    """Date and number cells refused because the whole column uses another convention
    (day-first dates, decimal commas): the same problems, each saying what fixes them all."""
    cw = raw.crosswalk if isinstance(raw.crosswalk, Crosswalk) else None
    hints: dict[str, tuple[str, str, object]] = {}
    for spec in COLUMNS:
        if spec.name not in frame.columns:
            continue
        s = frame[spec.name].dropna()
        if spec.kind == "date" and not (cw and cw.date_format):
            odd = s[pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").isna()]
            formats = likely_date_formats(odd) if len(odd) >= 2 and len(odd) >= len(s) / 2 \
                else []
            if formats:
                hints[spec.name] = ("date format", date_format_hint(formats), formats[0])
        elif spec.kind in ("int", "float") and not (cw and cw.decimal) \
                and looks_decimal_comma(s):
            hints[spec.name] = ("decimal comma", "a number written with a decimal comma: add "
                                "decimal: \",\" to a crosswalk (--mapping FILE)", None)
    if not hints:
        return found
    out = []
    for p in found:
        hint = hints.get(p.column)
        if hint and p.value and p.value != "(blank)" and _fits(p.value, hint):
            p = dataclasses.replace(p, rule=hint[0], message=hint[1])
        out.append(p)
    return out


def _fits(value: str, hint: tuple[str, str, object]) -> bool:
    rule, _message, fmt = hint
    if rule == "date format":
        return pd.notna(pd.to_datetime(value, format=fmt, errors="coerce"))
    return re.fullmatch(r"[-+]?\d+,\d+", value) is not None


def _unit_hints(typed: pd.DataFrame, raw: RawTable) -> list[Problem]:
    """Lab values that look like another unit (Hb in g/L or mmol/L, counts per µL) in an
    extract whose crosswalk gives no unit for them: one problem per column."""
    cw = raw.crosswalk if isinstance(raw.crosswalk, Crosswalk) else None
    out = []
    for name in typed.columns:
        if cw and name in cw.units:
            continue
        guess = likely_unit(name, typed[name])
        if not guess:
            continue
        unit, median = guess
        spec = COLUMN_BY_NAME[name]
        n = int(typed[name].notna().sum())
        out.append(Problem(raw.path, column=name, rule=f"unit {spec.unit}", message=(
            f"the values look like {unit}, not {spec.unit} (median {median:g} of {n}; the "
            f"dictionary's range is {spec.low:g} to {spec.high:g} {spec.unit}): if they are "
            f"{unit}, give the unit in a crosswalk (--mapping FILE), line `units: {{{name}: "
            f"{unit}}}`, and they are converted on load"
            + (f"; if they are {spec.unit}, write `units: {{{name}: {spec.unit}}}`"
               if spec.low <= median <= spec.high else ""))))
    return out


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
    """An ISO date, or a year alone (which `_not_year_only` reports, once)."""
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").notna() | _year_only(s)


def _year_only(s: pd.Series) -> pd.Series:
    return s.map(lambda v: isinstance(v, str) and _YEAR_ONLY.fullmatch(v) is not None
                 ).astype(bool)


def _not_year_only(s: pd.Series) -> pd.Series:
    return ~_year_only(s)


YEAR_ONLY_RULE = (f"a date with at least year and month: a year alone cannot be placed in "
                  f"follow-up (give YYYY-MM, read as the {DAY_UNKNOWN_DAY}th and flagged, or "
                  "YYYY-MM-DD)")


def _parses_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").notna()


def _parses_whole(s: pd.Series) -> pd.Series:
    x = pd.to_numeric(s, errors="coerce")
    return x.notna() & (x == x.round())


def _text_checks(spec: ColumnSpec, date_format: str | None = None) -> list[pa.Check]:
    if spec.kind == "date":
        rule = spec.rule_text() if not date_format else (
            f"a date as the crosswalk's date_format {date_format} (or ISO YYYY-MM-DD) that "
            "exists in the calendar")
        rule = rule if not date_format else (
            rule + f"; a date without its day as {month_format(date_format) or '%Y-%m'} or "
            "YYYY-MM")
        return [pa.Check(_parses_date, error=rule),
                pa.Check(_not_year_only, error=YEAR_ONLY_RULE)]
    if spec.kind == "int":
        return [pa.Check(_parses_whole, error="a whole number")]
    if spec.kind == "float":
        return [pa.Check(_parses_number, error="a number (use '.' for decimals)")]
    if spec.kind == "category":
        return [pa.Check.isin(spec.allowed, error=spec.rule_text())]
    return []


def _text_schema(present: list[ColumnSpec], date_format: str | None = None
                 ) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        c.name: pa.Column(object, nullable=c.nullable, unique=c.kind == "id",
                          checks=_text_checks(c, date_format))
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


def _typed_schema(present: list[ColumnSpec], today: dt.date,
                  names: set[str] | None = None) -> pa.DataFrameSchema:
    """Ranges and future dates of the `present` columns, and every rule of `schema.RULES`
    whose columns are all in `names` (default: the present ones)."""
    limit = pd.Timestamp(today)
    names = {c.name for c in present} if names is None else names
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
              text: pd.DataFrame, imputed: set[tuple[int, str]] = frozenset()
              ) -> list[Problem]:
    """Run `schema` lazily and turn pandera's failure cases into Problems.

    Values are shown from `text`, the cells as the file holds them (before case folding); a
    rule that fails on a day-unknown date says which day it was read as (`imputed`).
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
            value = ", ".join(f"{c}={_show(text.at[idx, c] if c in text.columns else None)}"
                              for c in rule.involves)
            message = rule.text
            read = [f"{c} as {_show(frame.at[idx, c])}" for c in rule.involves
                    if (idx, c) in imputed]
            if read:
                message += f" (day unknown, read {', '.join(read)})"
            problems.append(Problem(raw.path, row, pid, rule.column, rule.id, message, value))
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
