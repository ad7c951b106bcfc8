"""The conda environment names the same packages at the same versions as the pip pins."""

from __future__ import annotations

import re

import pytest
import yaml

from lenstop import config


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_pins() -> dict[str, str]:
    pins = {}
    for line in (config.ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def _conda_pins() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((config.ROOT / "environment.yml").read_text())
    pins, others = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                name, version = line.split("==")
                pins[_norm(name)] = version
        elif "=" in dep and not dep.startswith(("python=", "quarto")):
            name, version = dep.split("=", 1)
            pins[_norm(name)] = version
        else:
            others.append(dep)
    return pins, others


def test_conda_environment_matches_pip_pins():
    conda, _ = _conda_pins()
    assert conda == _pip_pins()


def test_conda_environment_has_python_311_and_quarto():
    _, others = _conda_pins()
    assert "python=3.11" in others
    assert any(o.startswith("quarto") for o in others)


def test_every_pin_is_in_the_lock():
    lock = {}
    for line in (config.ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            lock[_norm(name)] = version
    for name, version in _pip_pins().items():
        assert lock.get(name) == version, name


def test_make_rebuilds_a_venv_copied_from_another_checkout(tmp_path):
    """A copied .venv runs the original checkout's code: make notices and starts afresh."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(config.ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").write_text("/somewhere/else/lenstop\n")
    run = subprocess.run(["make", "-s", "help"], cwd=tmp_path, capture_output=True, text=True)
    assert ".venv was made for /somewhere/else/lenstop; rebuilding it" in run.stdout + run.stderr
    assert not (tmp_path / ".venv").exists()
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").write_text(f"{tmp_path}\n")  # its own: kept
    subprocess.run(["make", "-s", "help"], cwd=tmp_path, capture_output=True, text=True)
    assert (tmp_path / ".venv" / ".installed").exists()
