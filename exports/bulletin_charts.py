"""The bulletin's charts as static SVG: a line chart for the 13-period trend and a population
pyramid. Static SVG, not a plotly figure, because the bulletin is a document — printed to
PDF by headless Chromium, opened offline, archived — and must show its charts without
running JavaScript; its text (axis labels, values) stays text, so it can be searched and
copied from the PDF as from the HTML.
"""

from __future__ import annotations

import math
from html import escape

FONT = "'Noto Sans CJK TC','Noto Sans TC','Microsoft JhengHei',sans-serif"
COLOURS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")
MALE, FEMALE = "#2f6db3", "#d0567a"


def _nice_ticks(low: float, high: float, count: int = 5, *,
                whole: bool = False) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart;
    ``whole``: counts, never a fractional step). A single value gets a band around it."""
    if high <= low:
        low, high = low - max(2, abs(low) * 0.001), high + max(2, abs(high) * 0.001)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1, round(step))
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_text(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def line_chart(title: str, labels: list[str], series: list[tuple[str, list[float | None]]],
               *, width: int = 340, height: int = 230, from_zero: bool = False) -> str:
    """Lines over ``labels`` (None values leave a gap), a legend when there are several
    series, the y axis from the data's range (or from zero)."""
    left, right, top, bottom = 58, 10, 28, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    low, high = (min(values), max(values)) if values else (0, 1)
    if from_zero:
        low = min(0, low)
    ticks = _nice_ticks(low, high, whole=all(float(v).is_integer() for v in values))
    y0, y1 = ticks[0], ticks[-1]

    def x(i: int) -> float:
        return left + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - y0) / (y1 - y0))

    parts = [f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="12" '
             f'font-weight="bold">{escape(title)}</text>']
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#ddd" stroke-width="0.6"/>'
                     f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" text-anchor="end" '
                     f'font-size="8.5">{_tick_text(tick)}</text>')
    for i, text in enumerate(labels):
        parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 10}" font-size="8" '
                     f'text-anchor="end" transform="rotate(-45 {x(i):.1f} {top + plot_h + 10})">'
                     f'{escape(text)}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#555"/>'
                 f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
                 f'y2="{top + plot_h}" stroke="#555"/>')
    for number, (name, vs) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" '
                             f'points="{" ".join(run)}"/>')
        parts += [f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" fill="{colour}">'
                  f'<title>{escape(labels[i])} {escape(name)}: {v:,}</title></circle>'
                  for i, v in enumerate(vs) if v is not None]
        if len(series) > 1:
            lx = left + 8 + number * 90
            parts.append(f'<rect x="{lx}" y="{top + 2}" width="10" height="3" fill="{colour}"/>'
                         f'<text x="{lx + 13}" y="{top + 7}" font-size="9">{escape(name)}</text>')
    return _svg(width, height, title, parts)


def pyramid(title: str, groups: list[str], male: list[int], female: list[int],
            male_label: str, female_label: str, *, width: int = 340,
            height: int = 300) -> str:
    """Men to the left, women to the right, youngest at the bottom, one bar per group."""
    top, bottom, middle = 30, 26, 26  # middle: the gap holding the group labels
    half = (width - middle) / 2 - 20  # room for the outer tick's label
    rows = len(groups)
    bar = (height - top - bottom) / max(rows, 1)
    biggest = max([*male, *female, 1])
    ticks = _nice_ticks(0, biggest, 3)
    scale = half / ticks[-1]
    centre = width / 2
    parts = [f'<text x="{centre}" y="14" text-anchor="middle" font-size="12" '
             f'font-weight="bold">{escape(title)}</text>',
             f'<text x="{centre - middle / 2 - 4}" y="26" text-anchor="end" font-size="10" '
             f'fill="{MALE}">{escape(male_label)}</text>',
             f'<text x="{centre + middle / 2 + 4}" y="26" font-size="10" '
             f'fill="{FEMALE}">{escape(female_label)}</text>']
    for i, (name, men, women) in enumerate(zip(groups, male, female, strict=True)):
        row_y = top + (rows - 1 - i) * bar
        parts.append(
            f'<rect x="{centre - middle / 2 - men * scale:.1f}" y="{row_y + 0.5:.1f}" '
            f'width="{men * scale:.1f}" height="{bar - 1:.1f}" fill="{MALE}">'
            f'<title>{escape(name)} {escape(male_label)}: {men:,}</title></rect>'
            f'<rect x="{centre + middle / 2:.1f}" y="{row_y + 0.5:.1f}" '
            f'width="{women * scale:.1f}" height="{bar - 1:.1f}" fill="{FEMALE}">'
            f'<title>{escape(name)} {escape(female_label)}: {women:,}</title></rect>'
            f'<text x="{centre}" y="{row_y + bar / 2 + 3:.1f}" text-anchor="middle" '
            f'font-size="7.5">{escape(name)}</text>')
    base = height - bottom + 10
    for tick in ticks:
        for side in (-1, 1):
            tx = centre + side * (middle / 2 + tick * scale)
            parts.append(f'<text x="{tx:.1f}" y="{base}" text-anchor="middle" '
                         f'font-size="8">{_tick_text(tick)}</text>')
    return _svg(width, height, title, parts)


def _svg(width: int, height: int, title: str, parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            + "".join(parts) + "</svg>")
