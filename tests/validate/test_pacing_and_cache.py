"""Rate limit and concurrency bounds (injected clock, no sleeping); the result cache."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leakscan.model import Finding, Location, Provenance
from leakscan.validate import Settings, validate_findings
from leakscan.validate.cache import ValidationCache
from leakscan.validate.http import HttpClient
from leakscan.validate.interface import Check, Credential, Outcome
from leakscan.validate.ratelimit import ProviderGate, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)


def test_rate_limiter_spaces_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=4.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        limiter.acquire()
    assert clock.slept == pytest.approx([0.25, 0.5, 0.75])  # the first goes at once
    clock.now += 10  # a quiet while later: no wait
    limiter.acquire()
    assert len(clock.slept) == 3


def _finding(n: int, rule: str = "test.rule") -> Finding:
    return Finding(
        fingerprint=f"{n:064x}",
        rule_id=rule,
        rule_name="t",
        severity="high",
        confidence="high",
        redacted="x…",
        secret=f"secret-{n}",
        locations=[Location(Provenance("file", {"path": f"f{n}"}), 1)],
    )


class CountingCheck(Check):
    provider = "fake"
    rules = ("test.rule",)
    base = "https://fake.invalid"
    doc = proves = call = ""

    def __init__(self, bound: int, hold: float = 0.0) -> None:
        self.bound = bound
        self.hold = hold
        self.cond = threading.Condition()
        self.in_flight = 0
        self.most = 0
        self.calls = 0

    def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
        with self.cond:
            self.calls += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.cond.notify_all()
            # hold the slot until the bound is broken (then let everyone go) or a short
            # while has passed: a missing bound shows as more than ``bound`` in flight
            self.cond.wait_for(lambda: self.most > self.bound, timeout=self.hold)
            self.in_flight -= 1
        return Outcome("valid", identity=credential.secret[-1])


def test_concurrency_per_provider_is_bounded() -> None:
    clock = FakeClock()
    check = CountingCheck(bound=2, hold=0.2)
    settings = Settings(
        workers=8,
        per_provider=2,
        gate=ProviderGate(1000.0, 2, clock=clock, sleep=clock.sleep),
        checks=[check],
    )
    findings = [_finding(n) for n in range(8)]
    validate_findings(findings, settings)
    assert check.calls == 8
    assert check.most == 2  # two at a time (never more, though eight workers could)
    assert all(f.validation and f.validation.status == "valid" for f in findings)


def test_one_request_per_secret() -> None:
    check = CountingCheck(bound=1)
    twice = [_finding(1), _finding(1)]
    validate_findings(twice, Settings(checks=[check]))
    assert check.calls == 1


def test_cache_keeps_answers_for_the_ttl_and_never_the_secret(tmp_path: Path) -> None:
    now = [datetime(2026, 12, 4, 6, 0, tzinfo=UTC)]
    path = tmp_path / "validation.json"
    check = CountingCheck(bound=1)

    def run() -> Finding:
        finding = _finding(7)
        cache = ValidationCache(path, ttl=3600, now=lambda: now[0])
        validate_findings([finding], Settings(checks=[check], cache=cache, now=lambda: now[0]))
        return finding

    first = run()
    assert check.calls == 1
    text = path.read_text()
    assert "secret-7" not in text and first.fingerprint not in text
    entry = next(iter(json.loads(text)["entries"].values()))
    assert set(entry) <= {"status", "identity", "checked_at", "provider", "detail"}

    now[0] += timedelta(minutes=59)
    second = run()
    assert check.calls == 1  # answered from the cache
    assert second.validation == first.validation

    now[0] += timedelta(minutes=2)  # past the TTL: asked again
    run()
    assert check.calls == 2


def test_errors_are_not_cached(tmp_path: Path) -> None:
    class Failing(CountingCheck):
        def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
            self.calls += 1
            return Outcome("error", detail="HTTP 503")

    check = Failing(bound=1)
    for _ in range(2):
        cache = ValidationCache(tmp_path / "v.json", ttl=3600, now=lambda: datetime.now(UTC))
        validate_findings([_finding(3)], Settings(checks=[check], cache=cache))
    assert check.calls == 2


def test_a_finding_without_its_secret_takes_no_request() -> None:
    check = CountingCheck(bound=1)
    restored = _finding(5)
    restored.secret = None  # restored from a layer cache
    validate_findings([restored], Settings(checks=[check]))
    assert check.calls == 0
    assert restored.validation is not None and restored.validation.status == "error"


def test_what_a_provider_answers_is_made_safe_to_print() -> None:
    class Echo(CountingCheck):
        def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
            return Outcome("valid", identity=f"user\n\x1b[31m{credential.secret} " + "x" * 500)

    finding = _finding(9)
    validate_findings([finding], Settings(checks=[Echo(bound=1)]))
    assert finding.validation is not None and finding.validation.identity is not None
    identity = finding.validation.identity
    assert "secret-9" not in identity and "[secret]" in identity
    assert identity.isprintable() and len(identity) <= 200
