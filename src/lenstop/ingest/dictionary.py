"""The data dictionary and the crosswalk guide rendered from the code as markdown, so that
`data/README.md` cannot drift from what validation does (a test compares them)."""

from __future__ import annotations

from lenstop.ingest.schema import (
    COLUMNS,
    DATE_COLUMNS,
    DAY_UNKNOWN_DAY,
    IMPUTED_SUFFIX,
    RULES,
    imputed_flag,
)

BEGIN, END = "<!-- dictionary:begin -->", "<!-- dictionary:end -->"
CROSSWALK_BEGIN, CROSSWALK_END = "<!-- crosswalk:begin -->", "<!-- crosswalk:end -->"


def markdown_table() -> str:
    """Columns table and cross-column rules table, as they appear in `data/README.md`."""
    lines = [
        "| column | type | unit | allowed values | blank allowed | definition |",
        "|---|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        blank = "yes" if c.nullable else "no"
        if not c.required:
            blank += " (optional column)"
        lines.append(f"| `{c.name}` | {c.kind} | {c.unit or ''} | {c.rule_text()} | {blank} | "
                     f"{c.definition} |")
    lines += ["", "| rule | column reported | meaning |", "|---|---|---|"]
    lines += [f"| `{r.id}` | `{r.column}` | {r.text} |" for r in RULES]
    dates = ", ".join(f"`{imputed_flag(c)}`" for c in DATE_COLUMNS)
    lines += ["", "| column validation adds | type | meaning |", "|---|---|---|",
              f"| `<date column>{IMPUTED_SUFFIX}` ({dates}) | boolean | True where the extract "
              f"gave the date without its day (YYYY-MM, or the crosswalk's `date_format` without "
              f"its day) and it was set to the {DAY_UNKNOWN_DAY}th of the month; the validation "
              "summary counts them per column |"]
    return "\n".join(lines)


def crosswalk_section() -> str:
    """The crosswalk guide of `data/README.md`: format, units, missing values and a worked
    example whose result is computed here by the loader itself."""
    from lenstop.ingest.crosswalk import EXAMPLE, EXAMPLE_EXTRACT, UNITS
    from lenstop.ingest.readers import EXCEL_ERRORS, MISSING_TOKENS
    from lenstop.ingest.schema import COLUMN_BY_NAME

    tokens = ", ".join(f"`{t}`" for t in MISSING_TOKENS)
    errors = ", ".join(f"`{t}`" for t in EXCEL_ERRORS if t not in MISSING_TOKENS)
    units = ["| column | dictionary unit | a crosswalk may give | converted by |",
             "|---|---|---|---|"]
    for name, table in UNITS.items():
        first, *others = table
        how = "; ".join(f"{u}: {_factor(*table[u])}" for u in others)
        units.append(f"| `{name}` | {COLUMN_BY_NAME[name].unit} | {', '.join(others)} | {how} |")
    extract = EXAMPLE_EXTRACT.strip()
    reading = example_reading()
    header = "| " + " | ".join(f"`{c}`" for c in reading.columns) + " |"
    rows = ["| " + " | ".join("(blank)" if v is None or v != v else str(v) for v in r) + " |"
            for r in reading.itertuples(index=False)]
    return _wrapped([
        "A registry rarely exports the dictionary's column names, codes and units. A "
        "**crosswalk** (a YAML file) says how its extract maps onto the dictionary; nothing in "
        "the extract has to be edited:",
        "",
        "    lenstop crosswalk data/private/extract.csv --out data/private/crosswalk.yml",
        "    lenstop validate data/private/extract.csv --mapping data/private/crosswalk.yml",
        "",
        "`lenstop crosswalk` writes a first crosswalk from the extract: the columns it "
        "recognises by name (or, in SAS, SPSS and Stata files, by variable label), guesses and "
        "missing columns as comments, the codes found in category columns, and the date "
        "format, decimal mark, delimiter and units the cells suggest. Complete it and check "
        "every line. Its sections, all optional:",
        "",
        "| section | what it says |",
        "|---|---|",
        "| `columns` | dictionary column: the extract's column (its name, or its variable "
        "label); a column not listed is looked for under its dictionary name |",
        "| `values` | dictionary column: {extract value: dictionary value}; codes are compared "
        "ignoring case, `1` and `1.0` alike; a value already allowed by the dictionary needs "
        "no entry; a code mapped to `null` becomes blank |",
        "| `units` | dictionary column: the unit of the extract's values, converted on load |",
        "| `date_format` | how every date column is written, as Python `strptime` codes "
        "(`\"%d.%m.%Y\"` for 31.12.2021); ISO dates and real date cells are read as well |",
        "| `decimal` | `\",\"` for numbers written 12,4 (text files; `1.234,5` is 1234.5) |",
        "| `delimiter` | the column separator of a text file; detected when absent |",
        "",
        "The crosswalk is checked against the dictionary and the extract, and every problem "
        "is listed at once with the line of the crosswalk it concerns: a key that is not a "
        "dictionary column (with the closest names), an extract column that does not exist, "
        "a code with no mapping (each unmapped code with its count and first row), a value "
        "that is not a dictionary value, a unit that cannot be converted.",
        "",
        "**Units.** Values in another unit are converted to the dictionary's on load "
        "(haemoglobin: 1 mmol/L = 1.611 g/dL):",
        "",
        *units,
        "",
        "Without a `units` entry, lab values that look like another unit are refused with one "
        "line naming the likely unit and the crosswalk line that fixes it: haemoglobin around "
        "10 times g/dL (g/L) or about 0.62 times (mmol/L), neutrophils and platelets per µL "
        "instead of ×10⁹/L. A `units` entry with the dictionary's own unit "
        "(`hb_at_stop_g_dl: g/dL`) says that low values are right.",
        "",
        "**Conventions read without a crosswalk.** Blank cells and the tokens "
        f"{tokens} are missing values in every column, as are Excel's error values ({errors}, "
        "error cells included); the summary counts how many cells were read so. Blank rows "
        "are skipped and counted. SAS, SPSS and Stata value labels replace the codes (a "
        "crosswalk may map either), and user-defined missing values (SPSS missing values and "
        "ranges, Stata `.a`-`.z`, SAS `.A`-`.Z`) are missing. Workbooks from any writer "
        "(Excel, LibreOffice, R, Python) are read with calamine; date cells, Excel serial "
        "numbers in date columns and ISO text dates all load. A date column written another "
        "way (31/12/2021) or a number column with decimal commas gets one line saying which "
        "`date_format` or `decimal` fixes it.",
        "",
        "**Worked example.** A registry's German-language export, semicolon-separated, "
        "numeric codes, ja/nein, haemoglobin in g/L, dd.mm.yyyy dates and decimal commas "
        "(the first columns of two rows):",
        "",
        "```",
        extract,
        "```",
        "",
        "Its crosswalk (the tests load an export of the whole shipped cohort written this way "
        "through it, and get the shipped cohort exactly):",
        "",
        "```yaml",
        EXAMPLE.strip(),
        "```",
        "",
        "The two rows as the analysis reads them:",
        "",
        header,
        "|" + "---|" * len(reading.columns),
        *rows,
    ])


def example_reading():
    """The worked example's extract through its crosswalk: the dictionary's cells."""
    import tempfile
    from pathlib import Path

    from lenstop.ingest.crosswalk import EXAMPLE, EXAMPLE_EXTRACT, apply_crosswalk, parse_crosswalk
    from lenstop.ingest.readers import read_raw

    cw = parse_crosswalk(EXAMPLE).check()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "registry.csv"
        path.write_text(EXAMPLE_EXTRACT, encoding="utf-8")
        raw = apply_crosswalk(read_raw(path, delimiter=cw.delimiter), cw)
    return raw.frame


def _factor(mul: float, div: float) -> str:
    if (mul, div) == (1, 1):
        return "the same number"
    return f"÷ {div:g}" if mul == 1 else f"× {mul:g}" if div == 1 else f"× {mul:g} ÷ {div:g}"


def _wrapped(lines: list[str], width: int = 95) -> str:
    """Prose lines wrapped at `width`; tables, indented and fenced code as they are."""
    import textwrap

    out, fenced = [], False
    for line in lines:
        for part in line.split("\n"):
            if part.startswith("```"):
                fenced = not fenced
            keep = fenced or part.startswith(("```", "|", "    ")) or not part
            out.append(part if keep else textwrap.fill(part, width, break_on_hyphens=False,
                                                       break_long_words=False))
    return "\n".join(out)


def between_markers(text: str, begin: str = BEGIN, end: str = END) -> str:
    """The part of a document between two markers (the dictionary's by default)."""
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def update_readme(text: str) -> str:
    """`text` (data/README.md) with both generated parts rewritten from the code."""
    for begin, end, body in ((BEGIN, END, markdown_table()),
                             (CROSSWALK_BEGIN, CROSSWALK_END, crosswalk_section())):
        head, rest = text.split(begin, 1)
        _old, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    return text
