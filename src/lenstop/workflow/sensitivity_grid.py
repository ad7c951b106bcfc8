"""The sensitivity grid file: its points, checked, with the published definitions as defaults.

Kept apart from `lenstop.analyses.sensitivity` (pandas and the statistics) because the
workflow reads the grid every time Snakemake starts, on the login node and in every cluster job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenstop import config
from lenstop.errors import GridError

GRID_FILE = config.SENSITIVITY_GRID
"""The reviewed grid every build runs (unless SENSITIVITY=0)."""

DEFAULTS: dict[str, Any] = {
    "cycles_cutoff": config.CYCLES_CUTOFF,
    "tb_cutoff": config.TB_CUTOFF_UNITS_8WK,
    "ti_min_weeks": config.MIN_TI_WEEKS,
    "censor_later_treatment": False,
    "adjust_stop_reason": False,
    "estimator": "km",
}
"""The published definitions: a point sets only what it changes."""

BUILD_KEYS = ("cycles_cutoff", "tb_cutoff")
"""A point's keys that are also build parameters: checked by `config.parameter_problems`."""
_TYPES = {"ti_min_weeks": (int,), "censor_later_treatment": (bool,),
          "adjust_stop_reason": (bool,), "estimator": (str,)}
"""The grid's own keys and their types."""
ESTIMATORS = ("km", "competing")


@dataclass(frozen=True)
class Point:
    """One grid point: a name (its job and output file), a label and its parameters."""

    name: str
    label: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def resolved(self) -> dict[str, Any]:
        """Every parameter: the build's value (the published one unless the build was given
        other analysis parameters) where the point does not set it."""
        build = config.build_parameters()
        base = {k: build.get(k, v) for k, v in DEFAULTS.items()}
        return {**base, **self.parameters}


def load_grid(path: str | Path = GRID_FILE) -> list[Point]:
    """The points of a grid file, checked: names unique and file-safe, known keys of the
    right types, estimators known, combinations that can be estimated."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GridError(f"{path}: cannot read the sensitivity grid: {exc}") from None
    entries = data.get("points") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise GridError(f"{path}: needs a non-empty list `points:`")
    problems, points, seen = [], [], set()
    for i, entry in enumerate(entries, start=1):
        where = f"{path}: point {i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with name and label")
            continue
        name, label = entry.get("name"), entry.get("label")
        where += f" ({name})" if name else ""
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            problems.append(f"{where}: `name` must be letters, digits and _ (it names a file)")
        elif name in seen:
            problems.append(f"{where}: the name {name!r} is used twice")
        seen.add(name)
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{where}: needs a `label` (the table's row text)")
        params = {k: v for k, v in entry.items() if k not in ("name", "label")}
        problems += [f"{where}: {p}" for p in config.parameter_problems(
            {k: v for k, v in params.items() if k in BUILD_KEYS})]
        for key, value in params.items():
            if key in BUILD_KEYS:
                continue
            if key not in _TYPES:
                problems.append(f"{where}: unknown key {key!r} (known: "
                                f"{', '.join((*BUILD_KEYS, *_TYPES))})")
            elif not isinstance(value, _TYPES[key]) or (
                    isinstance(value, bool) and bool not in _TYPES[key]):
                problems.append(f"{where}: {key} = {value!r} is not a "
                                f"{' or '.join(t.__name__ for t in _TYPES[key])}")
        if params.get("estimator", "km") not in ESTIMATORS:
            problems.append(f"{where}: estimator must be one of {', '.join(ESTIMATORS)}")
        if params.get("estimator") == "competing" and params.get("censor_later_treatment"):
            problems.append(f"{where}: censor_later_treatment and estimator: competing "
                            "cannot be combined (later treatment is not a competing event)")
        if isinstance(params.get("ti_min_weeks"), int) and \
                params["ti_min_weeks"] < config.MIN_TI_WEEKS:
            problems.append(f"{where}: ti_min_weeks must be at least {config.MIN_TI_WEEKS} "
                            "(IWG RBC-TI)")
        points.append(Point(str(name), str(label), params))
    if problems:
        raise GridError("\n".join(problems))
    return points


def point(name: str, path: str | Path = GRID_FILE) -> Point:
    """The grid point called `name`."""
    for p in load_grid(path):
        if p.name == name:
            return p
    raise GridError(f"{path}: no point named {name!r}")
