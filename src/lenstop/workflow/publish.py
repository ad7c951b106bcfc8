"""The build's last step: copy the staged outputs into their public places, atomically.

Every other step writes into the build folder's staging area (`.build/stage/`, laid out like
the build folder). `publish` checks the staged files for patient-level values, then replaces
each public file whose bytes changed with one `os.replace` (report last), so a build that
fails or is interrupted before this step leaves the previous outputs as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

from lenstop import config
from lenstop.files import sha256, write_json
from lenstop.manuscript.variables import TYPST_HEADER
from lenstop.workflow.layout import (
    MANUSCRIPT_SOURCES,
    QUARTO_FILES,
    REPORT_FILES,
    StepError,
    relative,
    stage_dir,
    step,
    work_dir,
)


def _notebook_signature(path: Path) -> list:
    """What a notebook says as a source (cell types, ids, sources, tags), outputs aside."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.get("id"), c.source, sorted(c.metadata.get("tags", [])))
            for c in nb.cells]


def _copy_atomic(src: Path, dest: Path, keep_mtime: bool = False) -> None:
    """Replace `dest` by a copy of `src` in one `os.replace` (never half a file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.publish{os.getpid()}")
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        if keep_mtime and dest.exists():
            st = dest.stat()
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _publication(out: Path, until: str) -> list[str]:
    """The files a build publishes (paths relative to the build folder), report last."""
    from lenstop.config import NOTEBOOKS

    work = work_dir(out)
    products: list[str] = []
    for name in NOTEBOOKS:
        listed = json.loads((work / "products" / f"{name}.json").read_text())["files"]
        products += sorted(listed)
    files = [f"notebooks/{n}.ipynb" for n in NOTEBOOKS] + products
    files += ["results/results.json", "_variables.yml", TYPST_HEADER]
    if Path(out).resolve() != config.ROOT.resolve():
        files += list(MANUSCRIPT_SOURCES) + list(QUARTO_FILES)
    if until == "report":
        files += list(REPORT_FILES)
    return files


def publish(data: Path, out: Path, until: str = "report", sheet: str | None = None,
            stamp: Path | None = None) -> None:
    """Move the staged outputs into their public places, report last, each file atomically.

    Only files whose bytes changed are written. Before anything is written the staged files
    are scanned for patient ids and dates of the extract (`leak_scan.check`); a leak publishes
    nothing. Interrupts are held off while files are replaced (well under a second), so the
    public folder never mixes two builds.
    """
    from lenstop.disclosure import leak_scan

    out = Path(out).resolve()
    work, stage = work_dir(out), stage_dir(out)
    in_place = out == config.ROOT.resolve()
    files = _publication(out, until)
    with step("publish"):
        if in_place:
            # The committed notebooks are also the workflow's sources: publishing writes the
            # executed notebook over the file it ran from. If that file was edited while the
            # build ran, publishing would lose the edit: publish nothing and rerun it next time.
            for rel in (f for f in files if f.startswith("notebooks/")):
                if (out / rel).exists() and \
                        _notebook_signature(out / rel) != _notebook_signature(stage / rel):
                    (stage / rel).unlink()
                    raise StepError(f"{rel} changed while the build ran; nothing was "
                                    "published. Run the build again.")
        scanned = leak_scan.check([stage / f for f in files if f not in MANUSCRIPT_SOURCES],
                                data, sources=[config.ROOT / s for s in MANUSCRIPT_SOURCES],
                                sheet=sheet, work=work)
        record_path = work / "published.json"
        record = json.loads(record_path.read_text())["files"] if record_path.exists() else {}
        held = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            changed = 0
            for rel in files:
                src, dest = stage / rel, out / rel
                if dest.exists() and dest.read_bytes() == src.read_bytes():
                    continue
                # A published notebook that is also a workflow input (committed notebooks)
                # keeps its previous modification time: only its outputs changed (checked
                # above), so it must not look newer than the staged notebook made from it,
                # or the next build would run it again. Its bytes and git see the change.
                _copy_atomic(src, dest, keep_mtime=in_place and rel.startswith("notebooks/"))
                changed += 1
            # notebook products (figures, tables, sections) a notebook no longer writes
            products = ("figures/", "results/tables/", "results/sections/")
            stale = [r for r in record if r.startswith(products) and r not in files]
            for rel in stale:
                (out / rel).unlink(missing_ok=True)
                record.pop(rel)
            record.update({rel: sha256(out / rel) for rel in files})
            write_json(record_path, {"files": record})
            if stamp:
                write_json(Path(stamp), {"until": until, "files": sorted(files)})
        finally:
            for s, handler in held.items():
                signal.signal(s, handler)
        print(f"  {len(files)} files ({scanned} scanned, no patient-level values), "
              f"{changed} changed, {len(stale)} removed -> {relative(out)}")


def published_intact(out: Path) -> bool:
    """True when every file the last publish wrote is still there with the same bytes."""
    record_path = work_dir(out) / "published.json"
    if not record_path.exists():
        return True
    record = json.loads(record_path.read_text())["files"]
    return all((Path(out) / rel).is_file() and sha256(Path(out) / rel) == digest
               for rel, digest in record.items())
