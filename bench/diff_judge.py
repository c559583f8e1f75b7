"""Written judgements of the differential benchmark's disagreements.

Each ``bench/judgements/*.yaml`` is a YAML list of entries; an entry names what it judges with
one or more selectors, and says why leakscan is right not to report it (or where it already
does)::

    - peer_rule: betterleaks.adobe-client-id   # a peer's rule id, as the report prints it
      verdict: not-a-secret
      reason: "An OAuth client id is public ..."
      references: [https://developer.adobe.com/...]

Selectors (every one given must match):

* ``peer_rule``: a rule id, as the report prints it: ``betterleaks.adobe-client-id``,
  ``betterleaks:generic-password``, ``kingfisher:betterleaks.private-key`` or a bare
  ``generic-password`` (a Betterleaks rule bundled in Kingfisher is the same rule). A leakscan
  rule id (``leakscan.sentry.dsn``) judges a finding only leakscan made.
* ``family``: the family a disagreement is counted under (``devcycle``, ``leakscan.sentry``).
* ``path``: a glob over the file's path in the real-text tree (``pypi/redis-*/redis/*.py``;
  ``*`` crosses ``/``).
* ``value_hint``: a piece of the value (case-insensitive), e.g. ``mongodb://`` or ``your_``.
  Never a whole secret: the files are committed.

When several entries match, the one with the most selectors wins (then the first read).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

#: the folder read by default
FOLDER = Path(__file__).resolve().parent / "judgements"

VERDICTS = ("not-a-secret", "not-real-format", "placeholder", "covered", "out-of-scope")
SELECTORS = ("peer_rule", "family", "path", "value_hint")
KEYS = frozenset(SELECTORS) | {"verdict", "reason", "references"}
#: tools whose rule ids another tool bundles (Kingfisher ships Betterleaks' rules as
#: ``betterleaks.<id>``)
BUNDLED = ("betterleaks",)


class JudgementError(Exception):
    """A judgement file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Judgement:
    source: str  # ``gapsa.yaml#3`` (1-based entry number)
    verdict: str
    reason: str
    references: tuple[str, ...] = ()
    peer_rule: str | None = None
    family: str | None = None
    path: str | None = None
    value_hint: str | None = None

    @property
    def specificity(self) -> int:
        return sum(getattr(self, k) is not None for k in SELECTORS)

    def text(self) -> str:
        return f"{self.verdict}: {self.reason} [{self.source}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "references": list(self.references),
            "source": self.source,
        }


@dataclass(frozen=True)
class Subject:
    """One disagreement as a judgement sees it."""

    rules: tuple[str, ...]  # rule ids as '<tool>:<rule>'
    families: tuple[str, ...]
    file: str | None = None
    secret: str | None = None


# --- reading ------------------------------------------------------------------------------------


