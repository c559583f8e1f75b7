"""The config file: ``leakscan.toml``, or ``[tool.leakscan]`` in ``pyproject.toml``.

Keys (all optional)::

    enable = ["leakscan.aws.*"]         # rule ids or globs; empty = every rule
    disable = ["leakscan.generic.*"]
    rules = ["ci/rules"]                # extra rule folders, relative to the config file
    exclude = ["tests/fixtures/**"]     # path globs not to scan
    min_confidence = "medium"           # low | medium | high
    format = "sarif"                    # the default report format
    fail_on = "high"                    # exit 1 only for findings this severe or more
    foreign_allow = true                # honour gitleaks:allow & co.
    baseline = ".leakscan-baseline.json"

Command-line flags override the file; a flag left at its default does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakscan.errors import UsageError
from leakscan.model import CONFIDENCES, SEVERITIES

FILE_NAME = "leakscan.toml"
FORMATS = ("table", "json", "jsonl", "sarif", "gitlab", "junit", "html")


class ConfigError(UsageError):
    """The config file cannot be read or holds a wrong key or value."""


@dataclass(slots=True)
class FileConfig:
    path: Path | None = None
    enable: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    rules: list[Path] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    min_confidence: str | None = None
    format: str | None = None
    fail_on: str | None = None
    foreign_allow: bool | None = None
    baseline: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enable": self.enable,
            "disable": self.disable,
            "rules": [str(p) for p in self.rules],
            "exclude": self.exclude,
        }
        for key in ("min_confidence", "format", "fail_on", "foreign_allow", "baseline"):
            value = getattr(self, key)
            if value is not None:
                out[key] = str(value) if isinstance(value, Path) else value
        return out


_LIST_KEYS = ("enable", "disable", "rules", "exclude")
_CHOICES: dict[str, tuple[str, ...]] = {
    "min_confidence": CONFIDENCES,
    "format": FORMATS,
    "fail_on": SEVERITIES,
}
KEYS = (*_LIST_KEYS, *_CHOICES, "foreign_allow", "baseline")


def find(
    explicit: Path | None = None, cwd: Path | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """The config file and its table: ``explicit``, else ``leakscan.toml``, else pyproject's."""
    cwd = cwd or Path.cwd()
    if explicit is not None:
        doc = _read(explicit)
        if explicit.name == "pyproject.toml":
            return explicit, _tool_table(doc, explicit) or {}
        return explicit, doc
    own = cwd / FILE_NAME
    if own.is_file():
        return own, _read(own)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        table = _tool_table(_read(pyproject), pyproject)
        if table is not None:
            return pyproject, table
    return None


def _tool_table(doc: dict[str, Any], path: Path) -> dict[str, Any] | None:
    table = doc.get("tool", {}).get("leakscan") if isinstance(doc.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.leakscan] must be a table")
    return table


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # only where there is a file to read

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def parse(table: dict[str, Any], path: Path | None = None) -> FileConfig:
    """Validate a config table; relative paths are taken from the file's folder."""
    where = str(path) if path else "config"
    unknown = set(table) - set(KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s): {', '.join(sorted(unknown))} (known: {', '.join(KEYS)})"
        )
    base = path.parent if path else Path(".")
    out = FileConfig(path=path)
    for key in _LIST_KEYS:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of strings")
        if key == "rules":
            out.rules = [_relative(base, v) for v in value]
        else:
            setattr(out, key, list(value))
    for key, choices in _CHOICES.items():
        if key in table:
            value = table[key]
            if value not in choices:
                raise ConfigError(f"{where}: {key} must be one of {', '.join(choices)}")
            setattr(out, key, value)
    if "foreign_allow" in table:
        if not isinstance(table["foreign_allow"], bool):
            raise ConfigError(f"{where}: foreign_allow must be true or false")
        out.foreign_allow = table["foreign_allow"]
    if "baseline" in table:
        if not isinstance(table["baseline"], str):
            raise ConfigError(f"{where}: baseline must be a file name")
        out.baseline = _relative(base, table["baseline"])
    return out


def _relative(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() or base == Path(".") else base / p


def load(explicit: Path | None = None, cwd: Path | None = None) -> FileConfig:
    """The config in force (an empty one when there is no file)."""
    found = find(explicit, cwd)
    if found is None:
        return FileConfig()
    path, table = found
    return parse(table, path)
