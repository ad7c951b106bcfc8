"""The one exception the renderer raises for anything wrong with the sources."""

from __future__ import annotations

from pathlib import Path


class RenderError(Exception):
    """A problem in the manuscript sources, told as one paragraph: file, line, what.

    `file` and `line` are kept as attributes so callers (and tests) can inspect them;
    `str(err)` is the full message the CLI prints.
    """

    def __init__(self, what: str, *, file: str | Path | None = None, line: int | None = None):
        self.what = what
        self.file = str(file) if file is not None else None
        self.line = line
        where = ""
        if self.file is not None:
            where = self.file + (f", line {line}" if line is not None else "") + ": "
        super().__init__(f"{where}{what}")
