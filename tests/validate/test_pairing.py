"""The other half of a pair is found in the same place, nearest line first."""

from __future__ import annotations

from leakscan.model import Finding, Location, Provenance
from leakscan.validate.pairing import PairIndex

KEY, SECRET = "leakscan.aws.access-key-id", "leakscan.aws.secret-access-key"


def finding(rule: str, n: int, *locations: Location) -> Finding:
    return Finding(f"{n:064x}", rule, rule, "high", "high", "…", f"s{n}", list(locations))


def file(path: str, line: int) -> Location:
    return Location(Provenance("file", {"path": path}), line)


def test_nearest_secret_in_the_same_file_wins() -> None:
    key = finding(KEY, 1, file("a/.env", 10))
    near, far = finding(SECRET, 2, file("a/.env", 11)), finding(SECRET, 3, file("a/.env", 40))
    other = finding(SECRET, 4, file("b/.env", 10))
    assert PairIndex([key, far, other, near]).partners(key, SECRET) == [near, far]


def test_env_values_of_one_image_config_pair_but_not_across_images() -> None:
    def config(image: str, field: str) -> Location:
        return Location(Provenance("image-config", {"image": image, "field": field}))

    key = finding(KEY, 1, config("app:1", "Env[AWS_ACCESS_KEY_ID]"))
    secret = finding(SECRET, 2, config("app:1", "Env[AWS_SECRET_ACCESS_KEY]"))
    elsewhere = finding(SECRET, 3, config("db:2", "Env[AWS_SECRET_ACCESS_KEY]"))
    assert PairIndex([key, secret, elsewhere]).partners(key, SECRET) == [secret]


def test_a_key_seen_in_two_places_pairs_with_either_secret() -> None:
    key = finding(KEY, 1, file("x", 1), file("y", 5))
    only_in_y = finding(SECRET, 2, file("y", 6))
    assert PairIndex([key, only_in_y]).partners(key, SECRET) == [only_in_y]
