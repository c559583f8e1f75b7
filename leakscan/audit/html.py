"""The audit report: one self-contained HTML page that answers "which images carry which
secret".

Header (registry, date, rules digest), coverage (repositories, tags and images scanned, clean,
failed with reasons), one row per secret with its blast radius (images and repositories
carrying it, the layer that introduced it and how many images share that layer), an image x
secret view with the tags of one digest grouped, SVG charts by severity, rule family and
repository, and filters by repository, severity and state (a small inline script; no
external asset). Values are redacted unless ``show_secrets``; every text is escaped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from typing import Any

from leakscan import __version__
from leakscan.locations import ImageLayerLocation, location_of
from leakscan.model import Finding, ScanResult
from leakscan.report.html import svg_bars

SEVERITY_ORDER = ("critical", "high", "medium", "low")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{margin-bottom:.2em} .meta{color:#555} .meta code{font-size:12px}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-size:12px}
.critical{color:#a00;font-weight:bold}.high{color:#c40}.medium{color:#a80}.low{color:#666}
.cov td:nth-child(2){text-align:right} .failed{color:#a00}
.charts{display:flex;flex-wrap:wrap;gap:2em} figure{margin:0}
.filters{background:#f7f7f7;padding:.6em;border:1px solid #ddd;margin:1em 0}
.filters label{margin-right:1.2em} .matrix td.hit{background:#c33;color:#fff;text-align:center}
.matrix td{text-align:center} .matrix td.name{text-align:left}
"""

_SCRIPT = """
(function(){
  var sel={repo:document.getElementById('f-repo'),severity:document.getElementById('f-severity'),
           state:document.getElementById('f-state')};
  function apply(){
    var r=sel.repo.value,s=sel.severity.value,t=sel.state.value,shown=0;
    document.querySelectorAll('tr[data-repos]').forEach(function(row){
      var repos=JSON.parse(row.getAttribute('data-repos'));
      var states=JSON.parse(row.getAttribute('data-states')||'[]');
      var sev=row.getAttribute('data-severity');
      var ok=(!r||repos.indexOf(r)>=0)&&(!s||!sev||sev===s)&&(!t||!sev||states.indexOf(t)>=0);
      if(ok){row.removeAttribute('hidden');if(sev)shown++;}else{row.setAttribute('hidden','');}
    });
    document.getElementById('shown').textContent=String(shown);
  }
  var q=new URLSearchParams(location.search||location.hash.replace(/^#/,''));
  ['repo','severity','state'].forEach(function(k){
    if(q.get(k)!==null)sel[k].value=q.get(k);
    sel[k].addEventListener('change',apply);
  });
  apply();
  document.body.setAttribute('data-ready','1');
})();
"""


def bar_chart(title: str, counts: Counter[str], order: tuple[str, ...] = ()) -> str:
    """A bar chart of ``counts`` in ``order``, else its 20 largest."""
    items = [(k, counts[k]) for k in order if counts.get(k)] if order else counts.most_common(20)
    return svg_bars(title, items, width=460, label_width=190, label_chars=30, css=True)


@dataclass(slots=True)
class _Image:
    """One image (manifest digest) and the tags that name it."""

    digest: str
    tags: list[str] = field(default_factory=list)  # repo:tag
    repos: set[str] = field(default_factory=set)
    layers: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Secret:
    number: int
    finding: Finding
    images: set[str] = field(default_factory=set)  # manifest digests
    repos: set[str] = field(default_factory=set)
    states: set[str] = field(default_factory=set)
    layers: Counter[str] = field(default_factory=Counter)  # introducing layer -> images


