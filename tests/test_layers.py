"""The three layers import one way: repro and reference use the method; the method uses neither."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cgp_lib"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the cgp_lib modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "cgp_lib" or n.startswith("cgp_lib.")}


def test_the_method_imports_neither_repro_nor_reference():
    for path in PACKAGE.glob("*.py"):
        bad = {n for n in imported_modules(path) if n.startswith(("cgp_lib.repro", "cgp_lib.reference"))}
        assert not bad, f"{path.name} imports {bad}"


def test_reference_does_not_import_repro():
    for path in (PACKAGE / "reference").glob("*.py"):
        bad = {n for n in imported_modules(path) if n.startswith("cgp_lib.repro")}
        assert not bad, f"reference/{path.name} imports {bad}"


def test_repro_imports_the_method_not_the_reference():
    uses_method = False
    for path in (PACKAGE / "repro").glob("*.py"):
        names = imported_modules(path)
        assert not {n for n in names if n.startswith("cgp_lib.reference")}, f"repro/{path.name}"
        uses_method |= any(n.startswith(("cgp_lib.explainer", "cgp_lib.metrics")) for n in names)
    assert uses_method  # the resolution of relative imports works (experiments uses the explainer)
