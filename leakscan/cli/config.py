"""``leakscan config show``: the settings in force (config file merged over the defaults)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from leakscan.cli.exits import fail
from leakscan.cli.options import ConfigPathOpt
from leakscan.errors import LeakscanError

config_app = typer.Typer(help="Show the configuration in force.", no_args_is_help=True)

DEFAULTS: dict[str, Any] = {
    "enable": [],
    "disable": [],
    "rules": [],
    "exclude": [],
    "min_confidence": "low",
    "format": "table",
    "fail_on": "low",
    "foreign_allow": True,
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


@config_app.command("show")
def show(
    config: ConfigPathOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="toml or json")] = "toml",
) -> None:
    """Print the merged configuration: defaults, then the config file (flags win at scan time)."""
    from leakscan.policy.config_file import load

    try:
        file = load(config)
    except LeakscanError as exc:
        fail(str(exc))
    merged = dict(DEFAULTS)
    merged.update(file.to_dict())
    source = str(file.path) if file.path else None
    if format == "json":
        typer.echo(json.dumps({"config_file": source, "settings": merged}, indent=2))
        return
    if format != "toml":
        fail("--format must be toml or json")
    typer.echo(f"# config file: {source or 'none (defaults)'}")
    for key, value in merged.items():
        typer.echo(f"{key} = {_toml_value(value)}")


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