def _model(
    result: ScanResult, audit: dict[str, Any]
) -> tuple[dict[str, _Image], list[_Secret], dict[str, tuple[str, str]]]:
    by_ref: dict[str, tuple[str, str]] = {}  # image reference -> (repo, tag)
    images: dict[str, _Image] = {}
    for t in audit.get("tags", []):
        by_ref[t["image"]] = (t["repository"], t["tag"])
        for img in t.get("images") or []:
            d = str(img.get("digest"))
            entry = images.setdefault(d, _Image(d, layers=list(img.get("layers") or [])))
            entry.tags.append(f"{t['repository']}:{t['tag']}")
            entry.repos.add(t["repository"])
    secrets = []
    for n, f in enumerate(result.findings, 1):
        s = _Secret(n, f)
        first: dict[str, tuple[int, str]] = {}  # image digest -> (layer index, layer digest)
        for loc in f.locations:
            where = location_of(loc.provenance)
            ref = str(where.image or "")
            digest = str(where.image_digest or ref)
            s.images.add(digest)
            if ref in by_ref:
                s.repos.add(by_ref[ref][0])
            if isinstance(where, ImageLayerLocation):
                s.states.add(str(where.state or "present"))
                i, layer = int(where.layer_index or 0), str(where.layer_digest)
                if digest not in first or i < first[digest][0]:
                    first[digest] = (i, layer)
            else:
                s.states.add("config")
        s.layers.update(layer for _, layer in first.values())
        secrets.append(s)
    return images, secrets, by_ref


def _coverage(audit: dict[str, Any]) -> str:
    c = audit.get("coverage", {})
    rows = [
        ("Repositories", c.get("repositories", 0)),
        ("Tags", c.get("tags", 0)),
        ("Images (unique digests)", c.get("images", 0)),
        ("Images scanned", c.get("scanned", 0)),
        ("Images clean", c.get("clean", 0)),
        ("Images failed", c.get("failed", 0)),
    ]
    table = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    failed = audit.get("failed") or []
    items = "".join(
        f'<li><code>{escape(str(x["image"]))}</code>: <span class="failed">'
        f"{escape(str(x['reason']))}</span></li>"
        for x in failed
    )
    failures = f"<h3>Failed ({len(failed)})</h3><ul id='failed'>{items}</ul>" if failed else ""
    repos = audit.get("repositories") or {}
    per_repo = "".join(
        f'<tr data-repos="{escape(json.dumps([name]))}"><td>{escape(name)}</td>'
        f"<td>{c.get('images', 0)}</td><td class='{'failed' if c.get('failed') else ''}'>"
        f"{c.get('failed', 0)}</td><td>{c.get('secrets', 0)}</td>"
        f"<td>{'clean' if not c.get('secrets') and not c.get('failed') else ''}</td></tr>"
        for name, c in sorted(repos.items())
    )
    head = "<tr><th>Repository</th><th>Tags</th><th>Failed</th><th>Secrets</th><th></th></tr>"
    return (
        f'<h2>Coverage</h2><table class="cov">{table}</table>{failures}'
        f'<h3>Repositories</h3><table id="repositories">{head}{per_repo}</table>'
    )


def _secret_rows(secrets: list[_Secret], images: dict[str, _Image], show: bool) -> str:
    rows = []
    for s in secrets:
        f = s.finding
        value = f.secret if show and f.secret else f.redacted
        if s.layers:
            layer, _ = s.layers.most_common(1)[0]
            shared = sum(1 for img in images.values() if layer in img.layers)
            intro = f"<code>{escape(layer[:19])}…</code>"
            if shared > 1:
                intro += f"<br>base layer shared by {shared} images"
        else:
            intro = "image configuration"
        rows.append(
            f'<tr data-repos="{escape(json.dumps(sorted(s.repos)))}" '
            f'data-severity="{escape(f.severity)}" '
            f'data-states="{escape(json.dumps(sorted(s.states)))}">'
            f"<td>S{s.number}</td><td class='{escape(f.severity)}'>{escape(f.severity)}</td>"
            f"<td>{escape(f.rule_id)}<br><code>{escape(value)}</code></td>"
            f"<td>{len(s.images)}</td><td>{len(s.repos)}<br>"
            f"{escape(', '.join(sorted(s.repos)[:5]))}{' …' if len(s.repos) > 5 else ''}</td>"
            f"<td>{intro}</td><td>{escape(', '.join(sorted(s.states)))}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th>Severity</th><th>Rule / secret</th><th>Images</th>"
        "<th>Repositories</th><th>Introduced in</th><th>State</th></tr>"
    )
    return f'<table id="secrets">{head}{"".join(rows)}</table>'


