"""Geometry for the human-control charts; the SVG itself is drawn by templates/_chart.svg
on the server, so the charts need no script and no library."""

from __future__ import annotations

from dataclasses import dataclass

from redline.approvals.models import ApproverStats, HistogramBin

WIDTH, HEIGHT = 560, 220
LEFT, BOTTOM, TOP = 44, 36, 12
RATE_LABEL = 100  # room right of a rate bar for its "100% of 12"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str  # under or beside the bar
    value: str  # on the bar
    warn: bool = False


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    baseline: float  # the x axis of a vertical chart, the bars' left edge of a horizontal one
    empty: str = ""  # said instead of bars when there is nothing to draw
    vertical: bool = True


def _bin_label(le: float | None, before: float | None) -> str:
    def short(s: float) -> str:
        return f"{s / 60:g} m" if s >= 60 else f"{s:g} s"

    if le is None:
        return f">{short(before or 0)}"
    return f"≤{short(le)}"


def histogram_chart(bins: list[HistogramBin], min_review_s: float) -> Chart:
    """Vertical bars, one per bin; the bins faster than the minimum review time are marked."""
    top = max((b.count for b in bins), default=0)
    base = HEIGHT - BOTTOM
    if top == 0:
        return Chart("Time from hold to decision", WIDTH, HEIGHT, [], [], base, "no decisions yet")
    slot = (WIDTH - LEFT) / len(bins)
    scale = (base - TOP) / top
    bars, before = [], None
    for i, b in enumerate(bins):
        h = b.count * scale
        fast = b.le is not None and b.le <= min_review_s
        bars.append(Bar(LEFT + i * slot + 4, base - h, slot - 8, h, _bin_label(b.le, before),
                        str(b.count) if b.count else "", fast))  # fmt: skip
        before = b.le
    ticks = [Tick(base - v * scale, str(v)) for v in sorted({0, top // 2, top})]
    return Chart("Time from hold to decision", WIDTH, HEIGHT, bars, ticks, base)


def approval_rate_chart(approvers: list[ApproverStats]) -> Chart:
    """Horizontal bars: each approver's approval rate; an approver with approvals faster
    than the minimum review time is marked."""
    row, left = 26, 150
    height = max(row * len(approvers) + 2 * TOP, 60)
    if not approvers:
        return Chart("Approval rate per approver", WIDTH, height, [], [], height - BOTTOM,
                     "no votes yet", vertical=False)  # fmt: skip
    span = WIDTH - left - RATE_LABEL
    bars = [
        Bar(left, TOP + i * row, max(a.approval_rate * span, 1), row - 8, a.approver,
            f"{a.approval_rate:.0%} of {a.approved + a.rejected}", a.fast_approvals > 0)
        for i, a in enumerate(approvers)
    ]  # fmt: skip
    return Chart("Approval rate per approver", WIDTH, height, bars, [], left, vertical=False)
