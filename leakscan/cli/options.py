"""The options every scanning command shares, declared once, and :class:`Options`, their
typed values.

A command module declares its own arguments and takes ``opts: Options``; the
:func:`scan_options` decorator adds the shared options of the groups it names to the signature
typer reads. ``--config`` is read first (an eager option): the config file's values become
the defaults of the flags it covers (``ctx.default_map``), so a flag given on the command line
wins and ``--help`` shows the built-in defaults.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from leakscan.cli import validation
from leakscan.cli.exits import fail
from leakscan.cli.output import FormatsOpt, ReportOpt
from leakscan.errors import LeakscanError
from leakscan.policy.config_file import FileConfig, load

OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write the report to this file."),
]
ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Print secrets in clear (redacted by default).")
]
NoProgressOpt = Annotated[bool, typer.Option("--no-progress", help="Never draw progress bars.")]
VerboseOpt = Annotated[
    int,
    typer.Option("--verbose", "-v", count=True, help="List skips; -vv adds debug logs."),
]
MinConfidenceOpt = Annotated[
    str, typer.Option("--min-confidence", help="Report findings of at least: low, medium, high.")
]
RulesOpt = Annotated[
    list[Path] | None, typer.Option("--rules", help="Extra rule file or folder (repeatable).")
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option("--exclude", help="Glob of paths not to scan (repeatable).")
]
ScanBinaryOpt = Annotated[bool, typer.Option("--scan-binary", help="Also scan binary files.")]
BaselineOpt = Annotated[
    Path | None,
    typer.Option("--baseline", help="Baseline file: findings in it are not reported."),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 only for findings of this severity or above, or (with --validate) "
        "'valid': only for live credentials.",
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Worker processes for large scans (1: none; 0: by the machine: 2 for images "
        "from 2 cores on when one is idle, else one per core from 4 cores on, up to 4; "
        "default $LEAKSCAN_JOBS or 0).",
    ),
]
#: ``--config`` as a plain path (``config show``)
ConfigPathOpt = Annotated[
    Path | None, typer.Option("--config", help="Config file (default: leakscan.toml).")
]
# limits (docs/security.md): a limit hit is reported in the output's "skipped" list
MaxFileSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-file-size",
        help="Skip (and report) files larger than this (bytes, or 10K/64M/1G; default 256M).",
    ),
]
MaxLayerSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-layer-size", help="Images: stop a layer that inflates beyond this (default 64G)."
    ),
]
MaxRatioOpt = Annotated[
    int | None,
    typer.Option(
        "--max-ratio", help="Decompression ratio above which content is a bomb (default 200)."
    ),
]
MaxArchiveDepthOpt = Annotated[
    int | None,
    typer.Option(
        "--max-archive-depth",
        help="Open nested archives to this depth (default 3; 0 = do not open archives).",
    ),
]
RegexTimeoutOpt = Annotated[
    float | None,
    typer.Option("--regex-timeout", help="Seconds per precise regex attempt (default 1.0)."),
]
MaxHitsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-hits-per-rule",
        help="Hits of one rule examined per file (default 10000; a high-confidence rule's "
        "full-pattern hits are all examined).",
    ),
]
MaxRegionsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-decoded-regions",
        help="Encoded regions (base64, hex, ...) decoded and scanned per file (default 2000).",
    ),
]

#: the flags whose default the config file sets (its other keys add to flags: see settings)
_FILE_DEFAULTS = ("format", "min_confidence", "fail_on", "baseline")
_BUILTIN = {"format": "table"}  # a file value equal to the built-in default sets nothing


def _config_file(ctx: typer.Context, value: Path | None) -> FileConfig:
    """``--config`` (eager): read the config file and make its values the flags' defaults."""
    if ctx.resilient_parsing:  # help and completion: nothing read, nothing to fail
        return FileConfig()
    try:
        file = load(value)
    except LeakscanError as exc:
        fail(str(exc))
    defaults: dict[str, Any] = {}
    for key in _FILE_DEFAULTS:
        given = getattr(file, key)
        if given is not None and given != _BUILTIN.get(key):
            defaults[key] = [given] if key == "format" else given
    if defaults:
        ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return file


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Config file (default: leakscan.toml).",
        is_eager=True,
        callback=_config_file,
    ),
]


