"""Every reason sentence of the catalogue reads correctly over awkward values.

Zero, negative, missing, tiny and extreme values must never give a negative multiple of the line,
"减少-…", "nan", "inf", a signed percentage against its direction word, or a flag sentence that
asserts the flag when it is 0; a sentence with a direction word follows the sign of the value.
"""

from __future__ import annotations

import math
import re

import pytest

from features.catalogue import CATALOGUE, FeatureSpec

VALUES = (
    0.0,
    -0.0,
    1e-9,
    -1e-9,
    0.004,
    -0.004,
    0.5,
    -0.5,
    1.0,
    -1.0,
    3.0,
    10.05,
    -10.05,
    95580.0,
    -95580.0,
    1e12,
    -1e12,
    math.nan,
    math.inf,
    -math.inf,
)
NUMERIC = [spec for spec in CATALOGUE if spec.kind == "numeric"]
UP = re.compile("增加|增长")
DOWN = re.compile("减少|下降")
NEGATIVE_NUMBER = re.compile(r"[-−]\s*\d")


def _plain(spec: FeatureSpec, sentence: str) -> bool:
    """The plain fallback "label：value unit" (a value the sentence cannot carry, shown as data)."""
    return sentence.startswith(f"{spec.label_zh}：")


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_sentence_reads_correctly(spec: FeatureSpec, value: float) -> None:
    sentence = spec.reason(value)
    assert sentence and "{" not in sentence and "}" not in sentence
    lowered = sentence.lower()
    assert "nan" not in lowered and "inf" not in lowered, sentence
    assert re.search(r"[\u4e00-\u9fff]", sentence)
    if not _plain(spec, sentence):
        assert not NEGATIVE_NUMBER.search(sentence), sentence
        assert "+" not in sentence, sentence
    assert not re.search(r"[-−]\s*[\d.,]+倍", sentence), sentence
    assert not re.search(r"(减少|下降|亏损|缺口|少)[-−+]", sentence), sentence


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
def test_direction_words_follow_the_sign(spec: FeatureSpec) -> None:
    for value in (-95580.0, -0.35, -3.0, 0.0, 1e-9, 3.0, 0.35, 95580.0):
        sentence = spec.reason(value)
        if spec.shows_as_zero(value):
            assert not UP.search(sentence) and not DOWN.search(sentence), sentence
        elif value < 0 and UP.search(spec.reason_zh):
            assert DOWN.search(sentence) and not UP.search(sentence), sentence
        elif value > 0:
            assert not DOWN.search(sentence) or DOWN.search(spec.reason_zh), sentence


@pytest.mark.parametrize(
    "spec", [s for s in NUMERIC if s.risky_when == "positive"], ids=lambda s: s.name
)
def test_zero_never_asserts_what_a_positive_value_means(spec: FeatureSpec) -> None:
    assert spec.reason(0.0) != spec.reason(1.0)
    assert spec.reason(1e-12) == spec.reason(0.0)
    assert not spec.points_to_cause(0.0) and spec.points_to_cause(1.0)


@pytest.mark.parametrize(
    "spec", [s for s in NUMERIC if s.risky_when == "negative"], ids=lambda s: s.name
)
def test_only_a_fall_points_to_the_cause(spec: FeatureSpec) -> None:
    assert spec.points_to_cause(-5000.0) and not spec.points_to_cause(5000.0)
    assert not spec.points_to_cause(0.0) and not spec.points_to_cause(math.nan)
    assert spec.reason_negative_zh, "a fall needs its own sentence"


def test_the_sentences_of_the_issue_read_correctly() -> None:
    from features.catalogue import by_name

    assert by_name("income_after_rigid_to_line_12m").reason(-10.05) == (
        "刚性支出超过家庭全年收入，扣除后人均缺口相当于监测线的10.05倍"
    )
    assert by_name("wage_income_change_12m").reason(-95580.0) == "工资性收入同比减少95,580元"
    assert by_name("wage_income_change_12m").reason(95580.0) == "工资性收入同比增加95,580元"
    assert by_name("wage_declared_to_recorded_12m").cause is None  # never a reason
