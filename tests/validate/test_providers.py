"""Each provider check against a loopback server answering as the provider documents.

The server's side is written here from each provider's documentation (where the secret goes,
what a valid and an invalid key get back), not from the checks' table: a check that puts the
secret in the wrong header, calls the wrong path or misreads the answer fails.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from leakscan.validate import providers
from leakscan.validate.http import HttpClient
from leakscan.validate.interface import Credential
from tests.helpers import random_chars
from tests.validate.conftest import Answer, FakeApi, Request, json_answer


def bearer(r: Request, s: str) -> bool:
    return r.headers.get("authorization") == f"Bearer {s}"


def header(name: str) -> Callable[[Request, str], bool]:
    return lambda r, s: r.headers.get(name) == s


def basic(user: str | None) -> Callable[[Request, str], bool]:
    def check(r: Request, s: str) -> bool:
        value = r.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return False
        decoded = base64.b64decode(value[6:]).decode()
        return decoded == (f"{user}:{s}" if user is not None else f"{s}:")

    return check


@dataclass
class Api:
    method: str
    path: str  # as the provider documents it, below the check's base URL
    authenticated: Callable[[Request, str], bool]
    valid: Answer
    invalid: Answer
    identity: str | None


APIS: dict[str, Api] = {
    "github": Api(
        "GET",
        "/user",
        lambda r, s: r.headers.get("authorization") in (f"Bearer {s}", f"token {s}"),
        json_answer(200, {"login": "octocat", "id": 1}, {"X-OAuth-Scopes": "repo, read:org"}),
        json_answer(401, {"message": "Bad credentials"}),
        "octocat; scopes: repo, read:org",
    ),
    "gitlab": Api(
        "GET",
        "/personal_access_tokens/self",
        header("private-token"),
        json_answer(
            200, {"id": 4, "name": "ci", "active": True, "scopes": ["read_api"], "user_id": 7}
        ),
        json_answer(401, {"message": "401 Unauthorized"}),
        "token ci of user 7; scopes: read_api",
    ),
    "slack": Api(
        "POST",
        "/auth.test",
        bearer,
        json_answer(200, {"ok": True, "team": "Acme", "user": "deploybot", "team_id": "T1"}),
        json_answer(200, {"ok": False, "error": "invalid_auth"}),
        "deploybot @ Acme",
    ),
    "stripe": Api(
        "GET",
        "/v1/account",
        lambda r, s: bearer(r, s) or basic(None)(r, s),
        json_answer(200, {"id": "acct_1Nv0", "object": "account", "email": "ops@acme.test"}),
        json_answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid"}}),
        "acct_1Nv0 ops@acme.test",
    ),
    "openai": Api(
        "GET",
        "/models",
        bearer,
        json_answer(200, {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}),
        json_answer(401, {"error": {"code": "invalid_api_key", "message": "Incorrect"}}),
        None,
    ),
    "openai-admin": Api(
        "GET",
        "/organization/projects?limit=1",
        bearer,
        json_answer(200, {"object": "list", "data": [{"id": "proj_1", "name": "Default"}]}),
        json_answer(401, {"error": {"code": "invalid_api_key"}}),
        "project Default",
    ),
    "anthropic": Api(
        "GET",
        "/v1/models?limit=1",
        lambda r, s: r.headers.get("x-api-key") == s and "anthropic-version" in r.headers,
        json_answer(200, {"data": [{"id": "claude-x", "type": "model"}], "has_more": True}),
        json_answer(401, {"type": "error", "error": {"type": "authentication_error"}}),
        None,
    ),
    "huggingface": Api(
        "GET",
        "/api/whoami-v2",
        bearer,
        json_answer(
            200,
            {"type": "user", "name": "julien", "auth": {"accessToken": {"role": "read"}}},
        ),
        json_answer(401, {"error": "Invalid credentials in Authorization header"}),
        "julien (role read)",
    ),
    "npm": Api(
        "GET",
        "/-/whoami",
        bearer,
        json_answer(200, {"username": "alice"}),
        json_answer(401, {}),
        "alice",
    ),
    "sendgrid": Api(
        "GET",
        "/v3/scopes",
        bearer,
        json_answer(200, {"scopes": ["mail.send", "alerts.read"]}),
        json_answer(401, {"errors": [{"field": None, "message": "authorization required"}]}),
        "scopes: mail.send, alerts.read",
    ),
    "datadog": Api(
        "GET",
        "/api/v1/validate",
        header("dd-api-key"),
        json_answer(200, {"valid": True}),
        json_answer(403, {"errors": ["Forbidden"]}),
        None,
    ),
    "digitalocean": Api(
        "GET",
        "/v2/account",
        bearer,
        json_answer(200, {"account": {"email": "sammy@do.test", "status": "active"}}),
        json_answer(401, {"id": "Unauthorized", "message": "Unable to authenticate you"}),
        "sammy@do.test (active)",
    ),
    "mailgun": Api(
        "GET",
        "/v3/domains?limit=1",
        basic("api"),
        json_answer(200, {"total_count": 1, "items": [{"name": "mg.acme.test"}]}),
        (401, {"Content-Type": "text/plain"}, b"Forbidden"),
        "mg.acme.test",
    ),
    "postmark": Api(
        "GET",
        "/server",
        header("x-postmark-server-token"),
        json_answer(200, {"ID": 1, "Name": "Production"}),
        json_answer(401, {"ErrorCode": 10, "Message": "No Account or Server API tokens"}),
        "Production",
    ),
    "heroku": Api(
        "GET",
        "/account",
        lambda r, s: bearer(r, s) and "version=3" in r.headers.get("accept", ""),
        json_answer(200, {"email": "dev@acme.test", "id": "01234567"}),
        json_answer(401, {"id": "unauthorized", "message": "Invalid credentials provided."}),
        "dev@acme.test",
    ),
    "linear": Api(
        "POST",
        "/graphql",
        lambda r, s: r.headers.get("authorization") == s and b"viewer" in r.body,
        json_answer(200, {"data": {"viewer": {"id": "u1", "email": "pm@acme.test"}}}),
        json_answer(
            400,
            {"errors": [{"message": "Authentication required, not authenticated"}]},
        ),
        "pm@acme.test",
    ),
    "notion": Api(
        "GET",
        "/v1/users/me",
        lambda r, s: bearer(r, s) and "notion-version" in r.headers,
        json_answer(200, {"object": "user", "type": "bot", "name": "pied piper"}),
        json_answer(401, {"object": "error", "status": 401, "code": "unauthorized"}),
        "pied piper",
    ),
    "discord": Api(
        "GET",
        "/users/@me",
        lambda r, s: r.headers.get("authorization") == f"Bot {s}",
        json_answer(200, {"id": "80351110224678912", "username": "deploy-bot"}),
        json_answer(401, {"message": "401: Unauthorized", "code": 0}),
        "deploy-bot",
    ),
    "telegram": Api(
        "GET",
        "/bot{secret}/getMe",
        lambda r, s: r.path == f"/bot{s}/getMe",
        json_answer(200, {"ok": True, "result": {"id": 1, "is_bot": True, "username": "acme_bot"}}),
        json_answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}),
        "@acme_bot",
    ),
    "sentry": Api(
        "GET",
        "/api/0/organizations/",
        bearer,
        json_answer(200, [{"id": "2", "slug": "acme", "name": "Acme"}]),
        json_answer(401, {"detail": "Invalid token"}),
        "acme",
    ),
    "newrelic": Api(
        "POST",
        "/graphql",
        lambda r, s: r.headers.get("api-key") == s and b"actor" in r.body,
        json_answer(200, {"data": {"actor": {"user": {"email": "sre@acme.test", "name": "S"}}}}),
        json_answer(401, {"errors": [{"message": "Unauthorized"}]}),
        "sre@acme.test",
    ),
    "cloudflare": Api(
        "GET",
        "/user/tokens/verify",
        bearer,
        json_answer(200, {"success": True, "result": {"id": "f267e341", "status": "active"}}),
        json_answer(401, {"success": False, "errors": [{"code": 1000, "message": "Invalid"}]}),
        "token f267e341",
    ),
    "terraform": Api(
        "GET",
        "/account/details",
        bearer,
        json_answer(200, {"data": {"id": "user-1", "attributes": {"username": "admin"}}}),
        json_answer(401, {"errors": [{"status": "401", "title": "unauthorized"}]}),
        "admin",
    ),
    "circleci": Api(
        "GET",
        "/me",
        header("circle-token"),
        json_answer(200, {"id": "u-1", "login": "octo", "name": "Octo"}),
        json_answer(401, {"message": "You must log in first."}),
        "octo",
    ),
    "doppler": Api(
        "GET",
        "/v3/me",
        bearer,
        json_answer(200, {"name": "ci", "type": "service_token", "slug": "x"}),
        json_answer(401, {"messages": ["Invalid Auth token"], "success": False}),
        "ci (service_token)",
    ),
    "twilio": Api(
        "GET",
        "/2010-04-01/Accounts.json?PageSize=1",
        lambda r, s: basic(s.split("|")[0])(r, s.split("|")[1]),
        json_answer(200, {"accounts": [{"sid": "AC01", "friendly_name": "Main"}]}),
        json_answer(401, {"code": 20003, "message": "Authenticate", "status": 401}),
        "AC01 Main",
    ),
}

CHECKS = {c.provider: c for c in providers.ALL}


def test_every_provider_has_a_documented_fake() -> None:
    assert set(CHECKS) - {"aws"} == set(APIS)
    assert len(CHECKS) >= 20


def _serve(fake_api: FakeApi, api: Api, secret: str) -> None:
    path = api.path.replace("{secret}", secret)

    def handler(request: Request) -> Answer:
        if request.method != api.method or request.path != path:
            if api.authenticated(request, secret) or "{secret}" in api.path:
                return json_answer(404, {"message": "Not Found"})
        return api.valid if api.authenticated(request, secret) else api.invalid

    fake_api.handler = handler


def _credential(provider: str, secret: str) -> tuple[Credential, str]:
    if provider == "twilio":  # API key SID and its secret
        sid = "SK" + random_chars(32, "0123456789abcdef")
        return Credential(sid, secret), f"{sid}|{secret}"
    return Credential(secret), secret


@pytest.mark.parametrize("provider", sorted(APIS))
def test_valid_and_invalid_keys(provider: str, fake_api: FakeApi) -> None:
    api, check = APIS[provider], CHECKS[provider]
    secret = random_chars(40)
    credential, expected = _credential(provider, secret)
    _serve(fake_api, api, expected)
    http = HttpClient(timeout=5)

    live = check.check(credential, fake_api.url, http)
    assert (live.status, live.identity) == ("valid", api.identity)
    assert fake_api.requests[-1].method == api.method

    wrong, _ = _credential(provider, random_chars(40))
    dead = check.check(wrong, fake_api.url, http)
    assert dead.status == "invalid"
    assert secret not in (dead.detail or "")


def test_cloudflare_disabled_token_is_invalid(fake_api: FakeApi) -> None:
    fake_api.handler = lambda r: json_answer(
        200, {"success": True, "result": {"id": "ab", "status": "disabled"}}
    )
    outcome = CHECKS["cloudflare"].check(Credential("t"), fake_api.url, HttpClient(timeout=5))
    assert outcome.status == "invalid"


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        (json_answer(500, {"message": "oops"}), "error", "HTTP 500"),
        (json_answer(429, {"message": "slow down"}), "error", "rate limited (HTTP 429)"),
        ((302, {"Location": "http://127.0.0.2/elsewhere"}, b""), "error", "HTTP 302"),
        (json_answer(200, {"ok": False, "error": "ratelimited"}), "error", None),
    ],
)
def test_answers_that_prove_nothing_are_errors(
    answer: Answer, status: str, detail: str | None, fake_api: FakeApi
) -> None:
    fake_api.handler = lambda r: answer
    outcome = CHECKS["slack"].check(Credential("xoxb-1"), fake_api.url, HttpClient(timeout=5))
    assert outcome.status == status
    if detail:
        assert outcome.detail == detail
    assert len(fake_api.requests) == 1  # a redirect is not followed


def test_unreachable_host_is_an_error_naming_only_the_host() -> None:
    from leakscan.validate.interface import TransportError

    secret = "tg" + random_chars(30)
    check = CHECKS["telegram"]
    with pytest.raises(TransportError) as caught:
        check.check(Credential(secret), "http://127.0.0.1:9", HttpClient(timeout=5))
    assert secret not in str(caught.value) and "127.0.0.1" in str(caught.value)
