"""``leakscan audit REGISTRY``: scan every image of a registry, shared layers once, resumable."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from leakscan.cli import validation
from leakscan.cli.common import (
    FormatOpt,
    MinConfidenceOpt,
    NoProgressOpt,
    OutputOpt,
    RulesOpt,
    ShowSecretsOpt,
    VerboseOpt,
    fail,
    options_from,
    read_password,
    registry_timeout,
    scan_config,
    setup_logging,
    write_report,
)
from leakscan.errors import ExitCode, LeakscanError
from leakscan.model import ScanResult
from leakscan.report.safe_text import terminal


def _per_repo_findings(result: ScanResult) -> dict[str, int]:
    out: dict[str, set[str]] = {}
    for f in result.findings:
        for loc in f.locations:
            repo = loc.provenance.fields.get("repository")
            if repo:
                out.setdefault(str(repo), set()).add(f.fingerprint)
    return {k: len(v) for k, v in out.items()}


def summary(result: ScanResult, per_repo: dict[str, dict[str, int]]) -> str:
    """The terminal summary: one line per repository, then the totals."""
    from leakscan.audit import AuditStats

    found = _per_repo_findings(result)
    lines = ["", "repository                                images  failed  secrets"]
    for repo in sorted(per_repo):
        c = per_repo[repo]
        name = terminal(repo)  # a registry's repository names are untrusted text
        lines.append(f"{name:<40} {c['images']:>7} {c['failed']:>7} {found.get(repo, 0):>8}")
    s = result.stats
    if isinstance(s, AuditStats):
        lines.append(
            f"{s.images} image(s) in {s.repositories} repositories: {s.images_scanned} scanned, "
            f"{s.images_from_state} from the audit state, {s.images_failed} failed"
            + (
                f" (and {s.repositories_failed} repositories whose tags could not be listed)"
                if s.repositories_failed
                else ""
            )
            + "; layers "
            f"{s.layers_scanned} scanned, {s.layers_reused} reused; "
            f"{s.bytes_downloaded} bytes downloaded, {s.bytes_skipped} bytes skipped (cache)"
        )
    return "\n".join(lines) + "\n"


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def audit(
    registry: Annotated[str, typer.Argument(help="Registry host[:port] (http:// or https://).")],
    repo: Annotated[
        list[str] | None, typer.Option("--repo", help="Repository glob (repeat).")
    ] = None,
    tags: Annotated[str, typer.Option("--tags", help="all, latest or a tag glob.")] = "all",
    platform: Annotated[
        str | None, typer.Option("--platform", help="os/arch, e.g. linux/amd64.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="SQLite state file (default under the user cache dir)."),
    ] = None,
    rescan: Annotated[
        bool, typer.Option("--rescan", help="Re-resolve images already done.")
    ] = False,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow plain HTTP and unverified TLS.")
    ] = False,
    page_size: Annotated[int | None, typer.Option("--page-size", hidden=True)] = None,
    workers: Annotated[int, typer.Option("--workers", help="Download threads.")] = 4,
    format: FormatOpt = "table",
    output: OutputOpt = None,
    show_secrets: ShowSecretsOpt = False,
    no_progress: NoProgressOpt = False,
    verbose: VerboseOpt = 0,
    min_confidence: MinConfidenceOpt = "low",
    rules: RulesOpt = None,
    validate: validation.ValidateOpt = False,
    validate_endpoint: validation.ValidateEndpointOpt = None,
    only_valid: validation.OnlyValidOpt = False,
) -> None:
    """Audit a whole registry: every repository and tag, each layer scanned once."""
    from leakscan.audit import AuditOptions, run_audit
    from leakscan.cli.registry_login import registry_credentials
    from leakscan.report import reporter
    from leakscan.sources.registry.auth import RegistryAuth
    from leakscan.store.db import default_state_path

    opts = options_from(
        format=format,
        output=output,
        show_secrets=show_secrets,
        no_progress=no_progress,
        verbose=verbose,
        min_confidence=min_confidence,
        rules=rules,
        validate=validate,
        validate_endpoint=validate_endpoint,
        only_valid=only_valid,
    )
    setup_logging(verbose)
    password = read_password(username, password_stdin)
    creds = registry_credentials(username, password)  # flags, else LEAKSCAN_REGISTRY_*
    previous = signal.signal(signal.SIGTERM, _sigterm)  # like Ctrl-C: report, exit 2
    try:
        report = reporter(format)
        validation.check_options(opts)
        aopts = AuditOptions(
            registry=registry,
            state=state or default_state_path(),
            repos=tuple(repo or ()),
            tags=tags,
            platform=platform,
            rescan=rescan,
            insecure=insecure,
            timeout=registry_timeout(),
            page_size=page_size,
            workers=workers,
        )
        outcome = run_audit(aopts, scan_config(opts), RegistryAuth(creds))
        result = validation.validated(outcome.result, opts)  # --validate only
        result.extra["audit"] = {
            "registry": registry,
            "interrupted": outcome.interrupted,
            "repositories": {
                r: {**c, "secrets": _per_repo_findings(result).get(r, 0)}
                for r, c in outcome.per_repo.items()
            },
        }
        text = report.render(result, show_secrets=show_secrets)
    except LeakscanError as exc:
        fail(str(exc), verbose)
    except Exception as exc:  # a bug or an unforeseen answer: one line, never a traceback
        if verbose >= 2:
            logging.getLogger(__name__).exception("unexpected error")
        fail(f"unexpected {type(exc).__name__}: {exc} (run with -vv for details)")
    finally:
        signal.signal(signal.SIGTERM, previous)
    write_report(text, opts)
    if output is not None or format != "table":
        typer.echo(summary(result, outcome.per_repo).lstrip("\n"), err=True)
    else:
        sys.stdout.write(summary(result, outcome.per_repo))
    for error in result.errors:
        typer.echo(f"leakscan: error: {terminal(error)}", err=True)
    if result.errors:
        raise typer.Exit(int(ExitCode.ERROR))
    raise typer.Exit(int(ExitCode.FINDINGS if result.findings else ExitCode.CLEAN))


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    app.command("audit", help="Audit a whole registry (resumable, shared layers once).")(audit)
