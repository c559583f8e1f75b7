"""``--validate`` end to end through the command line, against loopback fake APIs."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner, Result

import leakscan.report
from leakscan.cli import app
from tests.helpers import aws_key_id, github_token, random_chars
from tests.validate.conftest import FakeApi, Request, json_answer

SCHEMA = json.loads((Path(leakscan.report.__file__).parent / "schema.json").read_text())
STS_OK = (
    b"<GetCallerIdentityResponse><GetCallerIdentityResult>"
    b"<Arn>arn:aws:iam::123456789012:user/ci</Arn><Account>123456789012</Account>"
    b"</GetCallerIdentityResult></GetCallerIdentityResponse>"
)


def scan(*args: str) -> Result:
    return CliRunner().invoke(app, ["scan", *args, "--jobs", "1", "--no-progress"])


def github_api(fake_api: FakeApi, live: str) -> None:
    def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/user" and request.headers.get("authorization") == f"Bearer {live}":
            return json_answer(200, {"login": "octocat"}, {"X-OAuth-Scopes": "repo"})
        return json_answer(401, {"message": "Bad credentials"})

    fake_api.handler = handler


@pytest.fixture
def two_tokens(tmp_path: Path, fake_api: FakeApi) -> tuple[Path, str, str]:
    live, dead = github_token(), github_token()
    (tmp_path / ".env").write_text(f"GITHUB_TOKEN={live}\nOLD_TOKEN={dead}\n")
    github_api(fake_api, live)
    return tmp_path, live, dead


def by_status(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["validation"]["status"]: f for f in doc["findings"]}


def test_json_shows_valid_and_invalid_with_identity(
    two_tokens: tuple[Path, str, str], fake_api: FakeApi
) -> None:
    path, live, dead = two_tokens
    result = scan(
        str(path), "-f", "json", "--validate", "--validate-endpoint", f"github={fake_api.url}"
    )
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    found = by_status(doc)
    assert set(found) == {"valid", "invalid"}
    assert found["valid"]["validation"]["identity"] == "octocat; scopes: repo"
    assert found["valid"]["validation"]["provider"] == "github"
    assert found["invalid"]["validation"]["identity"] is None
    assert found["valid"]["validation"]["checked_at"].endswith("+00:00")
    assert live not in result.output and dead not in result.output
    assert len(fake_api.requests) == 2


def test_only_valid_and_fail_on_valid(two_tokens: tuple[Path, str, str], fake_api: FakeApi) -> None:
    path, _, dead = two_tokens
    endpoint = f"github={fake_api.url}"
    result = scan(
        str(path), "-f", "json", "--validate", "--validate-endpoint", endpoint, "--only-valid"
    )
    doc = json.loads(result.stdout)
    assert [f["validation"]["status"] for f in doc["findings"]] == ["valid"]

    failing = scan(str(path), "--validate", "--validate-endpoint", endpoint, "--fail-on", "valid")
    assert failing.exit_code == 1

    (path / ".env").write_text(f"OLD_TOKEN={dead}\n")  # findings, none live
    passing = scan(str(path), "--validate", "--validate-endpoint", endpoint, "--fail-on", "valid")
    assert passing.exit_code == 0, passing.output
    assert "invalid" in passing.stdout
    plain = scan(str(path), "--validate", "--validate-endpoint", endpoint)
    assert plain.exit_code == 1  # without --fail-on valid, a dead key is still a finding


def test_sarif_table_and_html_carry_the_validation(
    two_tokens: tuple[Path, str, str], fake_api: FakeApi
) -> None:
    path, live, _ = two_tokens
    endpoint = f"github={fake_api.url}"
    sarif = json.loads(
        scan(str(path), "-f", "sarif", "--validate", "--validate-endpoint", endpoint).stdout
    )
    statuses = {r["properties"]["validation"]["status"] for r in sarif["runs"][0]["results"]}
    assert statuses == {"valid", "invalid"}
    table = scan(str(path), "--validate", "--validate-endpoint", endpoint).stdout
    assert "LIVE: valid octocat; scopes: repo" in table
    assert "invalid HTTP 401" in table
    html = scan(str(path), "-f", "html", "--validate", "--validate-endpoint", endpoint).stdout
    assert '<span class="validation-valid">LIVE: valid octocat; scopes: repo</span>' in html
    assert live not in table + html


def test_second_run_is_answered_from_the_cache(
    two_tokens: tuple[Path, str, str], fake_api: FakeApi
) -> None:
    path, _, _ = two_tokens
    args = (str(path), "-f", "json", "--validate", "--validate-endpoint", f"github={fake_api.url}")
    first = json.loads(scan(*args).stdout)
    assert len(fake_api.requests) == 2
    second = json.loads(scan(*args).stdout)
    assert len(fake_api.requests) == 2  # no request the second time
    assert by_status(second)["valid"]["validation"] == by_status(first)["valid"]["validation"]


def test_aws_key_pair_found_together_is_checked_with_sts(tmp_path: Path, fake_api: FakeApi) -> None:
    key_id, secret = aws_key_id(), random_chars(40)
    lonely = aws_key_id()
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    (tmp_path / "other.env").write_text(f"AWS_ACCESS_KEY_ID={lonely}\n")

    def sts(request: Request) -> tuple[int, dict[str, str], bytes]:
        auth = request.headers.get("authorization", "")
        if request.method == "POST" and f"Credential={key_id}/" in auth and "/sts/" in auth:
            return 200, {"Content-Type": "text/xml"}, STS_OK
        return 403, {}, b"<Error><Code>InvalidClientTokenId</Code></Error>"

    fake_api.handler = sts
    result = scan(
        str(tmp_path), "-f", "json", "--validate", "--validate-endpoint", f"aws={fake_api.url}"
    )
    doc = json.loads(result.stdout)
    got = {
        (f["rule_id"], f["locations"][0]["path"].rsplit("/", 1)[-1]): f["validation"]
        for f in doc["findings"]
    }
    arn = "arn:aws:iam::123456789012:user/ci"
    assert got[("leakscan.aws.access-key-id", "credentials")]["identity"] == arn
    assert got[("leakscan.aws.secret-access-key", "credentials")]["identity"] == arn
    assert got[("leakscan.aws.access-key-id", "other.env")]["status"] == "unsupported"
    assert len(fake_api.requests) == 1
    assert secret not in result.output


def test_no_network_without_validate(
    two_tokens: tuple[Path, str, str], fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network use in a test that must not use it")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    path, _, _ = two_tokens
    offline = scan(str(path), "-f", "json")
    assert offline.exit_code == 1
    assert "validation" not in offline.stdout
    assert attempts == []
    # the same patch does catch a run that uses the network
    online = scan(
        str(path), "-f", "json", "--validate", "--validate-endpoint", f"github={fake_api.url}"
    )
    assert attempts and {
        f["validation"]["status"] for f in json.loads(online.stdout)["findings"]
    } == {"error"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--validate", "--validate-endpoint", "github=http://10.1.2.3/api"], "only for loopback"),
        (["--validate", "--validate-endpoint", "gitlab=http://gitlab.internal/api/v4"], "loopback"),
        (["--validate", "--validate-endpoint", "nosuch=https://x.test"], "unknown provider"),
        (["--validate", "--validate-endpoint", "github"], "PROVIDER=URL"),
        (["--only-valid"], "--only-valid needs --validate"),
        (["--fail-on", "valid"], "--fail-on valid needs --validate"),
        (["--validate-endpoint", "github=https://ghe.test/api/v3"], "needs --validate"),
    ],
)
def test_bad_validation_options_exit_2(
    args: list[str], message: str, two_tokens: tuple[Path, str, str], fake_api: FakeApi
) -> None:
    path, _, _ = two_tokens
    result = scan(str(path), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert fake_api.requests == []


def test_https_endpoint_for_a_self_hosted_instance_is_accepted(
    two_tokens: tuple[Path, str, str],
) -> None:
    from leakscan.validate.endpoints import parse_endpoints

    assert parse_endpoints(["GitHub=https://ghe.acme.test/api/v3/"], ["github"]) == {
        "github": "https://ghe.acme.test/api/v3"
    }


def test_verbose_logs_carry_no_secret(
    two_tokens: tuple[Path, str, str], fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    path, live, dead = two_tokens
    caplog.set_level("DEBUG", logger="leakscan")
    result = scan(str(path), "-vv", "--validate", "--validate-endpoint", f"github={fake_api.url}")
    assert "asked github about a credential" in caplog.text
    for secret in (live, dead):
        assert secret not in caplog.text and secret not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "127.0.0.1:9", "--only-valid"],
        ["watch", "--once", "--only-valid"],
        ["audit", "127.0.0.1:9", "--validate", "--validate-endpoint", "github=http://192.0.2.1"],
        ["watch", "--once", "--validate", "--validate-endpoint", "github=http://192.0.2.1"],
    ],
)
def test_audit_and_watch_take_the_options_and_refuse_bad_ones_before_starting(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: attempts.append(a))
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: attempts.append(a))
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "needs --validate" in result.output or "only for loopback" in result.output
    assert attempts == []  # nothing was contacted: neither the registry nor the daemon


def rule_example(rule_id: str) -> tuple[str, str]:
    """A positive example line of a built-in rule, and its secret (synthetic, from the rule)."""
    from leakscan.rules.loader import load_rules

    rule = next(r for r in load_rules() if r.id == rule_id)
    return rule.examples[0].text, rule.examples[0].secret


@pytest.mark.parametrize(
    ("rule_id", "provider", "answer", "identity"),
    [
        (
            "leakscan.slack.bot-token",
            "slack",
            {"ok": True, "user": "deploybot", "team": "Acme"},
            "deploybot @ Acme",
        ),
        ("leakscan.npm.access-token", "npm", {"username": "alice"}, "alice"),
        ("leakscan.datadog.api-key", "datadog", {"valid": True}, None),
    ],
)
def test_other_providers_end_to_end(
    rule_id: str,
    provider: str,
    answer: dict[str, Any],
    identity: str | None,
    tmp_path: Path,
    fake_api: FakeApi,
) -> None:
    text, secret = rule_example(rule_id)
    (tmp_path / "config.txt").write_text(text + "\n")
    fake_api.handler = lambda request: (
        json_answer(200, answer)
        if secret in " ".join(request.headers.values())
        else json_answer(401, {"ok": False, "error": "invalid_auth"})
    )
    result = scan(
        str(tmp_path),
        "-f",
        "json",
        "--validate",
        "--validate-endpoint",
        f"{provider}={fake_api.url}",
    )
    [finding] = [f for f in json.loads(result.stdout)["findings"] if f["rule_id"] == rule_id]
    assert finding["validation"]["status"] == "valid"
    assert finding["validation"]["identity"] == identity
    assert secret not in result.output
