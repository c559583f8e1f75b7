"""Validate findings: pick each one's check, pair halves, ask each provider once, cache.

One request per distinct (provider, base URL, secret); requests run on a small thread pool,
each provider behind its own concurrency bound and rate limit. Findings restored from a
layer cache carry no secret: they take a cached answer or are reported as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from leakscan.model import Finding, Validation
from leakscan.validate import providers
from leakscan.validate.cache import ValidationCache, cache_key
from leakscan.validate.http import HttpClient
from leakscan.validate.interface import Check, Credential, Outcome, TransportError
from leakscan.validate.pairing import PairIndex
from leakscan.validate.ratelimit import ProviderGate

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Settings:
    endpoints: dict[str, str] = field(default_factory=dict)  # provider -> base URL
    cache: ValidationCache | None = None
    workers: int = 4  # requests in flight in all
    per_provider: int = 2  # requests in flight to one provider
    rate: float = 5.0  # requests a second to one provider
    http: HttpClient = field(default_factory=HttpClient)
    now: Callable[[], datetime] = _utc_now
    gate: ProviderGate | None = None
    checks: Sequence[Check] | None = None  # default: every registered provider


@dataclass
class _Job:
    check: Check
    base: str
    credential: Credential
    key: str
    findings: list[Finding] = field(default_factory=list)


def validate_findings(findings: Sequence[Finding], settings: Settings) -> None:
    """Set ``validation`` on every finding (in place)."""
    checks = list(settings.checks if settings.checks is not None else providers.ALL)
    by_rule = {rule: c for c in checks for rule in c.rules}
    partners = {c.partner_rule: c for c in checks if c.partner_rule}
    pairs = PairIndex(findings)
    stamp = settings.now().isoformat(timespec="seconds")
    jobs: dict[str, _Job] = {}
    followers: list[tuple[Finding, list[Finding]]] = []  # a pair's second half -> primaries

    def done(finding: Finding, check: Check | None, outcome: Outcome, at: str = stamp) -> None:
        finding.validation = Validation(
            status=outcome.status,
            checked_at=at,
            identity=outcome.identity,
            provider=check.provider if check else None,
            detail=outcome.detail,
        )

    for finding in findings:
        check = by_rule.get(finding.rule_id)
        if check is None:
            primary = partners.get(finding.rule_id)
            if primary is not None:
                followers.append((finding, pairs.partners(finding, primary.rules[0])))
            else:
                done(finding, None, Outcome("unsupported", detail="no check for this rule"))
            continue
        base = settings.endpoints.get(check.provider, check.base)
        partner_fp: tuple[str, ...] = ()
        partner_secret: str | None = None
        if check.partner_rule:
            found = pairs.partners(finding, check.partner_rule)
            if not found:
                detail = f"needs its {check.partner_rule} from the same place; none found"
                done(finding, check, Outcome("unsupported", detail=detail))
                continue
            partner_fp = (found[0].fingerprint,)
            partner_secret = found[0].secret
        key = cache_key(check.provider, base, (finding.fingerprint, *partner_fp))
        cached = settings.cache.get(key) if settings.cache else None
        if cached is not None:
            outcome = Outcome(cached["status"], cached.get("identity"), cached.get("detail"))
            done(finding, check, outcome, str(cached["checked_at"]))
            continue
        if finding.secret is None or (check.partner_rule and partner_secret is None):
            detail = "secret not held (finding restored from the layer cache)"
            done(finding, check, Outcome("error", detail=detail))
            continue
        job = jobs.get(key)
        if job is None:
            credential = Credential(finding.secret, partner_secret)
            job = jobs[key] = _Job(check, base, credential, key)
        job.findings.append(finding)

    if jobs:
        gate = settings.gate or ProviderGate(settings.rate, settings.per_provider)
        with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
            results = list(pool.map(lambda j: _run(j, settings.http, gate), jobs.values()))
        checked = settings.now().isoformat(timespec="seconds")
        for job, outcome in zip(jobs.values(), results, strict=True):
            for finding in job.findings:
                done(finding, job.check, outcome, checked)
            if settings.cache is not None:
                entry = {
                    "status": outcome.status,
                    "identity": outcome.identity,
                    "detail": outcome.detail,
                    "checked_at": checked,
                    "provider": job.check.provider,
                }
                settings.cache.put(job.key, entry)
        if settings.cache is not None:
            settings.cache.save()

    for finding, primaries in followers:
        answered = [p.validation for p in primaries if p.validation is not None]
        best = next((v for v in answered if v.status == "valid"), None)
        best = best or next(iter(answered), None)
        if best is None:
            primary = partners[finding.rule_id]
            detail = f"checked with its {primary.rules[0]}; none found in the same place"
            done(finding, primary, Outcome("unsupported", detail=detail))
        else:
            finding.validation = best


def _run(job: _Job, http: HttpClient, gate: ProviderGate) -> Outcome:
    with gate.slot(job.check.provider):
        try:
            outcome = job.check.check(job.credential, job.base, http)
        except TransportError as exc:
            outcome = Outcome("error", detail=str(exc))
        except Exception as exc:  # a provider answering nonsense must not stop the scan
            log.debug("validation of a %s credential failed", job.check.provider, exc_info=False)
            outcome = Outcome("error", detail=f"unexpected {type(exc).__name__}")
    log.debug("validated a %s credential: %s", job.check.provider, outcome.status)
    return _scrub(outcome, job.credential)


def _scrub(outcome: Outcome, credential: Credential) -> Outcome:
    """Never let a secret through in what the provider answered (an echo of the token)."""
    secrets = [s for s in (credential.secret, credential.partner) if s]

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for secret in secrets:
            text = text.replace(secret, "[secret]")
        return text

    return Outcome(outcome.status, clean(outcome.identity), clean(outcome.detail))
