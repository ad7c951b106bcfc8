"""Whether a build would change anything: the inputs of its last successful build, recorded.

`lenstop build` records a fingerprint of everything the workflow reads (the extract's bytes,
the options, the analysis and render code, the notebooks' cells without their outputs, the
manuscript sources, the workflow and the locked requirements) when a build succeeds. When
the next build has the same fingerprint and every published file is as that build left it,
there is nothing to do, and the build says so without starting Snakemake (which alone takes
a few seconds to find that out). Any difference falls back to Snakemake, which then reruns
only what the change reaches. Validation is not repeated either: the bytes it passed are the
bytes recorded (a valid extract stays valid; its dates only recede into the past).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lenstop import config

SOURCES = (*config.MANUSCRIPT_SOURCES, "config/config.yaml", "workflow/Snakefile",
           "workflow/pre-render.sh", "requirements.lock")
"""Project files every build reads, besides the code, the notebooks and the workflow's rules
(`workflow/rules/*.smk`). config/config.yaml holds the analysis defaults: editing it is a
change even when no build parameter is given."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def notebook_cells(path: Path) -> str:
    """A notebook's cells as a source (types, ids, sources, tags), outputs left out: running
    it rewrites its outputs, not what it is."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [(c.get("cell_type"), c.get("id"),
              "".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source"),
              sorted(c.get("metadata", {}).get("tags", []))) for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def fingerprint(data: Path, sheet: str | None, min_cell: int, until: str,
                root: Path = config.ROOT, line_numbers: bool = False,
                mapping: Path | None = None, grid: Path | None = None,
                params: dict | None = None) -> dict:
    """Everything a build of `data` reads, as hashes (no patient data: the extract's hash);
    `grid` is the sensitivity grid file (None: built without the grid)."""
    root = Path(root)
    code = sorted(p for p in (root / "src" / "lenstop").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)
    return {
        "data": {"file": Path(data).name, "sha256": _sha256(data)},
        "options": {"sheet": sheet or "", "min_cell": int(min_cell), "until": until,
                    "line_numbers": bool(line_numbers),
                    "mapping": _sha256(mapping) if mapping else "",
                    "grid": _sha256(grid) if grid else "", "params": params or {}},
        "code": {p.relative_to(root).as_posix(): _sha256(p) for p in code},
        "notebooks": {p.name: notebook_cells(p) for p in sorted((root / "notebooks")
                                                                 .glob("*.ipynb"))},
        "sources": {s: _sha256(root / s) for s in (*SOURCES, *sorted(
            p.relative_to(root).as_posix() for p in (root / "workflow" / "rules").glob("*.smk")))
            if (root / s).is_file()},
    }


def _record(work: Path, until: str) -> Path:
    return Path(work) / f"inputs-{until}.json"


def is_current(work: Path, until: str, inputs: dict, intact: bool) -> bool:
    """True when the last successful build of this folder read exactly `inputs` and its
    published files are intact (`intact`, from lenstop.workflow.publish.published_intact)."""
    path = _record(work, until)
    if not intact or not path.is_file():
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")) == inputs
    except ValueError:  # a damaged record: build normally
        return False


def record(work: Path, until: str, inputs: dict) -> None:
    """Remember `inputs` as those of this folder's last successful build."""
    from lenstop.files import write_atomic

    write_atomic(_record(work, until), json.dumps(inputs, indent=1, sort_keys=True) + "\n")


def forget(work: Path) -> None:
    """Drop the records (a published file was edited or deleted: build and publish again)."""
    for path in Path(work).glob("inputs-*.json"):
        path.unlink()
