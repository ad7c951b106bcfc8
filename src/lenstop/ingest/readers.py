"""Readers for every supported extract format, each returning one raw table of text cells.

Every format is normalised to the same shape (one row per patient, all cells as stripped text,
blanks and missing-value tokens as missing) so that validation treats a CSV and a SAS file
alike and can name the file row of each problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lenstop.ingest.problems import DataError, Problem

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
READSTAT_SUFFIXES = {".sas7bdat", ".xpt", ".sav", ".zsav", ".dta"}
SUPPORTED = sorted(TEXT_SUFFIXES | EXCEL_SUFFIXES | READSTAT_SUFFIXES | {".parquet"})
PREFERRED_SHEETS = ("cohort", "data", "patients")

MISSING_TOKENS = ("NA", "N/A", ".", "NULL", "#N/A")
"""Text read as a missing value in every column (R's NA, SQL's NULL, SAS's '.', Excel's #N/A)."""
EXCEL_ERRORS = ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#N/A", "#NV",
                "#SPILL!", "#CALC!", "#GETTING_DATA")
"""Excel error values: read as missing too, whether an error cell or its text in an export."""
_MISSING = frozenset(MISSING_TOKENS + EXCEL_ERRORS)


@dataclass
class RawTable:
    """An extract as text cells, with where each row stands in the file and any warnings."""

    frame: pd.DataFrame
    path: Path
    row_labels: list[str]
    warnings: list[str] = field(default_factory=list)
    delimiter: str | None = None
    """The column separator of a text file (None for other formats)."""
    format: str = "text"
    """text, excel, parquet or readstat (SAS, SPSS, Stata)."""
    blank_rows: int = 0
    """Rows skipped because every cell was blank or a missing-value token."""
    missing_read: dict[str, int] = field(default_factory=dict)
    """How many cells each missing-value token (or 'user-defined missing') turned to missing."""
    codes: dict[str, pd.Series] = field(default_factory=dict)
    """For columns whose value labels were applied: the codes as the file stores them."""
    variable_labels: dict[str, str] = field(default_factory=dict)
    """SAS/SPSS/Stata variable labels by column name (for `lenstop crosswalk`)."""
    shown: pd.DataFrame | None = None
    """The cells as the file holds them when a crosswalk changed `frame` (shown in messages)."""
    problems: list[Problem] = field(default_factory=list)
    """Problems found before validation (the crosswalk's); reported together with the rest."""
    settled: set[tuple[int, str]] = field(default_factory=set)
    """Cells (row position, column) already covered by `problems`: not reported again."""
    crosswalk: object | None = None
    """The `crosswalk.Crosswalk` applied to `frame`, if any (for messages)."""


def read_raw(path: str | Path, sheet: str | None = None, *, delimiter: str | None = None,
             id_columns: tuple[str, ...] = ("patient_id",)) -> RawTable:
    """Read `path` (by its suffix) into a RawTable; raise DataError for unreadable files.

    Row labels are where each patient stands in the file ('row 7' is line 7 of a text file or
    row 7 of the sheet, header included; 'record 3' for binary formats), blank rows skipped.
    `delimiter` overrides the detected separator of a text file; `id_columns` are the names
    that mark a workbook's data sheet.
    """
    path = Path(path)
    if not path.exists():
        raise DataError([Problem(path, rule="file exists", message="no such file")])
    if path.is_dir():
        raise DataError([Problem(path, rule="file exists", message="is a folder, not a file")])
    if path.stat().st_size == 0:
        raise DataError([Problem(path, rule="not empty", message="the file is empty (0 bytes)")])
    suffix = path.suffix.lower()
    warnings: list[str] = []
    missing: Counter = Counter()
    extra: dict = {}
    blank = 0
    if suffix in TEXT_SUFFIXES:
        frame, delimiter, blank = _read_text(path, warnings, delimiter)
        label, kind = "row", "text"
    elif suffix in EXCEL_SUFFIXES:
        frame, blank = _read_excel(path, sheet, warnings, id_columns)
        label, kind, delimiter = "row", "excel", None
    elif suffix == ".parquet":
        frame = _numbered(_read_with(path, pd.read_parquet))
        label, kind, delimiter = "record", "parquet", None
    elif suffix in READSTAT_SUFFIXES:
        frame, extra = _read_readstat(path, missing)
        frame = _numbered(frame)
        label, kind, delimiter = "record", "readstat", None
    else:
        raise DataError([Problem(path, rule="supported format",
                                 message=f"unknown file type '{suffix or path.name}'; "
                                 f"supported: {', '.join(SUPPORTED)}")])
    frame = _as_text(frame, missing)
    empty = frame.isna().all(axis=1)
    if len(frame.columns) and empty.any():  # rows of NA only, say
        blank += int(empty.sum())
        frame = frame[~empty]
    numbers = list(frame.index)
    if frame.empty:
        raise DataError([Problem(path, rule="has data rows",
                                 message="the file has a header but no patient rows")])
    if blank:
        warnings.append(f"{path.name}: skipped {blank} blank row{'s' if blank != 1 else ''}")
    if missing:
        counts = ", ".join(f"{token} {n}" for token, n in missing.most_common())
        total = sum(missing.values())
        warnings.append(f"{path.name}: {total} cell{'s' if total != 1 else ''} read as missing "
                        f"({counts})")
    # the codes of the rows kept (only binary formats have codes: their records count from 1)
    codes = {c: s.reset_index(drop=True).iloc[[n - 1 for n in numbers]].reset_index(drop=True)
             for c, s in extra.get("codes", {}).items() if c in frame.columns}
    labels = [f"{label} {n}" for n in numbers]
    return RawTable(frame.reset_index(drop=True), path, labels, warnings, delimiter, kind,
                    blank, dict(missing), codes, extra.get("labels", {}))


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """Records numbered from 1 (binary formats have no header line)."""
    frame = frame.reset_index(drop=True)
    frame.index = frame.index + 1
    return frame


