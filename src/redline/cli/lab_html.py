"""`redline policies diff --html`: the report as one self-contained page (no external files)."""

from __future__ import annotations

from jinja2 import Environment

from redline.cli.lab_view import packs_label, shown
from redline.policy.diff import DiffReport
from redline.policy.space import ANY

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Redline policy diff: {{ a }} vs {{ b }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
.allow { color: #11691f; font-weight: 600; } .hold { color: #8a5a00; font-weight: 600; }
.deny { color: #a40e0e; font-weight: 600; }
.clause { font-size: 12px; color: #444; } .rule { font-family: monospace; }
.meta { color: #555; }
</style></head><body>
<h1>What B decides differently from A</h1>
<p><b>A</b> {{ a }}<br><b>B</b> {{ b }}</p>
<p class="meta">{{ examined }} cells examined (every category x {{ sizes }});
{{ differing }} differ, merged into {{ rows|length }} rows. A condition not listed means
any value.</p>
{% if rows %}
<table><thead><tr><th>category</th><th>when</th><th>A</th><th>B</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.category }}<br><span class="meta">{{ r.cells }} cells</span></td>
<td>{% for c in r.when %}{{ c }}<br>{% else %}always{% endfor %}</td>
{% for s in (r.a, r.b) %}<td><span class="{{ s.effect }}">{{ s.effect }}</span>
{% if s.release %}<span class="meta">(released by {{ s.release }})</span>{% endif %}
{% for c in s.clauses %}<div class="clause"><span class="rule">{{ c.pack }} / {{ c.rule }}</span>
<br>&ldquo;{{ c.reason }}&rdquo;</div>{% endfor %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% else %}<p>A and B decide every cell alike.</p>{% endif %}
</body></html>
"""

_ENV = Environment(autoescape=True)


def diff_page(report: DiffReport) -> str:
    rows = [
        {
            "category": d.category,
            "cells": d.cells,
            "when": [f"{k}={shown(v)}" for k, v in report.conditions(d).items() if v != ANY],
            "a": d.a,
            "b": d.b,
        }
        for d in report.differences
    ]
    return _ENV.from_string(_PAGE).render(
        a=packs_label(report.a),
        b=packs_label(report.b),
        examined=report.examined,
        differing=report.differing,
        sizes=" x ".join(f"{len(d.values)} {d.name}" for d in report.dimensions),
        rows=rows,
    )
