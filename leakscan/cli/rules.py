"""``leakscan rules list|show|test``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from leakscan.cli.exits import fail
from leakscan.errors import ExitCode, LeakscanError

rules_app = typer.Typer(help="List, show and test the detection rules.", no_args_is_help=True)

RulesDirOpt = Annotated[
    list[Path] | None, typer.Option("--rules", help="Extra rule file or folder (repeatable).")
]


def _load(extra: list[Path] | None, builtin: bool = True):  # type: ignore[no-untyped-def]
    from leakscan.rules.loader import load_rules

    try:
        return load_rules(list(extra or []), include_builtin=builtin)
    except LeakscanError as exc:
        fail(str(exc))


@rules_app.command("list")
def list_rules(
    rules: RulesDirOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """List every loaded rule."""
    loaded = _load(rules)
    if format == "json":
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "severity": r.severity,
                        "confidence": r.confidence,
                        "source": r.source,
                    }
                    for r in loaded
                ],
                indent=2,
            )
        )
        return
    for r in loaded:
        typer.echo(f"{r.id:50} {r.severity:8} {r.confidence:6} {r.name}")
    typer.echo(f"{len(loaded)} rules")


@rules_app.command("show")
def show_rule(rule_id: str, rules: RulesDirOpt = None) -> None:
    """Show one rule: pattern, keywords, thresholds, references, examples."""
    for r in _load(rules):
        if r.id == rule_id:
            typer.echo(f"id:          {r.id}\nname:        {r.name}\nfile:        {r.source}")
            typer.echo(f"pattern:     {r.pattern}\nkeywords:    {', '.join(r.keywords)}")
            typer.echo(f"entropy:     {r.entropy}\nconfidence:  {r.confidence}")
            typer.echo(f"severity:    {r.severity}\nchecksum:    {r.checksum or '-'}")
            if r.context:
                typer.echo(f"context:     {r.context}")
            for ref in r.references:
                typer.echo(f"reference:   {ref}")
            typer.echo(
                f"examples:    {len(r.examples)} positive, {len(r.negative_examples)} negative"
            )
            return
    fail(f"no rule with id {rule_id!r}")


@rules_app.command("test")
def test_rules(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Rule files or folders to test.")
    ] = None,
    rules: RulesDirOpt = None,
) -> None:
    """Run every rule's positive and negative examples through the whole detector."""
    from leakscan.engine.detector import Detector
    from leakscan.engine.selftest import run_examples

    only = _load(list(paths), builtin=False) if paths else None
    loaded = _load([*(rules or []), *(paths or [])])
    detector = Detector(loaded)
    failures = run_examples(detector, only)
    for failure in failures:
        typer.echo(str(failure), err=True)
    tested = only if only is not None else loaded
    typer.echo(f"{len(tested)} rules tested, {len(failures)} failure(s)")
    raise typer.Exit(int(ExitCode.FINDINGS) if failures else 0)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