def _read_with(path: Path, reader) -> pd.DataFrame:
    try:
        return reader(path)
    except Exception as exc:  # the reader's own message is the most useful thing to show
        raise DataError([Problem(path, rule="readable file",
                                 message=f"could not be read: {exc}")]) from None


def _decode(path: Path, warnings: list[str]) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise DataError([Problem(path, rule="text file", message="contains NUL bytes: this is "
                                 "not a text file (wrong suffix, or a UTF-16 export?)")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError([Problem(path, row=f"line {line}", rule="text encoding",
                                 message=f"byte 0x{data[exc.start]:02x} at offset {exc.start} "
                                 "is neither UTF-8 nor Windows-1252 (Latin-1); re-export the "
                                 "file as UTF-8", value=repr(data[exc.start:exc.start + 8]))]
                        ) from None
    line = data[: utf8_error.start].count(b"\n") + 1
    warnings.append(f"{path.name}: not UTF-8 (first non-UTF-8 byte on line {line}); "
                    "read as Windows-1252 (Latin-1)")
    return text


DELIMITERS = ",;\t|"


def _read_text(path: Path, warnings: list[str], delimiter: str | None = None
               ) -> tuple[pd.DataFrame, str, int]:
    """Parse a delimited text file; the index holds each row's line number in the file.

    Returns the frame, the delimiter and how many blank lines after the header were skipped.
    """
    import io as _io

    text = _decode(path, warnings)
    if not text.strip():
        raise DataError([Problem(path, rule="not empty", message="the file holds only blanks")])
    if delimiter is None:
        header = next(line for line in text.splitlines() if line.strip())
        try:
            delimiter = csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
        if delimiter != ",":
            warnings.append(f"{path.name}: columns separated by {delimiter!r} (not a comma)")
    reader = csv.reader(_io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    names: list[str] | None = None
    too_long: list[Problem] = []
    blank = pending = 0
    start = 1  # the line on which the record being read starts (quoted values may span lines)
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                pending += names is not None  # counted once a patient row follows
                continue
            if names is None:
                names = [c.strip() for c in cells]
                continue
            if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
                too_long.append(Problem(
                    path, row=f"row {line}", rule="as many values as columns",
                    message=f"{len(cells)} values but the header has {len(names)} columns "
                    f"(a {delimiter!r} inside a value that is not quoted?)"))
                continue
            rows.append((cells + [""] * len(names))[:len(names)])
            lines.append(line)
            blank, pending = blank + pending, 0
    except csv.Error as exc:
        raise DataError([Problem(path, row=f"row {start}", rule="well-formed CSV",
                                 message=f"cannot be parsed from this line on ({exc}); is a "
                                 "quote (\") left open?")]) from None
    if too_long:
        raise DataError(too_long)
    names = names or []
    # a trailing separator gives columns without a name and without values: drop them
    keep = [i for i, n in enumerate(names) if n or any(r[i].strip() for r in rows)]
    names = [names[i] or f"(unnamed column {i + 1})" for i in keep]
    frame = pd.DataFrame([[r[i] for i in keep] for r in rows], index=lines,
                         columns=range(len(keep)), dtype=object)
    frame.columns = names  # set after construction: duplicate names are kept for validation
    return frame, delimiter, blank


def _read_excel(path: Path, sheet: str | None, warnings: list[str],
                id_columns: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
    """Read one sheet of a workbook with calamine (any writer: Excel, LibreOffice, R, Python).

    The sheet is `sheet`, else the one whose header holds an id column (one named 'cohort',
    'data' or 'patients' first), else the only sheet holding a table. Rows are numbered as
    the sheet numbers them; returns the frame and how many blank rows were skipped.
    """
    import python_calamine as calamine

    try:
        book = calamine.CalamineWorkbook.from_path(str(path))
        names = [m.name for m in book.sheets_metadata
                 if m.typ == calamine.SheetTypeEnum.WorkSheet]
    except Exception as exc:
        raise DataError([Problem(path, rule="readable file",
                                 message=f"not a readable Excel workbook: {exc}")]) from None
    rows_of: dict[str, list[list]] = {}

    def rows(name: str) -> list[list]:
        if name not in rows_of:
            try:
                rows_of[name] = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise DataError([Problem(path, rule="readable file", message=(
                    f"sheet {name!r} could not be read: {exc}"))]) from None
        return rows_of[name]

    if sheet is None:
        sheet = _choose_sheet(path, names, rows, id_columns, warnings)
    elif sheet not in names:
        raise DataError([Problem(path, rule="sheet exists", message=(
            f"no sheet named {sheet!r}; the workbook has: {', '.join(names)}"))])
    data = rows(sheet)
    start = _header_index(data)
    if start is None:
        raise DataError([Problem(path, rule="not empty", message=f"sheet {sheet!r} is empty")])
    merged = [f"{_a1(r0, c0)}:{_a1(r1, c1)}"
              for (r0, c0), (r1, c1) in book.get_sheet_by_name(sheet).merged_cell_ranges or ()
              if r0 <= start <= r1]
    if merged:
        raise DataError([Problem(path, row=f"row {start + 1}", rule="one header cell per column",
                                 message=f"sheet {sheet!r} has merged header cells "
                                 f"({', '.join(merged)}); unmerge them so every column has "
                                 "its own name")])
    if len(names) > 1:
        warnings.append(f"{path.name}: read sheet {sheet!r} of {len(names)}")
    header = [_cell_text(h) or "" for h in data[start]]
    body = [(i, r) for i, r in enumerate(data[start + 1:], start=start + 2)]
    numbered = [(i, r) for i, r in body if any(_cell_text(v) is not None for v in r)]
    keep = [j for j, h in enumerate(header) if h or any(_cell_text(r[j]) for _i, r in numbered)]
    frame = pd.DataFrame([[r[j] for j in keep] for _i, r in numbered],
                         index=[i for i, _r in numbered], columns=range(len(keep)), dtype=object)
    frame.columns = [header[j] or f"(unnamed column {j + 1})" for j in keep]
    # blank rows between the header and the last patient row (not the empty tail of a sheet)
    blank = numbered[-1][0] - (start + 1) - len(numbered) if numbered else 0
    return frame, blank


def _choose_sheet(path: Path, names: list[str], rows, id_columns: tuple[str, ...],
                  warnings: list[str]) -> str:
    headers = {n: _sheet_header(rows(n)) for n in names}
    candidates = [n for n in names if set(id_columns) & set(headers[n])]
    preferred = [n for n in candidates if n.lower() in PREFERRED_SHEETS]
    if len(candidates) == 1 or preferred:
        return (preferred or candidates)[0]
    if len(names) == 1:
        return names[0]
    ids = " or ".join(id_columns)
    if not candidates:
        # a notes or codebook sheet beside one table: read the table, validation names columns
        tables = [n for n in names if len(headers[n]) >= 3 and len(rows(n)) >= 2]
        if len(tables) == 1:
            warnings.append(f"{path.name}: no sheet has a {ids} header; read sheet "
                            f"{tables[0]!r}, the only one holding a table")
            return tables[0]
    fix = ("" if candidates else "; if the columns have other names than the data "
           "dictionary's, map them in a crosswalk (--mapping FILE, started by `lenstop "
           "crosswalk FILE --sheet NAME`)")
    raise DataError([Problem(path, rule="one data sheet", message=(
        f"the workbook has {len(names)} sheets ({', '.join(names)}) and "
        f"{len(candidates) or 'none'} of them {'has' if len(candidates) < 2 else 'have'}"
        f" a {ids} header; name the sheet to read (--sheet NAME){fix}"))])


def _header_index(rows: list[list]) -> int | None:
    """Index of the first row holding any value (the header), None for an empty sheet."""
    return next((i for i, r in enumerate(rows) if any(_cell_text(v) is not None for v in r)),
                None)


def _sheet_header(rows: list[list]) -> list[str]:
    i = _header_index(rows)
    return [] if i is None else [t for t in (_cell_text(v) for v in rows[i]) if t]


def _a1(row: int, col: int) -> str:
    """Zero-based (row, column) as an A1 reference."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


def _read_readstat(path: Path, missing: Counter) -> tuple[pd.DataFrame, dict]:
    """Read SAS, SPSS or Stata with pyreadstat: user-defined missing values become missing,
    value labels replace the codes (kept in 'codes'), variable labels name columns.

    A variable whose label is a dictionary column name is read under that name (SAS transport
    files cap names at 8 characters).
    """
    import pyreadstat

    readers = {".sas7bdat": pyreadstat.read_sas7bdat, ".xpt": pyreadstat.read_xport,
               ".sav": pyreadstat.read_sav, ".zsav": pyreadstat.read_sav,
               ".dta": pyreadstat.read_dta}
    suffix = path.suffix.lower()
    reader = readers[suffix]
    options = {} if suffix == ".xpt" else {"user_missing": True}
    frame, meta = _read_with(path, lambda p: reader(p, **options))
    frame = frame.copy()
    for name in frame.columns:
        user = _user_missing(frame[name], name, meta)
        if user.any():
            missing["user-defined missing"] += int(user.sum())
            frame[name] = frame[name].astype(object).where(~user, None)
    codes: dict[str, pd.Series] = {}
    for name, labels in (meta.variable_value_labels or {}).items():
        if name in frame.columns and labels:
            s = frame[name]
            codes[name] = s.map(_cell_text)
            frame[name] = s.astype(object).map(lambda v, lab=labels: lab.get(v, v)
                                               if not _blank(v) else None)
    from lenstop.ingest.schema import COLUMN_BY_NAME

    labels = {n: lab.strip() for n, lab in zip(meta.column_names, meta.column_labels or [],
                                               strict=False) if lab and lab.strip()}
    rename = {n: lab for n, lab in labels.items()
              if n not in COLUMN_BY_NAME and lab in COLUMN_BY_NAME and lab not in frame.columns}
    frame = frame.rename(columns=rename)
    return frame, {"codes": {rename.get(n, n): s for n, s in codes.items()},
                   "labels": {rename.get(n, n): lab for n, lab in labels.items()}}


def _user_missing(s: pd.Series, name: str, meta) -> pd.Series:
    """Where a column holds user-defined missing values: SPSS missing values and ranges,
    Stata's .a-.z and SAS's .A-.Z and ._ (read as their letters with user_missing=True)."""
    out = pd.Series(False, index=s.index)
    for r in (getattr(meta, "missing_ranges", None) or {}).get(name, []):
        lo, hi = r.get("lo"), r.get("hi")
        if isinstance(lo, str) or isinstance(hi, str):
            out |= s.isin({lo, hi})
        else:
            x = pd.to_numeric(s, errors="coerce")
            out |= (x >= lo) & (x <= hi)
    letters = (getattr(meta, "missing_user_values", None) or {}).get(name)
    if letters:
        out |= s.map(lambda v: isinstance(v, str) and v in letters).astype(bool)
    return out


def _blank(value) -> bool:
    return value is None or value is pd.NaT or value is pd.NA or (
        isinstance(value, float) and math.isnan(value))


def _cell_text(value) -> str | None:
    """One cell as text: dates as ISO, whole floats without '.0', blanks as None."""
    if _blank(value):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp | dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0):
            return value.isoformat(sep=" ")
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _as_text(frame: pd.DataFrame, missing: Counter | None = None) -> pd.DataFrame:
    """Every cell as stripped text or missing (blank or a missing-value token, counted in
    `missing`); column names stripped."""
    missing = Counter() if missing is None else missing
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]

    def text(value) -> str | None:
        if value.__class__ is str:  # (most cells: a text file's all; 10 times faster)
            t = value.strip() or None
        else:
            t = _cell_text(value)
        if t in _MISSING:
            missing[t] += 1
            return None
        return t

    cells = {i: [text(v) for v in frame.iloc[:, i]] for i in range(frame.shape[1])}
    out = pd.DataFrame(cells, index=frame.index, dtype="object")
    # duplicate column names are kept so that validation can report them
    out.columns = list(frame.columns)
    return out
