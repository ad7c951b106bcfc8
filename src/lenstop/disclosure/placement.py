"""Where real data and their outputs may go: only where git ignores them, and only the build's.

The extract and everything built from it live in git-ignored paths (or outside the
repository): `check_extract_location`, `check_output_dir`. Inside a build only the build's
own extract may be opened (`check_build_data`), and no notebook may choose its data or output
folder itself (`check_notebooks`): the build alone decides, so a private extract named in a
parameters cell can never land, unsuppressed, in tracked files.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from lenstop import config
from lenstop.errors import PrivacyError

# ------------------------------------------------------------------ where outputs may go


def git_ignored(path: str | Path) -> bool | None:
    """True if git ignores `path`, False if git would track it, None when git cannot tell
    (git missing, not a git checkout, or a path outside the repository)."""
    try:
        run = subprocess.run(["git", "-C", str(config.ROOT), "check-ignore", "-q",
                              str(Path(path).resolve())], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(run.returncode)


def _inside_tracked_folder(out: Path) -> bool:
    root = config.ROOT.resolve()
    tracked = [root / "figures", root / "results", root / "notebooks", root / "data" /
               "synthetic"]
    return out == root or any(out == t or t in out.parents for t in tracked)


def check_output_dir(data_path: str | Path, output_dir: str | Path) -> None:
    """Refuse an output folder for a real extract that git would track.

    The shipped synthetic cohort writes into the project itself. Anything else must write to
    a folder git ignores (build/, data/private/) or outside the repository; without git the
    project's tracked folders (figures/, results/, notebooks/, data/synthetic/) are refused.
    """
    if config.is_shipped(data_path):
        return
    out = Path(output_dir).resolve()
    ignored = git_ignored(out)
    inside = out == config.ROOT.resolve() or config.ROOT.resolve() in out.parents
    if ignored is False or (ignored is None and inside and _inside_tracked_folder(out)):
        raise PrivacyError(
            f"outputs of {Path(data_path).name} (not the synthetic cohort) would be written to "
            f"{output_dir}, a folder git tracks; use a folder under build/ or outside the "
            "repository")


def check_extract_location(data_path: str | Path) -> None:
    """Refuse a real extract stored where git would track it (it could be committed).

    Real extracts belong in data/private/ (git-ignored) or outside the repository; copies of
    the shipped synthetic cohort may be anywhere.
    """
    if not Path(data_path).is_file() or config.is_synthetic(data_path) \
            or git_ignored(data_path) is not False:
        return  # (a missing file is reported by validation)
    raise PrivacyError(
        f"{Path(data_path).name} is in a folder git would track (and could be committed); "
        "keep real extracts in data/private/ (git-ignored) or outside the repository")


BUILD_DATA_ENV = "LENSTOP_BUILD_DATA"
"""Set by the build for each notebook it runs: the one extract that notebook may open."""

BUILD_CHOSEN = ("data_path", "output_dir", "sheet", "mapping")
"""Notebook parameters only the build chooses: a notebook that sets them could point the
shipped build at another extract and publish its results into tracked files."""


def check_build_data(data_path: str | Path) -> None:
    """Inside a build, refuse to open any extract but the build's own (`BUILD_DATA_ENV`)."""
    expected = os.environ.get(BUILD_DATA_ENV)
    if expected and Path(data_path).resolve() != Path(expected).resolve():
        raise PrivacyError(
            f"this notebook opens {Path(data_path).name}, but the build analyses "
            f"{Path(expected).name}; leave data_path = None in the notebook and choose the "
            "extract with `make report DATA=...` (or `lenstop build --data ...`)")


def notebook_data_choices(path: str | Path) -> list[str]:
    """Where a notebook's code sets a build-chosen parameter (`BUILD_CHOSEN`) to a value.

    Each finding reads 'cell N, line L: data_path = ...'. Only `name = None` in the
    parameters cell is allowed: the build passes the real values as papermill parameters.
    """
    import ast

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue  # written by papermill from the build's own parameters
        try:
            tree = ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                                        for ln in source.splitlines()))  # (magics)
        except SyntaxError:
            continue  # the kernel reports it when the cell runs
        for node in ast.walk(tree):
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else [])
            value = getattr(node, "value", None)
            for target in targets:
                if isinstance(target, ast.Name) and target.id in BUILD_CHOSEN and not (
                        isinstance(value, ast.Constant) and value.value is None):
                    found.append(f"cell {number}, line {node.lineno}: {target.id} = "
                                 f"{ast.unparse(value) if value is not None else '...'}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open_study":
                literal = [a for a in node.args[:2] if not isinstance(a, ast.Name)]
                literal += [k.value for k in node.keywords if k.arg in BUILD_CHOSEN
                            and not isinstance(k.value, ast.Name)]
                found += [f"cell {number}, line {node.lineno}: open_study(... "
                          f"{ast.unparse(a)} ...)" for a in literal]
    return found


def check_notebooks(paths: Iterable[str | Path]) -> None:
    """Refuse notebooks that choose their own extract or output folder (all found at once)."""
    problems = [f"{Path(p).name}, {where}" for p in paths for where in notebook_data_choices(p)]
    if problems:
        raise PrivacyError(
            "notebooks may not choose the extract or where outputs go; the build passes "
            "them (`make report DATA=...`). Set these back to None:\n  "
            + "\n  ".join(problems))
