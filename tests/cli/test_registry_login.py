"""Registry access from the command line: flags first, then LEAKSCAN_REGISTRY_* (read in the
CLI only; the library gets explicit values)."""

from __future__ import annotations

import pytest

from leakscan.cli.registry_login import env_insecure, registry_credentials, registry_login
from leakscan.sources.registry.auth import Credentials

ENV = {"LEAKSCAN_REGISTRY_USERNAME": "env-user", "LEAKSCAN_REGISTRY_PASSWORD": "env-pw"}


def test_flags_win_over_the_variables() -> None:
    assert registry_credentials("flag-user", "flag-pw", ENV) == Credentials("flag-user", "flag-pw")


def test_variables_when_no_flags() -> None:
    assert registry_credentials(None, None, ENV) == Credentials("env-user", "env-pw")
    assert registry_credentials(None, None, {}) is None
    # a user without a password is no login (docker config or anonymous then)
    assert registry_credentials(None, None, {"LEAKSCAN_REGISTRY_USERNAME": "u"}) is None


@pytest.mark.parametrize(("value", "insecure"), [("1", True), ("yes", True), ("0", False)])
def test_insecure_variable(value: str, insecure: bool) -> None:
    assert env_insecure({"LEAKSCAN_REGISTRY_INSECURE": value}) is insecure
    assert registry_login(environ={"LEAKSCAN_REGISTRY_INSECURE": value}).insecure is insecure
    assert registry_login(insecure=True, environ={}).insecure  # the flag alone


def test_login_carries_the_variables() -> None:
    login = registry_login(environ=ENV)
    assert (login.username, login.password, login.insecure) == ("env-user", "env-pw", False)
    assert "env-pw" not in repr(login)
