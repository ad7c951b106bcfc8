"""The bad-input catalogue: every way an extract can be wrong, through the commands users run.

Each case derives an extract from the shipped cohort and runs `lenstop validate FILE` (what
`make validate DATA=...` runs): non-zero exit, no traceback, and one report naming file, row
and patient, column, rule and offending value, every problem at once. Whole-file cases
(format, encoding, delimiter, columns, Excel sheets) each get their own file and run through
`lenstop.cli.main` in this process, to stay fast. The row-level cases (blanks, duplicate ids,
every categorical column, dates, numbers, ranges and every time-order rule of
`schema.RULES`) each break their own patient of one shared extract, validated in a
subprocess, so that one report must hold them all. A representative subset then goes
through `lenstop build --data FILE` (`make report DATA=...`) in a subprocess, over a report
built before under the same extract name, which must stay byte for byte as it was. That good
build carries an unknown extra column and blank Hb values, so it is also the missing-data
case: the models, the tables and the manuscript must count the 5 patients left out. It is the
session's shared build as the atomic-build tests leave it (`_builds.changed_build`), so the
suite runs one full build fewer.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lenstop import config
from lenstop.ingest.schema import COLUMNS, RULES
from lenstop.manuscript import results
from tests._builds import HB_BLANKED, NAME, changed_build
from tests.conftest import write_csv

# NAME: the extract name of the build cases, that of the shared build (build/NAME/)


def run(*args: str) -> subprocess.CompletedProcess:
    """`lenstop ARGS` exactly as a user runs it, from the project root."""
    return subprocess.run([sys.executable, "-m", "lenstop.cli", *args], capture_output=True,
                          text=True, cwd=config.ROOT)


def run_main(*args: str) -> subprocess.CompletedProcess:
    """`lenstop ARGS` through the same entry point (`lenstop.cli.main`), in this process.

    The whole-file cases use it to stay fast; an exception escaping `main` (what would be a
    traceback) fails the test.
    """
    import contextlib
    import io

    from lenstop.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["lenstop", *args], code, out.getvalue(), err.getvalue())


def problem_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]


def assert_refused(result: subprocess.CompletedProcess, name: str, *texts: str) -> None:
    """Exit 2, no traceback, the report's summary line, and every text somewhere in it."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert re.match(rf"{re.escape(name)}: \d+ problems?( in \d+ rows?)?; nothing was built\.",
                    result.stderr), result.stderr
    for text in texts:
        assert text in result.stderr, f"{text!r} not in:\n{result.stderr}"


def assert_loaded(result: subprocess.CompletedProcess, n: int, *messages: str) -> None:
    """Loaded with `n` patients, each of `messages` printed as a warning or a note."""
    assert result.returncode == 0, result.stderr
    assert f"{n} patients, all checks passed" in result.stdout
    for text in messages:
        line = next((ln for ln in result.stderr.splitlines() if text in ln), "")
        assert line.startswith(("warning: ", "note: ")), result.stderr


# ---------------------------------------------------------------- whole-file cases

def _csv_text(frame: pd.DataFrame, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep, na_rep="", lineterminator="\n")


@dataclass
class FileCase:
    """A whole-file case: `make(shipped, folder)` writes the extract and returns its path."""

    id: str
    make: Callable[[pd.DataFrame, Path], Path]
    check: Callable[[subprocess.CompletedProcess, Path], None]
    args: tuple[str, ...] = ()


