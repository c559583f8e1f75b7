"""Structured files hand the full key path to the engine's context rules: a rule can ask for
``datadog.api_key`` (a key one level under a ``datadog:`` block), and short passwords under
``db.password`` or ``irc.PASS`` are judged by their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.engine.detector import Detector
from leakscan.model import Blob, Provenance
from leakscan.rules.loader import load_rules
from leakscan.sources.manifests.source import structured_blobs

DATADOG_RULE = r"""
rules:
  - id: test.datadog.key-in-block
    name: Datadog key under a datadog block
    pattern: '^\s*["'']?([a-f0-9]{32}|[a-f0-9]{40})["'']?\s*$'
    keywords: [datadog]
    context: '(?i)(?:^|\.)datadog\.(?:api|app)_key$'
    entropy: 3.0
    confidence: medium
    examples: [{text: 'c0a3e5f1b2d4968778a1b2c3d4e5f6a7', secret: c0a3e5f1b2d4968778a1b2c3d4e5f6a7, context: datadog.api_key}]  # leakscan:allow (synthetic test value)
    negative_examples: [{text: 'c0a3e5f1b2d4968778a1b2c3d4e5f6a7', context: api_key}]  # leakscan:allow (synthetic test value)
"""

API_KEY = "5e7f0a1b2c3d4e5f60718293a4b5c6d7"  # leakscan:allow (synthetic test value)
APP_KEY = "8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"  # leakscan:allow (synthetic test value)

FILES = {
    "conf/app.yaml": f"""\
datadog:
  api_key: {API_KEY}
  app_key: {APP_KEY}
database:
  password: hunter2x  # leakscan:allow
irc:
  PASS: k1ttens99  # leakscan:allow
""",
    "conf/app.json": f'{{"datadog": {{"api_key": "{API_KEY}"}}, "db": {{"password": "hunter2x"}}}}',  # leakscan:allow
    "conf/app.toml": f'[datadog]\napi_key = "{API_KEY}"\n[db]\npassword = "hunter2x"\n',  # leakscan:allow
    "conf/app.ini": "[irc]\nPASS = k1ttens99\n",  # leakscan:allow
    "conf/app.properties": "spring.datasource.password=Winter2024!\ndb.pass=k1ttens99\n",  # leakscan:allow
}


@pytest.fixture(scope="module")
def det(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "datadog.yaml").write_text(DATADOG_RULE)
    return Detector(load_rules([folder]))


def _structured(path: str, text: str) -> list[Blob]:
    blob = Blob(Provenance("file", {"path": path}), data=text.encode())
    return [b for b in structured_blobs(blob) if isinstance(b, Blob)]


def test_yaml_values_carry_their_full_key_path() -> None:
    contexts = [b.context for b in _structured("conf/app.yaml", FILES["conf/app.yaml"])]
    assert contexts == ["datadog.api_key", "datadog.app_key", "database.password", "irc.PASS"]


@pytest.mark.parametrize("path", sorted(FILES))
def test_key_paths_reach_the_context_rules(det: Detector, path: str, tmp_path: Path) -> None:
    found = {
        (m.rule_id, m.secret)
        for b in _structured(path, FILES[path])
        for m in det.scan(b.data or b"", b.context)
    }
    expected = {
        "conf/app.yaml": {
            ("test.datadog.key-in-block", API_KEY),
            ("test.datadog.key-in-block", APP_KEY),
            ("leakscan.generic.secret-named-value", "hunter2x"),
            ("leakscan.generic.secret-named-value", "k1ttens99"),
        },
        "conf/app.json": {
            ("test.datadog.key-in-block", API_KEY),
            ("leakscan.generic.secret-named-value", "hunter2x"),
        },
        "conf/app.toml": {
            ("test.datadog.key-in-block", API_KEY),
            ("leakscan.generic.secret-named-value", "hunter2x"),
        },
        "conf/app.ini": {("leakscan.generic.secret-named-value", "k1ttens99")},
        "conf/app.properties": {
            ("leakscan.generic.secret-named-value", "Winter2024!"),
            ("leakscan.generic.secret-named-value", "k1ttens99"),
        },
    }[path]
    assert expected <= found  # (a hex key is also a secret-named value of its own)
    assert {s for _, s in found} == {s for _, s in expected}


def test_a_key_without_its_block_is_not_enough(det: Detector) -> None:
    blobs = _structured("conf/other.yaml", f"metrics:\n  api_key: {API_KEY}\n")
    assert [b.context for b in blobs] == ["metrics.api_key"]
    assert not [
        m for b in blobs for m in det.scan(b.data or b"", b.context) if "datadog" in m.rule_id
    ]


@pytest.mark.parametrize(
    "value",
    [
        "x7#k(2)q$v9=m+w!4n@b8&c*e^r3%t5-y6_u0)i1z",  # leakscan:allow (synthetic test value)
        "(d)j=0^a!k3$+w9p&_2m@x8*q#v7%z-r4(u)e6^y5",  # leakscan:allow (synthetic test value)
    ],
)
def test_django_secret_keys_full_of_punctuation_are_found(det: Detector, value: str) -> None:
    for text, path in (
        (f"DJANGO_SECRET_KEY={value}\n", "app/.env"),
        (f'django:\n  secret_key: "{value}"\n', "conf/settings.yaml"),
    ):
        found = {
            m.secret for b in _structured(path, text) for m in det.scan(b.data or b"", b.context)
        }
        assert value in found, path
