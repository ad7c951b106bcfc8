"""Problems found in an extract, and the one exception that carries all of them at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GROUP_FROM = 10
"""A column and rule failing in this many rows or more is shown as one line in the report."""
SHOWN_ROWS = 3
"""How many of a group's rows that line names."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an extract: where (file, row, patient, column), rule, value."""

    file: Path
    row: str = ""
    patient_id: str = ""
    column: str = ""
    rule: str = ""
    message: str = ""
    value: str = ""

    def format(self) -> str:
        """One line a clinician can act on: `file, row 7 (patient P007), column x: rule [value]`."""
        where = [self.file.name]
        if self.row:
            where.append(self.where())
        if self.column:
            where.append(f"column {self.column}")
        text = ", ".join(where) + f": {self.what()}"
        if self.value != "":
            text += f" [value: {self.value}]"
        return text

    def where(self) -> str:
        """The row, with its patient id when known: `row 7 (patient P007)`."""
        return self.row + (f" (patient {self.patient_id})" if self.patient_id else "")

    def what(self) -> str:
        """The message, followed by the rule's name when the message does not contain it."""
        text = self.message or self.rule
        if self.message and self.rule and self.rule not in self.message:
            text += f" [rule: {self.rule}]"
        return text


class DataError(Exception):
    """Raised with every problem found; the command line prints them and exits non-zero.

    `problems` is the full list (one per cell or row, for a data-quality report); `report()`
    groups a column and rule that fail in many rows into one line. `notes` are what the reader
    noticed on the way (missing-value tokens, blank rows, the sheet read), printed after it.
    """

    def __init__(self, problems: list[Problem], notes: list[str] | tuple[str, ...] = ()):
        self.problems = sorted(problems, key=_sort_key)
        self.notes = list(notes)
        super().__init__(self.report())

    def report(self, grouped: bool = True) -> str:
        """A summary line, then one line per problem, or per column and rule when `grouped`
        and it fails in `GROUP_FROM` rows or more (its count and first `SHOWN_ROWS` rows)."""
        files = sorted({p.file.name for p in self.problems})
        rows = {(p.file, p.row) for p in self.problems
                if p.row and p.row != "header" and p.file.suffix.lower() not in (".yml", ".yaml")}
        head = (f"{', '.join(files)}: {len(self.problems)} problem"
                f"{'s' if len(self.problems) != 1 else ''}"
                + (f" in {len(rows)} row{'s' if len(rows) != 1 else ''}" if rows else "")
                + "; nothing was built.")
        lines = []
        big = {id(g[0]): g for g in self.groups() if grouped and len(g) >= GROUP_FROM}
        inside = {id(p) for g in big.values() for p in g}
        for p in self.problems:  # file order; a big group where its first row stands
            if id(p) in big:
                lines.append(_group_line(big[id(p)]))
            elif id(p) not in inside:
                lines.append(p.format())
        return "\n".join([head, *("  " + line for line in lines),
                          *(f"note: {n}" for n in self.notes)])

    def groups(self) -> list[list[Problem]]:
        """The problems by (file, column, rule), in report order; a row-less problem alone."""
        groups: dict[tuple, list[Problem]] = {}
        for i, p in enumerate(self.problems):
            key = (p.file, p.column, p.rule) if p.row and p.row != "header" else (i,)
            groups.setdefault(key, []).append(p)
        return list(groups.values())


def _group_line(group: list[Problem]) -> str:
    """`file, column x: message [rule: r] in 118 rows: row 2 (patient P1) [value: v], ...`."""
    first = group[0]
    where = first.file.name + (f", column {first.column}" if first.column else "")
    shown = [p.where() + (f" [value: {p.value}]" if p.value != "" else "")
             for p in group[:SHOWN_ROWS]]
    more = len(group) - SHOWN_ROWS
    return (f"{where}: {first.what()} in {len(group)} rows: {', '.join(shown)}"
            f"{f' and {more} more' if more > 0 else ''}")


def _sort_key(p: Problem) -> tuple:
    number = int(p.row.split()[-1]) if p.row and p.row.split()[-1].isdigit() else -1
    return (str(p.file), number, p.column, p.rule, p.value)
