"""The layout a newcomer reads: the README's "Where things are" names every package module in
its own stage's row, and the tests mirror the package's stage folders."""

from __future__ import annotations

import re

from lenstop import config

STAGES = ("ingest", "cohort", "stats", "analyses", "content", "manuscript", "disclosure",
          "workflow")


def _where_rows() -> dict[str, str]:
    text = (config.ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `([^`]+)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_every_module_is_named_in_its_stage_row():
    rows = _where_rows()
    package = config.PACKAGE_DIR
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if path.name in {"__init__.py", "__main__.py"} or rel.parts[0] == "manuscript" and \
                len(rel.parts) > 2:  # the renderer's own files: render/SUBSET.md lists them
            continue
        if rel.parts[0].startswith("_") or path.stem.startswith("_"):
            continue
        folder = f"src/lenstop/{rel.parent.as_posix()}/".replace("/./", "/")
        row = rows.get(folder, "")
        if f"`{path.stem}`" not in row:
            missing.append(f"{rel} (row {folder})")
    assert not missing, "README 'Where things are' misses: " + ", ".join(missing)


def test_stage_folders_are_the_package_and_every_row_exists():
    package = config.PACKAGE_DIR
    folders = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(STAGES)
    rows = _where_rows()
    for name in rows:
        if name.endswith("/") and not name.startswith(("figures", "results")):
            assert (config.ROOT / name).is_dir(), f"README names {name}, which does not exist"


def test_tests_mirror_the_stage_folders():
    tests = config.ROOT / "tests"
    for stage in STAGES:
        folder = tests / stage
        assert any(folder.glob("test_*.py")), f"tests/{stage}/ has no tests"


def _imports_of(path) -> set[str]:
    """The lenstop modules a source file imports, at its top or lazily inside functions."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lenstop"):
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lenstop")}
    return found


def test_no_import_circles():
    """No module reaches itself through what it imports (lazy imports counted): each stage
    uses the ones before it, never the other way round."""
    package = config.PACKAGE_DIR
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts).removesuffix(".__init__")] = path
    graph = {name: {m for m in _imports_of(path) if m in modules and m != name
                    and not m.startswith(f"{name}.") and not name.startswith(f"{m}.")}
             for name, path in modules.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    circles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                circles.append(" -> ".join([*path[path.index(dep):], dep]))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles: " + "; ".join(circles)
