"""AWS Signature Version 4 (header form), enough for one STS query call.

Written from AWS's description of the algorithm (canonical request, string to sign, derived
signing key); tests check it against AWS's own documented example.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def canonical_query(query: str) -> str:
    pairs = []
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload: bytes
) -> tuple[str, str]:
    """(canonical request, signed header names)."""
    items = sorted((k.lower().strip(), " ".join(v.split())) for k, v in headers.items())
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in items)
    signed = ";".join(k for k, _ in items)
    text = "\n".join(
        [
            method,
            quote(path or "/", safe="/-_.~"),
            canonical_query(query),
            canonical_headers,
            signed,
            headers.get("x-amz-content-sha256") or sha256_hex(payload),
        ]
    )
    return text, signed


def authorization(
    access_key: str,
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload: bytes,
    amz_date: str,
    region: str,
    service: str,
) -> str:
    """The ``Authorization`` header for a request whose headers (``host`` and ``x-amz-date``
    among them) are all signed."""
    request, signed = canonical_request(method, path, query, headers, payload)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, sha256_hex(request.encode())])
    key = signing_key(secret, amz_date[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
