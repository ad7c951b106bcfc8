"""A crosswalk file maps a registry's extract onto the data dictionary.

Registries do not export our column names, codes or units. A crosswalk (YAML) says which of
the extract's columns is which dictionary column, what its codes mean, the unit of its lab
values, and how its dates and numbers are written; `apply_crosswalk` turns the extract's
cells into the dictionary's before validation, and `draft_crosswalk` writes a first one.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from lenstop.ingest.problems import DataError, Problem
from lenstop.ingest.readers import RawTable
from lenstop.ingest.schema import COLUMN_BY_NAME, COLUMNS

SECTIONS = ("columns", "values", "units", "date_format", "decimal", "delimiter")

UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "hb_at_stop_g_dl": {"g/dL": (1, 1), "g/L": (1, 10), "mmol/L": (1.611, 1)},
    "anc_at_stop": {"x10^9/L": (1, 1), "x10^3/µL": (1, 1), "/µL": (1, 1000)},
    "plt_at_stop": {"x10^9/L": (1, 1), "x10^3/µL": (1, 1), "/µL": (1, 1000)},
    "tb_units_8wk_pre_len": {"RBC units / 8 weeks": (1, 1), "RBC units / 16 weeks": (1, 2)},
}
"""Units a crosswalk may give, per column: (multiply, divide) to reach the dictionary's unit
(the first). 1 mmol/L of haemoglobin (monomer) is 1.611 g/dL."""

UNIT_ALIASES: dict[str, str] = {
    "g/l": "g/L", "g/dl": "g/dL", "mmol/l": "mmol/L",
    "x10^9/l": "x10^9/L", "10^9/l": "x10^9/L", "x10e9/l": "x10^9/L", "g/l (giga)": "x10^9/L",
    "giga/l": "x10^9/L", "x10^3/ul": "x10^3/µL", "10^3/ul": "x10^3/µL", "k/ul": "x10^3/µL",
    "/ul": "/µL", "cells/ul": "/µL", "per ul": "/µL", "/mm3": "/µL", "/mm^3": "/µL",
    "rbc units / 8 weeks": "RBC units / 8 weeks", "units/8 weeks": "RBC units / 8 weeks",
    "units/8wk": "RBC units / 8 weeks", "rbc units / 16 weeks": "RBC units / 16 weeks",
    "units/16 weeks": "RBC units / 16 weeks", "units/16wk": "RBC units / 16 weeks",
}
"""Other spellings of the units above (compared without spaces, lower-case, µ as u)."""

UNIT_HINTS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "hb_at_stop_g_dl": (("g/L", 30, 200), ("mmol/L", 1.9, 9.0)),
    "anc_at_stop": (("/µL", 100, 50_000),),
    "plt_at_stop": (("/µL", 5_000, 2_000_000),),
}
"""(unit, low, high): an extract whose median lies there most likely gives that unit."""

DATE_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%m/%d/%Y", "%m-%d-%Y", "%d.%m.%y",
                "%d/%m/%y", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%d%b%Y", "%d-%b-%Y", "%d %b %Y")
"""Date formats `likely_date_formats` recognises (day-first before month-first)."""

EXAMPLE = """\
columns:        # dictionary column: the extract's column
  patient_id: PatNr
  centre: Zentrum
  sex: Geschlecht
  age_at_len_stop: Alter_bei_Stopp
  ipssr: IPSS_R
  karyotype: Karyotyp
  tb_units_8wk_pre_len: EK_pro_8_Wochen
  len_start_date: LEN_Beginn
  ti_start_date: TU_Beginn
  len_cycles: LEN_Zyklen
  len_dose_at_stop_mg: LEN_Dosis_mg
  len_stop_date: LEN_Stopp
  stop_reason: Stoppgrund
  hb_at_stop_g_dl: Hb_bei_Stopp
  anc_at_stop: ANC_bei_Stopp
  plt_at_stop: Thrombozyten_bei_Stopp
  ccyr_at_stop: CCyR_bei_Stopp
  cyto_reeval_date: Zytogenetik_Datum
  ccyr_lost: CCyR_verloren
  ti_loss_date: TU_Verlust
  aml_date: AML_Datum
  len_retreat_date: LEN_erneut
  retreat_ti_regained: TU_erneut_erreicht
  retreat_ti_date: TU_erneut_Beginn
  retreat_ti_loss_date: TU_erneut_Verlust
  retreat_without_loss_reason: LEN_erneut_ohne_Verlust
  dmt_type: Folgetherapie
  dmt_start_date: Folgetherapie_Beginn
  death_date: Todesdatum
  last_followup_date: Letzter_Kontakt
