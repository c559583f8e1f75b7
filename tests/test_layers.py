"""Layers only point down: sources never import the engine, the engine never imports sources,
rules and the model import neither (the contract ggshield enforces with import-linter)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "leakscan"

FORBIDDEN = {
    "sources": (
        "leakscan.engine",
        "leakscan.api",
        "leakscan.cli",
        "leakscan.report",
        "leakscan.findings",
        "leakscan.audit",
    ),
    "engine": (
        "leakscan.sources",
        "leakscan.api",
        "leakscan.cli",
        "leakscan.report",
        "leakscan.audit",
        "leakscan.store",
    ),
    "rules": ("leakscan.engine", "leakscan.sources", "leakscan.api", "leakscan.cli"),
    "report": ("leakscan.sources", "leakscan.api", "leakscan.cli", "leakscan.audit"),
    "model.py": ("leakscan.",),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_upwards(layer: str) -> None:
    target = PACKAGE / layer
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert files
    broken = [
        (str(f.relative_to(PACKAGE)), name)
        for f in files
        for name in imports(f)
        if any(
            name == bad.rstrip(".")
            or name.startswith(bad.rstrip(".") + ".")
            or (bad.endswith(".") and name.startswith(bad))
            for bad in FORBIDDEN[layer]
        )
    ]
    assert not broken, broken