def _write(name: str, data: bytes | str) -> Callable[[pd.DataFrame, Path], Path]:
    def make(_shipped: pd.DataFrame, folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path
    return make


def _from_frame(name: str, change: Callable[[pd.DataFrame], str | bytes]):
    """An extract whose content is `change(copy of the shipped cohort)` (text or bytes)."""
    def make(shipped: pd.DataFrame, folder: Path) -> Path:
        content = change(shipped.copy())
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path
    return make


def _latin1(frame: pd.DataFrame) -> bytes:
    frame.loc[0, "centre"] = "Hôpital Saint-Éloi, Besançon"
    return _csv_text(frame).encode("cp1252")


def _undecodable(frame: pd.DataFrame) -> bytes:
    frame.loc[3, "centre"] = "Centre XX"  # file line 5
    return _csv_text(frame).encode().replace(b"Centre XX", b"Centre \x81\x8d")


def _unquoted_comma(frame: pd.DataFrame) -> str:
    lines = _csv_text(frame).splitlines()
    for i in (4, 9):  # file lines 5 and 10: "Centre 02, Milan" exported without quotes
        lines[i] = lines[i].replace(",Centre ", ",Milan,Centre ", 1)
    return "\n".join(lines) + "\n"


def _blank_lines_then_bad_value(frame: pd.DataFrame) -> str:
    frame.loc[6, "sex"] = "X"  # file line 8, or line 10 after two blank lines above it
    lines = _csv_text(frame).splitlines()
    return "\n".join(lines[:4] + ["", ",,,"] + lines[4:]) + "\n"


def _excel(name: str, sheets: dict[str, Callable[[pd.DataFrame], pd.DataFrame]],
           edit: Callable | None = None):
    def make(shipped: pd.DataFrame, folder: Path) -> Path:
        path = folder / name
        with pd.ExcelWriter(path) as xl:
            for sheet, frame_of in sheets.items():
                frame_of(shipped.copy()).to_excel(xl, sheet_name=sheet, index=False)
        if edit:
            import openpyxl

            book = openpyxl.load_workbook(path)
            edit(book)
            book.save(path)
        return path
    return make


def _bad_sex(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[4, "sex"] = "unknown"
    return frame


def _merge_header(book) -> None:
    book.active.merge_cells("B1:C1")


def _blank_sheet_row(book) -> None:
    book.active.insert_rows(4)  # a blank sheet row 4: the bad patient moves to sheet row 7


DATE_NAMES = [c.name for c in COLUMNS if c.kind == "date"]
OPTIONAL = [c.name for c in COLUMNS if not c.required]


def _month_only(frame: pd.DataFrame, column: str = "ti_loss_date", k: int = 3) -> str:
    """`k` dates of `column` written without their day (YYYY-MM), in rows where the 15th keeps
    the order with every other date of the patient (so they load)."""
    done = 0
    for i in frame.index[frame[column].notna()]:
        mid = f"{frame.loc[i, column][:7]}-15"
        others = [frame.loc[i, c] for c in DATE_NAMES if c != column and frame.loc[i, c]]
        if all((mid < o) == (frame.loc[i, column] < o) and (mid > o) == (frame.loc[i, column] > o)
               for o in others):
            frame.loc[i, column] = frame.loc[i, column][:7]
            done += 1
            if done == k:
                break
    return _csv_text(frame)


def _without_optional(keep_restarts: bool):
    """The shipped cohort in the layout before the optional columns (all of them dropped);
    its LEN restarts in RBC-TI kept (they then lack their reason) or removed."""
    def change(frame: pd.DataFrame) -> str:
        if not keep_restarts:
            frame.loc[frame["retreat_without_loss_reason"].notna(), "len_retreat_date"] = None
        return _csv_text(frame.drop(columns=OPTIONAL))
    return change


FILE_CASES = [
    FileCase("missing file", lambda _s, d: d / "nowhere.csv",
             lambda r, p: assert_refused(r, "nowhere.csv", "no such file", "[rule: file exists]")),
    FileCase("a folder, not a file", lambda _s, d: (d / "folder.csv").mkdir() or d / "folder.csv",
             lambda r, p: assert_refused(r, "folder.csv", "is a folder, not a file")),
    FileCase("empty file (0 bytes)", _write("empty.csv", b""),
             lambda r, p: assert_refused(r, "empty.csv", "the file is empty (0 bytes)")),
    FileCase("only blanks", _write("blank.csv", "\n  \n\n"),
             lambda r, p: assert_refused(r, "blank.csv", "the file holds only blanks")),
    FileCase("header only", _from_frame("header.csv", lambda f: _csv_text(f.head(0))),
             lambda r, p: assert_refused(r, "header.csv", "has a header but no patient rows")),
    FileCase("header and empty rows only",
             _from_frame("emptyrows.csv", lambda f: _csv_text(f.head(0)) + "\n,,,\n\n"),
             lambda r, p: assert_refused(r, "emptyrows.csv", "no patient rows")),
    FileCase("semicolon-separated loads", _from_frame("semi.csv", lambda f: _csv_text(f, ";")),
             lambda r, p: assert_loaded(r, 118, "separated by ';'")),
    FileCase("tab-separated loads", _from_frame("tab.tsv", lambda f: _csv_text(f, "\t")),
             lambda r, p: assert_loaded(r, 118, "separated by '\\t'")),
    FileCase("pipe-separated loads", _from_frame("pipe.txt", lambda f: _csv_text(f, "|")),
             lambda r, p: assert_loaded(r, 118, "separated by '|'")),
    FileCase("Windows export (BOM, CRLF) loads",
             _from_frame("excel-export.csv",
                         lambda f: "\ufeff".encode() + _csv_text(f).replace("\n", "\r\n").encode()),
             lambda r, p: assert_loaded(r, 118)),
    FileCase("delimiter not detectable (one column)",
             _from_frame("spaces.csv", lambda f: _csv_text(f).replace(",", " ")),
             lambda r, p: assert_refused(r, "spaces.csv", "header: 26 of the 26 required columns "
                                         "are missing (patient_id, centre", "one single column",
                                         "Wrong delimiter",
                                         "[value: patient_id centre sex")),
    FileCase("Latin-1 accents in centre names load", _from_frame("latin1.csv", _latin1),
             lambda r, p: assert_loaded(r, 118, "not UTF-8 (first non-UTF-8 byte on line 2)",
                                        "Windows-1252")),
    FileCase("undecodable bytes", _from_frame("bytes.csv", _undecodable),
             lambda r, p: assert_refused(r, "bytes.csv", "bytes.csv, line 5: byte 0x81",
                                         "neither UTF-8 nor Windows-1252",
                                         "[rule: text encoding]", "[value: b'\\x81\\x8d")),
    FileCase("UTF-16 text", _from_frame("utf16.csv", lambda f: _csv_text(f).encode("utf-16")),
             lambda r, p: assert_refused(r, "utf16.csv", "contains NUL bytes",
                                         "UTF-16 export?")),
    FileCase("required columns missing",
             _from_frame("nocols.csv", lambda f: _csv_text(
                 f.drop(columns=["hb_at_stop_g_dl", "last_followup_date"]))),
             lambda r, p: assert_refused(
                 r, "nocols.csv",
                 "nocols.csv, header, column hb_at_stop_g_dl: required column is missing",
                 "nocols.csv, header, column last_followup_date: required column is missing")),
    FileCase("unknown extra column warns and loads",
             _from_frame("extra.csv", lambda f: _csv_text(f.assign(registry_note="checked"))),
             lambda r, p: assert_loaded(r, 118, "ignoring 1 column(s) not in the data "
                                        "dictionary: registry_note")),
    FileCase("duplicate column name",
             _from_frame("dupcol.csv", lambda f: _csv_text(pd.concat([f, f[["sex"]]], axis=1))),
             lambda r, p: assert_refused(r, "dupcol.csv", "dupcol.csv, header, column sex: the "
                                         "column appears more than once")),
    FileCase("no header line", _from_frame("noheader.csv",
                                           lambda f: _csv_text(f).split("\n", 1)[1]),
             lambda r, p: assert_refused(r, "noheader.csv", "required columns are missing",
                                         "no header line")),
    FileCase("quote never closed",
             _from_frame("quote.csv", lambda f: _csv_text(f).replace(",Centre 03,",
                                                                       ',"Centre 03,', 1)),
             lambda r, p: assert_refused(r, "quote.csv", "quote.csv, row 10: cannot be parsed",
                                         "[rule: well-formed CSV]")),
    FileCase("unquoted separator inside a value", _from_frame("comma.csv", _unquoted_comma),
             lambda r, p: assert_refused(r, "comma.csv",
                                         "comma.csv, row 5: 31 values but the header has 30",
                                         "comma.csv, row 10: 31 values",
                                         "[rule: as many values as columns]")),
    FileCase("blank lines keep file row numbers",
             _from_frame("gaps.csv", _blank_lines_then_bad_value),
             lambda r, p: assert_refused(r, "gaps.csv", "gaps.csv, row 10 (patient SYN-0007), "
                                         "column sex: must be one of F, M [value: X]")),
    FileCase("Excel: several data sheets, none chosen",
             _excel("sites.xlsx", {"site A": lambda f: f, "site B": lambda f: f}),
             lambda r, p: assert_refused(r, "sites.xlsx", "2 sheets (site A, site B)",
                                         "name the sheet to read (--sheet NAME)",
                                         "[rule: one data sheet]")),
    FileCase("Excel: several sheets, --sheet chooses one",
             _excel("chosen.xlsx", {"site A": lambda f: f.head(20), "site B": lambda f: f}),
             lambda r, p: assert_loaded(r, 118, "read sheet 'site B' of 2"),
             args=("--sheet", "site B")),
    FileCase("Excel: --sheet names no sheet",
             _excel("nosheet.xlsx", {"cohort": lambda f: f}),
             lambda r, p: assert_refused(r, "nosheet.xlsx", "no sheet named 'Sheet9'; the "
                                         "workbook has: cohort"), args=("--sheet", "Sheet9")),
    FileCase("Excel: a cohort sheet beside a notes sheet loads",
             _excel("notes.xlsx", {"notes": lambda f: pd.DataFrame({"about": ["export"]}),
                                   "cohort": lambda f: f}),
             lambda r, p: assert_loaded(r, 118, "read sheet 'cohort' of 2")),
    FileCase("Excel: merged header cells",
             _excel("merged.xlsx", {"cohort": lambda f: f}, _merge_header),
             lambda r, p: assert_refused(r, "merged.xlsx", "merged.xlsx, row 1: sheet 'cohort' "
                                         "has merged header cells (B1:C1)",
                                         "[rule: one header cell per column]")),
    FileCase("Excel: bad cell after a blank row, named by its sheet row",
             _excel("rows.xlsx", {"cohort": _bad_sex}, _blank_sheet_row),
             lambda r, p: assert_refused(r, "rows.xlsx", "rows.xlsx, row 7 (patient SYN-0005), "
                                         "column sex: must be one of F, M [value: unknown]")),
    FileCase("not an Excel workbook", _write("fake.xlsx", "patient_id,centre\n"),
             lambda r, p: assert_refused(r, "fake.xlsx", "not a readable Excel workbook")),
    FileCase("unknown file type", _write("extract.json", "{}"),
             lambda r, p: assert_refused(r, "extract.json", "unknown file type '.json'")),
    FileCase("too small for the multivariable model is not an error",
             _from_frame("small.csv", lambda f: _csv_text(pd.concat(
                 [f[f["ti_loss_date"].notna()].head(4), f[f["ti_loss_date"].isna()].head(11)]))),
             lambda r, p: assert_loaded(r, 15)),
    FileCase("day-unknown dates (YYYY-MM) load, set to the 15th and counted",
             _from_frame("months.csv", _month_only),
             lambda r, p: assert_loaded(r, 118, "months.csv: 3 dates of ti_loss_date had no "
                                        "day: set to the 15th (ti_loss_date_imputed is True")),
    FileCase("the layout without the optional columns loads",
             _from_frame("old.csv", _without_optional(keep_restarts=False)),
             lambda r, p: assert_loaded(r, 118)),
    FileCase("a LEN restart in RBC-TI without retreat_without_loss_reason is refused",
             _from_frame("restarts.csv", _without_optional(keep_restarts=True)),
             lambda r, p: assert_refused(r, "restarts.csv", "8 problems in 4 rows",
                                         "column len_retreat_date: LEN re-treatment is recorded "
                                         "only after loss of RBC-TI, but ti_loss_date is blank; "
                                         "for LEN restarted while still in RBC-TI, give the "
                                         "reason in retreat_without_loss_reason",
                                         "[rule: re-treatment needs loss of TI]",
                                         "retreat_without_loss_reason=(blank)]")),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.id for c in FILE_CASES])
def test_whole_file_case(case, shipped_text, tmp_path):
    path = case.make(shipped_text.copy(), tmp_path)
    case.check(run_main("validate", str(path), *case.args), path)


def test_whole_file_case_in_a_subprocess(shipped_text, tmp_path):
    """The same report from a separate interpreter (as the row-level and build cases run)."""
    case = next(c for c in FILE_CASES if c.id == "undecodable bytes")
    path = case.make(shipped_text.copy(), tmp_path)
    result = run("validate", str(path))
    case.check(result, path)
    assert result.stderr == run_main("validate", str(path)).stderr


# ---------------------------------------------------------------- row-level cases

DAY = dt.timedelta(days=1)


def _date(text: str) -> dt.date:
    """An ISO date; a day-unknown YYYY-MM one as validation reads it (the 15th)."""
    return dt.date.fromisoformat(f"{text}-15" if len(text) == 7 else text)


@dataclass
class RowCase:
    """A row-level case: `pick` chooses a patient, `change` breaks it in place.

    The report must hold a line for (that patient's row, `column`) containing `text` and the
    offending `value` (computed after the change when None).
    """

    id: str
    column: str
    text: str
    change: Callable[[pd.DataFrame, int], None]
    pick: Callable[[pd.DataFrame], pd.Series] = lambda f: f["patient_id"].notna()
    value: str | Callable[[pd.DataFrame, int], str] = ""
    extra_rows: list[int] = field(default_factory=list)
    rule: str = ""
    """For a cross-column rule, its id, which the line must name as [rule: id]."""


def _set(**cells) -> Callable[[pd.DataFrame, int], None]:
    def change(frame: pd.DataFrame, i: int) -> None:
        for col, value in cells.items():
            frame.loc[i, col] = value(frame, i) if callable(value) else value
    return change


def _given(*cols: str, blank: tuple[str, ...] = (), **equal) -> Callable:
    def pick(frame: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=frame.index)
        for c in cols:
            ok &= frame[c].notna()
        for c in blank:
            ok &= frame[c].isna()
        for c, v in equal.items():
            ok &= frame[c].eq(v)
        return ok
    return pick


CATEGORIES = [c for c in COLUMNS if c.kind == "category"]
NUMBERS = [c for c in COLUMNS if c.kind in ("int", "float")]
TEXT_IN_NUMBER = {"age_at_len_stop": "seventy", "tb_units_8wk_pre_len": "3 units",
                  "len_cycles": "twelve", "len_dose_at_stop_mg": "10mg",
                  "hb_at_stop_g_dl": "12,4", "anc_at_stop": "n/a", "plt_at_stop": ">400"}
OUT_OF_RANGE = [("hb_at_stop_g_dl", "25.1"), ("hb_at_stop_g_dl", "1.5"),
                ("age_at_len_stop", "140"), ("len_cycles", "0"), ("len_dose_at_stop_mg", "50"),
                ("tb_units_8wk_pre_len", "-1"), ("anc_at_stop", "75"), ("plt_at_stop", "2500")]
PICK_FOR_CATEGORY = {"ccyr_lost": _given("ccyr_lost"),
                     "retreat_ti_regained": _given("retreat_ti_regained")}

CELL_CASES = [
    RowCase("duplicate patient id", "patient_id", "duplicate patient id",
            _set(patient_id=lambda f, i: f.loc[i - 1, "patient_id"]),
            pick=lambda f: f.index > 0, value=lambda f, i: f.loc[i, "patient_id"]),
    RowCase("blank patient id", "patient_id", "must not be blank", _set(patient_id=None),
            value="(blank)"),
    RowCase("blank required cell", "sex", "must not be blank", _set(sex=None), value="(blank)"),
    RowCase("blank required date", "len_stop_date", "must not be blank",
            _set(len_stop_date=None), value="(blank)"),
    *[RowCase(f"unknown {c.name}", c.name, f"must be one of {', '.join(c.allowed)}",
              _set(**{c.name: "zzz"}), pick=PICK_FOR_CATEGORY.get(c.name, _given(c.name)),
              value="zzz") for c in CATEGORIES],
    RowCase("unparseable date", "last_followup_date", "ISO date YYYY-MM-DD",
            _set(last_followup_date="31/12/2021"), pick=_given(blank=("death_date",)),
            value="31/12/2021"),
    RowCase("impossible date 2023-02-30", "len_start_date", "exists in the calendar",
            _set(len_start_date="2023-02-30"), value="2023-02-30"),
    RowCase("date with a time", "ti_start_date", "ISO date YYYY-MM-DD",
            _set(ti_start_date="2010-01-05 10:30"), value="2010-01-05 10:30"),
    RowCase("year-only date", "len_start_date", "a year alone cannot be placed",
            _set(len_start_date="2011"), value="2011"),
    RowCase("day-unknown date with no such month", "ti_loss_date", "or YYYY-MM when the day "
            "is unknown", _set(ti_loss_date="2019-13"), pick=_given("ti_loss_date"),
            value="2019-13"),
    RowCase("date in the future", "last_followup_date", "not in the future",
            _set(last_followup_date="2099-01-01"), pick=_given(blank=("death_date",)),
            value="2099-01-01"),
    *[RowCase(f"text in {c.name}", c.name, "must be a", _set(**{c.name: TEXT_IN_NUMBER[c.name]}),
              pick=_given(c.name), value=TEXT_IN_NUMBER[c.name]) for c in NUMBERS],
    RowCase("cycles not a whole number", "len_cycles", "a whole number",
            _set(len_cycles="12.5"), value="12.5"),
    *[RowCase(f"{col} out of range ({value})", col,
              "must be " + next(c for c in COLUMNS if c.name == col).rule_text(),
              _set(**{col: value}), value=value) for col, value in OUT_OF_RANGE],
    RowCase("TI lost but re-treatment dates contradict it (no loss recorded)",
            "len_retreat_date", "ti_loss_date is blank",
            _set(len_retreat_date=lambda f, i: f.loc[i, "last_followup_date"],
                 retreat_ti_regained="yes",
                 retreat_ti_date=lambda f, i: f.loc[i, "last_followup_date"]),
            pick=_given(blank=("ti_loss_date", "death_date")),
            value=lambda f, i: f"ti_loss_date=(blank), len_retreat_date="
                               f"{f.loc[i, 'last_followup_date']}, "
                               "retreat_without_loss_reason=(blank)"),
    RowCase("re-treatment answered 'no' but a regained-TI date given", "retreat_ti_date",
            "a regained-TI date goes with retreat_ti_regained = yes",
            _set(retreat_ti_date=lambda f, i: f.loc[i, "last_followup_date"]),
            pick=_given(retreat_ti_regained="no", blank=("death_date",)),
            value=lambda f, i: f"retreat_ti_regained=no, retreat_ti_date="
                               f"{f.loc[i, 'last_followup_date']}"),
]


def _earlier(col: str) -> Callable:
    return lambda f, i: (_date(f.loc[i, col]) - DAY).isoformat()


RULE_CHANGES: dict[str, tuple[Callable, Callable]] = {
    # rule id: (pick, change) for the rules that are not "later >= earlier" date orders
    "death_date = last_followup_date": (
        _given("death_date"), _set(last_followup_date=lambda f, i: (
            _date(f.loc[i, "death_date"]) + 10 * DAY).isoformat())),
    "re-treatment needs loss of TI": (
        _given(blank=("ti_loss_date", "len_retreat_date", "death_date")),
        _set(len_retreat_date=lambda f, i: f.loc[i, "last_followup_date"],
             retreat_ti_regained="no")),
    "regained answer needs re-treatment": (_given(blank=("len_retreat_date",)),
                                           _set(retreat_ti_regained="no")),
    "re-treatment needs regained answer": (_given(retreat_ti_regained="no"),
                                           _set(retreat_ti_regained=None)),
    "regained date iff regained": (_given(retreat_ti_regained="yes"),
                                   _set(retreat_ti_date=None, retreat_ti_loss_date=None)),
    "second loss needs regained TI": (
        _given(retreat_ti_regained="no", blank=("death_date",)),
        _set(retreat_ti_loss_date=lambda f, i: f.loc[i, "last_followup_date"])),
    "CCyR loss needs re-evaluation": (_given(ccyr_at_stop="yes", blank=("cyto_reeval_date",)),
                                      _set(ccyr_lost="yes")),
    "re-evaluation in CCyR needs answer": (_given("cyto_reeval_date", ccyr_at_stop="yes"),
                                           _set(ccyr_lost=None)),
    "CCyR loss needs CCyR": (
        _given(ccyr_at_stop="no", blank=("cyto_reeval_date", "death_date")),
        _set(cyto_reeval_date=lambda f, i: f.loc[i, "last_followup_date"], ccyr_lost="yes")),
    "restart reason needs restart date": (_given(blank=("len_retreat_date",)),
                                          _set(retreat_without_loss_reason="falling_hb")),
    "restart without loss precedes any loss": (
        _given("ti_loss_date", "len_retreat_date", blank=("retreat_ti_date",)),
        _set(retreat_without_loss_reason="cytogenetic_relapse", retreat_ti_regained=None)),
    "no regained answer after a restart in TI": (_given("retreat_without_loss_reason"),
                                                 _set(retreat_ti_regained="no")),
    "later therapy type iff date": (_given("dmt_type"), _set(dmt_start_date=None)),
}
ORDER = re.compile(r"^(\w+) >= (\w+)$")


def _rule_case(rule) -> RowCase:
    m = ORDER.match(rule.id)
    if m:  # later >= earlier: put `later` the day before `earlier`
        later, earlier = m.groups()
        moved = {later: _earlier(earlier)}
        if later == "death_date":  # keep last follow-up on the death date: one rule broken
            moved["last_followup_date"] = _earlier(earlier)
        pick, change = _given(earlier), _set(**moved)
    elif rule.id in RULE_CHANGES:
        pick, change = RULE_CHANGES[rule.id]
    else:
        pick, change = (lambda f: f.index < 0), _set()  # no case: the test below fails

    def value(f, i, rule=rule):
        return ", ".join(f"{c}={'(blank)' if pd.isna(f.loc[i, c]) else f.loc[i, c]}"
                         for c in rule.involves)

    return RowCase(f"rule: {rule.id}", rule.column, rule.text, change, pick=pick, value=value,
                   rule=rule.id)


RULE_CASES = [_rule_case(r) for r in RULES]
ROW_CASES = CELL_CASES + RULE_CASES


def _prefer_later_set(case: RowCase, frame: pd.DataFrame) -> pd.Series:
    """Rows the case may use, those with the rule's later date already set first."""
    ok = case.pick(frame)
    m = ORDER.match(case.id.removeprefix("rule: "))
    if m:
        both = ok & frame[m.group(1)].notna()
        if both.any():
            return both
    return ok


@pytest.fixture(scope="module")
def row_extract(shipped_text, tmp_path_factory) -> dict:
    """One extract where every row-level case breaks its own patient, and its one report."""
    frame = shipped_text.copy()
    used: set[int] = set()
    rows: dict[str, int] = {}
    # the most selective cases choose first, so that each finds a patient it can break
    order = sorted(ROW_CASES, key=lambda c: int(_prefer_later_set(c, shipped_text).sum()))
    for case in order:
        ok = _prefer_later_set(case, shipped_text)
        pair = case.id == "duplicate patient id"  # takes a patient's id for the next one
        free = [i for i in frame.index[ok] if i not in used and not (pair and i - 1 in used)]
        if not free:
            continue
        i = free[0]
        used.update({i - 1, i} if pair else {i})
        case.change(frame, i)
        rows[case.id] = i
    path = write_csv(frame, tmp_path_factory.mktemp("row-cases") / "rows.csv")
    return {"frame": frame, "rows": rows, "path": path, "result": run("validate", str(path))}


def expected_line(case: RowCase, frame: pd.DataFrame, i: int, name: str) -> tuple[str, str]:
    pid = frame.loc[i, "patient_id"]
    patient = "" if pd.isna(pid) else f" (patient {pid})"
    value = case.value(frame, i) if callable(case.value) else case.value
    return f"{name}, row {i + 2}{patient}, column {case.column}: ", f"[value: {value}]"


@pytest.mark.parametrize("case", ROW_CASES, ids=[c.id for c in ROW_CASES])
def test_row_case(case, row_extract):
    assert case.id in row_extract["rows"], f"no patient of the shipped cohort fits {case.id!r}"
    i = row_extract["rows"][case.id]
    result = row_extract["result"]
    start, value = expected_line(case, row_extract["frame"], i, "rows.csv")
    hits = [line for line in problem_lines(result) if line.startswith(start)]
    tag = f" [rule: {case.rule}]" if case.rule else ""
    assert any(case.text in h and tag in h and h.endswith(value) for h in hits), (
        f"expected {start}...{case.text}...{value}; got:\n" + "\n".join(hits or ["(none)"]))
    if case.id == "duplicate patient id":  # both rows holding the id are named
        other, _ = expected_line(case, row_extract["frame"], i - 1, "rows.csv")
        assert any(line.startswith(other) for line in problem_lines(result))


def test_every_rule_has_a_case():
    """Each cross-field rule is broken by a case of its own: a `later >= earlier` rule by the
    date moved the day before, any other by an entry of RULE_CHANGES; a new rule without one
    fails here (and a case whose patient cannot be found fails in the row report)."""
    without = [r.id for r in RULES if not ORDER.match(r.id) and r.id not in RULE_CHANGES]
    assert without == []
    assert not set(RULE_CHANGES) - {r.id for r in RULES}, "a case for a rule that is gone"
    assert len(RULES) >= 30


def test_row_cases_come_in_one_report(row_extract):
    result = row_extract["result"]
    lines = problem_lines(result)
    assert_refused(result, "rows.csv")
    n_rows = len({line.split(",")[1] for line in lines})
    assert result.stderr.startswith(f"rows.csv: {len(lines)} problems in {n_rows} rows; ")
    assert len(row_extract["rows"]) == len(ROW_CASES)
    assert n_rows >= len(ROW_CASES)  # every case's patient (the duplicate id names two rows)
    numbers = [int(re.search(r", row (\d+)", line).group(1)) for line in lines]
    assert numbers == sorted(numbers)  # in file order


# ---------------------------------------------------------------- through `lenstop build`

BUILD_CASES = ["missing file", "empty file (0 bytes)", "delimiter not detectable (one column)",
               "undecodable bytes", "required columns missing", "Excel: merged header cells",
               "every row-level problem at once"]


def _plain(html: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r'(src|href)="data:[^"]*"', " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text.replace("&nbsp;", " ").replace("\xa0", " "))


@pytest.fixture(scope="module")
def good_build(request, shipped_text):
    """A report built from the shipped cohort with Hb blank for HB_BLANKED patients and an
    extra column (`_builds.changed_extract()`), in the session's shared build folder."""
    build = changed_build(request.config)
    report = build.out / "_manuscript" / "index.html"
    return {"data": build.data, "out": build.out, "result": build.run, "report": report,
            "bytes": report.read_bytes(), "mtime": report.stat().st_mtime_ns,
            "results": (build.out / "results" / "results.json").read_bytes(),
            "shipped": shipped_text}


def _bad_extract(case: str, good: dict) -> Path:
    """Overwrite the good extract (same name, so same build folder) with a bad one."""
    data: Path = good["data"]
    for other in data.parent.glob(f"{NAME}.*"):
        other.unlink()
    shipped = good["shipped"]
    if case == "missing file":
        return data
    if case == "every row-level problem at once":
        return write_csv(_row_level_frame(shipped), data)
    if case == "Excel: merged header cells":
        made = _excel(f"{NAME}.xlsx", {"cohort": lambda f: f}, _merge_header)(shipped,
                                                                              data.parent)
        return made
    file_case = next(c for c in FILE_CASES if c.id == case)
    made = file_case.make(shipped, data.parent)
    made.rename(data)
    return data


def _row_level_frame(shipped: pd.DataFrame) -> pd.DataFrame:
    frame = shipped.copy()
    frame.loc[0, "sex"] = "X"
    frame.loc[5, "len_start_date"] = "2023-02-30"
    frame.loc[7, "hb_at_stop_g_dl"] = "99"
    frame.loc[9, "ti_start_date"] = "2000-01-01"
    return frame


BUILD_EXPECT = {
    "missing file": [f"{NAME}.csv: no such file"],
    "empty file (0 bytes)": [f"{NAME}.csv: the file is empty (0 bytes)"],
    "delimiter not detectable (one column)": ["one single column", "Wrong delimiter"],
    "undecodable bytes": [f"{NAME}.csv, line 5: byte 0x81"],
    "required columns missing": [f"{NAME}.csv, header, column hb_at_stop_g_dl: required column"],
    "Excel: merged header cells": [f"{NAME}.xlsx, row 1: sheet 'cohort' has merged header"],
    "every row-level problem at once": [
        f"{NAME}.csv: 4 problems in 4 rows; nothing was built.",
        f"{NAME}.csv, row 2 (patient SYN-0001), column sex: must be one of F, M [value: X]",
        f"{NAME}.csv, row 7 (patient SYN-0006), column len_start_date: must be an ISO date",
        f"{NAME}.csv, row 9 (patient SYN-0008), column hb_at_stop_g_dl: must be a number from "
        "3 to 20 g/dL [value: 99]",
        f"{NAME}.csv, row 11 (patient SYN-0010), column ti_start_date: RBC-TI cannot start "
        "before LEN [rule: ti_start_date >= len_start_date]"],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BUILD_CASES)
def test_build_refuses_bad_data_and_keeps_the_last_report(case, good_build):
    data = _bad_extract(case, good_build)
    result = run("build", "--data", str(data))
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "nothing was built" in result.stderr
    for text in BUILD_EXPECT[case]:
        assert text in result.stderr, f"{text!r} not in\n{result.stderr}"
    report: Path = good_build["report"]
    assert report.read_bytes() == good_build["bytes"]
    assert report.stat().st_mtime_ns == good_build["mtime"]
    assert (good_build["out"] / "results" / "results.json").read_bytes() == good_build["results"]


# ---------------------------------------------------------------- missing data (good build)

@pytest.mark.slow
def test_unknown_column_warns_and_the_build_goes_on(good_build):
    result = good_build["result"]
    assert "warning: " in result.stderr
    assert "ignoring 1 column(s) not in the data dictionary: registry_note" in result.stderr
    assert good_build["report"].is_file()


@pytest.mark.slow
def test_missing_values_are_counted_never_silently_dropped(good_build):
    out = good_build["out"]
    r = results.read(out / "results" / "results.json")
    n = r["cohort"]["n_patients"]
    assert n == 118
    assert r["cohort"]["hb_at_stop"]["missing"] == HB_BLANKED
    assert r["cohort"]["missing"]["hb_at_stop_g_dl"] == HB_BLANKED
    ti = r["ti_duration"]
    multi = ti["cox_multivariable"]
    assert (multi["n"], multi["n_dropped"]) == (n - HB_BLANKED, HB_BLANKED)
    uni_hb = next(t for t in ti["cox_univariable"] if t["term"] == "hb")
    assert uni_hb["n"] == n - HB_BLANKED
    assert ti["fine_gray"]["n"] == n - HB_BLANKED
    # Table 1 counts them; the Cox table gives each model's n
    table1 = (out / "results" / "tables" / "table1.md").read_text(encoding="utf-8")
    hb_row = next(line for line in table1.splitlines() if line.startswith("| Hb at withdrawal"))
    assert hb_row.rstrip(" |").endswith(f"| {HB_BLANKED}")
    cox = (out / "results" / "tables" / "cox_models.md").read_text(encoding="utf-8")
    assert f"Multivariable model: n = {n - HB_BLANKED}" in cox
    # the manuscript variables and the manuscript say how many patients the models used
    v = yaml.safe_load((out / "_variables.yml").read_text(encoding="utf-8"))
    used = (f"the {n - HB_BLANKED} of {n} patients with complete data ({HB_BLANKED} left out "
            "for missing values)")
    assert used in v["cox"]["multi_sentence"]
    assert f"Hb at withdrawal for {HB_BLANKED} patients" in v["cohort"]["missing"]
    assert f"{n - HB_BLANKED} patients" in v["cox"]["fg_sentence"]
    text = _plain(good_build["bytes"].decode("utf-8"))
    assert used in text
    assert re.search(rf"in it, values were missing for [^.]*Hb at withdrawal for {HB_BLANKED} "
                     "patients", text)
