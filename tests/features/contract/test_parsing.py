"""Parsing by contract kind: every accepted form round-trips; everything else is flagged bad."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.contract.parsing import is_in, parse_column
from features.contract.schema import CONTRACT

MONTH = CONTRACT["income"].column("month")
DATE = CONTRACT["medical"].column("settle_date")
MONEY = CONTRACT["income"].column("wage_income")
PERSON = CONTRACT["members"].column("person_id")
EXIT_YEAR = CONTRACT["households"].column("exit_year")
GRADE = CONTRACT["disability"].column("grade")
days = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2090, 12, 31))


@given(day=days)
def test_every_date_form_gives_the_same_day(day):
    forms = [day.isoformat(), day.strftime("%Y%m%d"), f"{day.year}/{day.month}/{day.day}",
             f"{day.year}年{day.month}月{day.day}日", dt.datetime.combine(day, dt.time(15, 30)),
             (day - dt.date(1899, 12, 30)).days]  # fmt: skip
    parsed = parse_column(pd.Series(forms, dtype=object), DATE)
    assert not parsed.bad.any()
    assert set(parsed.values) == {pd.Timestamp(day)}


@given(day=days)
def test_every_month_form_gives_the_same_month(day):
    forms = [day.strftime("%Y-%m"), day.strftime("%Y%m"), f"{day.year}/{day.month}",
             f"{day.year}年{day.month}月", day.isoformat(), int(day.strftime("%Y%m"))]  # fmt: skip
    parsed = parse_column(pd.Series(forms, dtype=object), MONTH)
    assert not parsed.bad.any()
    assert set(parsed.values) == {pd.Period(day, "M")}


@given(amount=st.decimals(min_value=0, max_value=10**9, places=2))
def test_money_with_thousands_separators_and_unit(amount):
    value = float(amount)
    forms = [f"{value:,.2f}", f"{value:.2f}", f"{value:,.2f}元", value]
    parsed = parse_column(pd.Series(forms, dtype=object), MONEY)
    assert not parsed.bad.any()
    assert np.allclose(parsed.values.to_numpy(), value)


def test_bad_forms_are_flagged_not_guessed():
    months = parse_column(pd.Series(["2024-13", "13/2024", "2024-1-1-1", "三月"]), MONTH)
    dates = parse_column(pd.Series(["2024-02-30", "15/03/2024", "20241301"]), DATE)
    money = parse_column(pd.Series(["1.2.3", "一百", "nan"]), MONEY)
    assert months.bad.all() and dates.bad.all() and money.bad.all()


def test_an_id_saved_as_an_excel_number_is_flagged():
    parsed = parse_column(pd.Series([4.52301198001011e17, 452301198001011234, "H1"]), PERSON)
    assert parsed.bad.tolist() == [True, False, False]
    assert parsed.values[1] == "452301198001011234"


def test_is_in_ignores_missing_values():
    values = pd.Series(["a", None, "c"], dtype="str")
    assert is_in(values, pd.Series(["a", None], dtype="str")).tolist() == [True, False, False]


@pytest.mark.parametrize(("column", "cell"), [(EXIT_YEAR, "年"), (GRADE, "级")])
def test_a_bare_unit_is_an_unreadable_value_not_a_crash(column, cell):
    parsed = parse_column(pd.Series([cell, "2"], dtype=object), column)
    assert parsed.bad.tolist() == [True, False] and not parsed.empty.any()


def test_years_and_grades_out_of_range_are_read_for_the_column_rules_to_judge():
    years = parse_column(pd.Series(["1850", "2019年", "2019.5"]), EXIT_YEAR)
    grades = parse_column(pd.Series(["5", "二级", "0"]), GRADE)
    assert years.values.tolist()[:2] == [1850, 2019] and years.bad.tolist() == [False, False, True]
    assert grades.values.tolist() == [5, 2, 0] and not grades.bad.any()
