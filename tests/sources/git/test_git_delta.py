"""A blob that edits an earlier version is scanned for its changed lines only.

What a user sees: a secret is reported at the commit that wrote it (not at every later commit
that edited some other line of the file), still "in HEAD" when it is, at the right line; a
range scan reports only what the range adds; nothing is missed (multi-line keys, lost bases).
"""

from __future__ import annotations

import base64
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.sources.git import delta as delta_module
from leakscan.sources.git import source as git_source
from leakscan.sources.git.delta import Base, BaseCache, Part, changed_span, delta
from tests.helpers import github_token, password, random_chars
from tests.sources.git.gitrepo import GitRepo

RULE = "test.github.pat"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def scan(*args: str, code: int = 1) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["scan", "git", *args, "-f", "json", "--show-secrets", "--no-progress"]
    )
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def places(doc: dict[str, Any], secret: str) -> set[tuple[str, str, int, bool]]:
    (found,) = [f for f in doc["findings"] if f.get("secret") == secret]
    return {(loc["path"], loc["commit"], loc["line"], loc["in_head"]) for loc in found["locations"]}


def lines(n: int, tag: str = "line") -> list[str]:
    return [f"{tag} {i}: nothing secret here" for i in range(1, n + 1)]


def text(body: list[str]) -> str:
    return "\n".join(body) + "\n"


def test_later_edits_elsewhere_keep_the_commit_that_wrote_the_secret(
    repo: GitRepo, rules: Path
) -> None:
    token = github_token()
    body = lines(40)
    body[1] = f"GITHUB_TOKEN={token}"
    wrote = repo.commit("add settings", {"settings.env": text(body)})
    for n in range(3):  # three commits edit other lines; the token stays
        body[20 + n] = f"line {21 + n}: edited {n}"
        last = repo.commit(f"edit {n}", {"settings.env": text(body)})
    doc = scan(str(repo.path), "--rules", str(rules))
    # where it was written, and (HEAD is scanned whole) that it is still there
    assert places(doc, token) == {
        ("settings.env", wrote, 2, False),
        ("settings.env", last, 2, True),
    }