values:         # dictionary column: {extract value: dictionary value}
  sex: {"1": M, "2": F}
  ipssr: {"1": very_low, "2": low, "3": intermediate}
  karyotype: {"1": isolated_del5q, "2": del5q_plus1}
  stop_reason: {"1": intolerance, "2": physician, "3": patient, "9": unknown}
  ccyr_at_stop: {"ja": "yes", "nein": "no", "n.u.": not_assessed}
  ccyr_lost: {"ja": "yes", "nein": "no"}
  retreat_ti_regained: {"ja": "yes", "nein": "no"}
units:          # dictionary column: unit of the extract's values
  hb_at_stop_g_dl: g/L      # g/dL (the dictionary's), g/L or mmol/L; converted on load
date_format: "%d.%m.%Y"     # every date column; ISO is the default
decimal: ","                # for text files
delimiter: ";"              # for text files; detected when absent
"""
"""The worked example of data/README.md: a registry's German-language export (the acceptance
test builds that export from the shipped cohort and loads it through this crosswalk)."""

EXAMPLE_EXTRACT = """\
PatNr;Geschlecht;Stoppgrund;LEN_Stopp;Hb_bei_Stopp;ANC_bei_Stopp;CCyR_bei_Stopp;TU_Verlust
R-0001;2;2;26.09.2013;124;2,49;n.u.;01.06.2018
R-0002;1;1;27.10.2013;98,5;NA;ja;
"""
"""A few columns of that export, as data/README.md shows them and what they read as."""


@dataclass(frozen=True)
class Crosswalk:
    """A parsed crosswalk: what to rename, recode and convert, and where each entry stands."""

    path: Path
    columns: dict[str, str] = field(default_factory=dict)
    """Dictionary column -> the extract's column (or variable label)."""
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    """Dictionary column -> {extract value (folded by `code_key`): dictionary value or None}."""
    units: dict[str, str] = field(default_factory=dict)
    """Dictionary column -> unit of the extract's values (a key of `UNITS[column]`)."""
    date_format: str | None = None
    decimal: str | None = None
    delimiter: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    """'columns.sex' -> the line of the file that entry is on."""
    problems: tuple[Problem, ...] = ()
    """What is wrong with the file itself; such entries are left out of the above."""

    def line(self, *keys: str) -> str:
        """'line N' of an entry, e.g. `line('values', 'sex')`; '' if unknown."""
        n = self.lines.get(".".join(keys))
        return f"line {n}" if n else ""

    def check(self) -> Crosswalk:
        """Raise DataError with the file's problems, if any; else return self."""
        if self.problems:
            raise DataError(list(self.problems))
        return self


def as_crosswalk(mapping: str | Path | Crosswalk | None) -> Crosswalk | None:
    """A Crosswalk from a path (parsed), a Crosswalk (as is) or None."""
    if mapping is None or isinstance(mapping, Crosswalk):
        return mapping
    return load_crosswalk(mapping)


def code_key(value: str) -> str:
    """A code compared as the crosswalk compares them: case and spaces ignored, '1.0' as '1'."""
    text = str(value).strip().casefold()
    return re.sub(r"^(-?\d+)\.0+$", r"\1", text)


