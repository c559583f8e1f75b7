"""Validate findings: pick each one's check, pair halves, ask each provider once, cache.

One request per distinct (provider, base URL, secret); requests run on a small thread pool,
each provider behind its own concurrency bound and rate limit. Findings restored from a
layer cache carry no secret: they take a cached answer or are reported as an error.

A pair (AWS key id + secret access key) is tried with up to three second halves found in the
same place, nearest first, each combination cached on its own; the second half of a pair is
valid only when it made a pair valid (a key id's answer says nothing of another key's secret).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
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


#: a pair's first half is tried with at most this many second halves, nearest first
MAX_PARTNERS = 3


@dataclass(frozen=True)
class _Attempt:
    """One credential to ask about: a secret, or a pair's two halves."""

    key: str  # cache key: provider, base URL and the fingerprints
    partner: Finding | None = None


@dataclass
class _Job:
    check: Check
    base: str
    secret: str | None
    attempts: list[_Attempt]
    untried: int = 0  # second halves beyond MAX_PARTNERS, never tried (said in the detail)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class _Answer:
    attempt: _Attempt
    outcome: Outcome
    checked_at: str | None  # set when it came from the cache


def validate_findings(findings: Sequence[Finding], settings: Settings) -> None:
    """Set ``validation`` on every finding (in place)."""
    checks = list(settings.checks if settings.checks is not None else providers.ALL)
    by_rule = {rule: c for c in checks for rule in c.rules}
    partners = {c.partner_rule: c for c in checks if c.partner_rule}
    pairs = PairIndex(findings)
    stamp = settings.now().isoformat(timespec="seconds")
    jobs: dict[tuple[str, str, str], _Job] = {}
    followers: list[Finding] = []  # second halves of pairs

    for finding in findings:
        check = by_rule.get(finding.rule_id)
        if check is None:
            if finding.rule_id in partners:
                followers.append(finding)
            else:
                _set(finding, None, Outcome("unsupported", detail="no check for this rule"), stamp)
            continue
        base = settings.endpoints.get(check.provider, check.base)
        job_key = (check.provider, base, finding.fingerprint)
        job = jobs.get(job_key)
        if job is None:
            job = _plan(finding, check, base, pairs)
            if job is None:
                detail = f"needs its {check.partner_rule} from the same place; none found"
                _set(finding, check, Outcome("unsupported", detail=detail), stamp)
                continue
            jobs[job_key] = job
        job.findings.append(finding)

    answers: list[list[_Answer]] = []
    if jobs:
        gate = settings.gate or ProviderGate(settings.rate, settings.per_provider)
        with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
            answers = list(pool.map(lambda j: _run(j, settings, gate), jobs.values()))
    checked = settings.now().isoformat(timespec="seconds")
    by_partner: dict[str, list[tuple[Check, _Answer]]] = {}
    for job, job_answers in zip(jobs.values(), answers, strict=True):
        best = _best(job_answers)
        if job.untried and best.outcome.status != "valid":
            note = f"{job.untried} farther {job.check.partner_rule} not tried"
            detail = f"{best.outcome.detail}; {note}" if best.outcome.detail else note
            best = _Answer(best.attempt, replace(best.outcome, detail=detail), best.checked_at)
        for finding in job.findings:
            _set(finding, job.check, best.outcome, best.checked_at or checked)
        for answer in job_answers:
            if answer.attempt.partner is not None:
                by_partner.setdefault(answer.attempt.partner.fingerprint, []).append(
                    (job.check, answer)
                )
            if settings.cache is not None and answer.checked_at is None:
                settings.cache.put(answer.attempt.key, _entry(job.check, answer.outcome, checked))
    if settings.cache is not None:
        settings.cache.save()

    for finding in followers:
        tried = by_partner.get(finding.fingerprint)
        if not tried:
            primary = partners[finding.rule_id]
            detail = f"no {primary.rules[0]} from the same place was checked with it"
            _set(finding, primary, Outcome("unsupported", detail=detail), stamp)
            continue
        check, answer = next(
            ((c, a) for c, a in tried if a.outcome.status == "valid"),
            next(((c, a) for c, a in tried if a.outcome.status != "invalid"), tried[0]),
        )
        _set(finding, check, answer.outcome, answer.checked_at or checked)


