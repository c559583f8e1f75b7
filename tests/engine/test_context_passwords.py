"""Generic credentials decided by context: short human passwords under password-named keys and
in URLs are found by their shape; code, paths, templates, documentation hosts and key names
that only point at a secret are not findings. Runs the built-in rules end to end."""

from __future__ import annotations

import pytest

from leakscan.engine import shape
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules

# realistic lines holding a credential (all synthetic)  # leakscan:allow
POSITIVES = [
    ("DB_PASSWORD=hunter2x", "hunter2x"),  # leakscan:allow
    ('password: "letmein1"', "letmein1"),  # leakscan:allow
    ("  password: S3cr3t!", "S3cr3t!"),  # leakscan:allow
    ("export MYSQL_PWD='Gr4vel&Tide'", "Gr4vel&Tide"),  # leakscan:allow
    ("spring.datasource.password=Winter2024!", "Winter2024!"),  # leakscan:allow
    ("IRC_PASS=k1ttens99", "k1ttens99"),  # leakscan:allow
    ("<Pass>ftpS3cret9</Pass>", "ftpS3cret9"),  # leakscan:allow
    ("git clone https://deploy:hunter2x@git.acme.io/app.git", "hunter2x"),  # leakscan:allow
    ('{"password": "qwerty#77"}', "qwerty#77"),  # leakscan:allow
    ('$db_pass = "m0nkey!42";', "m0nkey!42"),  # leakscan:allow
    ("ftp_password: 'Bl4ckC4t'", "Bl4ckC4t"),  # leakscan:allow
    ("$cfg['Servers'][$i]['password'] = 'phpMy!42';", "phpMy!42"),  # leakscan:allow
    ("spring.datasource.password=Ch3rry-Pie", "Ch3rry-Pie"),  # leakscan:allow
]

NEGATIVES = [
    "config.Password = test.password",
    "options.password = settings.db.password;",
    "ORACLE_PWD=###ORACLE_PWD###",
    "proxy = http://user:pass@proxy.example.com:3128",
    "proxy = http://user:Passw0rd!@proxy.example.com:3128",
    "git clone https://alice:s3cretPa55@example.org/repo.git",
    "http_proxy=http://admin:s3cr3tPw9@localhost:3128",
    "DB_PASSWORD_FILE=/run/secrets/db_password",
    "POSTGRES_PASSWORD_FILE=/run/secrets/postgres-passwd",
    "MYSQL_ROOT_PASSWORD_FILE: /run/secrets/mysql_root",
    'type="Foo.Bar, Foo, Version=4.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"',
    "password = user_pw1",
    "password = sha256",
    "password_hash_algorithm = pbkdf2_sha256",
    "PASSWORD_MIN_LENGTH=8",
    "password: ${DB_PASSWORD}",
    'password = "password1"',
    "password: changeme123",
    "password = None",
    'if password == "hunter22":',
    "    password: str = 'secret'",
    "password: true",
    "DB_PASSWORD=",
    'password = "v1.2.3"',
    'password = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"',
    "password = 2f1c0c8e-5b7a-4d36-9a51-0e4b7f6b2c19",
    "password: admin@example.com",
    "<Password>changeme</Password>",
    "password: !vault |",
    "  password: !secret db_password",
    "$config['db']['password'] = $_ENV['DB_PASSWORD'];",
]


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector(load_rules())


@pytest.mark.parametrize(("line", "secret"), POSITIVES)
def test_short_passwords_in_context_are_found(det: Detector, line: str, secret: str) -> None:
    assert secret in {m.secret for m in det.scan(line.encode())}


@pytest.mark.parametrize("line", NEGATIVES)
def test_code_paths_templates_and_docs_hosts_are_not_findings(det: Detector, line: str) -> None:
    assert [(m.rule_id, m.secret) for m in det.scan(line.encode())] == []


def test_consecutive_assignments_are_each_found(det: Detector) -> None:
    text = "DB_PASSWORD=hunter2x\nREDIS_PASSWORD=k1ttens99\nSMTP_PASSWORD=m0nkey!42\n"  # leakscan:allow
    assert {m.line for m in det.scan(text.encode())} == {1, 2, 3}


@pytest.mark.parametrize(
    ("value", "context", "found"),
    [
        ("hunter2x", "DB_PASSWORD", True),
        ("hunter2x", "db.password", True),
        ("k1ttens99", "irc.PASS", True),
        ("hunter2x", "HOSTNAME", False),
        ("hunter2x", "API_TOKEN", False),  # tokens are machine-made: short is not one
        ("/run/secrets/db", "DB_PASSWORD_FILE", False),
        ("31bf3856ad364e35", "PublicKeyToken", False),
        ("strong", "password_policy", False),
    ],
)
def test_structured_values_are_judged_by_their_key(
    det: Detector, value: str, context: str, found: bool
) -> None:
    assert bool(det.scan(value.encode(), context)) is found


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hunter2x", True),
        ("letmein1", True),
        ("S3cr3t!", True),
        ("Winter2024!", True),
        ("secret", False),  # a plain word
        ("12345678", False),
        ("user_pw1", False),  # an identifier
        ("userPassword", False),
        ("sha256", False),
        ("v1.2.3", False),
        ("/etc/passwd", False),
        ("abc1", False),  # too short
        ("aaa111", False),  # too few distinct characters
    ],
)
def test_is_credential_shaped(value: str, expected: bool) -> None:
    assert shape.is_credential_shaped(value) is expected


@pytest.mark.parametrize(
    ("key", "reference"),
    [
        ("DB_PASSWORD_FILE", True),
        ("passwordPolicy", True),
        ("token_url", True),
        ("PublicKeyToken", True),
        ("ClientToken", True),  # an idempotency token
        ("pagination.nextToken", True),
        ("DB_PASSWORD", False),
        ("config.Password", False),
        ("datadog.api_key", False),
    ],
)
def test_is_reference_key(key: str, reference: bool) -> None:
    assert shape.is_reference_key(key) is reference


@pytest.mark.parametrize(
    ("host", "docs"),
    [
        ("proxy.example.com", True),
        ("example.org:8080", True),
        ("db.test", True),
        ("yourdomain.com", True),
        ("git.acme.io", False),
        ("examples.acme.io", False),
    ],
)
def test_is_documentation_host(host: str, docs: bool) -> None:
    assert shape.is_documentation_host(host) is docs


@pytest.mark.parametrize(
    ("line", "literal"),
    [
        ('password = "x1y2z3w4"', True),  # leakscan:allow
        ("DB_PASSWORD=x1y2z3w4", True),  # leakscan:allow
        ("  password: x1y2z3w4", True),  # leakscan:allow
        ("<Pass>x1y2z3w4</Pass>", True),  # leakscan:allow
        ("password = x1y2z3w4", False),  # leakscan:allow
        ("if password == x1y2z3w4", False),  # leakscan:allow
    ],
)
def test_is_literal_position(line: str, literal: bool) -> None:
    data = line.encode()
    start = data.index(b"x1y2")
    assert shape.is_literal_position(data, start, start + 8) is literal
