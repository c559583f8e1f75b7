"""Values the differential benchmark met in real packages (READMEs, test scripts, bundled
code) that are documented examples or code, not credentials: no finding. The same shape with
another value stays a finding, so the filters drop the example and not the format.
Runs the built-in rules end to end."""

from __future__ import annotations

import pytest

from leakscan.engine import shape
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules

# lines as the packages print them (sentry-sdk, PyJWT and minio READMEs, knex's CI compose
# file, pyenv's history, axios' bundle)
DOCUMENTED = [
    '    "https://12927b5f211046b575ee51fd8b1ac34f@o1.ingest.sentry.io/1",  # Your DSN here',
    "    eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzb21lIjoicGF5bG9hZCJ9"
    ".4twFt5NiznN84AWoo1d7KO1T_yoc0Z6XOpOVswacPZg",
    'token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l'
    'IiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',
    '    access_key="Q3AM3UQ867SPQQA43P2F",',
    '    secret_key="zuf+tfteSlswRu7BJ86wekitnifILbZam1KYY3TG",',
    "      - 'until /opt/oracle/product/18c/dbhomeXE/bin/sqlplus -s sys/Oracle18@oracledb/XE "
    'as sysdba <<< "SELECT 1 FROM DUAL;"; do sleep 5; done\'',
    "+\t\t-v /etc/passwd:/etc/passwd:ro \\",
    "  var CancelToken = /*#__PURE__*/function () {",
    "    api_token = __DEFAULT_API_TOKEN_NAME",
]

# the same places holding a value nobody published (synthetic)  # leakscan:allow
REAL = [
    (
        '    "https://7d1f0c2b9e4a4b8f9c3d2e1a0b9c8d7e@o1.ingest.sentry.io/1",',  # leakscan:allow
        "7d1f0c2b9e4a4b8f9c3d2e1a0b9c8d7e",  # leakscan:allow
    ),
    (
        "    eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXBsb3kifQ"  # leakscan:allow
        ".Qm9vT1J2cF9rZ3d4WnE4VDJtTHA0bmN5Rjd2Uw",  # leakscan:allow
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXBsb3kifQ"  # leakscan:allow
        ".Qm9vT1J2cF9rZ3d4WnE4VDJtTHA0bmN5Rjd2Uw",  # leakscan:allow
    ),
    (
        "sqlplus -s sys/Or4cl3Xq9@oracledb/XE as sysdba",  # leakscan:allow
        "Or4cl3Xq9",  # leakscan:allow
    ),
    ("mysql -u root -pmysql57x9Q shop", "mysql57x9Q"),  # leakscan:allow
]


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector(load_rules())


@pytest.mark.parametrize("line", DOCUMENTED)
def test_documented_examples_and_code_are_not_findings(det: Detector, line: str) -> None:
    assert [(m.rule_id, m.secret) for m in det.scan(line.encode())] == []


@pytest.mark.parametrize(("line", "secret"), REAL)
def test_the_same_places_with_an_unpublished_value_are_findings(
    det: Detector, line: str, secret: str
) -> None:
    assert secret in {m.secret for m in det.scan(line.encode())}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/etc/passwd:/etc/passwd:ro", True),
        ("/usr/local/bin:/usr/bin:/bin", True),
        ("./data:/var/lib/postgresql/data:z", True),
        ("/run/secrets/db_password", True),
        ("/Xk29qLm:fj83Qz", False),  # a password that starts with a slash
        ("/aB3dE5gH7jK9mN:/x", False),  # a random segment is no path
    ],
)
def test_is_path_reads_mounts_and_search_paths(value: str, expected: bool) -> None:
    assert shape.is_path(value) is expected
