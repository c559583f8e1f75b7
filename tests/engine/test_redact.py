"""Redacted previews say what leaked, never the secret, never a PEM armor line."""

from __future__ import annotations

import base64
import secrets
import struct

import pytest

from leakscan.api import ScanConfig, load_detector
from leakscan.engine.redact import redact, url_preview
from leakscan.findings import FindingSet

ARMOR = "-----" + "BEGIN "  # kept apart so this file never holds an armor line itself
END = "-----" + "END "


def pem(label: str, body: bytes) -> str:
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"{ARMOR}{label}-----", *lines, f"{END}{label}-----"])


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@pytest.mark.parametrize(
    ("label", "body", "expected"),
    [
        ("RSA PRIVATE KEY", secrets.token_bytes(300), "PRIVATE KEY (RSA) …"),
        ("EC PRIVATE KEY", secrets.token_bytes(120), "PRIVATE KEY (EC) …"),
        (
            "PRIVATE KEY",  # PKCS#8: version, AlgorithmIdentifier with rsaEncryption
            bytes.fromhex("308204bd020100300d06092a864886f70d0101010500")
            + secrets.token_bytes(200),
            "PRIVATE KEY (PKCS#8 RSA) …",
        ),
        (
            "PRIVATE KEY",  # PKCS#8 Ed25519
            bytes.fromhex("302e020100300506032b657004220420") + secrets.token_bytes(32),
            "PRIVATE KEY (PKCS#8 Ed25519) …",
        ),
        ("ENCRYPTED PRIVATE KEY", secrets.token_bytes(200), "PRIVATE KEY (PKCS#8, encrypted) …"),
        (
            "OPENSSH PRIVATE KEY",
            b"openssh-key-v1\0"
            + _ssh_string(b"none")
            + _ssh_string(b"none")
            + _ssh_string(b"")
            + struct.pack(">I", 1)
            + _ssh_string(_ssh_string(b"ssh-ed25519") + _ssh_string(secrets.token_bytes(32)))
            + secrets.token_bytes(100),
            "PRIVATE KEY (OpenSSH ssh-ed25519) …",
        ),
        ("PGP PRIVATE KEY BLOCK", secrets.token_bytes(200), "PGP PRIVATE KEY BLOCK …"),
    ],
)
def test_key_blocks_show_their_kind_never_the_armor(label: str, body: bytes, expected: str) -> None:
    block = pem(label, body)
    shown = redact(block)
    assert shown == expected
    assert "-----" not in shown and "BEGIN" not in shown
    assert base64.b64encode(body).decode()[:8] not in shown


def test_key_block_written_on_one_line_with_escaped_newlines() -> None:
    block = pem("RSA PRIVATE KEY", secrets.token_bytes(200)).replace("\n", "\\n")
    assert redact(block) == "PRIVATE KEY (RSA) …"


@pytest.mark.parametrize(
    ("line", "secret", "expected"),
    [
        (
            b"DATABASE_URL=postgres://app:Xk29vLq8ZpW3nR7x@db:5432/app",  # leakscan:allow
            "Xk29vLq8ZpW3nR7x",
            "postgres://app:…@db",
        ),
        (
            b"url = 'redis://:Qm7Lx2Vb9Kd4@cache.internal'",  # leakscan:allow
            "Qm7Lx2Vb9Kd4",
            "redis://:…@cache.internal",
        ),
        (b"password = Xk29vLq8ZpW3nR7x", "Xk29vLq8ZpW3nR7x", None),  # leakscan:allow
    ],
)
def test_password_in_a_url_keeps_scheme_user_and_host(
    line: bytes, secret: str, expected: str | None
) -> None:
    start = line.index(secret.encode())
    assert url_preview(line, start, start + len(secret), secret) == expected


def test_findings_carry_the_url_preview_from_a_real_scan() -> None:
    detector = load_detector(ScanConfig())
    data = b"DATABASE_URL=postgres://app:Xk29vLq8ZpW3nR7x@db:5432/app\n"  # leakscan:allow
    found = FindingSet(detector.rules)
    from leakscan.model import Provenance

    for match in detector.scan(data):
        found.add(match, Provenance("file", {"path": "app.env"}))
    redacted = {f.redacted for f in found.findings()}
    assert "postgres://app:…@db" in redacted
    assert not any("Xk29" in r or "nR7x" in r for r in redacted)
