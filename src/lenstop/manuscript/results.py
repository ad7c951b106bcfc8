"""The results file: each notebook writes one section; the sections merge into results.json.

Keys are stable and documented in `results/README.md`; values are plain JSON (numbers rounded
to 6 significant digits so that files are byte-identical across platforms and runs).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lenstop.files import sha256, write_atomic

SECTIONS = ("cohort", "ti_duration", "cytogenetics", "retreatment", "outcomes", "simulation",
            "sensitivity")
"""One section per notebook, in report order."""


def clean(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, NaN/inf to None, floats to 6 significant digits."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.6g}")
    if value.__class__.__name__ in ("NAType", "NaTType"):
        return None
    raise TypeError(f"cannot store {type(value).__name__} in results.json")


def dumps(data: dict) -> str:
    """Canonical JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(clean(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_section(results_dir: Path, name: str, data: dict) -> Path:
    """Write one notebook's section as `results_dir/sections/<name>.json`."""
    if name not in SECTIONS:
        raise ValueError(f"unknown results section {name!r}; known: {', '.join(SECTIONS)}")
    path = Path(results_dir) / "sections" / f"{name}.json"
    write_atomic(path, dumps(data))
    return path


def merge(results_dir: Path, out: Path | None = None, data: Path | None = None) -> dict:
    """Merge every section into `results.json` (missing sections are an error) and return it.

    Every section must come from the same extract, and from `data` when it is given (the
    build's extract): a section made from any other file is refused (ValueError).
    """
    results_dir = Path(results_dir)
    merged = {}
    for name in SECTIONS:
        path = results_dir / "sections" / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"results section missing: {path} (run its notebook)")
        merged[name] = json.loads(path.read_text(encoding="utf-8"))
    expected = sha256(data) if data is not None else None
    made_from = {s: merged[s].get("meta", {}).get("data_sha256") for s in SECTIONS}
    if len(set(made_from.values())) != 1 or expected not in (None, *made_from.values()):
        files = ", ".join(f"{s} from {merged[s].get('meta', {}).get('data_file', '?')}"
                          for s in SECTIONS)
        want = f" (this build analyses {Path(data).name})" if data is not None else ""
        raise ValueError(f"results sections come from different data files{want}: {files}")
    check_parameters(merged)
    write_atomic(out or results_dir / "results.json", dumps(merged))
    return merged


def check_parameters(merged: dict) -> None:
    """Every section must be made with the same analysis parameters: a cut-off changed in one
    notebook's parameters cell would give a report whose Cox table says 6 cycles while its
    Methods and Table 1 say 12 (ValueError naming each notebook's values)."""
    params = {s: merged[s].get("meta", {}).get("parameters", {}) for s in merged}
    first = next(iter(params.values()), {})
    differ = sorted({k for p in params.values() for k in {*p, *first} if p.get(k) != first.get(k)})
    if differ:
        groups: dict[str, list[str]] = {}
        for section, p in params.items():
            groups.setdefault(", ".join(f"{k} = {p.get(k)}" for k in differ), []).append(section)
        lines = "; ".join(f"{values} in {', '.join(names)}" for values, names in groups.items())
        raise ValueError("results sections were made with different analysis parameters "
                         f"({lines}): every notebook must run with the same values; set them "
                         "for the whole build, not in one notebook's parameters cell")


def read(path: Path) -> dict:
    """Read a results.json."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
