"""The other half of a pair is found in the same place, nearest line first."""

from __future__ import annotations

from leakscan.model import Finding, Location, Provenance
from leakscan.validate.pairing import PairIndex

PRIMARY, PARTNER = "leakscan.aws.access-key-id", "leakscan.aws.secret-access-key"


def finding(rule: str, n: int, *locations: Location) -> Finding:
    return Finding(f"{n:064x}", rule, rule, "high", "high", "…", f"s{n}", list(locations))


def file(path: str, line: int) -> Location:
    return Location(Provenance("file", {"path": path}), line)


def test_nearest_secret_in_the_same_file_wins() -> None:
    key = finding(PRIMARY, 1, file("a/.env", 10))
    near, far = finding(PARTNER, 2, file("a/.env", 11)), finding(PARTNER, 3, file("a/.env", 40))
    other = finding(PARTNER, 4, file("b/.env", 10))
    assert PairIndex([key, far, other, near]).partners(key, PARTNER) == [near, far]


def test_env_values_of_one_image_config_pair_but_not_across_images() -> None:
    def config(image: str, field: str) -> Location:
        return Location(Provenance("image-config", {"image": image, "field": field}))

    key = finding(PRIMARY, 1, config("app:1", "Env[AWS_ACCESS_KEY_ID]"))
    secret = finding(PARTNER, 2, config("app:1", "Env[AWS_SECRET_ACCESS_KEY]"))
    elsewhere = finding(PARTNER, 3, config("db:2", "Env[AWS_SECRET_ACCESS_KEY]"))
    assert PairIndex([key, secret, elsewhere]).partners(key, PARTNER) == [secret]


def test_a_key_seen_in_two_places_pairs_with_either_secret() -> None:
    key = finding(PRIMARY, 1, file("x", 1), file("y", 5))
    only_in_y = finding(PARTNER, 2, file("y", 6))
    assert PairIndex([key, only_in_y]).partners(key, PARTNER) == [only_in_y]


def test_a_pair_is_tried_with_each_nearby_second_half_until_one_is_valid() -> None:
    from leakscan.validate import Settings, validate_findings
    from leakscan.validate.http import HttpClient
    from leakscan.validate.interface import Check, Credential, Outcome

    tried: list[str | None] = []

    class PairCheck(Check):
        provider = "pair"
        rules = (PRIMARY,)
        partner_rule = PARTNER
        base = "https://pair.invalid"
        doc = proves = call = ""

        def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
            tried.append(credential.partner)
            if credential.partner == "s3":
                return Outcome("valid", identity="arn:x")
            return Outcome("invalid", detail="SignatureDoesNotMatch")

    key = finding(PRIMARY, 1, file("creds", 5))
    wrong = finding(PARTNER, 2, file("creds", 6))  # nearer, but another key's secret
    right = finding(PARTNER, 3, file("creds", 9))
    validate_findings([key, wrong, right], Settings(checks=[PairCheck()]))
    assert tried == ["s2", "s3"]
    assert key.validation is not None and key.validation.identity == "arn:x"
    assert right.validation == key.validation  # the second half takes its pair's answer
    assert wrong.validation is not None and wrong.validation.status == "invalid"

    tried.clear()
    lonely = finding(PRIMARY, 4, file("creds", 5))
    validate_findings([lonely, wrong], Settings(checks=[PairCheck()]))
    assert lonely.validation is not None and lonely.validation.status == "invalid"


def test_candidates_beyond_the_cap_are_said_not_tried() -> None:
    from leakscan.validate import Settings, validate_findings
    from leakscan.validate.http import HttpClient
    from leakscan.validate.interface import Check, Credential, Outcome

    class Refusing(Check):
        provider = "pair"
        rules = (PRIMARY,)
        partner_rule = PARTNER
        base = "https://pair.invalid"
        doc = proves = call = ""
        calls = 0

        def check(self, credential: Credential, base: str, http: HttpClient) -> Outcome:
            Refusing.calls += 1
            return Outcome("invalid", detail="SignatureDoesNotMatch")

    key = finding(PRIMARY, 1, file("creds", 1))
    secrets = [finding(PARTNER, n, file("creds", n)) for n in range(2, 7)]
    validate_findings([key, *secrets], Settings(checks=[Refusing()]))
    assert Refusing.calls == 3
    assert key.validation is not None
    assert key.validation.detail == (f"SignatureDoesNotMatch; 2 farther {PARTNER} not tried")
    assert [s.validation.status for s in secrets if s.validation] == ["invalid"] * 3 + [
        "unsupported"
    ] * 2
