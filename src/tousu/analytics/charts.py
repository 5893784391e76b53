"""Charts drawn on the server as SVG: no JavaScript, no CDN, Chinese labels in the page's own font.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>``; the page shows the same
numbers in a table next to it, which is what screen readers and printouts rely on.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#1f5fa8", "#b35900", "#2e7d32", "#6a1b9a")  # ≥ 4.5:1 against white


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, ident: str, unit: str = "") -> SafeString:
    """Horizontal bars, largest first as given."""
    rows = list(rows)[:12]
    if not rows:
        return mark_safe("")
    label_w, bar_w, row_h = 190, 330, 24
    height = row_h * len(rows) + 10
    top = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg class="chart" id="{escape(ident)}" role="img" aria-labelledby="{escape(ident)}-t {escape(ident)}-d" '
        f'viewBox="0 0 {label_w + bar_w + 90} {height}" width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(ident)}-t">{escape(title)}</title>',
        f'<desc id="{escape(ident)}-d">{escape("；".join(f"{lbl} {_fmt(v)}{unit}" for lbl, v in rows))}</desc>',
    ]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * row_h
        w = max(1.0, bar_w * value / top) if value else 0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="13" fill="#222">{escape(label[:16])}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{COLOURS[0]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="13" fill="#222">{_fmt(value)}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text was escaped above


def line_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str, ident: str
) -> SafeString:
    """Lines over ``labels`` (days or months), one per series, with a legend."""
    if not labels:
        return mark_safe("")
    left, right, top_pad, bottom, width, height = 50, 20, 30, 40, 640, 240
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max((max(values, default=0) for _, values in series), default=0) or 1
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h - plot_h * v / top

    desc = "；".join(
        f"{name}：" + "，".join(f"{lbl} {_fmt(v)}" for lbl, v in zip(labels, values, strict=False))
        for name, values in series
    )
    parts = [
        f'<svg class="chart" id="{escape(ident)}" role="img" aria-labelledby="{escape(ident)}-t {escape(ident)}-d" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(ident)}-t">{escape(title)}</title><desc id="{escape(ident)}-d">{escape(desc)}</desc>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" y2="{top_pad + plot_h}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#555"/>',
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" font-size="12" fill="#222">{_fmt(top)}</text>',
        f'<text x="{left - 6}" y="{top_pad + plot_h + 4}" text-anchor="end" font-size="12" fill="#222">0</text>',
    ]
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" font-size="12" fill="#222">{escape(labels[i])}</text>'
        )
    for k, (name, values) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(
            f'<rect x="{left + 10 + k * 120}" y="8" width="14" height="4" fill="{colour}"/>'
            f'<text x="{left + 30 + k * 120}" y="14" font-size="12" fill="#222">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text was escaped above
