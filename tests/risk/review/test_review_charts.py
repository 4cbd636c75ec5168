"""The inline SVG charts: one bar per reason ending at the household's risk; text escaped and masked."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from risk.review.charts import bar_chart_svg, mask_id_numbers, waterfall_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_waterfall_adds_up_to_the_households_probability() -> None:
    reasons = pd.DataFrame(
        {"label_zh": ["住院自付", "<b>收入</b>", "务工"], "value": [1.0, 2.0, 3.0],
         "contribution": [1.5, 0.5, -0.7]}
    )  # fmt: skip
    svg = waterfall_svg(reasons, probability=0.6)
    root = ET.fromstring(svg)  # well-formed: labels are escaped
    bars = root.findall(f"{SVG}rect")
    assert [b.get("fill") for b in bars] == ["#c0392b", "#2e6da4", "#c0392b"]  # by |size|
    assert "&lt;b&gt;收入&lt;/b&gt;" in svg and "<b>" not in svg
    base = 1 / (1 + math.exp(-(math.log(0.6 / 0.4) - 1.3)))
    assert f"基准(平均) {base * 100:.1f}%" in svg and "本户 60.0%" in svg
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] == max(widths) and widths[0] / widths[2] == pytest.approx(3.0, rel=1e-2)


def test_bar_chart_marks_unknown_months_and_masks_text() -> None:
    svg = bar_chart_svg(["01", "02", "03"], [100.0, None, 300.0], title="月收入", unit="元")
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}rect")) == 2 and "缺" in svg and "最高 300" in svg
    assert mask_id_numbers("证号452301199001011234，卡45230119900101123443") == (
        "证号4523**********1234，卡4523************3443"
    )
    chart = bar_chart_svg(["452301199001011234"], [1.0], title="t", unit="u")
    assert re.search(r"\d{18}", chart) is None and "4523**********1234" in chart


def test_waterfall_starts_at_the_models_base_value_when_given() -> None:
    reasons = pd.DataFrame(
        {"label_zh": ["扣除刚性支出后人均收入与监测线之比（倍数）", "务工"], "value": [0.04, 3.0],
         "contribution": [1.0, 0.5], "base_value": [-3.0, -3.0]}
    )  # fmt: skip
    svg = waterfall_svg(reasons, probability=0.5)
    assert f"基准(平均) {100 / (1 + math.exp(3.0)):.1f}%" in svg
    assert "其他因素及校准" in svg and "+1.50" in svg  # 0 − (−3) − 1.5 remains
    assert "扣除刚性支出后人均收入与监测线之…" in svg
