"""Registry access as the command line sets it: flags first, then the ``LEAKSCAN_REGISTRY_*``
variables. They are read here and nowhere deeper; the library gets the values explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping

from leakscan.sources.image.reference import RegistryLogin
from leakscan.sources.registry.auth import Credentials

__all__ = ["env_insecure", "registry_credentials", "registry_login"]

_TRUE = ("1", "true", "yes")


def env_insecure(environ: Mapping[str, str] = os.environ) -> bool:
    """``LEAKSCAN_REGISTRY_INSECURE=1``: plain HTTP and unverified TLS, where no flag says so."""
    return environ.get("LEAKSCAN_REGISTRY_INSECURE", "") in _TRUE


def registry_credentials(
    username: str | None, password: str | None, environ: Mapping[str, str] = os.environ
) -> Credentials | None:
    """``--username``/``--password-stdin``, else ``LEAKSCAN_REGISTRY_USERNAME``/``_PASSWORD``
    (else None: the registry client tries ``~/.docker/config.json``, then anonymous)."""
    if username and password is not None:
        return Credentials(username, password)
    user = environ.get("LEAKSCAN_REGISTRY_USERNAME")
    env_password = environ.get("LEAKSCAN_REGISTRY_PASSWORD")
    if user and env_password is not None:
        return Credentials(user, env_password)
    return None


def registry_login(
    username: str | None = None,
    password: str | None = None,
    insecure: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> RegistryLogin:
    """How image references reach their registries: the flags, completed from the variables."""
    creds = registry_credentials(username, password, environ)
    return RegistryLogin(
        creds.username if creds else None,
        creds.password if creds else None,
        insecure or env_insecure(environ),
    )
