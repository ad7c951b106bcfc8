"""Provenance: the commit and package versions a build was made from, for Reproducibility,
so that a reader can check out that commit and install those versions to rebuild it."""

from __future__ import annotations

import platform
import subprocess

from lenstop import config

REPORTED_PACKAGES = ("lifelines", "statsmodels", "scipy", "pandas", "numpy", "pandera",
                     "matplotlib", "papermill", "snakemake", "pypandoc_binary",
                     "typst")


def git_commit() -> str:
    """HEAD's short hash, 'with uncommitted changes' when tracked files differ from it."""
    try:
        out = subprocess.run(["git", "-C", str(config.ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(config.ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    if out.returncode != 0:
        return "unknown (not a git checkout)"
    return out.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def software() -> dict[str, str]:
    """Versions of Python and the packages the methods section names."""
    import importlib.metadata  # here: it is slow to import, and Snakemake imports this package

    versions = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        try:
            versions[name.replace("-", "_")] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name.replace("-", "_")] = "not installed"
    return versions