def _plan(finding: Finding, check: Check, base: str, pairs: PairIndex) -> _Job | None:
    """What to ask about ``finding``; None for a pair's first half found alone."""
    if not check.partner_rule:
        key = cache_key(check.provider, base, (finding.fingerprint,))
        return _Job(check, base, finding.secret, [_Attempt(key)])
    candidates = pairs.partners(finding, check.partner_rule)
    if not candidates:
        return None
    attempts = [
        _Attempt(cache_key(check.provider, base, (finding.fingerprint, p.fingerprint)), p)
        for p in candidates[:MAX_PARTNERS]
    ]
    return _Job(check, base, finding.secret, attempts, untried=len(candidates) - len(attempts))


def _set(finding: Finding, check: Check | None, outcome: Outcome, at: str) -> None:
    finding.validation = Validation(
        status=outcome.status,
        checked_at=at,
        identity=outcome.identity,
        provider=check.provider if check else None,
        detail=outcome.detail,
    )


def _entry(check: Check, outcome: Outcome, checked_at: str) -> dict[str, object]:
    return {
        "status": outcome.status,
        "identity": outcome.identity,
        "detail": outcome.detail,
        "checked_at": checked_at,
        "provider": check.provider,
    }


def _best(answers: list[_Answer]) -> _Answer:
    """The valid answer if any; else an error (a wrong second half proves nothing); else
    the first invalid one."""
    for wanted in ("valid", "error", "unsupported"):
        for answer in answers:
            if answer.outcome.status == wanted:
                return answer
    return answers[0]


def _run(job: _Job, settings: Settings, gate: ProviderGate) -> list[_Answer]:
    """Each attempt in turn (cached ones without a request) until one is valid."""
    answers: list[_Answer] = []
    for attempt in job.attempts:
        cached = settings.cache.get(attempt.key) if settings.cache else None
        if cached is not None:
            outcome = Outcome(cached["status"], cached.get("identity"), cached.get("detail"))
            answers.append(_Answer(attempt, outcome, str(cached["checked_at"])))
        else:
            partner = attempt.partner.secret if attempt.partner else None
            if job.secret is None or (attempt.partner is not None and partner is None):
                detail = "secret not held (finding restored from the layer cache)"
                answers.append(_Answer(attempt, Outcome("error", detail=detail), None))
                continue
            credential = Credential(job.secret, partner)
            outcome = _scrub(_ask(job, credential, settings.http, gate), credential)
            answers.append(_Answer(attempt, outcome, None))
        if answers[-1].outcome.status == "valid":
            break
    return answers


def _ask(job: _Job, credential: Credential, http: HttpClient, gate: ProviderGate) -> Outcome:
    with gate.slot(job.check.provider):
        try:
            outcome = job.check.check(credential, job.base, http)
        except TransportError as exc:
            outcome = Outcome("error", detail=str(exc))
        except Exception as exc:  # a provider answering nonsense must not stop the scan
            outcome = Outcome("error", detail=f"unexpected {type(exc).__name__}")
    log.debug("asked %s about a credential: %s", job.check.provider, outcome.status)
    return outcome


#: an identity or detail longer than this is cut (it is a label, not a document)
MAX_TEXT = 200


def _scrub(outcome: Outcome, credential: Credential) -> Outcome:
    """What the provider answered, made safe to print: no secret (an echo of the token), no
    control characters or line breaks, bounded length."""
    secrets = [s for s in (credential.secret, credential.partner) if s]

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for secret in secrets:
            text = text.replace(secret, "[secret]")
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

    return Outcome(outcome.status, clean(outcome.identity), clean(outcome.detail))
