"""SigV4 against AWS's own documented examples (values copied from AWS's documentation)."""

from __future__ import annotations

from datetime import UTC, datetime

from leakscan.validate import sigv4
from leakscan.validate.http import HttpClient
from leakscan.validate.interface import Credential
from leakscan.validate.providers.aws import AwsStsCheck
from tests.validate.conftest import FakeApi, Request, json_answer

# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html ("GET Object")
S3_HEADERS = {
    "host": "examplebucket.s3.amazonaws.com",
    "range": "bytes=0-9",
    "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "x-amz-date": "20130524T000000Z",
}
S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # leakscan:allow (AWS docs example)


def test_canonical_request_matches_the_documented_hash() -> None:
    request, signed = sigv4.canonical_request("GET", "/test.txt", "", S3_HEADERS, b"")
    assert signed == "host;range;x-amz-content-sha256;x-amz-date"
    assert sigv4.sha256_hex(request.encode()) == (
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    )


def test_signature_matches_the_documented_s3_example() -> None:
    header = sigv4.authorization(
        "AKIAIOSFODNN7EXAMPLE",  # leakscan:allow
        S3_SECRET,
        "GET",
        "/test.txt",
        "",
        S3_HEADERS,
        b"",
        "20130524T000000Z",
        "us-east-1",
        "s3",
    )
    assert header == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_signature_matches_the_test_suite_get_vanilla_case() -> None:
    # AWS Signature Version 4 test suite, get-vanilla
    header = sigv4.authorization(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",  # leakscan:allow
        "GET",
        "/",
        "",
        {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
        b"",
        "20150830T123600Z",
        "us-east-1",
        "service",
    )
    assert header.endswith(
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


STS_OK = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>
    <UserId>AIDAEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
</GetCallerIdentityResponse>"""
STS_BAD = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>
  <Message>The security token included in the request is invalid.</Message></Error>
</ErrorResponse>"""


def test_sts_call_is_signed_and_read(fake_api: FakeApi) -> None:
    key_id = "AKIA" + "Q" * 16
    secret = "s" * 40
    now = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)

    def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
        expected = sigv4.authorization(
            key_id,
            secret,
            "POST",
            "/",
            "",
            {
                "host": request.headers["host"],
                "x-amz-date": "20261204T060000Z",
                "content-type": request.headers["content-type"],
            },
            request.body,
            "20261204T060000Z",
            "us-east-1",
            "sts",
        )
        if request.headers.get("authorization") == expected:
            return 200, {"Content-Type": "text/xml"}, STS_OK
        return 403, {"Content-Type": "text/xml"}, STS_BAD

    fake_api.handler = handler
    check = AwsStsCheck(now=lambda: now)
    live = check.check(Credential(key_id, secret), fake_api.url, HttpClient(timeout=5))
    assert (live.status, live.identity) == ("valid", "arn:aws:iam::123456789012:user/Alice")
    assert fake_api.requests[0].body == b"Action=GetCallerIdentity&Version=2011-06-15"
    dead = check.check(Credential(key_id, "x" * 40), fake_api.url, HttpClient(timeout=5))
    assert (dead.status, dead.detail) == ("invalid", "InvalidClientTokenId")


def test_temporary_keys_need_their_session_token(fake_api: FakeApi) -> None:
    fake_api.handler = lambda r: json_answer(500, {})
    outcome = AwsStsCheck().check(
        Credential("ASIA" + "Q" * 16, "s" * 40), fake_api.url, HttpClient()
    )
    assert outcome.status == "unsupported" and not fake_api.requests
