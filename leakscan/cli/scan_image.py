"""``leakscan scan image REF…``: every layer and the configuration of container images."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.options import CONTENT_OPTIONS, LAYER_OPTIONS, Options, scan_options
from leakscan.cli.run import read_password, run_scan
from leakscan.sources.interface import Source, SourceOptions

REF_HELP = (
    "Images: docker-archive:PATH (or a .tar), oci:DIR[:TAG], oci-archive:PATH[:TAG], "
    "docker-daemon:NAME[:TAG], docker://NAME or registry/name:tag. A bare NAME:TAG is the "
    "local Docker daemon's image when it has one, else Docker Hub's."
)


@scan_options(CONTENT_OPTIONS, LAYER_OPTIONS)
def scan_image(
    references: Annotated[list[str], typer.Argument(help=REF_HELP)],
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            help="Only this platform of multi-platform images: "
            "os/arch or os/arch/variant (default: all).",
        ),
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(
            "--username",
            "-u",
            help="Registry user (with --password-stdin; else "
            "LEAKSCAN_REGISTRY_USERNAME/PASSWORD, then ~/.docker/config.json).",
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the registry password from standard input."),
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Registries: allow plain HTTP and unverified TLS "
            "(also LEAKSCAN_REGISTRY_INSECURE=1).",
        ),
    ] = False,
    opts: Options | None = None,
) -> None:
    """Scan container images: every layer (deleted files too) and the image configuration."""
    refs = list(references)
    assert opts is not None
    password = read_password(username, password_stdin)
    opts.platform = platform

    def sources(options: SourceOptions) -> list[Source]:
        from functools import partial

        from leakscan.cli.registry_login import registry_login
        from leakscan.sources.image.reference import open_store
        from leakscan.sources.image.source import image_sources

        login = registry_login(username, password, insecure)
        return image_sources(refs, options, partial(open_store, login=login))

    run_scan(sources, opts, content_cache=True)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command(
        "image", help="Scan container images (archives, OCI layouts, daemon, registry)."
    )(scan_image)
