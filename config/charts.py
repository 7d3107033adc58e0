"""Small SVG charts drawn on the server: no script, no style attributes (the CSP allows neither
inline), only presentation attributes. Every text is escaped; the numbers are always in a
table beside the chart too, so the chart itself is `aria-hidden` decoration with a title."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Distinguishable colours that also differ in lightness (readable in greyscale), and a dash
# pattern per series so the lines differ without colour too.
COLOURS = ("#0b5cab", "#c2410c", "#15803d", "#7e22ce", "#475569")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2")

WIDTH, HEIGHT = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _axis(top_value: int) -> SafeString:
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = []
    for n in range(5):
        value = top_value * n // 4
        y = TOP + plot_h - plot_h * n / 4
        ticks.append((LEFT, f"{y:.1f}", WIDTH - RIGHT, f"{y:.1f}", LEFT - 4, f"{y + 3:.1f}", value))
    return format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d4d4d8" stroke-width="1"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#3f3f46">{}</text>',
        ticks,
    )


def line_chart(
    *, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int | None]]]
) -> SafeString:
    """One line per series over `labels` (the x axis: first and last label are printed);
    None is a day without a figure, left out of the line."""
    count = max(len(labels), 1)
    known = [v for _, values in series for v in values if v is not None]
    top_value = _nice_max(max(known, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def point(index: int, value: int) -> str:
        x = LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)
        y = TOP + plot_h - plot_h * value / top_value
        return f"{x:.1f},{y:.1f}"

    lines = format_html_join(
        "",
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>',
        (
            (
                " ".join(point(i, v) for i, v in enumerate(values) if v is not None),
                COLOURS[n % len(COLOURS)],
                format_html(' stroke-dasharray="{}"', DASHES[n % len(DASHES)])
                if DASHES[n % len(DASHES)]
                else "",
            )
            for n, (_, values) in enumerate(series)
        ),
    )
    # A dot on every day with a figure: a single day (the first snapshot) still shows.
    markers = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2.5" fill="{}"/>',
        (
            (*point(i, v).split(","), COLOURS[n % len(COLOURS)])
            for n, (_, values) in enumerate(series)
            for i, v in enumerate(values)
            if v is not None
        ),
    )
    x_labels = ""
    if labels:
        x_labels = format_html(
            '<text x="{}" y="{}" font-size="10" fill="#3f3f46">{}</text>'
            '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="#3f3f46">{}</text>',
            LEFT,
            HEIGHT - 8,
            labels[0],
            WIDTH - RIGHT,
            HEIGHT - 8,
            labels[-1],
        )
    legend = format_html_join(
        "",
        '<tspan fill="{}" dx="{}">&#9632; {}</tspan>',
        (
            (COLOURS[n % len(COLOURS)], 0 if n == 0 else 10, name)
            for n, (name, _) in enumerate(series)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h2}" width="{w}" height="{h2}" '
        'aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">'
        "<title>{title}</title>{axis}{lines}{markers}{x_labels}"
        '<text x="{left}" y="{ly}" font-size="11">{legend}</text></svg>',
        w=WIDTH,
        h2=HEIGHT + 18,
        title=title,
        axis=_axis(top_value),
        lines=lines,
        markers=markers,
        x_labels=x_labels,
        left=LEFT,
        ly=HEIGHT + 12,
        legend=legend,
    )


def bar_chart(*, title: str, bars: Sequence[tuple[str, int]]) -> SafeString:
    """Horizontal bars, one per (label, value), with the value printed at the bar's end."""
    row_h, label_w, width = 22, 170, WIDTH
    top_value = _nice_max(max((value for _, value in bars), default=0))
    plot_w = width - label_w - 60
    rows = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#18181b">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="14" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11" fill="#18181b">{}</text>',
        (
            (
                label_w - 6,
                n * row_h + 14,
                label,
                label_w,
                n * row_h + 3,
                f"{plot_w * value / top_value:.1f}",
                COLOURS[n % len(COLOURS)],
                label_w + plot_w * value / top_value + 4,
                n * row_h + 14,
                value,
            )
            for n, (label, value) in enumerate(bars)
        ),
    )
    height = max(len(bars), 1) * row_h + 4
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">'
        "<title>{title}</title>{rows}</svg>",
        w=width,
        h=height,
        title=title,
        rows=rows,
    )
