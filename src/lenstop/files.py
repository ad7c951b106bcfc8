"""Generic file helpers, one home each: a file's SHA-256 and writes that never leave half a file."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks: an extract may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: str | Path, data, indent: int = 2, allow_nan: bool = True) -> None:
    """`data` as sorted, indented JSON with a final newline, written atomically
    (`allow_nan=False`: a NaN or infinity is an error, not invalid JSON in the file)."""
    write_atomic(Path(path), json.dumps(data, indent=indent, sort_keys=True,
                                        allow_nan=allow_nan) + "\n")
