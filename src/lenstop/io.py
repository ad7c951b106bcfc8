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


def read_raw(path: str | Path, sheet: str | None = None) -> RawTable:
    """Read `path` (by its suffix) into a RawTable; raise DataError for unreadable files."""
    path = Path(path)
    if not path.exists():
        raise DataError([Problem(path, rule="file exists", message="no such file")])
    if path.is_dir():
        raise DataError([Problem(path, rule="file exists", message="is a folder, not a file")])
    if path.stat().st_size == 0:
        raise DataError([Problem(path, rule="not empty", message="the file is empty (0 bytes)")])
    suffix = path.suffix.lower()
    warnings: list[str] = []
    if suffix in TEXT_SUFFIXES:
        frame = _read_text(path, warnings)
        first_row = 2  # header is line 1
        label = "row"
    elif suffix in EXCEL_SUFFIXES:
        frame = _read_excel(path, sheet, warnings)
        first_row = 2
        label = "row"
    elif suffix == ".parquet":
        frame = _read_with(path, pd.read_parquet)
        first_row, label = 1, "record"
    elif suffix in READSTAT_SUFFIXES:
        frame = _read_readstat(path)
        first_row, label = 1, "record"
    else:
        raise DataError([Problem(path, rule="supported format",
                                 message=f"unknown file type '{suffix or path.name}'; "
                                 f"supported: {', '.join(SUPPORTED)}")])
    frame = _as_text(frame)
    if frame.empty:
        raise DataError([Problem(path, rule="has data rows",
                                 message="the file has a header but no patient rows")])
    labels = [f"{label} {i + first_row}" for i in range(len(frame))]
    return RawTable(frame.reset_index(drop=True), path, labels, warnings)


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


def _read_text(path: Path, warnings: list[str]) -> pd.DataFrame:
    import io as _io

    text = _decode(path, warnings)
    if not text.strip():
        raise DataError([Problem(path, rule="not empty", message="the file holds only blanks")])
    header = text.splitlines()[0]
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    if delimiter != ",":
        warnings.append(f"{path.name}: columns separated by {delimiter!r} (not a comma)")
    try:
        frame = pd.read_csv(_io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        raise DataError([Problem(path, rule="well-formed CSV", message=str(exc))]) from None
    names = next(csv.reader([header], delimiter=delimiter))
    if len(names) == frame.shape[1]:  # undo pandas' renaming of duplicate names ("sex.1")
        frame.columns = names
    return frame


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
                f"{len(candidates) or 'none'} of them has a patient_id header; name the sheet "
                "to read (--sheet NAME)"))])
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
    body = [r for r in rows[1:] if any(v is not None and str(v).strip() for v in r)]
    frame = pd.DataFrame(body, columns=header, dtype=object)
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
