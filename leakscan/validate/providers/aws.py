"""AWS: STS GetCallerIdentity, signed with SigV4 from the key id and the secret access key
found in the same place. The call needs no permission and changes nothing; it answers with
the account and ARN the key belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from leakscan.validate import sigv4
from leakscan.validate.http import HttpClient
from leakscan.validate.interface import Check, Credential, Outcome

BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
#: error codes (in the XML answer) that mean the key pair does not authenticate
INVALID_CODES = frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"})
_TAG = re.compile(r"<(Arn|Account|Code)>([^<]{1,300})</\1>")


def _tags(body: bytes) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _TAG.finditer(body.decode("utf-8", "replace"))}


class AwsStsCheck(Check):
    provider = "aws"
    rules = ("leakscan.aws.access-key-id",)
    partner_rule = "leakscan.aws.secret-access-key"
    base = "https://sts.amazonaws.com"
    doc = "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html"
    proves = (
        "the key id and its secret access key (found in the same place) authenticate: the "
        "account and ARN; signed with SigV4 "
        "(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html)"
    )
    call = "POST https://sts.amazonaws.com/ Action=GetCallerIdentity (SigV4, us-east-1)"
    region = "us-east-1"

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))

    def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
        if credential.secret.startswith("ASIA"):
            return Outcome("unsupported", detail="temporary key: needs its session token")
        if not credential.partner:
            return Outcome("unsupported", detail="no secret access key in the same place")
        parts = urlsplit(base)
        host = parts.netloc
        path = (parts.path or "") + "/"
        amz_date = self._now().strftime("%Y%m%dT%H%M%SZ")
        headers = {"host": host, "x-amz-date": amz_date, "content-type": CONTENT_TYPE}
        auth = sigv4.authorization(
            credential.secret,
            credential.partner,
            "POST",
            path,
            "",
            headers,
            BODY,
            amz_date,
            self.region,
            "sts",
        )
        send = {"X-Amz-Date": amz_date, "Content-Type": CONTENT_TYPE, "Authorization": auth}
        response = http.request("POST", base + "/", send, BODY)
        tags = _tags(response.body)
        if response.status == 200 and "Arn" in tags:
            return Outcome("valid", identity=tags["Arn"])
        if response.status in (400, 403) and tags.get("Code") in INVALID_CODES:
            return Outcome("invalid", detail=tags["Code"])
        if response.status == 429 or tags.get("Code") == "Throttling":
            return Outcome("error", detail="rate limited")
        return Outcome("error", detail=f"HTTP {response.status} {tags.get('Code', '')}".strip())
