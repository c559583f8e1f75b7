"""The Policy a library caller hands to the API is applied by the scanner: no CLI needed;
the config file feeds the flags' defaults and never breaks ``--help``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from leakscan.api import ScanConfig, scan
from leakscan.model import Blob, Provenance
from leakscan.policy import Policy, left_out
from leakscan.policy.baseline import Baseline
from leakscan.sources.interface import ScanContext, Source
from tests.helpers import aws_key_id, github_token, write_rules
from tests.policy.conftest import Project


class _Text(Source):
    """Files in memory, named as if on disk (they are not: nothing to re-read)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.name = "text"

    def blobs(self, ctx: ScanContext):  # type: ignore[no-untyped-def]
        for path, text in self.files.items():
            yield Blob(Provenance("image-layer", {"path": path, "image": "x"}), data=text.encode())


def test_the_api_applies_the_policy_it_is_given(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    accepted, allowed, new = github_token(), github_token(), aws_key_id()
    files = {
        "a.env": f"OLD={accepted}\n",
        "b.env": f"T={allowed}  # leakscan:allow\n",
        "c.env": f"AWS_ACCESS_KEY_ID={new}\n",
    }
    base = ScanConfig(rule_paths=(rules,), include_builtin=False, jobs=1)
    everything = scan([_Text(files)], base)
    assert len(everything.findings) == 3  # the default policy keeps every finding
    first = next(f for f in everything.findings if f.secret == accepted)

    policy = Policy(
        inline_allows=True, baseline=Baseline.from_findings([first]), fail_on="critical"
    )
    result = scan([_Text(files)], dataclasses.replace(base, policy=policy))
    assert [f.secret for f in result.findings] == [new]
    assert left_out(result).baseline == 1 and left_out(result).inline == 1
    assert policy.fails(result.findings)  # the AWS key is critical
    assert not dataclasses.replace(policy, fail_on="critical").fails(
        [f for f in everything.findings if f.secret != new]  # the GitHub tokens are high
    )


def test_help_shows_builtin_defaults_even_with_a_broken_config_file(project: Project) -> None:
    project.config('min_confidence = "high"\ncolour = "blue"\n')
    for args in (["scan", "path", "--help"], ["scan", "--help"]):
        shown = project.run(*args)
        assert shown.exit_code == 0, shown.output
        assert "--min-confidence" in shown.output and "error" not in shown.output
    assert project.scan("app").exit_code == 2  # a scan reads it, and says what is wrong


def test_a_baseline_named_by_the_config_file_applies_until_a_flag_names_another(
    project: Project,
) -> None:
    project.write("app/a.py", f'TOKEN = "{github_token()}"\n')
    assert project.run("baseline", "create", "app", "--rules", "rules").exit_code == 0
    project.config('baseline = ".leakscan-baseline.json"\n')
    assert project.scan("app").exit_code == 0
    project.write("other.json", '{"version": 1, "entries": []}\n')
    assert project.scan("app", "--baseline", "other.json").exit_code == 1
