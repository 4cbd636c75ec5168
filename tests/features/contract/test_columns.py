"""The column rules: pandera schemas generated from the contract, failure cases as the contract's issues."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandera.config import config_context

from features.contract.columns import COLUMN_RULES, check_columns, failing_rows, table_schema
from features.contract.parsing import parse_column
from features.contract.schema import CONTRACT, KIND_DTYPES
from features.contract.validation import ROW

NOW = pd.Period("2025-06", "M")


def _parsed(
    table: str, cells: dict[str, list[object]], *, dtype: object = object
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """`cells` as a raw table (rows 2, 3, …; cells of `dtype`: Excel cells or CSV text) and its
    parsed frame, as loading builds them."""
    spec = CONTRACT[table]
    n = len(next(iter(cells.values())))
    raw = pd.DataFrame({c.name: pd.Series(cells.get(c.name, [None] * n), dtype=dtype)
                        for c in spec.columns})  # fmt: skip
    raw[ROW] = np.arange(2, 2 + n)
    parsed = {c.name: parse_column(raw[c.name], c) for c in spec.columns}
    frame = pd.DataFrame({name: p.values for name, p in parsed.items()})
    frame[ROW] = raw[ROW]
    return raw, frame, parsed


def _household_cells(n: int) -> dict[str, list[object]]:
    return {"household_id": [f"H{i}" for i in range(n)], "county": ["甲县"] * n,
            "township": ["一乡"] * n, "village": ["一村"] * n,
            "household_type": ["一般农户"] * n}  # fmt: skip


@pytest.mark.parametrize("table", list(CONTRACT))
def test_every_contract_column_is_declared_from_the_contract(table):
    spec = CONTRACT[table]
    schema = table_schema(spec, current=NOW)
    assert list(schema.columns) == list(spec.column_names)
    for column in spec.columns:
        declared = schema.columns[column.name]
        assert declared.nullable is not column.required
        assert str(declared.dtype) in {KIND_DTYPES[column.kind], "string[pyarrow]"}
        assert {check.error for check in declared.checks} <= set(COLUMN_RULES)
        if column.kind == "category":
            assert declared.checks[0].statistics["allowed_values"] == column.allowed


def test_a_valid_parsed_table_passes_every_rule():
    raw, frame, parsed = _parsed("households", {**_household_cells(3), "exit_year": ["", "", ""],
                                             "cultivated_land_mu": ["1.5", "", "0"]})  # fmt: skip
    assert failing_rows(frame, CONTRACT["households"], current=NOW) == {}
    checked, issues = check_columns(frame, raw, CONTRACT["households"], parsed=parsed,
                                    file="households.csv", current=NOW)  # fmt: skip
    assert issues == [] and checked is frame


def test_each_failure_case_becomes_the_contract_message_with_the_cell_as_written():
    cells = {**_household_cells(4), "household_type": ["一般农户", " 脱 贫", "", "脱贫户"],
             "exit_year": ["", "", "", "1850"], "cultivated_land_mu": ["-2", "", "3", ""]}  # fmt: skip
    raw, frame, parsed = _parsed("households", cells)
    checked, issues = check_columns(frame, raw, CONTRACT["households"], parsed=parsed,
                                    file="households.csv", current=NOW)  # fmt: skip
    assert [(i.rule, i.column, i.rows) for i in issues] == [
        ("value_form", "household_type", (3,)),
        ("value_form", "exit_year", (5,)),
        ("required_value", "household_type", (4,)),
        ("negative", "cultivated_land_mu", (2,)),
    ]
    assert issues[0].message == (
        "[households.csv] households (户信息) 列 column household_type (户类型): 1行的值不符合规定 — "
        '1 value(s) do not follow the contract (第3行 row 3: " 脱 贫"); 应为 expected: '
        "规定取值之一 one of the allowed values: 脱贫户 或 or 一般农户"
    )
    assert issues[3].values == ("-2.0",)
    # values that are not allowed are made missing, as unreadable ones are
    assert checked["household_type"].isna().tolist() == [False, True, True, False]
    assert pd.isna(checked.loc[3, "exit_year"])


def test_an_unreadable_required_cell_is_a_value_form_error_not_an_empty_one():
    cells = {"household_id": ["H1", "H1"], "month": ["2024-13", "2024-02"]}
    raw, frame, parsed = _parsed("income", cells)
    _, issues = check_columns(frame, raw, CONTRACT["income"], parsed=parsed, file="income.csv",
                              current=NOW)  # fmt: skip
    assert [(i.rule, i.column, i.values) for i in issues] == [("value_form", "month", ("2024-13",))]


def test_several_values_are_judged_part_by_part():
    n = 4
    cells = {"person_id": [f"P{i}" for i in range(n)], "household_id": ["H1"] * n,
             "relation": ["户主", "配偶", "之子", "之女"],
             "health": ["残疾，健康", "健康,感冒", "", "长期慢性病"]}  # fmt: skip
    raw, frame, parsed = _parsed("members", cells)
    checked, issues = check_columns(frame, raw, CONTRACT["members"], parsed=parsed,
                                    file="members.csv", current=NOW)  # fmt: skip
    assert [(i.rule, i.rows, i.values) for i in issues] == [("value_form", (3,), ("健康,感冒",))]
    assert checked["health"].tolist()[0] == "健康,残疾"


def test_records_after_the_current_month_are_named_by_their_month():
    cells = {"person_id": ["P1", "P2", "P3"],
             "settle_date": ["2025-06-30", "2025-07-01", "2062-09-15"],
             "visit_type": ["住院"] * 3, "total_cost": ["10"] * 3, "out_of_pocket": ["1"] * 3}  # fmt: skip
    raw, frame, parsed = _parsed("medical", cells)
    _, issues = check_columns(frame, raw, CONTRACT["medical"], parsed=parsed, file="medical.csv",
                              current=NOW)  # fmt: skip
    assert [(i.rule, i.rows, i.values) for i in issues] == [
        ("future_date", (3, 4), ("2025-07", "2062-09"))
    ]
    assert (
        "晚于当前月份 2025-06" in issues[0].message and "a month up to 2025-06" in issues[0].message
    )


def test_money_of_a_hundred_million_is_implausible_whatever_its_sign():
    cells = {"household_id": ["H1", "H1", "H1"], "month": ["2024-01", "2024-02", "2024-03"],
             "wage_income": ["99999999", "100000000", "-100000000"]}  # fmt: skip
    raw, frame, parsed = _parsed("income", cells)
    found = failing_rows(frame, CONTRACT["income"], current=NOW)
    assert found["implausible_amount", "wage_income"].tolist() == [False, True, True]
    assert found["negative", "wage_income"].tolist() == [False, False, True]


def test_the_contract_is_checked_even_where_pandera_validation_is_switched_off():
    raw, frame, parsed = _parsed("income", {"household_id": ["H1"], "month": ["2024-01"],
                                         "wage_income": ["-5"]})  # fmt: skip
    with config_context(validation_enabled=False):
        found = failing_rows(frame, CONTRACT["income"], current=NOW)
    assert list(found) == [("negative", "wage_income")]


def test_a_column_of_the_wrong_dtype_is_a_bug_not_a_user_error():
    raw, frame, parsed = _parsed("income", {"household_id": ["H1"], "month": ["2024-01"]})
    frame["wage_income"] = frame["wage_income"].astype(object)
    with pytest.raises(RuntimeError, match=r"(?s)income breaks its schema.*wage_income"):
        failing_rows(frame, CONTRACT["income"], current=NOW)


@pytest.mark.parametrize("dtype", [object, "str"])
def test_values_judged_once_per_distinct_value_flag_the_rows_the_row_checks_flag(dtype):
    cells = {"person_id": [f"P{i}" for i in range(8)], "household_id": ["H1"] * 8,
             "relation": ["户主", "儿子", None, "之子", "儿子", " 配 偶", "", "户主"],
             "health": ["健康", "健康,感冒", None, "残疾", "感冒", "", "健康", "健康"],
             "sex": ["男", "M", "女", "M", None, "男", "女", "x"]}  # fmt: skip
    raw, frame, parsed = _parsed("members", cells, dtype=dtype)
    by_value = failing_rows(frame, CONTRACT["members"], current=NOW, parsed=parsed)
    by_row = failing_rows(frame, CONTRACT["members"], current=NOW)
    assert any(p.distinct is not None for p in parsed.values())
    assert (
        by_value.keys()
        == by_row.keys()
        == {
            ("value_form", "relation"),
            ("value_form", "health"),
            ("value_form", "sex"),
            ("required_value", "relation"),
        }
    )
    for key, mask in by_row.items():
        assert by_value[key].tolist() == mask.tolist(), key


@pytest.mark.parametrize("dtype", [object, "string"])
def test_text_of_another_dtype_than_the_parsed_str_is_a_bug(dtype):
    raw, frame, parsed = _parsed("income", {"household_id": ["H1"], "month": ["2024-01"]})
    frame["household_id"] = frame["household_id"].astype(dtype)
    with pytest.raises(RuntimeError, match=r"(?s)income breaks its schema.*household_id"):
        failing_rows(frame, CONTRACT["income"], current=NOW)
