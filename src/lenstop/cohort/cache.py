"""The validated, typed cohort of one build, kept so that a build validates its extract once.

`lenstop build` validates the extract up front and saves the typed cohort and its warnings in
the build folder's private area (`<out>/.build/cohort.parquet`); the notebooks
(`open_study` through `load_or_validate`) and the workflow's validation step load it instead of
validating again. An entry serves only the same file content (SHA-256), file name, sheet and
validation code (`fingerprint`); anything else is a miss and the caller validates.

The file holds row-level data: it is written only inside a git-ignored `.build/` folder, its
contents are never printed, and the build removes it when it ends (`discard`), so no file of a
finished build holds a patient's values (tests/disclosure/test_privacy.py scans `.build/` too).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from lenstop import config

FILE = "cohort.parquet"
"""The cache entry's name inside the build folder's `.build/`."""
WORK = ".build"
"""The only folder name the cache is written into (git-ignored; see
lenstop.workflow.layout.work_dir)."""
CODE = tuple(config.PACKAGE_DIR / f for f in
             ("ingest/readers.py", "ingest/schema.py", "ingest/validate.py", "cohort/cache.py"))
"""The sources that decide what validation returns; a change to any of them is a miss."""
LIBRARIES = ("pandas", "pyarrow", "pandera")
_META = b"lenstop"


def fingerprint(files: tuple[Path, ...] | None = None) -> str:
    """SHA-256 of the validation code (`CODE`, or `files`) and of the versions of the libraries
    that validate and store the cohort. The package's own is computed once per process."""
    return _package_fingerprint() if files is None else _digest(files)


@lru_cache(maxsize=1)
def _package_fingerprint() -> str:
    return _digest(CODE)


def _digest(files: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    for name in LIBRARIES:
        digest.update(f"{name}=={metadata.version(name)}\0".encode())
    return digest.hexdigest()


def key(data_path: str | Path, sheet: str | None = None) -> dict:
    """What an entry must match: the extract's content, name and sheet, and the code."""
    from lenstop.files import sha256

    mapping = config.mapping_path()
    return {"sha256": sha256(data_path), "data_file": Path(data_path).name,
            "sheet": sheet or "", "code": fingerprint(),
            "mapping": sha256(mapping) if mapping else ""}


def work_of(output_dir: str | Path) -> Path:
    """The `.build/` folder that holds the cache for a notebook writing into `output_dir`.

    During a build the notebook writes into `<out>/.build/run/<notebook>/`: its nearest
    `.build` ancestor. Run by hand (JupyterLab), it writes into the build folder `<out>`
    itself: `<out>/.build`.
    """
    output_dir = Path(output_dir).resolve()
    return next((p for p in (output_dir, *output_dir.parents) if p.name == WORK),
                output_dir / WORK)


def load(data_path: str | Path, work: str | Path,
         sheet: str | None = None) -> tuple[pd.DataFrame, list[str]] | None:
    """The cached (cohort, warnings) for this extract, or None when `work` holds no entry for
    its exact content, name and sheet, made by the current validation code."""
    import pyarrow.parquet as pq

    path = Path(work) / FILE
    if not path.is_file():
        return None
    try:
        with pq.ParquetFile(path) as entry:  # one open file: a concurrent replace cannot mix
            meta = json.loads((entry.schema_arrow.metadata or {}).get(_META, b"{}"))
            wanted = key(data_path, sheet)
            if {k: meta.get(k, "") for k in wanted} != wanted:
                return None
            cohort = entry.read().to_pandas()
    except (OSError, ValueError):  # unreadable or half-written by an older version: a miss
        return None
    return cohort, list(meta.get("warnings", []))


def save(data_path: str | Path, work: str | Path, cohort: pd.DataFrame, warnings: list[str],
         sheet: str | None = None) -> Path:
    """Store a validated cohort for this extract in `work` (a git-ignored `.build/` folder),
    replacing any earlier entry in one atomic step; return the entry's path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lenstop.disclosure.placement import git_ignored
    from lenstop.errors import PrivacyError

    work = Path(work)
    path = work / FILE
    if work.name != WORK or git_ignored(path) is False:
        raise PrivacyError(f"the validated cohort holds patient-level data; it is kept only in "
                           f"a git-ignored {WORK}/ folder, not in {work}")
    table = pa.Table.from_pandas(cohort, preserve_index=True)
    meta = {**key(data_path, sheet), "warnings": list(warnings)}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _META: json.dumps(meta).encode()})
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f".{FILE}.tmp{os.getpid()}"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def discard(work: str | Path) -> None:
    """Remove the cache entry of `work` (the end of a build: no row-level copy stays behind)."""
    (Path(work) / FILE).unlink(missing_ok=True)


def load_or_validate(data_path: str | Path, output_dir: str | Path | None = None,
                     sheet: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(cohort, warnings) of the extract: from the running build's cache when it holds this
    extract (see `work_of`), else validated now (`validate.load_cohort`, DataError if bad)."""
    if output_dir is not None:
        hit = load(data_path, work_of(output_dir), sheet)
        if hit is not None:
            return hit
    from lenstop.ingest.validate import load_cohort

    return load_cohort(data_path, sheet=sheet, mapping=config.mapping_path())
