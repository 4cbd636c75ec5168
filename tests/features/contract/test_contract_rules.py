"""One test per rule of DATA_CONTRACT.md: a failing example and the message it produces."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from contract_frames import HEAD_1, KEY

from features.contract.errors import DataContractError
from features.contract.io import load_directory, validate_directory
from features.contract.schema import CONTRACT, label_of
from features.contract.validation import MAX_EXAMPLES, ROW, flag_rows


def _load_fails(directory, pattern: str) -> str:
    with pytest.raises(DataContractError, match=pattern) as caught:
        load_directory(directory, pseudonym_key=KEY)
    return str(caught.value)


def _warned(directory, rule: str):
    report = validate_directory(directory, pseudonym_key=KEY)
    assert report.ok, report.error_text()
    found = [i for i in report.warnings if i.rule == rule]
    assert found, f"no {rule} warning in {report.render()}"
    return report, found


def test_valid_directory_loads_without_errors(frames, make_dir):
    result = load_directory(make_dir(frames), pseudonym_key=KEY)
    assert result.report.ok
    assert result.report.rows == {name: len(frame) for name, frame in frames.items()}
    assert result.report.warnings == ()


def test_contract_declares_every_label_variant_once():
    assert CONTRACT["households"].column("county").labels_zh == ("县", "县(市、区、旗)")
    assert CONTRACT["households"].column("township").labels_zh == ("乡", "乡(镇)", "乡镇")
    assert CONTRACT["members"].column("person_id").labels_zh == ("证件号码", "人编号")
    assert label_of("medical", "out_of_pocket") == "个人自付"
    with pytest.raises(KeyError, match="no column 'nope'"):
        label_of("medical", "nope")


def test_required_table_missing_is_an_error(frames, make_dir):
    del frames["members"]
    _load_fails(make_dir(frames), r"members \(家庭成员\): 缺少必需的表 — required table is missing")


def test_optional_table_missing_is_reported_not_an_error(frames, make_dir):
    del frames["medical"]
    report, found = _warned(make_dir(frames), "optional_table")
    assert report.missing_tables == ("medical",)
    assert "medical (医保结算): 未提供该表" in found[0].message
    assert "not sent" in report.render()


def test_two_files_for_one_table_is_an_error(frames, make_dir):
    directory = make_dir(frames)
    frames["income"].to_csv(directory / "收入.csv", index=False)
    _load_fails(directory, r"more than one file for this table: income.csv, 收入.csv")


def test_unknown_file_is_a_warning(frames, make_dir):
    directory = make_dir(frames)
    (directory / "notes.txt").write_text("hello", encoding="utf-8")
    _, found = _warned(directory, "unknown_file")
    assert "notes.txt" in found[0].message


def test_required_column_missing_is_an_error(frames, make_dir):
    frames["households"] = frames["households"].drop(columns="village")
    _load_fails(make_dir(frames), r"\[households.csv\].*village \(村\): 缺少必需的列")


def test_unknown_column_is_reported_once_as_a_warning(frames, make_dir):
    frames["members"]["phone"] = "13800000000"
    frames["members"]["备注"] = "x"
    report, found = _warned(make_dir(frames), "unknown_column")
    assert len(found) == 1
    assert '"phone", "备注"' in found[0].message


def test_two_headers_for_one_column_is_an_error(frames, make_dir):
    frames["households"]["县"] = "乙县"
    _load_fails(make_dir(frames), r"county \(县\): 多个表头指向同一列: county, 县")


def test_required_value_empty_is_an_error(frames, make_dir):
    frames["households"].loc[1, "village"] = ""
    _load_fails(make_dir(frames), r"\[households.csv\].*village \(村\): 1行为空.*第3行 row 3")


def test_value_outside_allowed_values_is_an_error(frames, make_dir):
    frames["households"].loc[0, "household_type"] = "脱贫"
    _load_fails(
        make_dir(frames),
        r"household_type \(户类型\): 1行的值不符合规定 — 1 value\(s\) do not follow the contract "
        r'\(第2行 row 2: "脱贫"\); 应为 expected: .*脱贫户 或 or 一般农户',
    )


@pytest.mark.parametrize(
    ("table", "column", "value", "expected"),
    [
        ("medical", "settle_date", "2024-02-30", "YYYY-MM-DD"),
        ("income", "month", "March", "YYYY-MM"),
        ("income", "wage_income", "12k", "a number of yuan"),
        ("households", "relocated", "maybe", "是/否"),
        ("households", "exit_year", "二〇一九", "a year"),
        ("disability", "grade", "五级", "一级…四级"),
        ("members", "health", "健康,感冒", "allowed values joined by ','"),
    ],
)
def test_value_of_the_wrong_kind_is_an_error(frames, make_dir, table, column, value, expected):
    frames[table].loc[0, column] = value
    message = _load_fails(make_dir(frames), rf"{column} \(.*\): 1行的值不符合规定")
    assert f'第2行 row 2: "{value}"' in message
    assert expected in message


def test_negative_money_is_an_error(frames, make_dir):
    frames["income"].loc[2, "wage_income"] = "-30"
    _load_fails(make_dir(frames), r"wage_income \(工资性收入\): 1行为负数.*第4行 row 4: \"-30.0\"")


def test_exact_duplicate_row_is_dropped_with_a_warning(frames, make_dir):
    frames["medical"] = pd.concat([frames["medical"], frames["medical"].iloc[[0]]])
    directory = make_dir(frames)
    _, found = _warned(directory, "exact_duplicate")
    assert "第4行 row 4" in found[0].message and "dropped" in found[0].message
    loaded = load_directory(directory, pseudonym_key=KEY).tables
    assert len(loaded.medical) == 2


def test_two_different_rows_for_one_key_name_both_rows(frames, make_dir):
    extra = frames["income"].iloc[[1]].assign(wage_income="900")
    frames["income"] = pd.concat([frames["income"], extra])
    _load_fails(
        make_dir(frames),
        r"1 key\(s\) \(household_id, month\) have several different rows: "
        r"household_id=H1, month=2024-02: 第3、6行 rows 3, 6",
    )


def test_member_household_must_exist(frames, make_dir):
    frames["members"].loc[3, "household_id"] = "H9"
    _load_fails(make_dir(frames), r"1 member\(s\) name a household not in households.*第5行 row 5")


def test_household_without_a_head_is_an_error(frames, make_dir):
    frames["members"].loc[3, "relation"] = "其他"
    _load_fails(make_dir(frames), r"\[households.csv\].*1 household\(s\) have no 户主.*\"H2\"")


def test_household_with_two_heads_is_an_error(frames, make_dir):
    frames["members"].loc[1, "relation"] = "户主"
    _load_fails(
        make_dir(frames),
        r"\[members.csv\].*relation \(与户主关系\): 1户有多个户主.*第2行 row 2; 第3行 row 3",
    )


def test_out_of_pocket_above_total_cost_is_an_error(frames, make_dir):
    frames["medical"].loc[1, "out_of_pocket"] = "900"
    _load_fails(
        make_dir(frames), r"out_of_pocket above total_cost.*第3行 row 3: \"900.00 > 800.00\""
    )


def test_exit_year_only_for_formerly_poor_households(frames, make_dir):
    frames["households"].loc[1, "exit_year"] = "2019"
    _load_fails(make_dir(frames), r"exit_year \(脱贫年度\): 1户不是脱贫户却有脱贫年度.*第3行 row 3")


def test_records_of_people_who_left_are_kept_out_with_a_warning(frames, make_dir):
    claims = frames["medical"]
    frames["medical"] = pd.concat([claims] * 5, ignore_index=True).assign(
        settle_date=[f"2024-02-{d:02d}" for d in range(1, 11)]
    )
    frames["medical"].loc[9, "person_id"] = "452301199901019999"
    directory = make_dir(frames)
    _, found = _warned(directory, "unknown_reference")
    assert "1 row(s) (10.0%) name an id not in members" in found[0].message
    assert "第11行 row 11" in found[0].message
    assert len(load_directory(directory, pseudonym_key=KEY).tables.medical) == 9


def test_more_than_a_fifth_unknown_people_is_an_error(frames, make_dir):
    frames["employment"].loc[:, "person_id"] = ["X1", HEAD_1.replace("4523", "1101")]
    _load_fails(make_dir(frames), r"2 row\(s\) \(100.0%\) name an id not in members.*id scheme")


def test_events_of_people_who_left_stay_household_events(frames, make_dir):
    frames["events"].loc[0, ["person_id", "event_type"]] = ["452301195001011234", "家庭成员死亡"]
    directory = make_dir(frames)
    _, found = _warned(directory, "unknown_reference")
    assert "kept as household records without the person" in found[0].message
    events = load_directory(directory, pseudonym_key=KEY).tables.events
    assert events["event_type"].tolist() == ["家庭成员死亡"] and events["person_id"].isna().all()


def test_eliminated_before_identified_is_an_error(frames, make_dir):
    frames["outcomes"].loc[0, "eliminated_month"] = "2024-01"
    _load_fails(
        make_dir(frames),
        r"eliminated_month \(消除监测时间\): 1行的消除监测时间早于识别监测时间.*\"2024-01 < 2024-03\"",
    )


def test_spell_ending_before_it_starts_is_an_error(frames, make_dir):
    frames["employment"].loc[0, "end_month"] = "2023-01"
    _load_fails(make_dir(frames), r"end_month \(结束时间\): 1行的结束时间早于开始时间")


def test_examples_are_capped_with_a_count_of_the_rest(frames, make_dir):
    many = pd.concat([frames["assistance"]] * 15, ignore_index=True)
    many["month"] = [f"2023-{m:02d}" for m in range(1, 13)] + ["2024-01", "2024-02", "2024-03"]
    many["type"] = "救济"
    frames["assistance"] = many
    message = _load_fails(make_dir(frames), r"15行的值不符合规定")
    assert len(re.findall(r"第\d+行 row \d+", message)) == 10
    assert "… 另有5处 and 5 more" in message


def test_every_error_is_listed_at_once(frames, make_dir):
    frames["households"].loc[0, "household_type"] = "?"
    frames["medical"].loc[0, "out_of_pocket"] = "99999"
    frames["members"].loc[0, "sex"] = "M"
    message = _load_fails(make_dir(frames), r"3 error\(s\)")
    assert "household_type" in message and "out_of_pocket" in message and "sex (性别)" in message


def test_docs_are_generated_from_the_contract():
    from features.contract.schema import contract_markdown

    text = contract_markdown()
    for spec in CONTRACT.values():
        assert f"### {spec.name} — {spec.label_zh}" in text
        for column in spec.columns:
            assert f"| {column.name} | {' / '.join(column.labels_zh)} |" in text


def test_flag_rows_is_the_one_step_from_flagged_rows_to_an_issue():
    frame = pd.DataFrame({"person_id": [HEAD_1] * 12 + ["P2"], ROW: range(2, 15)})
    column = CONTRACT["members"].column("person_id")
    none = flag_rows("error", "r", frame, [False] * 13, table="members", file="m.csv",
                     column=column, zh="{count}行", en="{count} row(s)")  # fmt: skip
    assert none == []
    flagged = np.array([True] * 12 + [False])
    (issue,) = flag_rows("warning", "r", frame, flagged, table="members", file="m.csv",
                         column=column, values=frame.loc[flagged, "person_id"],
                         zh="{count}行", en="{count} row(s)", expected="x")  # fmt: skip
    assert (issue.severity, issue.count, issue.rows) == ("warning", 12, tuple(range(2, 12)))
    assert len(issue.values) == MAX_EXAMPLES and HEAD_1 not in issue.message
    assert issue.message.startswith(
        "[m.csv] members (家庭成员) 列 column person_id (证件号码): 12行 — 12 row(s)"
    )
    assert issue.message.endswith("; … 另有2处 and 2 more); 应为 expected: x")
