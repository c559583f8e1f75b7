"""``leakscan rules import gitleaks|trufflehog3 FILE -o OUT.yaml --example RULE-ID=TEXT``.

gitleaks and truffleHog3 rules carry no examples, and a leakscan rule does not load without
them: each rule to import needs a sample text (``--example``); the importer records the
secret the pattern captures from it, derives a negative example, and runs both through the
whole detector before writing. Rules without a fitting sample are listed and left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leakscan.cli.exits import fail
from leakscan.errors import LeakscanError

import_app = typer.Typer(
    help="Import gitleaks or truffleHog3 rule files as leakscan rules.", no_args_is_help=True
)

OutOpt = Annotated[Path, typer.Option("--output", "-o", help="The leakscan rule file to write.")]
ExampleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--example",
        "-e",
        help="RULE-ID=TEXT: a sample the rule must find (repeatable; needed per rule).",
    ),
]
PrefixOpt = Annotated[str | None, typer.Option("--prefix", help="Prefix of the new rule ids.")]


def _examples(pairs: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pair in pairs or []:
        rule_id, sep, text = pair.partition("=")
        if not sep or not rule_id or not text:
            fail(f"--example takes RULE-ID=TEXT, not {pair[:40]!r}")
        out.setdefault(rule_id.strip(), []).append(text)
    return out


def _run(
    tool: str, file: Path, output: Path, examples: list[str] | None, prefix: str | None
) -> None:
    from leakscan.engine.detector import Detector
    from leakscan.engine.selftest import check_rule
    from leakscan.rules import importers
    from leakscan.rules.loader import parse_rule

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}")
    samples = _examples(examples)
    try:
        if tool == "gitleaks":
            result = importers.import_gitleaks(
                text, str(file), samples, prefix or "imported.gitleaks."
            )
        else:
            result = importers.import_trufflehog3(
                text, str(file), samples, prefix or "imported.trufflehog3."
            )
        kept = []
        for i, raw in enumerate(result.rules):
            rule = parse_rule(raw, output, i)
            failures = check_rule(Detector([rule]), rule)
            if failures:
                result.left_out.append(f"{raw['id']}: {failures[0].message}")
            else:
                kept.append(raw)
        result.rules = kept
    except LeakscanError as exc:
        fail(str(exc))
    for why in result.left_out:
        typer.echo(f"leakscan: left out {why}", err=True)
    if not result.rules:
        fail(f"no rule of {file} could be imported")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(result.to_yaml(str(file), tool), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    typer.echo(
        f"{len(result.rules)} rule(s) written to {output}, {len(result.left_out)} left out",
        err=True,
    )


@import_app.command("gitleaks")
def import_gitleaks(
    file: Annotated[Path, typer.Argument(help="A gitleaks TOML config.")],
    output: OutOpt,
    example: ExampleOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """Import the rules of a gitleaks TOML config."""
    _run("gitleaks", file, output, example, prefix)


@import_app.command("trufflehog3")
def import_trufflehog3(
    file: Annotated[Path, typer.Argument(help="A truffleHog3 rules YAML file.")],
    output: OutOpt,
    example: ExampleOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """Import the pattern rules of a truffleHog3 rules file."""
    _run("trufflehog3", file, output, example, prefix)
