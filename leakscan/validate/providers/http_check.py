"""A check that is one HTTP call: how to authenticate, what answer means valid, who it is.

Most providers are this; they are listed as data in ``table.py``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from leakscan.validate.http import HttpClient, Response
from leakscan.validate.interface import Check, Credential, Outcome

_FIELD = re.compile(r"\{([A-Za-z0-9_.@-]+)\}")
MAX_SCOPES = 8


def lookup(doc: Any, path: str) -> Any:
    """``a.b.0.c`` in a JSON document (None when absent)."""
    for part in path.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def render(template: str, doc: Any) -> str | None:
    """``"{user} @ {team}"`` filled from ``doc``; None when no field is there."""
    found = False

    def fill(match: re.Match[str]) -> str:
        nonlocal found
        value = lookup(doc, match.group(1))
        if value is None or isinstance(value, dict | list):
            return "?"
        found = True
        return str(value)

    text = _FIELD.sub(fill, template)
    return text.strip() if found else None


def scopes_text(scopes: Any) -> str | None:
    if isinstance(scopes, str):
        scopes = [s.strip() for s in scopes.split(",") if s.strip()]
    if not isinstance(scopes, list):
        return None
    names = [str(s) for s in scopes]
    shown = ", ".join(names[:MAX_SCOPES])
    more = f" (+{len(names) - MAX_SCOPES} more)" if len(names) > MAX_SCOPES else ""
    return f"scopes: {shown or 'none'}{more}"


@dataclass(frozen=True)
class HttpCheck(Check):
    provider: str
    rules: tuple[str, ...]
    base: str
    path: str
    doc: str
    proves: str
    method: str = "GET"
    #: bearer | header:NAME | prefix:TEXT (Authorization: TEXT<secret>) | basic-user
    #: (secret as user) | basic-password:USER | path (the secret in the path, ``{secret}``)
    #: | basic-pair (secret as user, partner as password)
    auth: str = "bearer"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    identity: str = ""  # a template of JSON fields of the answer, e.g. "{login}"
    scopes_header: str | None = None  # a response header listing scopes (GitHub)
    scopes_field: str | None = None  # a JSON field listing scopes
    ok_field: str | None = None  # a JSON boolean that must be true for valid
    #: values of ``error_field`` that mean the secret is not (or no longer) valid
    error_field: str | None = None
    invalid_errors: frozenset[str] = frozenset()
    require: tuple[str, str] | None = None  # (JSON field, value) a valid answer must have
    invalid_statuses: frozenset[int] = frozenset({401})
    #: statuses that prove the secret authenticated though the call was not allowed
    authenticated_statuses: frozenset[int] = frozenset()
    partner_rule: str | None = None
    call: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.call:
            object.__setattr__(self, "call", f"{self.method} {self.base}{self.path}")

    def request_parts(self, credential: Credential, base: str) -> tuple[str, dict[str, str]]:
        headers = dict(self.headers)
        path = self.path
        secret = credential.secret
        kind, _, arg = self.auth.partition(":")
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        elif kind == "header":
            headers[arg] = secret
        elif kind == "prefix":
            headers["Authorization"] = f"{arg}{secret}"
        elif kind == "basic-user":
            headers["Authorization"] = _basic(secret, "")
        elif kind == "basic-password":
            headers["Authorization"] = _basic(arg, secret)
        elif kind == "basic-pair":
            headers["Authorization"] = _basic(secret, credential.partner or "")
        elif kind == "path":
            path = path.replace("{secret}", quote(secret, safe=":"))
        else:
            raise ValueError(f"unknown auth kind {self.auth!r}")
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")
        return base + path, headers

    def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
        url, headers = self.request_parts(credential, base)
        return self.judge(http.request(self.method, url, headers, self.body))

    def judge(self, response: Response) -> Outcome:
        status = response.status
        doc = response.json()
        if status in self.invalid_statuses:
            return Outcome("invalid", detail=f"HTTP {status}")
        if status in self.authenticated_statuses:
            return Outcome("valid", detail=f"authenticated; HTTP {status} for this call")
        if 200 <= status < 300:
            if self.ok_field is not None and lookup(doc, self.ok_field) is not True:
                error = str(lookup(doc, self.error_field or "error") or "")
                if error in self.invalid_errors:
                    return Outcome("invalid", detail=error)
                return Outcome("error", detail=f"unexpected answer ({error or 'no error code'})")
            if self.require is not None:
                value = lookup(doc, self.require[0])
                if str(value) != self.require[1]:
                    return Outcome("invalid", detail=f"{self.require[0]}: {value}")
            return Outcome("valid", identity=self.who(doc, response))
        if status == 429:
            return Outcome("error", detail="rate limited (HTTP 429)")
        return Outcome("error", detail=f"HTTP {status}")

    def who(self, doc: Any, response: Response) -> str | None:
        parts = []
        if self.identity:
            text = render(self.identity, doc)
            if text:
                parts.append(text)
        if self.scopes_header is not None:
            header = response.headers.get(self.scopes_header.lower())
            if header is not None:
                parts.append(scopes_text(header) or "")
        if self.scopes_field is not None:
            text = scopes_text(lookup(doc, self.scopes_field))
            if text:
                parts.append(text)
        return "; ".join(p for p in parts if p) or None


def _basic(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Basic {token}"