def _text(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JudgementError(f"{where}: `{key}` must be a non-empty string")
    return value.strip()


def parse_entry(raw: object, where: str) -> Judgement:
    if not isinstance(raw, dict):
        raise JudgementError(f"{where}: an entry must be a mapping, not {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in KEYS)
    if unknown:
        raise JudgementError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})"
        )
    given = {k: _text(raw[k], k, where) for k in SELECTORS if k in raw}
    if not given:
        raise JudgementError(f"{where}: needs at least one of {', '.join(SELECTORS)}")
    verdict = _text(raw.get("verdict"), "verdict", where)
    if verdict not in VERDICTS:
        raise JudgementError(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    refs = raw.get("references", [])
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not all(isinstance(r, str) and r.strip() for r in refs):
        raise JudgementError(f"{where}: `references` must be a list of strings (URLs)")
    return Judgement(
        source=where.rsplit("/", 1)[-1],
        verdict=verdict,
        reason=_text(raw.get("reason"), "reason", where),
        references=tuple(r.strip() for r in refs),
        **given,
    )


def parse(text: str, name: str) -> list[Judgement]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise JudgementError(f"{name}: not valid YAML{at}") from exc
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise JudgementError(f"{name}: must be a YAML list of entries")
    return [parse_entry(raw, f"{name}#{i}") for i, raw in enumerate(doc, 1)]


def load(folder: Path = FOLDER) -> list[Judgement]:
    """Every entry of every ``*.yaml`` in ``folder`` (none when it does not exist)."""
    if not folder.is_dir():
        return []
    found: list[Judgement] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise JudgementError(f"{path.name}: cannot read ({exc})") from exc
        found += parse(text, path.name)
    return found


# --- matching -----------------------------------------------------------------------------------


def rule_names(tool: str, rule: str) -> set[str]:
    """Every spelling a judgement may use for one tool's rule."""
    names = {rule, f"{tool}:{rule}", f"{tool}.{rule}"}
    for bundled in BUNDLED:
        if rule.startswith(bundled + "."):
            bare = rule[len(bundled) + 1 :]
            names |= {bare, f"{bundled}:{bare}"}
        if tool == bundled:
            names.add(f"{bundled}.{rule}")
    return {n.lower() for n in names}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")


def matches(j: Judgement, s: Subject) -> bool:
    if j.peer_rule is not None:
        names: set[str] = set()
        for r in s.rules:
            tool, _, rule = r.partition(":")
            names |= rule_names(tool, rule)
        if j.peer_rule.lower() not in names:
            return False
    if j.family is not None and _norm(j.family) not in {_norm(f) for f in s.families}:
        return False
    if j.path is not None and (s.file is None or not fnmatchcase(s.file, j.path)):
        return False
    if j.value_hint is not None:
        if not s.secret or j.value_hint.lower() not in s.secret.lower():
            return False
    return True


@dataclass
class Judge:
    """Finds the judgement for a disagreement and keeps the ledger of what is judged."""

    entries: Sequence[Judgement] = ()
    used: set[str] = field(default_factory=set)
    ledger: list[tuple[str, str, Judgement | None]] = field(default_factory=list)

    def find(self, s: Subject) -> Judgement | None:
        best: Judgement | None = None
        for j in self.entries:
            if matches(j, s) and (best is None or j.specificity > best.specificity):
                best = j
        if best is not None:
            self.used.add(best.source)
        return best

    def record(self, section: str, label: str, j: Judgement | None) -> None:
        """Count one unit (a peer-format family, a real-text value) as judged or not."""
        self.ledger.append((section, label, j))

    @property
    def unjudged(self) -> list[tuple[str, str]]:
        return [(sec, label) for sec, label, j in self.ledger if j is None]

    def unused(self) -> list[Judgement]:
        return [j for j in self.entries if j.source not in self.used]

    def summary(self) -> dict[str, Any]:
        verdicts = Counter(j.verdict for _, _, j in self.ledger if j is not None)
        return {
            "entries": len(self.entries),
            "files": sorted({j.source.split("#")[0] for j in self.entries}),
            "judged": sum(verdicts.values()),
            "by_verdict": dict(sorted(verdicts.items())),
            "unjudged_count": len(self.unjudged),
            "unjudged": [{"section": sec, "item": label} for sec, label in self.unjudged],
            "unused_entries": [j.source for j in self.unused()],
        }

    def report(self) -> list[str]:
        """The text report's closing section; its last lines list what no entry judges."""
        s = self.summary()
        verdicts = ", ".join(f"{k} {v}" for k, v in s["by_verdict"].items()) or "none"
        out = [
            "",
            f"== judgements: {s['entries']} entries from {', '.join(s['files']) or 'no file'}; "
            f"{s['judged']} of {len(self.ledger)} disagreements judged ({verdicts})",
        ]
        unused = self.unused()
        if unused:
            out.append(
                f"  entries that judged nothing this run ({len(unused)}): "
                + ", ".join(j.source for j in unused)
            )
        out.append(f"unjudged: {len(self.unjudged)} families/values")
        out.extend(f"  {sec}: {label}" for sec, label in self.unjudged)
        return out


def shown(j: Judgement | None, indent: str, seen: set[str] | None = None) -> list[str]:
    """The line a judged item carries in the text report: verdict and reason, or the verdict
    alone when ``seen`` (the judgements already shown in this list) has it."""
    if j is None:
        return []
    if seen is not None and j.source in seen:
        return [f"{indent}=> {j.verdict} (as above) [{j.source}]"]
    if seen is not None:
        seen.add(j.source)
    return [f"{indent}=> {j.text()}"]


def as_json(j: Judgement | None) -> dict[str, Any] | None:
    return j.to_dict() if j is not None else None


def one_for_all(found: Iterable[Judgement | None]) -> Judgement | None:
    """The judgement every item shares, if they share one."""
    items = list(found)
    if not items or items[0] is None:
        return None
    return items[0] if all(j is items[0] for j in items) else None


def peer_rule_subject(rule_id: str, family: str, tool: str = "kingfisher") -> Subject:
    """A peer rule of the peer-format pass (Kingfisher's rule ids; its secrets leakscan misses)."""
    return Subject((f"{tool}:{rule_id}",), (family,))
