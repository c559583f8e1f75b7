"""``leakscan audit REGISTRY``: every image of a registry, scanned as ``scan image`` scans it.

The same options and policy as ``scan image`` (config file, baseline, allow comments,
``--exclude``, ``--min-confidence``, ``--fail-on``). Exit codes for cron jobs: 1 when findings
are reported (even if some images failed), 0 when every image was scanned and nothing was
found, 2 when the audit could not run or had to stop, or when images failed and nothing was
found. Failed images are listed with a one-line reason; a rerun retries only them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from leakscan.cli import validation
from leakscan.cli.exits import fail
from leakscan.cli.options import CONTENT_OPTIONS, LAYER_OPTIONS, Options, scan_options
from leakscan.cli.run import (
    exit_code,
    prepared,
    read_password,
    setup_logging,
    sigterm_as_interrupt,
    write_report,
)
from leakscan.cli.settings import registry_timeout
from leakscan.errors import ExitCode, LeakscanError
from leakscan.locations import location_of
from leakscan.model import ScanResult
from leakscan.policy.policy import Policy
from leakscan.report.safe_text import terminal

log = logging.getLogger(__name__)


def _repository_of(image: str, registry: str) -> str:
    """``host/repo:tag`` -> ``repo``."""
    rest = image.removeprefix(registry + "/")
    return rest.rsplit(":", 1)[0] if ":" in rest.rsplit("/", 1)[-1] else rest


def per_repo_secrets(result: ScanResult, registry: str) -> dict[str, int]:
    out: dict[str, set[str]] = {}
    for f in result.findings:
        for loc in f.locations:
            image = location_of(loc.provenance).image
            if isinstance(image, str):
                out.setdefault(_repository_of(image, registry), set()).add(f.fingerprint)
    return {k: len(v) for k, v in out.items()}


def summary(result: ScanResult, audit: dict[str, Any]) -> str:
    """The terminal summary: one line per repository, the totals, then each failure."""
    repos = audit["repositories"]
    lines = ["", f"{'repository':<40} {'images':>7} {'failed':>7} {'secrets':>8}"]
    for repo in sorted(repos):
        c = repos[repo]
        name = terminal(repo)  # a registry's repository names are untrusted text
        lines.append(f"{name:<40} {c['images']:>7} {c['failed']:>7} {c['secrets']:>8}")
    s = result.stats.to_dict()
    cov = audit["coverage"]
    lines.append(
        f"{cov['tags']} tag(s) in {cov['repositories']} repositories, {cov['images']} unique "
        f"image(s): {s.get('images_scanned', 0)} scanned, {s.get('images_from_state', 0)} from "
        f"the audit state, {cov['failed']} failed; {cov['clean']} clean; layers "
        f"{s.get('layers_scanned', 0)} scanned, {s.get('layers_reused', 0)} cached"
    )
    failed = audit["failed"]
    if failed:
        lines.append(f"failed ({len(failed)}; the next run retries them):")
        for item in failed:
            lines.append(f"  {terminal(item['image'])}: {terminal(item['reason'])}")
    return "\n".join(lines) + "\n"


def audit_extra(outcome: Any, result: ScanResult) -> dict[str, Any]:
    """The ``audit`` section of the report: registry, date, coverage, every tag, failures."""
    registry = outcome.registry
    secrets = per_repo_secrets(result, registry)
    repos = {r: {**c, "secrets": secrets.get(r, 0)} for r, c in sorted(outcome.per_repo().items())}
    digests_with: set[str] = set()
    for f in result.findings:
        for loc in f.locations:
            d = location_of(loc.provenance).image_digest
            if isinstance(d, str):
                digests_with.add(d)
    images: dict[str, str] = {}  # manifest digest -> worst status
    for t in outcome.tags:
        for img in t.images or [{"digest": t.digest}]:
            d = str(img.get("digest"))
            if t.status == "failed" or images.get(d) != "failed":
                images[d] = "failed" if t.status == "failed" else "ok"
    failed = [
        {"image": t.reference, "repository": t.repository, "reason": t.reason}
        for t in outcome.failed
    ] + [
        {"image": f"{registry}/{r}", "repository": r, "reason": why}
        for r, why in outcome.failed_repositories.items()
    ]
    ok = [d for d, status in images.items() if status == "ok"]
    return {
        "registry": registry,
        "date": datetime.fromtimestamp(outcome.started, UTC).isoformat(timespec="seconds"),
        "rules_digest": result.rules_digest,
        "interrupted": outcome.interrupted,
        "stopped": outcome.stopped,
        "coverage": {
            "repositories": len(repos),
            "tags": len(outcome.tags),
            "images": len(images),
            "scanned": len(ok),
            "clean": len([d for d in ok if d not in digests_with]),
            "failed": len(images) - len(ok),
        },
        "repositories": repos,
        "tags": [t.to_dict() for t in outcome.tags],
        "failed": failed,
    }


def audit_exit(result: ScanResult, policy: Policy, audit: dict[str, Any]) -> int:
    if result.errors:  # stopped, or the state could not be saved
        return int(ExitCode.ERROR)
    code = exit_code(dataclasses.replace(result, errors=[]), policy)
    if code == int(ExitCode.CLEAN) and audit["failed"]:
        return int(ExitCode.ERROR)  # nothing found, but not everything could be looked at
    return code


@scan_options(CONTENT_OPTIONS, LAYER_OPTIONS)
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
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="Content cache file shared with scan image (default: $LEAKSCAN_CONTENT_CACHE, "
            "else content.sqlite in the cache folder).",
        ),
    ] = None,
    rescan: Annotated[
        bool, typer.Option("--rescan", help="Scan images already done again.")
    ] = False,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow plain HTTP and unverified TLS.")
    ] = False,
    page_size: Annotated[int | None, typer.Option("--page-size", hidden=True)] = None,
    workers: Annotated[int, typer.Option("--workers", help="Concurrent registry requests.")] = 4,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler (tcp://HOST:8786, or $LEAKSCAN_DASK_SCHEDULER): uncached "
            "layers are scanned on its workers. Default: this machine.",
        ),
    ] = None,
    opts: Options | None = None,
) -> None:
    """Audit a whole registry: every repository and tag, each layer scanned once."""
    assert opts is not None
    with sigterm_as_interrupt():
        _audit(registry, repo, tags, platform, state, cache, rescan, username, password_stdin,
               insecure, page_size, workers, scheduler, opts)  # fmt: skip


def _audit(
    registry: str,
    repo: list[str] | None,
    tags: str,
    platform: str | None,
    state: Path | None,
    cache_flag: Path | None,
    rescan: bool,
    username: str | None,
    password_stdin: bool,
    insecure: bool,
    page_size: int | None,
    workers: int,
    scheduler: str | None,
    opts: Options,
) -> None:
    from leakscan.audit import AuditOptions, run_audit
    from leakscan.cli.audit_progress import AuditStatus
    from leakscan.cli.content_cache import open_cache
    from leakscan.cli.registry_login import registry_credentials
    from leakscan.report import reporter
    from leakscan.sources.registry.auth import RegistryAuth
    from leakscan.store.db import default_state_path

    setup_logging(opts.verbose)
    password = read_password(username, password_stdin)
    creds = registry_credentials(username, password)  # flags, else LEAKSCAN_REGISTRY_*
    try:
        fmt = opts.format
        opts.platform = platform
        config = prepared(opts)  # flags and policy checked; the baseline read
        report = None if fmt == "html" else reporter(fmt)
        cache = open_cache(config, cache_flag)
        from leakscan.api import cache_key

        policy_text = config.policy.cache_text()

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
            state_key=f"{cache_key(config, policy_text)}:platform={platform}",
        )
        config.options.registry_timeout = aopts.timeout
        progress = AuditStatus(sys.stderr, sys.stderr.isatty(), enabled=not opts.no_progress)
        scheduler = scheduler or os.environ.get("LEAKSCAN_DASK_SCHEDULER", "").strip() or None
        try:
            if scheduler:
                from leakscan.distributed import Cluster, run_distributed_audit

                cluster = Cluster(scheduler)
                try:
                    outcome = run_distributed_audit(
                        aopts, config, RegistryAuth(creds), cache, progress, cluster,
                        policy_text, cache_key(config, policy_text),
                    )  # fmt: skip
                finally:
                    cluster.close()
            else:
                outcome = run_audit(aopts, config, RegistryAuth(creds), cache, progress)
        finally:
            if cache is not None:
                cache.close()
        # the scanner applied the policy (allow comments, baseline); then --validate
        result = validation.validated(outcome.result, opts)
        extra = audit_extra(outcome, result)
        result.extra["audit"] = extra
        if report is None:
            from leakscan.audit.html import render

            text = render(result, extra, show_secrets=opts.show_secrets)
        else:
            text = report.render(result, show_secrets=opts.show_secrets)
    except LeakscanError as exc:
        fail(str(exc), opts.verbose)
    except KeyboardInterrupt:
        fail("interrupted before the audit started")
    except Exception as exc:  # a bug or an unforeseen answer: one line, never a traceback
        if opts.verbose >= 2:
            log.exception("unexpected error")
        fail(f"unexpected {type(exc).__name__}: {exc} (run with -vv for details)")
    write_report(text, opts)
    text_summary = summary(result, extra)
    if opts.output is not None or opts.format != "table":
        typer.echo(text_summary.lstrip("\n"), err=True)
    else:
        sys.stdout.write(text_summary)
    if opts.verbose and result.skipped:
        for skip in result.skipped:
            typer.echo(
                f"leakscan: skipped {terminal(skip.where)}: {terminal(skip.reason)}", err=True
            )
    for error in result.errors:
        typer.echo(f"leakscan: error: {terminal(error)}", err=True)
    raise typer.Exit(audit_exit(result, config.policy, extra))


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    app.command("audit", help="Audit a whole registry (resumable, shared layers once).")(audit)
