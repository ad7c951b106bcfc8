"""Provenance: the commit and the versions the Reproducibility appendix names."""

from __future__ import annotations

import platform
import re

from lenstop import config
from lenstop.manuscript import provenance


def test_software_names_python_and_every_reported_package(monkeypatch):
    versions = provenance.software()
    assert versions["python"] == platform.python_version()
    assert set(versions) == {"python", *provenance.REPORTED_PACKAGES}
    assert re.fullmatch(r"\d+\.\d+.*", versions["pandas"])
    monkeypatch.setattr(provenance, "REPORTED_PACKAGES", ("no-such-package-lenstop",))
    assert provenance.software()["no_such_package_lenstop"] == "not installed"


def test_commit_of_this_checkout_or_why_unknown(monkeypatch, tmp_path):
    commit = provenance.git_commit()
    assert re.fullmatch(r"[0-9a-f]{12}( with uncommitted changes)?", commit) or \
        commit == "unknown (not a git checkout)"
    monkeypatch.setattr(config, "ROOT", tmp_path)  # no repository there
    assert provenance.git_commit() == "unknown (not a git checkout)"