def unit_name(column: str, text: str) -> str | None:
    """The canonical name of `text` as a unit of `column`, None if it is not one."""
    known = UNITS.get(column) or ({COLUMN_BY_NAME[column].unit: (1, 1)}
                                  if column in COLUMN_BY_NAME and COLUMN_BY_NAME[column].unit
                                  else {})

    def fold(t: str) -> str:
        t = t.strip().lower().replace("µ", "u").replace("μ", "u").replace("×", "x")
        return re.sub(r"\s+", "", t.replace("*", "x"))

    for name in known:
        if fold(name) == fold(text):
            return name
    alias = {fold(a): u for a, u in UNIT_ALIASES.items()}.get(fold(text))
    return alias if alias in known else None


def known_units(column: str) -> list[str]:
    """The units a crosswalk may give for `column` (the dictionary's first)."""
    spec = COLUMN_BY_NAME[column]
    return list(UNITS.get(column, {spec.unit: (1, 1)} if spec.unit else {}))


def convert(column: str, unit: str, x: float) -> float:
    """`x` given in `unit` as a value in the dictionary's unit of `column`."""
    mul, div = UNITS.get(column, {}).get(unit, (1, 1))
    if (mul, div) == (1, 1):
        return x
    return round(x * mul / div, 9)


# ------------------------------------------------------------------ reading the file

