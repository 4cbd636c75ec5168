"""Pseudonymisation: no ID number survives loading, in frames, reports or logs."""

from __future__ import annotations

import logging
import re

import pandas as pd
import pytest
from contract_frames import HEAD_1, ID_NUMBERS, KEY, SPOUSE_1

from features.contract.errors import ConfigError, DataContractError
from features.contract.io import load_directory, validate_directory
from features.contract.pseudonym import looks_like_id_number, mask_id, pseudonym, pseudonymise_ids

ID_LIKE = re.compile(r"\d{17}[\dXx]")


def _all_text(tables) -> str:
    return "\n".join(frame.to_csv(index=False) for _, frame in tables.present())


def test_no_id_number_in_frames_report_or_logs(frames, make_dir, caplog):
    caplog.set_level(logging.DEBUG)
    result = load_directory(make_dir(frames), pseudonym_key=KEY)
    text = _all_text(result.tables) + result.report.render() + caplog.text
    assert not ID_LIKE.search(text)
    members = result.tables.members
    assert members["person_id"].str.len().tolist() == [21, 21, 21, 5, 21, 21]
    assert "M0002" in set(members["person_id"])  # opaque ids are kept


def test_no_id_number_in_error_messages(frames, make_dir, caplog):
    caplog.set_level(logging.DEBUG)
    frames["members"].loc[4, "household_id"] = "452301196006063333"  # an ID in the wrong column
    frames["members"].loc[1, "person_id"] = HEAD_1  # duplicate person: a key error
    frames["disability"].loc[0, "person_id"] = "110101199001011234"  # unknown person
    frames["members"].loc[2, "sex"] = "452301201003031111"  # an ID in a category column
    with pytest.raises(DataContractError) as caught:
        load_directory(make_dir(frames), pseudonym_key=KEY)
    report = validate_directory(make_dir(frames, name="again"), pseudonym_key=KEY)
    text = str(caught.value) + report.render() + caplog.text
    assert pseudonym("452301196006063333", key=KEY) in text  # shown by its pseudonym
    assert "4523**********1111" in text  # an ID number typed into another column: masked
    assert not ID_LIKE.search(text)


def test_pseudonyms_are_consistent_across_tables(frames, make_dir):
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    expected = pseudonym(SPOUSE_1, key=KEY)
    assert expected in set(tables.members["person_id"])
    assert tables.medical["person_id"][0] == expected
    assert tables.disability["person_id"][0] == expected


def test_the_key_changes_every_pseudonym(frames, make_dir):
    a = load_directory(make_dir(frames, name="a"), pseudonym_key=b"one").tables.members
    b = load_directory(make_dir(frames, name="b"), pseudonym_key=b"two").tables.members
    changed = a["person_id"] != b["person_id"]
    assert changed.tolist() == [True, True, True, False, True, True]


def test_pseudonymise_ids_keeps_missing_and_opaque_ids():
    ids = pd.Series(["110101199001011234", None, "opaque-7", "11010119900101123X01"], dtype="str")
    out = pseudonymise_ids(ids, key=KEY)
    assert out[0] == "P" + out[0][1:] and len(out[0]) == 21
    assert pd.isna(out[1]) and out[2] == "opaque-7" and out[3].startswith("P")
    with pytest.raises(ConfigError, match="pseudonym key is empty"):
        pseudonymise_ids(ids, key=b"")


@pytest.mark.parametrize(
    ("value", "looks"),
    [
        (HEAD_1, True),
        (SPOUSE_1, True),
        (HEAD_1 + "64", True),
        (HEAD_1 + "ABCD", True),
        ("H0001", False),
        ("1234567890123456", False),
        (HEAD_1 + "6", False),
    ],
)
def test_what_looks_like_an_id_number(value, looks):
    assert looks_like_id_number(value) is looks


def test_mask_id_keeps_only_the_ends():
    assert mask_id("452301198001011234") == "4523**********1234"
    assert mask_id("45230119800101123464") == "4523************3464"
    assert all(not ID_LIKE.search(mask_id(i)) for i in ID_NUMBERS)


def test_household_ids_that_are_id_numbers_are_pseudonymised_too(frames, make_dir):
    head = frames["members"].loc[3, "person_id"]  # H2's head: give H2 an ID-card household id
    household = "452301197505052222"
    for name in ("households", "members", "income", "events"):
        frames[name]["household_id"] = frames[name]["household_id"].replace("H2", household)
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    expected = pseudonym(household, key=KEY)
    assert expected in set(tables.households["household_id"])
    assert set(tables.members.loc[tables.members["person_id"] == head, "household_id"]) == {
        expected
    }
    assert tables.events["household_id"].tolist() == [expected]
    assert not ID_LIKE.search(_all_text(tables))