#: the image x secret view's bounds (a page a browser still opens); what is left out is said
MAX_COLUMNS, MAX_ROWS = 150, 1000


def _matrix(all_secrets: list[_Secret], images: dict[str, _Image]) -> str:
    carriers = {d: img for d, img in images.items() if any(d in s.images for s in all_secrets)}
    if not carriers or not all_secrets:
        return "<p>No image carries a secret.</p>"
    secrets = all_secrets[:MAX_COLUMNS]
    note = ""
    if len(all_secrets) > MAX_COLUMNS or len(carriers) > MAX_ROWS:
        note = (
            f"<p>Showing the first {min(len(all_secrets), MAX_COLUMNS)} of {len(all_secrets)} "
            f"secrets and {min(len(carriers), MAX_ROWS)} of {len(carriers)} images (the "
            "secrets table and the JSON report list them all).</p>"
        )
    head = "<tr><th>Image (tags of one digest)</th>" + "".join(
        f"<th title='{escape(s.finding.rule_id)}'>S{s.number}</th>" for s in secrets
    )
    rows = []
    for d, img in sorted(carriers.items(), key=lambda kv: sorted(kv[1].tags))[:MAX_ROWS]:
        cells = "".join('<td class="hit">●</td>' if d in s.images else "<td></td>" for s in secrets)
        rows.append(
            f'<tr data-repos="{escape(json.dumps(sorted(img.repos)))}">'
            f'<td class="name">{escape(", ".join(sorted(img.tags)))}<br>'
            f"<code>{escape(d[:19])}…</code></td>{cells}</tr>"
        )
    return f'{note}<table class="matrix" id="matrix">{head}</tr>{"".join(rows)}</table>'


def _options(name: str, label: str, values: list[str]) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return (
        f'<label>{escape(label)} <select id="f-{name}"><option value="">all</option>'
        f"{opts}</select></label>"
    )


def render(result: ScanResult, audit: dict[str, Any], show_secrets: bool = False) -> str:
    images, secrets, _ = _model(result, audit)
    by_severity = Counter(s.finding.severity for s in secrets)
    by_family = Counter(s.finding.rule_id.rsplit(".", 1)[0] for s in secrets)
    by_repo: Counter[str] = Counter()
    for s in secrets:
        by_repo.update(s.repos)
    repos = sorted(audit.get("repositories", {}))
    charts = (
        bar_chart("Secrets by severity", by_severity, SEVERITY_ORDER)
        + bar_chart("Secrets by rule family", by_family)
        + bar_chart("Secrets by repository", by_repo)
    )
    filters = (
        '<div class="filters">'
        + _options("repo", "Repository", repos)
        + _options("severity", "Severity", list(SEVERITY_ORDER))
        + _options("state", "State", ["present", "deleted", "overwritten", "config"])
        + f'<span><b id="shown">{len(secrets)}</b> of {len(secrets)} secrets shown</span></div>'
    )
    stopped = audit.get("stopped")
    warning = f'<p class="failed">Incomplete: {escape(str(stopped))}</p>' if stopped else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>leakscan audit of {escape(str(audit.get('registry', '')))}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Registry audit: {escape(str(audit.get('registry', '')))}</h1>"
        f"<p class='meta'>Date {escape(str(audit.get('date', '')))} · rules "
        f"<code>{escape(str(audit.get('rules_digest') or result.rules_digest))}</code> · "
        f"leakscan {escape(__version__)}</p>{warning}"
        f"{_coverage(audit)}<h2>Charts</h2><div class='charts'>{charts}</div>"
        f"{filters}<h2>Secrets ({len(secrets)})</h2>"
        f"{_secret_rows(secrets, images, show_secrets)}"
        f"<h2>Images × secrets</h2>{_matrix(secrets, images)}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
