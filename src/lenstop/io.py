"""Readers for every supported extract format, each returning one raw table of text cells.

Every format is normalised to the same shape (one row per patient, all cells as stripped text,
blanks as missing) so that validation treats a CSV and a SAS file alike and can name the file
row of each problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .problems import DataError, Problem

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
READSTAT_SUFFIXES = {".sas7bdat", ".xpt", ".sav", ".zsav", ".dta"}
SUPPORTED = sorted(TEXT_SUFFIXES | EXCEL_SUFFIXES | READSTAT_SUFFIXES | {".parquet"})
PREFERRED_SHEETS = ("cohort", "data", "patients")


@dataclass
class RawTable:
    """An extract as text cells, with where each row stands in the file and any warnings."""

    frame: pd.DataFrame
    path: Path
    row_labels: list[str]
    warnings: list[str] = field(default_factory=list)
    delimiter: str | None = None
    """The column separator of a text file (None for other formats)."""


def read_raw(path: str | Path, sheet: str | None = None) -> RawTable:
    """Read `path` (by its suffix) into a RawTable; raise DataError for unreadable files.

    Row labels are where each patient stands in the file ('row 7' is line 7 of a text file or
    row 7 of the sheet, header included; 'record 3' for binary formats), blank lines skipped.
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
    delimiter = None
    if suffix in TEXT_SUFFIXES:
        frame, delimiter = _read_text(path, warnings)
        label = "row"
    elif suffix in EXCEL_SUFFIXES:
        frame = _read_excel(path, sheet, warnings)
        label = "row"
    elif suffix == ".parquet":
        frame = _numbered(_read_with(path, pd.read_parquet))
        label = "record"
    elif suffix in READSTAT_SUFFIXES:
        frame = _numbered(_read_readstat(path))
        label = "record"
    else:
        raise DataError([Problem(path, rule="supported format",
                                 message=f"unknown file type '{suffix or path.name}'; "
                                 f"supported: {', '.join(SUPPORTED)}")])
    numbers = list(frame.index)
    frame = _as_text(frame)
    if frame.empty:
        raise DataError([Problem(path, rule="has data rows",
                                 message="the file has a header but no patient rows")])
    labels = [f"{label} {n}" for n in numbers]
    return RawTable(frame.reset_index(drop=True), path, labels, warnings, delimiter)


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


def _read_text(path: Path, warnings: list[str]) -> tuple[pd.DataFrame, str]:
    """Parse a delimited text file; the index holds each row's line number in the file."""
    import io as _io

    text = _decode(path, warnings)
    if not text.strip():
        raise DataError([Problem(path, rule="not empty", message="the file holds only blanks")])
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
    start = 1  # the line on which the record being read starts (quoted values may span lines)
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue  # blank line
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
    return frame, delimiter


def _read_excel(path: Path, sheet: str | None, warnings: list[str]) -> pd.DataFrame:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:
        raise DataError([Problem(path, rule="readable file",
                                 message=f"not a readable Excel workbook: {exc}")]) from None
    names = book.sheetnames
    if sheet is None:
        candidates = [n for n in names if _sheet_header(book[n])[:1] and
                      "patient_id" in _sheet_header(book[n])]
        preferred = [n for n in candidates if n.lower() in PREFERRED_SHEETS]
        if len(candidates) == 1 or preferred:
            sheet = (preferred or candidates)[0]
        elif len(names) == 1:
            sheet = names[0]
        else:
            raise DataError([Problem(path, rule="one data sheet", message=(
                f"the workbook has {len(names)} sheets ({', '.join(names)}) and "
                f"{len(candidates) or 'none'} of them {'has' if len(candidates) < 2 else 'have'}"
                " a patient_id header; name the sheet to read (--sheet NAME)"))])
    elif sheet not in names:
        raise DataError([Problem(path, rule="sheet exists", message=(
            f"no sheet named {sheet!r}; the workbook has: {', '.join(names)}"))])
    ws = book[sheet]
    merged = [str(r) for r in ws.merged_cells.ranges if r.min_row == 1]
    if merged:
        raise DataError([Problem(path, row="row 1", rule="one header cell per column",
                                 message=f"sheet {sheet!r} has merged header cells "
                                 f"({', '.join(merged)}); unmerge them so every column has "
                                 "its own name")])
    if len(names) > 1:
        warnings.append(f"{path.name}: read sheet {sheet!r} of {len(names)}")
    rows = list(ws.iter_rows(values_only=True))
    if not rows:
        raise DataError([Problem(path, rule="not empty", message=f"sheet {sheet!r} is empty")])
    header = ["" if h is None else str(h).strip() for h in rows[0]]
    numbered = [(i, r) for i, r in enumerate(rows[1:], start=2)
                if any(v is not None and str(v).strip() for v in r)]
    frame = pd.DataFrame([r for _i, r in numbered], index=[i for i, _r in numbered],
                         columns=range(len(header)), dtype=object)
    frame.columns = header
    return frame.loc[:, [h != "" for h in header]]


def _sheet_header(ws) -> list[str]:
    first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
    return [str(v).strip() for v in first if v is not None]


def _read_readstat(path: Path) -> pd.DataFrame:
    import pyreadstat

    readers = {".sas7bdat": pyreadstat.read_sas7bdat, ".xpt": pyreadstat.read_xport,
               ".sav": pyreadstat.read_sav, ".zsav": pyreadstat.read_sav,
               ".dta": pyreadstat.read_dta}
    reader = readers[path.suffix.lower()]
    frame, meta = _read_with(path, reader)
    # SAS transport files cap names at 8 characters: a variable whose label is a dictionary
    # column name is read under that name.
    from .schema import COLUMN_BY_NAME

    labels = dict(zip(meta.column_names, meta.column_labels or [], strict=False))
    rename = {n: lab for n, lab in labels.items()
              if n not in COLUMN_BY_NAME and lab in COLUMN_BY_NAME}
    return frame.rename(columns=rename)


def _cell_text(value) -> str | None:
    """One cell as text: dates as ISO, whole floats without '.0', blanks as None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp | dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0):
            return value.isoformat(sep=" ")
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as stripped text or missing; column names stripped."""
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    cells = {i: [_cell_text(v) for v in frame.iloc[:, i]] for i in range(frame.shape[1])}
    out = pd.DataFrame(cells, index=frame.index, dtype="object")
    # duplicate column names are kept so that validation can report them
    out.columns = list(frame.columns)
    return out
