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


#: library modules that still read environment variables, and why (every other setting is read
#: by the CLI, in leakscan/cli/, and passed down explicitly)
ENV_READERS = {
    "paths.py": "LEAKSCAN_CACHE_DIR / XDG_CACHE_HOME: the compiled-rules cache (a known debt)",
    "store/db.py": "XDG_CACHE_HOME: the default audit state path (a known debt)",
    "audit/runner.py": "LEAKSCAN_AUDIT_STOP_AFTER: a test hook (a known debt)",
    "sources/registry/auth.py": "DOCKER_CONFIG: where docker itself keeps credentials",
    "sources/git/repository.py": "passes the environment on to git, reads no setting",
    "sources/env.py": "the environment is what `scan env` scans",
}


def test_environment_read_only_in_the_cli() -> None:
    readers = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if rel.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv", "environb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                readers.add(rel)
    assert readers <= set(ENV_READERS), sorted(readers - set(ENV_READERS))
