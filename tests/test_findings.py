"""Fingerprints, grouping by secret, redaction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leakscan.engine.redact import redact
from leakscan.findings import FindingSet, fingerprint
from leakscan.model import Match, Provenance

ids = st.text(min_size=1, max_size=30)
secrets_ = st.text(min_size=1, max_size=60)


@given(ids, secrets_, ids, secrets_)
def test_distinct_rule_secret_pairs_never_share_a_fingerprint(r1, s1, r2, s2) -> None:  # type: ignore[no-untyped-def]
    if (r1, s1) != (r2, s2):
        assert fingerprint(r1, s1) != fingerprint(r2, s2)
    else:
        assert fingerprint(r1, s1) == fingerprint(r2, s2)


def test_length_prefix_keeps_boundary_shifts_apart() -> None:
    assert fingerprint("a", "b\x00c") != fingerprint("a\x00b", "c")


def test_keyed_fingerprints_differ_from_plain_and_by_key() -> None:
    plain = fingerprint("r", "s")
    assert fingerprint("r", "s", b"k1") != plain
    assert fingerprint("r", "s", b"k1") != fingerprint("r", "s", b"k2")
    assert fingerprint("r", "s", b"k1") == fingerprint("r", "s", b"k1")


def test_one_finding_per_secret_with_every_location() -> None:
    fs = FindingSet([])
    m = Match("r", "Zp8Qw2Lk9XvBn3", 3, 5, "high", "high")
    fs.add(m, Provenance("file", {"path": "a"}))
    fs.add(m, Provenance("file", {"path": "b"}))
    fs.add(m, Provenance("file", {"path": "a"}))  # the same place again is not a new location
    fs.add(Match("r", "other-secret-9x", 1, 1, "high", "high"), Provenance("file", {"path": "a"}))
    findings = fs.findings()
    assert len(findings) == 2
    assert [loc.provenance.fields["path"] for loc in findings[0].locations] in (["a", "b"], ["a"])
    assert sorted(len(f.locations) for f in findings) == [1, 2]


def test_structured_value_reports_the_line_of_its_key() -> None:
    fs = FindingSet([])
    fs.add(
        Match("r", "Zp8Qw2Lk9XvBn3", 1, 1, "high", "high"),
        Provenance("file", {"path": "k8s.yaml", "key": "data.pw"}, line=7),
    )
    assert fs.findings()[0].locations[0].line == 7


def test_vendor_only_findings_are_ranked_low_not_hidden() -> None:
    fs = FindingSet([])
    fs.add(
        Match("r", "Zp8Qw2Lk9XvBn3", 1, 1, "high", "high"),
        Provenance("image-layer", {"path": "usr/lib/x"}, vendor=True),
    )
    (finding,) = fs.findings()
    assert finding.confidence == "low"
    assert fs.findings(min_confidence="medium") == []


def test_redaction_keeps_prefix_and_last_four() -> None:
    assert redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789") == "ghp_…6789"
    assert redact("Zp8Qw2Lk9XvBn3Tq") == "…n3Tq"
    assert "Zp8Q" not in redact("Zp8Qw2Lk9XvBn3Tq")
    assert (
        redact("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----")
        == "PRIVATE KEY (RSA) …"
    )


def _rule(rule_id: str, tags: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    from leakscan.rules.spec import Rule

    return Rule(id=rule_id, name=rule_id, pattern="x", keywords=("x",), tags=tags)


def test_generic_rule_agreeing_with_a_specific_one_adds_locations_not_a_finding() -> None:
    fs = FindingSet(
        [_rule("aws.key"), _rule("leakscan.generic.password"), _rule("ctx", ("generic",))]
    )
    secret = "Zp8Qw2Lk9XvBn3TqZp8Qw2Lk9XvBn3TqAb12Cd34"
    fs.add(Match("aws.key", secret, 3, 5, "high", "critical"), Provenance("file", {"path": ".env"}))
    fs.add(
        Match("leakscan.generic.password", secret, 1, 1, "low", "high"),
        Provenance("image-config", {"image": "app", "field": "Env[PW]"}),
    )
    fs.add(
        Match("ctx", secret, 1, 1, "medium", "high"),
        Provenance("file", {"path": ".env", "key": "AWS_SECRET"}, line=3),
    )
    (finding,) = fs.findings()
    assert finding.rule_id == "aws.key"
    assert [loc.provenance.kind for loc in finding.locations] == ["file", "image-config"]
    (again,) = fs.findings()  # asking twice merges nothing twice
    assert [loc.provenance.kind for loc in again.locations] == ["file", "image-config"]


def test_base64_form_of_a_decoded_secret_is_not_a_second_finding() -> None:
    import base64

    fs = FindingSet([_rule("leakscan.generic.password"), _rule("ctx", ("generic",))])
    secret = "Zp8Qw2#Lk9XvBn3"  # leakscan:allow (synthetic test value)
    encoded = base64.b64encode(secret.encode()).decode()
    fs.add(
        Match("leakscan.generic.password", encoded, 8, 13, "low", "high"),
        Provenance("file", {"path": "secret.yaml"}),
    )
    fs.add(
        Match("ctx", secret, 1, 1, "medium", "high"),
        Provenance("file", {"path": "secret.yaml", "key": "data.password"}, line=8),
    )
    (finding,) = fs.findings()
    assert finding.secret == secret
