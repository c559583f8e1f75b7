"""What a provider check is: a credential and a base URL in, an outcome out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leakscan.errors import LeakscanError

if TYPE_CHECKING:
    from leakscan.validate.http import HttpClient

STATUSES = ("valid", "invalid", "error", "unsupported")


class ValidationError(LeakscanError):
    """A validation setting the user gave is wrong (an endpoint, an option)."""


class TransportError(Exception):
    """A request did not get an answer. Its message names the host, never the URL or secret."""


@dataclass(frozen=True, slots=True)
class Credential:
    """The secret to check and, for a pair (AWS key id + secret key), its partner."""

    secret: str
    partner: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    identity: str | None = None
    detail: str | None = None


class Check(ABC):
    """One provider: the rules whose secrets it checks, its documented base URL, and the
    read-only call that proves a secret valid."""

    provider: str
    rules: tuple[str, ...]
    base: str
    doc: str  # the provider's documentation of the call
    proves: str  # what a valid answer proves
    call: str  # the call, as docs/validation.md lists it
    #: rule id of the other half of a pair (found in the same place), if the check needs one
    partner_rule: str | None = None

    @abstractmethod
    def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
        """Ask the provider at ``base``; raise TransportError when there is no answer."""
