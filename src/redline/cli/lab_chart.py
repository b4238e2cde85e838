"""The decision shift as an SVG drawn by hand: A's decisions on top, B's below, and a band
from each A effect to each B effect as wide as the number of requests that moved so."""

from __future__ import annotations

from html import escape

from redline.policy.simulate import EFFECTS, ShiftReport

COLOR = {"allow": "#2e7d32", "hold": "#f9a825", "deny": "#c62828"}
WIDTH, LEFT, RIGHT = 760, 150, 20
TOP_Y, BOTTOM_Y, BAR = 60, 250, 34


def _segments(report: ShiftReport, which: str) -> dict[str, tuple[float, float]]:
    """effect -> (x, width) along the bar."""
    total = max(report.total, 1)
    span = WIDTH - LEFT - RIGHT
    x = float(LEFT)
    out = {}
    for effect in EFFECTS:
        width = span * report.count(which, effect) / total
        out[effect] = (x, width)
        x += width
    return out


def _bar(report: ShiftReport, which: str, y: int, label: str) -> list[str]:
    parts = [f'<text x="10" y="{y + BAR / 2 + 5}" class="side">{escape(label)}</text>']
    for effect, (x, width) in _segments(report, which).items():
        if width <= 0:
            continue
        n = report.count(which, effect)
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
            f'fill="{COLOR[effect]}"><title>{effect}: {n}</title></rect>'
        )
        if width > 60:
            parts.append(
                f'<text x="{x + 6:.1f}" y="{y + BAR / 2 + 5}" class="in">{effect} {n:,}</text>'
            )
    return parts


def _bands(report: ShiftReport) -> list[str]:
    top, bottom = _segments(report, "a"), _segments(report, "b")
    total = max(report.total, 1)
    span = WIDTH - LEFT - RIGHT
    top_used = {e: 0.0 for e in EFFECTS}
    bottom_used = {e: 0.0 for e in EFFECTS}
    parts = []
    for x_effect in EFFECTS:
        for y_effect in EFFECTS:
            n = report.shift[(x_effect, y_effect)]
            if not n:
                continue
            width = span * n / total
            x0 = top[x_effect][0] + top_used[x_effect]
            x1 = bottom[y_effect][0] + bottom_used[y_effect]
            top_used[x_effect] += width
            bottom_used[y_effect] += width
            y0, y1 = TOP_Y + BAR, BOTTOM_Y
            opacity = 0.25 if x_effect == y_effect else 0.6
            parts.append(
                f'<polygon points="{x0:.1f},{y0} {x0 + width:.1f},{y0} {x1 + width:.1f},{y1} '
                f'{x1:.1f},{y1}" fill="{COLOR[y_effect]}" opacity="{opacity}">'
                f"<title>{x_effect} → {y_effect}: {n}</title></polygon>"
            )
    return parts


def shift_svg(report: ShiftReport, a_label: str, b_label: str) -> str:
    moved = len(report.changed)
    head = (
        f"Decision shift: {moved:,} of {report.total:,} requests decided differently "
        f"(A: {a_label}; B: {b_label})"
    )
    body = [
        f'<text x="10" y="28" class="title">{escape(head)}</text>',
        *_bands(report),
        *_bar(report, "a", TOP_Y, "A"),
        *_bar(report, "b", BOTTOM_Y, "B"),
    ]
    for row, which in enumerate(("a", "b")):
        counts = " · ".join(f"{e} {report.count(which, e):,}" for e in EFFECTS)
        y = BOTTOM_Y + BAR + 24 + 18 * row
        body.append(f'<text x="10" y="{y}">{which.upper()}: {counts}</text>')
    height = BOTTOM_Y + BAR + 56
    style = (
        "<style>text{font-family:sans-serif;font-size:13px}.title{font-size:14px;"
        "font-weight:bold}.in{fill:#fff;font-weight:bold}.side{font-weight:bold}</style>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">{style}' + "".join(body) + "</svg>\n"
    )