def test_a_secret_removed_by_an_edit_is_not_in_head(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    body = lines(30)
    body[10] = f"token: {token}"
    wrote = repo.commit("add", {"app.yaml": text(body)})
    body[10] = "token: ${TOKEN}"
    repo.commit("use the environment", {"app.yaml": text(body)})
    body[25] = "line 26: edited"
    repo.commit("edit", {"app.yaml": text(body)})
    assert places(scan(str(repo.path), "--rules", str(rules)), token) == {
        ("app.yaml", wrote, 11, False)
    }


def test_secrets_written_by_edits_are_at_their_commit_and_line(repo: GitRepo, rules: Path) -> None:
    first, second = github_token(), github_token()
    body = lines(60)
    repo.commit("add", {"config.py": text(body)})
    body.insert(29, f"TOKEN = '{first}'")  # becomes line 30
    one = repo.commit("one", {"config.py": text(body)})
    body[4] = "line 5: changed"  # two changes far apart in one commit: all between is scanned
    body[55] = f"OTHER = '{second}'"  # line 56
    two = repo.commit("two", {"config.py": text(body)})
    body[0] = "line 1: changed"
    repo.commit("three", {"config.py": text(body)})
    doc = scan(str(repo.path), "--rules", str(rules))
    head = repo.git("rev-parse", "HEAD")
    assert places(doc, first) == {("config.py", one, 30, False), ("config.py", head, 30, True)}
    assert places(doc, second) == {("config.py", two, 56, False), ("config.py", head, 56, True)}


def test_a_range_reports_what_it_adds_not_what_the_files_it_edits_held(
    repo: GitRepo, rules: Path
) -> None:
    old, new = github_token(), github_token()
    body = lines(20)
    body[2] = f"OLD_TOKEN={old}"
    base = repo.commit("base", {"deploy.env": text(body)})
    repo.git("checkout", "-q", "-b", "pr")
    body[15] = "line 16: the pull request edits this line"
    repo.commit("pr edit", {"deploy.env": text(body)})
    doc = scan(str(repo.path), "--rules", str(rules), "--range", f"{base}..pr", code=0)
    assert doc["findings"] == []  # the file's old token is not the pull request's doing
    body[17] = f"NEW_TOKEN={new}"
    added = repo.commit("pr adds a token", {"deploy.env": text(body)})
    doc = scan(str(repo.path), "--rules", str(rules), "--range", f"{base}..pr")
    assert [f["secret"] for f in doc["findings"]] == [new]
    assert places(doc, new) == {("deploy.env", added, 18, True)}


def test_an_allow_comment_on_the_unchanged_line_above_still_counts(
    repo: GitRepo, rules: Path
) -> None:
    allowed, flagged = github_token(), github_token()
    marked, plain = lines(30), lines(30)
    marked[9] = "# leakscan:allow test.github.pat (a fixture)"
    repo.commit("add", {"marked.py": text(marked), "plain.py": text(plain)})
    # only the line below the marker changes (the same edit in a file without a marker)
    marked[10], plain[10] = f"TOKEN = '{allowed}'", f"TOKEN = '{flagged}'"
    repo.commit("tokens", {"marked.py": text(marked), "plain.py": text(plain)})
    marked[10] = plain[10] = "line 11: gone"  # not in HEAD, which is scanned whole
    repo.commit("drop them", {"marked.py": text(marked), "plain.py": text(plain)})
    doc = scan(str(repo.path), "--rules", str(rules))
    assert [f["secret"] for f in doc["findings"]] == [flagged]


def test_a_value_changed_under_its_unchanged_key_is_found(repo: GitRepo, rules: Path) -> None:
    body = lines(20)
    body[4:6] = ["database:", "  password:", "    ${DB_PASSWORD}"]
    repo.commit("config", {"app.yaml": text(body)})
    secret = password()
    body[6] = f"    {secret}"  # only the value's line changes; the key is on the line above
    wrote = repo.commit("hard-code it", {"app.yaml": text(body)})
    body[15] = "line 16: edited, so the blob above is not HEAD's (HEAD is scanned whole)"
    repo.commit("edit", {"app.yaml": text(body)})
    body[6] = "    ${DB_PASSWORD}"
    repo.commit("undo", {"app.yaml": text(body)})
    doc = scan(str(repo.path), "--rules", str(rules))
    assert places(doc, secret) == {("app.yaml", wrote, 7, False)}


def test_an_old_secret_next_to_an_edit_stays_at_the_commit_that_wrote_it(
    repo: GitRepo, rules: Path
) -> None:
    token = github_token()
    body = lines(30)
    body[4] = f"TOKEN = '{token}'"
    wrote = repo.commit("add", {"a.py": text(body)})
    body[5] = "line 6: edited right below the token"  # the token's line is context here
    repo.commit("edit below", {"a.py": text(body)})
    body[20] = "line 21: edited"
    head = repo.commit("edit elsewhere", {"a.py": text(body)})
    doc = scan(str(repo.path), "--rules", str(rules))
    assert places(doc, token) == {("a.py", wrote, 5, False), ("a.py", head, 5, True)}


def test_a_token_added_to_a_utf16_file_is_found(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    body = lines(12)
    path = repo.path / "settings.ps1"
    path.write_bytes("\n".join(body).encode("utf-16"))  # with a BOM, as Windows writes it
    repo.commit("add")
    body[6] = f"$Token = '{token}'"
    path.write_bytes("\n".join(body).encode("utf-16"))
    wrote = repo.commit("token")
    body[1] = "edited, so the blob above is not HEAD's"
    path.write_bytes("\n".join(body).encode("utf-16"))
    head = repo.commit("edit")
    doc = scan(str(repo.path), "--rules", str(rules))
    assert places(doc, token) == {
        ("settings.ps1", wrote, 7, False),
        ("settings.ps1", head, 7, True),
    }


def _kubeconfig(token: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n"
        "    server: https://10.0.0.1:6443\nusers:\n- name: admin@prod\n  user:\n"
        f"    token: {token}\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n"
        "    user: admin@prod\ncurrent-context: prod\n"
        + "".join(f"# note {i}\n" for i in range(40))
    )


def test_a_rotated_kubeconfig_token_is_found_at_the_rotation(repo: GitRepo) -> None:
    """The kubeconfig rule needs ``users:`` a few lines above ``token:`` (rules reach up to
    several hundred bytes back): the context above a changed line is measured in bytes."""
    first, second = (random_chars(48) for _ in range(2))
    repo.commit("kubeconfig", {"deploy/kubeconfig": _kubeconfig(first)})
    rotated = repo.commit("rotate", {"deploy/kubeconfig": _kubeconfig(second)})
    repo.commit("gone", {"deploy/kubeconfig": None})
    doc = scan(str(repo.path))
    rule = "leakscan.kubernetes.kubeconfig-token"
    found = {f["secret"]: f for f in doc["findings"] if f["rule_id"] == rule}
    assert set(found) == {first, second}
    assert {loc["commit"] for loc in found[second]["locations"]} == {rotated}


def _pem() -> str:
    rows = base64.b64encode(os.urandom(48 * 12)).decode()
    body = "\n".join(rows[i : i + 64] for i in range(0, len(rows), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"


def test_a_key_changed_in_one_line_of_its_block_is_still_found(repo: GitRepo) -> None:
    key = _pem()
    repo.commit("add key", {"deploy/id_rsa": key, "README.md": "readme\n"})
    rows = key.split("\n")
    rows[4] = base64.b64encode(os.urandom(48)).decode()  # one row of the block replaced
    other = "\n".join(rows)
    repo.commit("rotate (badly)", {"deploy/id_rsa": other})
    repo.commit("remove it", {"deploy/id_rsa": None})  # not in HEAD: not scanned whole
    doc = scan(str(repo.path))
    found = {f["secret"] for f in doc["findings"] if f["rule_id"] == "leakscan.private-key.rsa"}
    assert found == {key.rstrip("\n"), other.rstrip("\n")}


def test_without_room_to_keep_earlier_versions_every_version_is_scanned_whole(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    body = lines(20)
    body[0] = f"T={token}"
    commits = [repo.commit("add", {"a.env": text(body)})]
    for n in range(2):
        body[10 + n] = f"edit {n}"
        commits.append(repo.commit(f"edit {n}", {"a.env": text(body)}))
    monkeypatch.setattr(git_source, "_BASE_BUDGET", 0)
    doc = scan(str(repo.path), "--rules", str(rules))
    assert {c for _, c, _, _ in places(doc, token)} == set(commits)  # slower, as complete


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_histories_find_the_same_secrets_as_whole_blob_scans(
    tmp_path: Path, rules: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Differential: edits, insertions, deletions, moves of lines and whole rewrites over a few
    files, with tokens planted and removed; scanning changed lines finds exactly the secrets
    (and the commits that wrote them) that scanning every version whole finds."""
    rng = random.Random(seed)
    repo = GitRepo(tmp_path / f"repo{seed}")
    files: dict[str, list[str]] = {f"f{i}.py": lines(rng.randint(5, 40), f"f{i}") for i in range(3)}
    planted: list[str] = []
    order: dict[str, int] = {}  # commit -> its number
    for n in range(30):
        name = rng.choice(sorted(files))
        body = files[name]
        op = rng.random()
        if op < 0.35:  # a token on a new or replaced line
            token = github_token()
            planted.append(token)
            at = rng.randrange(len(body))
            if rng.random() < 0.5:
                body.insert(at, f"T{n} = '{token}'")
            else:
                body[at] = f"T{n} = '{token}'"
        elif op < 0.55 and len(body) > 3:  # a line removed
            del body[rng.randrange(len(body))]
        elif op < 0.7 and len(body) > 3:  # a line moved
            body.insert(rng.randrange(len(body)), body.pop(rng.randrange(len(body))))
        elif op < 0.8:  # a rewrite
            rng.shuffle(body)
        else:  # edits far apart in one commit
            body[0] = f"edited {n} at the top"
            body[-1] = f"edited {n} at the bottom"
        order[repo.commit(f"change {n}", {name: text(body)})] = n
    assert planted

    def found() -> tuple[dict[str, int], set[str]]:
        """Each secret's first commit, and the secrets said to be in HEAD."""
        doc = scan(str(repo.path), "--rules", str(rules))
        first = {
            f["secret"]: min(order[loc["commit"]] for loc in f["locations"])
            for f in doc["findings"]
        }
        in_head = {
            f["secret"] for f in doc["findings"] if any(loc["in_head"] for loc in f["locations"])
        }
        return first, in_head

    changed_lines = found()
    monkeypatch.setattr(git_source, "_BASE_BUDGET", 0)  # no earlier versions kept: all whole
    whole = found()
    assert set(changed_lines[0]) == set(planted)  # (the helper makes no placeholder-like ones)
    assert changed_lines == whole  # the same secrets, first written by the same commits


# --- the span itself ---------------------------------------------------------------------

_TEXT = st.lists(st.sampled_from(["", "a", "b", "ab", "key=1", "x\ty", "é"]), max_size=12).map(
    lambda parts: "\n".join(parts).encode()
)


@given(_TEXT, _TEXT)
def test_changed_span_leaves_only_old_text_outside(old: bytes, new: bytes) -> None:
    start, end = changed_span(old, new)
    assert 0 <= start <= end <= len(new)
    assert start == 0 or new[start - 1 : start] == b"\n"  # whole lines
    assert end == len(new) or new[end : end + 1] == b"\n"
    assert old.startswith(new[:start])
    assert old.endswith(new[end:])
    assert len(new[:start]) + len(new[end:]) <= len(old)  # prefix and suffix do not overlap


@given(_TEXT, _TEXT)
def test_lines_not_scanned_as_changed_are_lines_of_the_old_text(old: bytes, new: bytes) -> None:
    part, _ = delta(Base(old, False), new)
    if part is None:
        return  # scanned whole
    new_lines, old_lines = new.split(b"\n"), set(old.split(b"\n"))
    for n, line in enumerate(new_lines, 1):
        if n in part.lines:  # scanned, at its own line number
            assert part.data.split(b"\n")[n - 1] == line
        else:
            assert line in old_lines  # scanned in the old blob (or one before it)


def test_span_of_an_edit_in_a_long_file_is_its_line() -> None:
    old = "".join(f"{i:05d} {'x' * 90}\n" for i in range(2000)).encode()  # > one 4 KB step
    new = old.replace(b"01234 x", b"01234 Y", 1)
    start, end = changed_span(old, new)
    assert new[start:end] == b"01234 Y" + b"x" * 89
    part, as_base = delta(Base(old, False), new)
    assert part is not None and as_base.data is new
    assert part.lines == {1235}
    shown = part.data.split(b"\n")
    assert shown[1234] == b"01234 Y" + b"x" * 89 and shown[1232].startswith(b"01232")  # context


# lines that meet the edge cases: empty, long (beyond the 256-byte compare steps and the
# 768-byte context), markers of multi-line content, CR, non-ASCII
_LINE = st.sampled_from(
    [
        *("", "a", "b", "key=1", "c\r", "é", "-----BEGIN RSA PRIVATE KEY-----"),
        *("k" * 60, "z" * 150, "x" * 300, "q" * 420, "y" * 900),
    ]
)
_LINES = st.lists(_LINE, max_size=40)


@st.composite
def _edits(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    """An old text, a new one made from it by a few line edits, and the old one's marker."""
    old = draw(_LINES)
    new = list(old)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(new)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        if op == "insert" or not new[at:]:
            new.insert(at, draw(_LINE))
        elif op == "delete":
            del new[at]
        else:
            new[at] = draw(_LINE)
    end = draw(st.sampled_from(["", "\n"]))
    return ("\n".join(old) + end).encode(), ("\n".join(new) + end).encode(), draw(st.booleans())


def in_python(old: Base, new: bytes) -> tuple[Part | None, Base]:
    """``delta`` as it answers where the C version is not built."""
    saved, delta_module._part = delta_module._part, None
    try:
        return delta(old, new)
    finally:
        delta_module._part = saved


@pytest.mark.skipif(delta_module._part is None, reason="the C version is not built (no compiler)")
@settings(max_examples=400)
@given(st.one_of(_edits(), st.tuples(_TEXT, _TEXT, st.booleans())))
def test_the_c_version_answers_as_the_python_one(edit: tuple[bytes, bytes, bool]) -> None:
    old, new, marker = edit
    assert delta(Base(old, marker), new) == in_python(Base(old, marker), new)


_IMPLEMENTATIONS = [
    pytest.param(in_python, id="python"),
    pytest.param(
        delta,
        id="c",
        marks=pytest.mark.skipif(delta_module._part is None, reason="the C version is not built"),
    ),
]


@pytest.mark.parametrize("compute", _IMPLEMENTATIONS)
def test_two_edits_apart_keep_their_context_and_blank_what_lies_between(
    compute: Any,
) -> None:
    lines = [f"{i:02d}" + "x" * 98 for i in range(20)]  # each line starts 101 bytes lower
    old = ("\n".join(lines) + "\n").encode()
    lines[5], lines[15] = "05 changed", "15 changed"
    new = ("\n".join(lines) + "\n").encode()
    part, _ = compute(Base(old, False), new)
    assert part is not None and part.lines == {6, 16}
    shown = part.data.split(b"\n")
    # above line 15: every line starting within 768 bytes (lines 8 to 14), more than 2 lines;
    # above line 5: its context reaches the top; lines 6 and 7 were scanned in the old blob
    kept = [n for n, line in enumerate(shown[:16]) if line]
    assert kept == [0, 1, 2, 3, 4, 5, *range(8, 16)]
    assert shown[15] == b"15 changed" and shown[8] == new.split(b"\n")[8]


def test_base_cache_drops_a_base_after_its_last_use() -> None:
    cache = BaseCache(["a", "a", "b"], budget=10)
    cache.keep("a", Base(b"12345", False))
    cache.keep("b", Base(b"123456", False))  # over the budget: not kept
    cache.keep("c", Base(b"1", False))  # nobody compares with it
    assert cache.take("b") is None
    first = cache.take("a")
    assert first is not None and first.data == b"12345"
    assert cache.take("a") is not None and cache.take("a") is None
