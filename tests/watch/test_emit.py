"""The webhook sender: retries with backoff (never sleeping here), gives up on a 4xx, and never
logs the URL's path (webhook URLs carry tokens)."""

from __future__ import annotations

import json
import logging

import pytest

from leakscan.errors import UsageError
from leakscan.watch.backoff import Backoff
from leakscan.watch.emit import PostError, WebhookSender, webhook_host

URL = "https://hooks.example.test/services/T000/B000/tok3nPath"


def test_retried_with_backoff_until_delivered(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = [PostError("HTTP 503", retry=True), PostError("ConnectionError", retry=True), None]
    bodies: list[bytes] = []
    waits: list[float] = []

    def post(url: str, body: bytes) -> None:
        bodies.append(body)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    sender = WebhookSender(
        URL,
        post=post,
        backoff=Backoff(base=0.5, factor=2.0, cap=60.0),
        wait=lambda s: waits.append(s) or False,
    )
    with caplog.at_level(logging.INFO, logger="leakscan"):
        sender.send({"fingerprint": "f1", "target": {"kind": "image"}})
        assert sender.flush(timeout=30)
        sender.close()
    assert (sender.delivered, sender.failed, waits) == (1, 0, [0.5, 1.0])
    assert [json.loads(b)["fingerprint"] for b in bodies] == ["f1"] * 3
    assert "tok3nPath" not in caplog.text and "hooks.example.test" in caplog.text


def test_a_client_error_is_not_retried_and_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def post(url: str, body: bytes) -> None:
        calls.append(url)
        raise PostError("HTTP 404", retry=False)

    sender = WebhookSender(URL, post=post, wait=lambda s: False)
    with caplog.at_level(logging.WARNING, logger="leakscan"):
        sender.send({"fingerprint": "f1"})
        assert sender.flush(timeout=30)
        sender.close()
    assert (len(calls), sender.failed, sender.delivered) == (1, 1, 0)
    assert "not delivered (HTTP 404" in caplog.text and "tok3nPath" not in caplog.text


@pytest.mark.parametrize("url", ["ftp://example.test/x", "hooks.example.test/x", "http://"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(UsageError):
        webhook_host(url)
