"""Problems found in an extract, and the one exception that carries all of them at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
            where.append(self.row + (f" (patient {self.patient_id})" if self.patient_id else ""))
        if self.column:
            where.append(f"column {self.column}")
        text = ", ".join(where) + f": {self.message or self.rule}"
        if self.message and self.rule and self.rule not in self.message:
            text += f" [rule: {self.rule}]"
        if self.value != "":
            text += f" [value: {self.value}]"
        return text


class DataError(Exception):
    """Raised with every problem found; the command line prints them and exits non-zero."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=_sort_key)
        super().__init__(self.report())

    def report(self) -> str:
        """All problems, one per line, under a summary line."""
        files = sorted({p.file.name for p in self.problems})
        rows = {(p.file, p.row) for p in self.problems if p.row and p.row != "header"}
        head = (f"{', '.join(files)}: {len(self.problems)} problem"
                f"{'s' if len(self.problems) != 1 else ''}"
                + (f" in {len(rows)} row{'s' if len(rows) != 1 else ''}" if rows else "")
                + "; nothing was built.")
        return "\n".join([head, *("  " + p.format() for p in self.problems)])


def _sort_key(p: Problem) -> tuple:
    number = int(p.row.split()[-1]) if p.row and p.row.split()[-1].isdigit() else -1
    return (str(p.file), number, p.column, p.rule, p.value)
