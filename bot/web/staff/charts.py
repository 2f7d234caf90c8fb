"""Bar charts as inline SVG, drawn on the server: no chart library, no JavaScript.

Each chart carries an aria-label summing it up; pages also show the figures in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

ROW = 26
LABEL = 130
WIDTH = 460


def bar_chart(title: str, rows: Sequence[tuple[str, Sequence[int]]],
              series: Sequence[tuple[str, str]]) -> Markup:
    """Horizontal bars: one group per row label, one bar per series (name, css class)."""
    biggest = max([v for _, values in rows for v in values] + [1])
    per_group = ROW * len(series) + 8
    height = max(per_group * len(rows), ROW) + 4
    scale = (WIDTH - LABEL - 50) / biggest
    summary = "; ".join(
        f"{label}: " + ", ".join(f"{n} {name}" for (name, _), n in zip(series, values,
                                                                       strict=True))
        for label, values in rows) or "no data"
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}" '
             f'aria-label="{escape(title)}: {escape(summary)}">']
    for i, (label, values) in enumerate(rows):
        top = i * per_group
        parts.append(f'<text x="0" y="{top + ROW * len(series) / 2 + 4:.0f}">'
                     f'{escape(label[:18])}</text>')
        for j, ((_name, css), value) in enumerate(zip(series, values, strict=True)):
            y = top + j * ROW
            w = max(value * scale, 1 if value else 0)
            parts.append(f'<rect class="{css}" x="{LABEL}" y="{y + 3}" width="{w:.1f}" '
                         f'height="{ROW - 8}"></rect>')
            parts.append(f'<text x="{LABEL + w + 4:.1f}" y="{y + ROW / 2 + 3:.0f}">'
                         f'{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number