def load_crosswalk(path: str | Path) -> Crosswalk:
    """Parse and check a crosswalk file; every problem with it is kept in `problems`.

    Raises DataError only when nothing can be read (no file, not YAML, not a mapping).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError([Problem(path, rule="crosswalk file exists", message=(
            "no such file" if not path.exists() else "is a folder, not a crosswalk file"))])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError([Problem(path, rule="crosswalk: valid YAML",
                                 message="not a UTF-8 text file")]) from None
    return parse_crosswalk(text, path)


def parse_crosswalk(text: str, path: str | Path = "crosswalk.yml") -> Crosswalk:
    """Parse crosswalk `text` (messages name `path`); see `load_crosswalk`."""
    path = Path(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError([Problem(path, row=f"line {mark.line + 1}" if mark else "",
                                 rule="crosswalk: valid YAML", message=(
                                     f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))]
                        ) from None
    if not isinstance(root, yaml.MappingNode):
        raise DataError([Problem(path, row=f"line {root.start_mark.line + 1}" if root else "",
                                 rule="crosswalk: sections", message=(
                                     "a crosswalk is a YAML mapping with the sections "
                                     f"{', '.join(SECTIONS)} (see data/README.md)"))])
    return _Parser(path).parse(root)


class _Parser:
    """Walks the YAML nodes (not the loaded values, so that `yes`, `1` or `1.0` stay the
    text the user wrote) and collects every problem."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}

    def problem(self, node, rule: str, message: str, column: str = "") -> None:
        self.problems.append(Problem(self.path, row=f"line {node.start_mark.line + 1}",
                                     column=column, rule=f"crosswalk: {rule}", message=message))

    def pairs(self, node, where: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """A mapping's (key text, key node, value node), duplicates reported; an empty
        section (only comments under it) has none."""
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "sections", f"{where} must be a mapping (name: value lines)")
            return []
        out, seen = [], set()
        for k, v in node.value:
            key = self.text(k, where)
            if key is None:
                continue
            if key in seen:
                self.problem(k, "each entry once", f"{where} lists {key!r} twice")
                continue
            seen.add(key)
            out.append((key, k, v))
        return out

    def text(self, node, where: str) -> str | None:
        """A scalar's text as written; None for null (and a problem for a list or mapping)."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, "sections", f"{where}: expected a single value, not a list or "
                         "mapping")
            return None
        if node.tag == "tag:yaml.org,2002:null":
            return None
        return node.value

    def parse(self, root) -> Crosswalk:
        found: dict[str, tuple] = {}
        for key, knode, vnode in self.pairs(root, "the crosswalk"):
            if key not in SECTIONS:
                close = difflib.get_close_matches(key, SECTIONS, n=1)
                self.problem(knode, "sections", f"unknown section {key!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f"; the sections are {', '.join(SECTIONS)}")
                continue
            self.lines[key] = knode.start_mark.line + 1
            found[key] = (knode, vnode)
        columns = self.columns(found["columns"][1]) if "columns" in found else {}
        values = self.values(found["values"][1]) if "values" in found else {}
        units = self.units(found["units"][1]) if "units" in found else {}
        date_format = self.date_format(found["date_format"][1]) if "date_format" in found \
            else None
        decimal = self.choice(found, "decimal", (".", ","))
        delimiter = self.choice(found, "delimiter", (",", ";", "\t", "|"))
        return Crosswalk(self.path, columns, values, units, date_format, decimal, delimiter,
                         self.lines, tuple(self.problems))

    def dictionary_column(self, name: str, node, section: str) -> bool:
        if name in COLUMN_BY_NAME:
            return True
        close = difflib.get_close_matches(name, COLUMN_BY_NAME, n=3, cutoff=0.5)
        self.problem(node, "known dictionary column", f"{section}: {name!r} is not a column of "
                     "the data dictionary" + (f" (closest: {', '.join(close)})" if close else "")
                     + "; the keys are dictionary columns (data/README.md)", column=name)
        return False

    def columns(self, node) -> dict[str, str]:
        out: dict[str, str] = {}
        sources: dict[str, str] = {}
        for name, knode, vnode in self.pairs(node, "columns"):
            if not self.dictionary_column(name, knode, "columns"):
                continue
            source = self.text(vnode, f"columns: {name}")
            if source is None:
                continue  # `name:` left empty: not in this extract
            self.lines[f"columns.{name}"] = knode.start_mark.line + 1
            if source in sources:
                self.problem(vnode, "one column each", f"columns: {source!r} is given for both "
                             f"{sources[source]} and {name}", column=name)
                continue
            sources[source] = name
            out[name] = source
        return out

    def values(self, node) -> dict[str, dict[str, str | None]]:
        out: dict[str, dict[str, str | None]] = {}
        for name, knode, vnode in self.pairs(node, "values"):
            if not self.dictionary_column(name, knode, "values"):
                continue
            self.lines[f"values.{name}"] = knode.start_mark.line + 1
            spec = COLUMN_BY_NAME[name]
            allowed = {a.casefold(): a for a in spec.allowed}
            codes: dict[str, str | None] = {}
            for code, cnode, tnode in self.pairs(vnode, f"values: {name}"):
                target = self.text(tnode, f"values: {name}: {code}")
                if target is not None and spec.kind == "category":
                    if target.casefold() not in allowed:
                        self.problem(tnode, "known dictionary value", f"values: {name}: "
                                     f"{code!r} is mapped to {target!r}, which is not one of "
                                     f"{', '.join(spec.allowed)}", column=name)
                        continue
                    target = allowed[target.casefold()]
                key = code_key(code)
                if key in codes:
                    self.problem(cnode, "each entry once", f"values: {name}: {code!r} is "
                                 "listed twice (codes are compared ignoring case)", column=name)
                    continue
                codes[key] = target
            out[name] = codes
        return out

    def units(self, node) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, knode, vnode in self.pairs(node, "units"):
            if not self.dictionary_column(name, knode, "units"):
                continue
            text = self.text(vnode, f"units: {name}")
            if text is None:
                continue
            self.lines[f"units.{name}"] = knode.start_mark.line + 1
            unit = unit_name(name, text)
            if unit is None:
                known = known_units(name)
                self.problem(vnode, "known unit", f"units: {text!r} is not a unit this column "
                             "can be converted from; "
                             + (f"known: {', '.join(known)}" if known else
                                "the column has no unit"), column=name)
                continue
            out[name] = unit
        return out

    def date_format(self, node) -> str | None:
        import datetime as dt

        fmt = self.text(node, "date_format")
        if fmt is None:
            return None
        probe = dt.date(2001, 11, 23)
        try:
            ok = dt.datetime.strptime(probe.strftime(fmt), fmt).date() == probe
        except ValueError:
            ok = False
        if not ok:
            self.problem(node, "date format", f"date_format {fmt!r} does not give day, month "
                         "and year: write it with %d, %m (or %b) and %Y (or %y), e.g. "
                         "\"%d.%m.%Y\" for 31.12.2021")
            return None
        return fmt

    def choice(self, found: dict, section: str, allowed: tuple[str, ...]) -> str | None:
        if section not in found:
            return None
        node = found[section][1]
        value = self.text(node, section)
        if value == "\\t" or (value or "").lower() == "tab":
            value = "\t"
        if value is not None and value not in allowed:
            self.problem(node, section, f"{section} {value!r} is not one of "
                         f"{', '.join(repr(a) for a in allowed)}")
            return None
        return value


# ------------------------------------------------------------------ applying it

def apply_crosswalk(raw: RawTable, cw: Crosswalk) -> RawTable:
    """The extract in the dictionary's terms: columns renamed, codes recoded, numbers with a
    '.' decimal in the dictionary's units and dates as ISO text.

    What cannot be applied (an extract column that is not there, codes without a mapping) and
    the crosswalk file's own problems go into the result's `problems`, to be reported with
    validation's; cells they cover are `settled`. `shown` keeps the cells as the file has them.
    """
    problems = list(raw.problems) + list(cw.problems)
    frame = raw.frame
    cols = list(frame.columns)
    by_label = {lab: n for n, lab in raw.variable_labels.items() if n in cols}
    rename: dict[str, str] = {}
    for name, source in cw.columns.items():
        actual = source if source in cols else by_label.get(source)
        if actual is None:
            close = difflib.get_close_matches(source, cols, n=3, cutoff=0.6)
            problems.append(Problem(
                cw.path, row=cw.line("columns", name), column=name,
                rule="crosswalk: extract column exists",
                message=f"{raw.path.name} has no column {source!r}"
                + (f" (closest: {', '.join(repr(c) for c in close)})" if close else
                   f"; its columns are {_clip(', '.join(cols))}")))
            continue
        rename[actual] = name
    clash = [n for n in rename.values() if n in cols and n not in rename]
    for name in clash:
        source = next(s for s, d in rename.items() if d == name)
        problems.append(Problem(
            cw.path, row=cw.line("columns", name), column=name,
            rule="crosswalk: one column each",
            message=f"{raw.path.name} has a column named {name!r} and the crosswalk maps "
            f"{source!r} to it; the column {name!r} is ignored (delete one of them)"))
    keep = [c not in clash for c in cols]
    frame = frame.loc[:, keep].rename(columns=rename)
    shown = frame.copy()
    codes = {rename.get(c, c): s for c, s in raw.codes.items() if c not in clash}
    settled = set(raw.settled)
    out = frame.copy()
    single = {c for c in out.columns if list(out.columns).count(c) == 1}  # repeats: reported
    for name, mapping in cw.values.items():
        if name in single:
            out[name], unmapped = _recode(out[name], mapping, codes.get(name),
                                          COLUMN_BY_NAME[name])
            if unmapped:
                problems.append(_unmapped(raw, cw, name, unmapped))
                settled |= {(i, name) for rows in unmapped.values() for i in rows}
    for spec in COLUMNS:
        if spec.name not in single:
            continue
        s = out[spec.name]
        if spec.kind in ("int", "float"):
            if cw.decimal == ",":
                s = s.map(lambda t, text=raw.format == "text": _point_decimal(t, text))
            unit = cw.units.get(spec.name)
            if unit and UNITS.get(spec.name, {}).get(unit, (1, 1)) != (1, 1):
                s = s.map(lambda t, n=spec.name, u=unit: _converted(n, u, t))
        elif spec.kind == "date" and cw.date_format:
            s = _iso_dates(s, cw.date_format)
        out[spec.name] = s
    return dataclasses.replace(raw, frame=out, shown=shown, problems=problems, settled=settled,
                               crosswalk=cw, codes=codes)


def _recode(s: pd.Series, mapping: dict[str, str | None], codes: pd.Series | None, spec
            ) -> tuple[pd.Series, dict[str, list[int]]]:
    """Cells through `mapping` (by value, or by the file's code when labels were applied);
    category values neither mapped nor allowed are returned with the rows holding them."""
    allowed = {a.casefold() for a in spec.allowed}
    unmapped: dict[str, list[int]] = {}
    out = []
    for i, value in enumerate(s):
        if value is None or pd.isna(value):
            out.append(None)
            continue
        key = code_key(value)
        code = None if codes is None or pd.isna(codes.iloc[i]) else code_key(codes.iloc[i])
        if key in mapping:
            out.append(mapping[key])
        elif code is not None and code in mapping:
            out.append(mapping[code])
        else:
            if spec.kind == "category" and value.casefold() not in allowed:
                unmapped.setdefault(value, []).append(i)
            out.append(value)
    return pd.Series(out, index=s.index, dtype=object), unmapped


def _unmapped(raw: RawTable, cw: Crosswalk, name: str, unmapped: dict[str, list[int]]
              ) -> Problem:
    listed = sorted(unmapped.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    codes = ", ".join(f"{v!r} ({len(rows)} row{'s' if len(rows) != 1 else ''}, first "
                      f"{raw.row_labels[rows[0]]})" for v, rows in listed)
    n = sum(len(rows) for rows in unmapped.values())
    line = cw.line("values", name)
    return Problem(raw.path, column=name, rule="crosswalk: every code mapped", message=(
        f"{len(unmapped)} value{'s' if len(unmapped) != 1 else ''} in {n} row"
        f"{'s' if n != 1 else ''} {'have' if len(unmapped) != 1 else 'has'} no mapping under "
        f"values: {name} in {cw.path.name}{f' ({line})' if line else ''} and "
        f"{'are' if len(unmapped) != 1 else 'is'} not one of "
        f"{', '.join(COLUMN_BY_NAME[name].allowed)}: {codes}"))


def _point_decimal(text, thousands: bool = True):
    """'12,4' as '12.4' (and, with `thousands`, '1.234,5' as '1234.5'); other text unchanged.

    Only text files write thousands with dots: a workbook's numbers are numbers already.
    """
    if text is None or not isinstance(text, str):
        return text
    if thousands and re.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+(,\d*)?", text):
        text = text.replace(".", "")
    if re.fullmatch(r"[-+]?\d*,\d+|[-+]?\d+,?", text):
        return text.replace(",", ".")
    return text


def _converted(column: str, unit: str, text):
    """A number given in `unit` as text in the dictionary's unit; other text unchanged."""
    x = pd.to_numeric(pd.Series([text]), errors="coerce").iloc[0]
    if pd.isna(x):
        return text
    y = convert(column, unit, float(x))
    return str(int(y)) if y.is_integer() else repr(y)


def _iso_dates(s: pd.Series, fmt: str) -> pd.Series:
    """Dates written as `fmt` as ISO text; cells already ISO, or not dates, unchanged."""
    parsed = pd.to_datetime(s, format=fmt, errors="coerce")
    return s.where(parsed.isna(), parsed.dt.strftime("%Y-%m-%d")).astype(object)


# ------------------------------------------------------------------ recognising conventions

def likely_unit(column: str, values: pd.Series) -> tuple[str, float] | None:
    """(unit, median) when the numbers of `column` look like another unit than the
    dictionary's, e.g. Hb around 124 (g/L) instead of 12.4 g/dL."""
    x = pd.to_numeric(values, errors="coerce").dropna()
    if x.empty:
        return None
    median = float(x.median())
    for unit, low, high in UNIT_HINTS.get(column, ()):
        if unit == "mmol/L" and (len(x) < 5 or x.max() > 12.5):
            continue  # few or high values: as likely low g/dL values
        if low <= median <= high:
            return unit, median
    return None


def likely_date_formats(texts: pd.Series, share: float = 0.9) -> list[str]:
    """The formats of `DATE_FORMATS` that read at least `share` of `texts` (the non-ISO
    dates of a column, a typo or two among them); day-first before month-first."""
    texts = texts.dropna()
    if texts.empty:
        return []
    return [f for f in DATE_FORMATS
            if pd.to_datetime(texts, format=f, errors="coerce").notna().mean() >= share]


def looks_decimal_comma(texts: pd.Series) -> bool:
    """Whether most non-blank cells are numbers written with a decimal comma ('12,4')."""
    texts = texts.dropna()
    return not texts.empty and texts.str.fullmatch(r"[-+]?\d+,\d+").mean() >= 0.5


def date_form(fmt: str) -> str:
    """'%d.%m.%Y' as 'dd.mm.yyyy'."""
    return (fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy")
            .replace("%y", "yy").replace("%b", "mon"))


def date_format_hint(formats: list[str]) -> str:
    """What to tell a user whose dates read with `formats` (from `likely_date_formats`)."""
    first = formats[0]
    other = next((f for f in formats[1:] if f.replace("%d", "D").replace("%m", "%d")
                  .replace("D", "%m") == first), None)
    kind = "day-first date" if first.startswith("%d") else "date"
    text = f"looks like a {kind} ({date_form(first)}), not ISO YYYY-MM-DD: add " \
           f"date_format: \"{first}\" to a crosswalk (--mapping FILE)"
    if other:
        text += f", or \"{other}\" if the month comes first"
    return text


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


# ------------------------------------------------------------------ writing a first one

def _fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def draft_crosswalk(raw: RawTable) -> str:
    """A starting crosswalk for an extract: the columns it recognises by name or variable
    label, guesses and open entries as comments, codes found for category columns, and the
    date format, decimal mark, delimiter and units the cells suggest."""
    frame = raw.frame.loc[:, ~raw.frame.columns.duplicated()]
    cols = list(frame.columns)
    folded = {_fold(c): c for c in cols}
    labels = {_fold(lab): n for n, lab in raw.variable_labels.items() if n in cols}
    matched: dict[str, tuple[str, str]] = {}
    for spec in COLUMNS:
        key = _fold(spec.name)
        if key in folded:
            matched[spec.name] = (folded[key], "same name")
        elif key in labels:
            matched[spec.name] = (labels[key], "its variable label is "
                                  f"{raw.variable_labels[labels[key]]!r}")
    used = {c for c, _ in matched.values()}
    guessed: dict[str, str] = {}
    for spec in COLUMNS:
        if spec.name not in matched:
            guess = _guess(spec, [c for c in cols if c not in used
                                  and c not in guessed.values()], raw)
            if guess:
                guessed[spec.name] = guess
    source = {n: c for n, (c, _) in matched.items()} | guessed

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    def comment(name: str) -> str:
        return "" if name in matched else "# "

    out = [f"# Crosswalk for {raw.path.name}, written by `lenstop crosswalk`: check every line,",
           "# complete the commented ones (remove the '#'), then run",
           f"#   lenstop validate {raw.path.name} --mapping THIS_FILE",
           "# Format and a worked example: data/README.md (section 'Crosswalk').",
           "columns:        # dictionary column: the extract's column"]
    for spec in COLUMNS:
        need = "required column" if spec.required else "optional column"
        if spec.name in matched:
            out.append(f"  {spec.name}: {q(matched[spec.name][0])}   # {matched[spec.name][1]}")
        elif spec.name in guessed:
            out.append(f"  # {spec.name}: {q(guessed[spec.name])}   # {need}; a guess from "
                       "the name: check")
        else:
            out.append(f"  # {spec.name}:   # {need}; no column recognised")
    out.append("values:         # dictionary column: {extract value: dictionary value}")
    for spec in COLUMNS:
        if spec.kind != "category" or spec.name not in source:
            continue
        allowed = {a.casefold() for a in spec.allowed}
        found = Counter(v for v in frame[source[spec.name]].dropna()
                        if v.casefold() not in allowed)
        if found:
            pairs = ", ".join(f'{q(v)}: "?"' for v, _ in found.most_common())
            counts = ", ".join(f"{v} ({n})" for v, n in found.most_common())
            out.append(f"  # {spec.name}: {{{pairs}}}   # each ? one of "
                       f"{', '.join(spec.allowed)}; found {counts}")
    out.append("units:          # dictionary column: unit of the extract's values")
    for name in UNIT_HINTS:
        if name not in source:
            continue
        guess = likely_unit(name, _numbers(frame[source[name]]))
        if guess:
            unit, median = guess
            spec = COLUMN_BY_NAME[name]
            sure = name in matched and not (spec.low <= median <= spec.high)
            out.append(f"  {'' if sure else '# '}{name}: {unit}   # the values look like "
                       f"{unit} (median {median:g}), not {spec.unit}: check")
    formats: Counter = Counter()
    for c in cols:  # every column that holds dates other than ISO ones
        s = frame[c].dropna()
        odd = s[pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").isna()]
        if len(odd) and len(odd) >= len(s) / 2:
            formats.update(likely_date_formats(odd)[:1])
    if len(formats) == 1:
        out.append(f"date_format: {q(next(iter(formats)))}   # how the date columns are written")
    elif formats:
        out.append(f"# date_format: {q(formats.most_common(1)[0][0])}   # the date columns "
                   f"differ ({', '.join(date_form(f) for f in formats)}); one format serves all")
    if raw.format == "text" and any(looks_decimal_comma(frame[c]) for c in cols):
        out.append('decimal: ","   # numbers are written 12,4')
    if raw.delimiter and raw.delimiter != ",":
        out.append(f"delimiter: {q(raw.delimiter)}")
    rest = [c for c in cols if c not in source.values()]
    if rest:
        named = [c + (f" (label {raw.variable_labels[c]!r})" if c in raw.variable_labels else "")
                 for c in rest]
        out.append(f"# extract columns not mapped: {', '.join(named)}")
    return "\n".join(out) + "\n"


def _guess(spec, candidates: list[str], raw: RawTable) -> str | None:
    """The extract column whose name or label is closest to the dictionary column's name,
    among those whose cells fit its kind (dates for a date, numbers for a number)."""
    fitting = [c for c in candidates if _fits_kind(spec, raw.frame[c])]
    names = {_fold(c): c for c in fitting}
    names.update({_fold(raw.variable_labels[c]): c for c in fitting
                  if c in raw.variable_labels})
    close = difflib.get_close_matches(_fold(spec.name), names, n=1, cutoff=0.6)
    return names[close[0]] if close else None


def _fits_kind(spec, s: pd.Series) -> bool:
    """Whether most cells of `s` could be values of `spec`'s kind."""
    s = s.dropna()
    if s.empty or spec.kind in ("id", "text", "category"):
        return True
    if spec.kind == "date":
        iso = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").notna().mean()
        return iso >= 0.5 or bool(likely_date_formats(s, share=0.5))
    return _numbers(s).notna().mean() >= 0.5


def _numbers(s: pd.Series) -> pd.Series:
    if isinstance(s, pd.DataFrame):
        s = s.iloc[:, 0]
    return pd.to_numeric(s.map(_point_decimal), errors="coerce")
