"""The package's exception types, one home (as lifelines keeps `exceptions.py`).

Two more live with what they carry: `lenstop.ingest.problems.DataError` (every problem of an
extract, grouped for the terminal and the quality report) and
`lenstop.manuscript.render.errors.RenderError` (the fallback renderer's, with file and line).
The command line (`lenstop.cli`) turns each into a message and a non-zero exit, no traceback.
"""

from __future__ import annotations


class PrivacyError(RuntimeError):
    """Outputs of a real extract would land where git tracks them, or a scan found a leak."""


class StepError(RuntimeError):
    """A build step failed; the message names the step (and notebook cell) and the error."""


class GridError(ValueError):
    """A grid file that cannot be run: every problem, with the file and the point named."""


class ModelNotEstimable(Exception):
    """The data cannot support the requested model; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotConverged(Exception):
    """Newton-Raphson did not converge; the message says how far it got."""
