"""Small inline SVG charts for the review page: a SHAP waterfall and bar charts of a household's history.

Pure functions from numbers and labels to SVG text. Every label is escaped and ID-like numbers are
masked before they are placed, so the result can be inserted into the page as is.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

import pandas as pd

from features.contract.pseudonym import mask_id

#: An ID-card number (18) or a longer card number starting with one, anywhere inside a text.
ID_NUMBER_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])\d{17}[\dXx](?:[0-9A-Za-z]{4}|[0-9A-Za-z]{2})?(?![0-9A-Za-z])"
)
_RED, _BLUE, _GREY = "#c0392b", "#2e6da4", "#888888"


def mask_id_numbers(text: str) -> str:
    """Mask every ID-like number inside a text (a reviewer's note may contain one).

    Examples
    --------
    >>> mask_id_numbers("身份证452301199001011234有误")
    '身份证4523**********1234有误'
    """
    return ID_NUMBER_IN_TEXT.sub(lambda match: mask_id(match.group(0)), text)


def safe_text(value: object) -> str:
    """Masked and XML-escaped text for inside an SVG."""
    return html.escape(mask_id_numbers(str(value)))


def waterfall_svg(reasons: pd.DataFrame, *, probability: float, width: int = 640) -> str:
    """A SHAP waterfall: from the average household to this one, one bar per reason (log-odds).

    Parameters
    ----------
    reasons
        The household's rows of `explanations.parquet` (`label_zh`, `value`, `contribution`),
        largest first.
    probability
        The household's calibrated probability (shown as the end point).
    """
    rows = reasons.sort_values("contribution", key=lambda s: -s.abs(), kind="stable").head(10)
    contributions = rows["contribution"].astype(float).to_list()
    labels = [str(label) for label in rows["label_zh"]]
    end = _logit(probability)
    start = end - sum(contributions)
    if "base_value" in rows.columns and rows["base_value"].notna().any():
        start = float(rows["base_value"].dropna().iloc[0])
        rest = end - start - sum(contributions)
        if abs(rest) >= 0.01:  # features not listed, and the calibration, in one bar
            labels.append("其他因素及校准")
            contributions.append(rest)
    bars, position = [], start
    for label, contribution in zip(labels, contributions, strict=True):
        bars.append((label, position, position + contribution))
        position += contribution
    return _waterfall_bars(bars, start=start, end=end, probability=probability, width=width)


def _waterfall_bars(
    bars: list[tuple[str, float, float]],
    *,
    start: float,
    end: float,
    probability: float,
    width: int,
) -> str:
    row, left, right = 26, 250, 70
    height = row * (len(bars) + 2) + 10
    points = [start, end, *(b for bar in bars for b in bar[1:])]
    low, high = min(points), max(points)
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return left + (value - low) / span * (width - left - right)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="风险因素瀑布图" class="waterfall">',
        _text(8, 18, f"基准(平均) {_percent(_sigmoid(start))}", anchor="start"),
        f'<line x1="{x(start):.1f}" y1="4" x2="{x(start):.1f}" y2="{height - 6}" stroke="{_GREY}" '
        'stroke-dasharray="3,3"/>',
    ]
    for index, (label, begin, finish) in enumerate(bars, start=1):
        top = row * index + 6
        colour = _RED if finish >= begin else _BLUE
        lo, hi = sorted((x(begin), x(finish)))
        parts.append(
            f'<rect x="{lo:.1f}" y="{top}" width="{max(hi - lo, 1):.1f}" height="{row - 8}" '
            f'fill="{colour}"><title>{safe_text(label)}: {finish - begin:+.2f}</title></rect>'
        )
        short = label if len(label) <= 17 else label[:16] + "…"
        parts.append(_text(left - 6, top + row - 12, short, anchor="end"))
        parts.append(_text(hi + 4, top + row - 12, f"{finish - begin:+.2f}", anchor="start"))
    bottom = row * (len(bars) + 1) + 6
    parts.append(_text(8, bottom + 14, f"本户 {_percent(probability)}", anchor="start"))
    parts.append(f'<circle cx="{x(end):.1f}" cy="{bottom + 9}" r="5" fill="{_RED}"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    unit: str,
    width: int = 420,
    height: int = 150,
) -> str:
    """A small bar chart (months along the bottom); a missing value is drawn as an empty slot."""
    count = max(len(labels), 1)
    known = [v for v in values if v is not None and not math.isnan(v)]
    top = max([*known, 0.0]) or 1.0
    bottom_axis, chart_top, slot = height - 22, 26, (width - 20) / count
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{safe_text(title)}" class="bar-chart">',
        _text(4, 16, f"{title}（{unit}，最高 {top:,.0f}）", anchor="start"),
        f'<line x1="10" y1="{bottom_axis}" x2="{width - 10}" y2="{bottom_axis}" stroke="{_GREY}"/>',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        left = 10 + index * slot
        if value is None or math.isnan(value):
            parts.append(_text(left + slot / 2, bottom_axis - 4, "缺", anchor="middle", size=10))
        else:
            bar = max(value, 0.0) / top * (bottom_axis - chart_top)
            parts.append(
                f'<rect x="{left + 2:.1f}" y="{bottom_axis - bar:.1f}" width="{max(slot - 4, 1):.1f}" '
                f'height="{bar:.1f}" fill="{_BLUE}"><title>{safe_text(label)}: {value:,.0f}'
                f"{safe_text(unit)}</title></rect>"
            )
        if index % max(count // 6, 1) == 0:
            parts.append(_text(left + slot / 2, height - 6, label, anchor="middle", size=10))
    parts.append("</svg>")
    return "".join(parts)


def _text(x: float, y: float, content: str, *, anchor: str, size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">'
        f"{safe_text(content)}</text>"
    )


def _logit(probability: float) -> float:
    p = min(max(float(probability), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))


def _percent(probability: float) -> str:
    return f"{probability * 100:.1f}%"