@dataclass(slots=True)
class Options:
    """The shared options' values, and the few command arguments the run itself reads."""

    # reports
    formats: tuple[str, ...] = ()  # -f as given (more than one is an error)
    reports: tuple[str, ...] = ()  # --report FORMAT[=FILE]
    output: Path | None = None
    show_secrets: bool = False
    no_progress: bool = False
    verbose: int = 0
    # policy
    min_confidence: str = "low"
    fail_on: str | None = None
    baseline: Path | None = None
    file: FileConfig = field(default_factory=FileConfig)  # the config file (--config)
    exclude: tuple[str, ...] = ()
    no_foreign_allow: bool = False  # scan PATH: --no-foreign-allow
    # rules and content
    rules: tuple[Path, ...] = ()
    scan_binary: bool = False
    jobs: int | None = None
    # limits (None: the default)
    max_file_size: str | None = None
    max_layer_size: str | None = None
    max_ratio: int | None = None
    max_archive_depth: int | None = None
    regex_timeout: float | None = None
    max_hits_per_rule: int | None = None
    max_decoded_regions: int | None = None
    # --validate
    validate: bool = False
    validate_endpoint: tuple[str, ...] = ()
    only_valid: bool = False
    # command arguments the run reads
    platform: str | None = None  # scan image: --platform
    force_kind: str | None = None  # scan PATH: --as
    staged: bool = False  # scan git --staged: its own next steps

    @property
    def format(self) -> str:
        """The report format of ``-f`` (the last given; ``table`` when none)."""
        return self.formats[-1] if self.formats else "table"


_FIELDS = frozenset(f.name for f in fields(Options))
_RENAMED = {"format": "formats", "report": "reports", "config": "file"}
_TUPLES = frozenset({"formats", "reports", "exclude", "rules", "validate_endpoint"})


def options_from(values: dict[str, Any]) -> Options:
    """Options from the shared options' values, by their parameter names."""
    opts = Options()
    for key, value in values.items():
        name = _RENAMED.get(key, key)
        if name not in _FIELDS:
            raise TypeError(f"{key}: not a shared option")
        if name in _TUPLES:
            value = (value,) if isinstance(value, str) else tuple(value or ())
        elif name == "file" and not isinstance(value, FileConfig):
            value = load(value)  # called without the command line (the callback did not run)
        setattr(opts, name, value)
    return opts


# -- the shared options, declared once -------------------------------------------------------
# (name, annotated type, default) of every shared option, by group
REPORT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("format", FormatsOpt, None),
    ("report", ReportOpt, None),
    ("output", OutputOpt, None),
    ("show_secrets", ShowSecretsOpt, False),
    ("no_progress", NoProgressOpt, False),
    ("verbose", VerboseOpt, 0),
    ("min_confidence", MinConfidenceOpt, "low"),
    ("rules", RulesOpt, None),
    ("baseline", BaselineOpt, None),
    ("fail_on", FailOnOpt, None),
    ("config", ConfigOpt, None),
    ("regex_timeout", RegexTimeoutOpt, None),
    ("max_hits_per_rule", MaxHitsOpt, None),
    ("max_decoded_regions", MaxRegionsOpt, None),
    *validation.VALIDATE_OPTIONS,
)
CONTENT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("exclude", ExcludeOpt, None),
    ("scan_binary", ScanBinaryOpt, False),
    ("jobs", JobsOpt, None),
    ("max_file_size", MaxFileSizeOpt, None),
    ("max_ratio", MaxRatioOpt, None),
    ("max_archive_depth", MaxArchiveDepthOpt, None),
)
LAYER_OPTIONS: tuple[tuple[str, Any, Any], ...] = (("max_layer_size", MaxLayerSizeOpt, None),)


def scan_options(
    *groups: tuple[tuple[str, Any, Any], ...], report: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared options of ``groups`` (and REPORT_OPTIONS unless the
    command writes no report).

    The command declares only its own arguments plus ``opts: Options``; the decorator adds
    the shared options to the signature typer reads, and calls the command with them
    gathered in ``opts``.
    """
    shared = (REPORT_OPTIONS if report else ()) + tuple(item for group in groups for item in group)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(func, include_extras=True)
        signature = inspect.signature(func)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != "opts"
        ]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
            for name, annotation, default in shared
        ]
        names = [name for name, _, _ in shared]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return func(opts=options_from(values), **kwargs)

        parameters = own + added
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        del command.__wrapped__  # typer must read the signature above, not the function's
        return command

    return decorate
