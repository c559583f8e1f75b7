"""The terminal report: findings grouped by secret, each with its locations."""

from __future__ import annotations

from leakscan.model import Location, ScanResult, Validation
from leakscan.report.safe_text import terminal

_SEVERITY_MARK = {"critical": "CRIT", "high": "HIGH", "medium": "MED ", "low": "LOW "}


def describe(loc: Location) -> str:
    """One line that says where: ``app:1 layer 3 (COPY . /app) app/.env:4 [deleted in 5]``."""
    f = loc.provenance.fields
    kind = loc.provenance.kind
    pos = f":{loc.line}" if loc.line is not None else ""
    if kind == "image-layer":
        text = f"{f.get('image')} layer {f.get('layer_index')} {f.get('path')}{pos}"
        state = f.get("state")
        if state and state != "present":
            n = f.get("deleted_in_layer") or f.get("overwritten_in_layer")
            text += f" [{state}{' in layer ' + str(n) if n is not None else ''}]"
        if f.get("created_by"):
            text += f"  ({str(f['created_by'])[:60]})"
    elif kind == "image-config":
        text = f"{f.get('image')} config {f.get('field')}"
    elif kind == "git":
        commit = str(f.get("commit", ""))[:10]
        text = f"{f.get('path')}{pos} @ {commit} {f.get('author', '')} {f.get('date', '')}".rstrip()
        if f.get("in_head") is False:
            text += " [not in HEAD]"
    elif kind in ("env", "container-env"):
        where = f.get("container") or f.get("file") or "process"
        text = f"{where} env {f.get('name')}"
    else:
        path = f.get("path") or f.get("field") or ""
        text = f"{path}{pos}"
        if loc.column is not None and loc.line is not None:
            text += f":{loc.column}"
    if loc.decoded:
        text += f" (decoded {'+'.join(loc.decoded)})"
    if loc.provenance.vendor:
        text += " [unmodified vendor file]"
    return text


def validation_mark(v: Validation) -> str:
    """``VALID octocat (scopes: repo)`` / ``invalid (HTTP 401)`` / ``unsupported``."""
    text = "LIVE: valid" if v.status == "valid" else v.status
    extra = v.identity if v.status == "valid" else v.detail
    return terminal(f"{text}{' ' + extra if extra else ''}")


class TableReporter:
    def __init__(self, max_locations: int = 10) -> None:
        self.max_locations = max_locations

    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        out: list[str] = []
        for f in result.findings:
            value = f.secret if show_secrets and f.secret else f.redacted
            if "\n" in value:
                value = value.splitlines()[0] + " …"
            out.append(f"{_SEVERITY_MARK[f.severity]} {terminal(f.rule_name)}  {terminal(value)}")
            out.append(
                f"     rule {f.rule_id}  confidence {f.confidence}  "
                f"fingerprint {f.fingerprint[:16]}"
            )
            if f.validation is not None:
                out.append(f"     {validation_mark(f.validation)}")
            for loc in f.locations[: self.max_locations]:
                out.append(f"     - {terminal(describe(loc))}")
            if len(f.locations) > self.max_locations:
                out.append(f"     … and {len(f.locations) - self.max_locations} more locations")
            out.append("")
        # the totals, errors and next steps go to stderr (leakscan.cli.summary)
        return "\n".join(out) + "\n" if out else ""
