"""``leakscan scan PATH…``: files, directories, ``-`` for stdin."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from leakscan.cli.options import CONTENT_OPTIONS, Options, scan_options
from leakscan.cli.run import run_scan
from leakscan.sources.interface import Source, SourceOptions

#: target prefixes that name an image (skopeo's transport words) or a repository's history
IMAGE_TRANSPORTS = ("docker-archive:", "oci:", "oci-archive:", "docker-daemon:", "docker://")
GIT_PREFIX = "git:"


def path_sources(paths: list[str], options: SourceOptions) -> list[Source]:
    """Sources for targets, in order: files and directories (manifests recognised), and, by
    prefix, images (``docker-archive:x.tar``, ``oci:dir`` ...) and git history
    (``git:PATH|URL``), so that one run dedups a secret across all of them. An existing
    path always wins over a prefix reading."""
    out: list[Source] = []
    images: list[str] = []
    for target in paths:
        if target != "-" and os.path.exists(target):
            out.append(_file_source(target, options))
        elif target.startswith(IMAGE_TRANSPORTS):
            images.append(target)
        elif target.startswith(GIT_PREFIX):
            from leakscan.sources.git import GitOptions, GitSource

            repo = target[len(GIT_PREFIX) :]
            # like `scan git`: a local repository's unreachable objects too
            out.append(GitSource(repo, options, GitOptions(all_objects=os.path.isdir(repo))))
        else:
            out.append(_file_source(target, options))
    if images:
        from functools import partial

        from leakscan.cli.registry_login import registry_login
        from leakscan.sources.image.reference import open_store
        from leakscan.sources.image.source import image_sources

        # registries: the LEAKSCAN_REGISTRY_* variables (this command has no login flags)
        login = registry_login()
        factory = partial(open_store, login=login)
        out.extend(image_sources(images, options, factory))  # one run state: layers once
    return out


def _file_source(target: str, options: SourceOptions) -> Source:
    try:
        from leakscan.sources.manifests import manifest_aware_source
    except ImportError:  # manifests support not installed in this tree
        from leakscan.sources.filesystem import FilesystemSource

        return FilesystemSource(target, options)
    return manifest_aware_source(target, options)


@scan_options(CONTENT_OPTIONS)
def scan_path(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files or directories; - for stdin; also images (docker-archive:x.tar, "
            "oci:DIR ...) and git history (git:PATH|URL), deduplicated together."
        ),
    ],
    no_foreign_allow: Annotated[
        bool,
        typer.Option(
            "--no-foreign-allow",
            help="Honour only leakscan:allow, not gitleaks:allow and the like.",
        ),
    ] = False,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Treat files as: k8s, compose, dockerfile, dotenv, helm."),
    ] = None,
    opts: Options | None = None,
) -> None:
    """Scan files and directories (manifests and nested archives included)."""
    assert opts is not None
    opts.no_foreign_allow = no_foreign_allow
    opts.force_kind = as_
    run_scan(lambda options: path_sources(paths, options), opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("path", help="Scan files and directories (the default).")(scan_path)
