"""Choosing the renderer: Quarto when it is on PATH (its pre-render step runs the workflow),
else the pandoc/Typst fallback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lenstop.workflow.layout import relative
from lenstop.workflow.runner import child_env


def use_quarto() -> bool:
    """Render with Quarto when it is on PATH; LENSTOP_RENDERER=pandoc forces pandoc/Typst."""
    return (shutil.which("quarto") is not None
            and os.environ.get("LENSTOP_RENDERER", "quarto") != "pandoc")


def quarto_render(project: Path) -> int:
    """`quarto render` of `project`: its pre-render step runs the workflow up to the
    manuscript variables (workflow/pre-render.sh), then Quarto renders HTML and PDF."""
    env = {**child_env(), "LENSTOP_PYTHON": sys.executable}
    print(f"quarto is on PATH: running `quarto render {relative(project)}` (its pre-render "
          "step runs the workflow)", flush=True)
    return subprocess.run(["quarto", "render"], cwd=project, env=env).returncode
