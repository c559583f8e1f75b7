"""A single self-contained HTML file: the findings table and inline SVG bar charts.

No scripts, no external resources: charts of findings by rule and by repository are SVG
drawn here. Values are redacted unless ``show_secrets``; everything is HTML-escaped.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from leakscan import __version__
from leakscan.locations import location_of
from leakscan.model import Finding, ScanResult
from leakscan.report.safe_text import terminal
from leakscan.report.table import describe, validation_mark

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-size:12px}
.critical{color:#a00;font-weight:bold}.high{color:#c40}.medium{color:#a80}.low{color:#666}
.validation-valid{color:#a00;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:2em} ul{margin:0;padding-left:1.2em}
"""


def svg_bars(
    title: str,
    items: list[tuple[str, int]],
    width: int = 520,
    label_width: int = 220,
    label_chars: int = 34,
    css: bool = False,
) -> str:
    """A horizontal bar chart as inline SVG, one bar per (label, count); ``css`` adds the
    ``chart``/``bar`` classes that the audit report's script and styles use."""
    figure = '<figure class="chart">' if css else "<figure>"
    cap = f"<figcaption>{escape(title)}</figcaption>"
    if not items:
        return f"{figure}{cap}<p>none</p></figure>"
    bar_h = 20
    rect = '<rect class="bar"' if css else "<rect"
    top = max(n for _, n in items)
    rows = []
    for i, (label, n) in enumerate(items):
        y = i * bar_h + 5
        w = max(1, int((width - label_width - 40) * n / top))
        rows.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(label[:label_chars])}</text>"
            f'{rect} x="{label_width}" y="{y + 2}" width="{w}" height="{bar_h - 4}" '
            f'fill="#4a78c2"><title>{escape(label)}: {n}</title></rect>'
            f'<text x="{label_width + w + 4}" y="{y + 14}" font-size="12">{n}</text>'
        )
    height = bar_h * len(items) + 10
    return (
        f'{figure}{cap}<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img">{"".join(rows)}</svg></figure>'
    )


def bar_chart(title: str, counts: Counter[str]) -> str:
    """The 20 largest counts (ties by name) as a bar chart."""
    return svg_bars(title, sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20])


def _validation_cell(f: Finding) -> str:
    """The --validate mark under the secret (empty without --validate)."""
    if f.validation is None:
        return ""
    status = escape(f.validation.status)
    mark = escape(validation_mark(f.validation))
    return f'<br><span class="validation-{status}">{mark}</span>'


class HtmlReporter:
    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        by_rule: Counter[str] = Counter(f.rule_id for f in result.findings)
        by_repo: Counter[str] = Counter()
        for f in result.findings:
            repos = {
                str(location_of(loc.provenance).image or loc.provenance.kind) for loc in f.locations
            }
            by_repo.update(repos)
        rows = []
        for f in result.findings:
            value = f.secret if show_secrets and f.secret else f.redacted
            locs = "".join(
                f"<li>{escape(terminal(describe(loc)))}</li>" for loc in f.locations[:50]
            )
            if len(f.locations) > 50:
                locs += f"<li>… and {len(f.locations) - 50} more</li>"
            rows.append(
                f'<tr><td class="{escape(f.severity)}">{escape(f.severity)}</td>'
                f"<td>{escape(terminal(f.rule_name))}<br><code>{escape(f.rule_id)}</code></td>"
                f"<td><code>{escape(terminal(value))}</code>{_validation_cell(f)}</td>"
                f"<td>{len(f.locations)}</td>"
                f"<td><ul>{locs}</ul></td></tr>"
            )
        stats = result.stats.to_dict()
        stat_text = ", ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in stats.items())
        errors = "".join(f"<li>{escape(terminal(e))}</li>" for e in result.errors)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>leakscan report</title><style>{_STYLE}</style></head><body>"
            f"<h1>leakscan report</h1><p>leakscan {escape(__version__)} · "
            f"{len(result.findings)} secret(s) · {stat_text}</p>"
            f'<div class="charts">{bar_chart("Findings by rule", by_rule)}'
            f"{bar_chart('Findings by repository', by_repo)}</div>"
            + (f"<h2>Errors</h2><ul>{errors}</ul>" if errors else "")
            + "<h2>Findings</h2><table><thead><tr><th>Severity</th><th>Rule</th>"
            "<th>Secret</th><th>Locations</th><th>Where</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table></body></html>\n"
        )
