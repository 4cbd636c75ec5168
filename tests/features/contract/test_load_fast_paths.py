"""The vectorised loading paths give what the value-by-value rules say they should.

Loading works once per distinct value (text normalisation, pseudonyms, card numbers) and matches
ids by integer codes; these tests pin each shortcut to the plain rule it replaces.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from contract_frames import HEAD_1, HEAD_3, KEY, WIFE_3

from features.contract.id_numbers import _ID_HEAD, _id_heads, check_id_numbers
from features.contract.io import load_directory
from features.contract.parsing import codes_in, encode_together, parse_column
from features.contract.pseudonym import (
    pseudonym,
    pseudonymise_codes,
    pseudonymise_columns,
    pseudonyms,
    take_codes,
)
from features.contract.schema import CONTRACT, normalise_text


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, bytes(range(256))])
def test_batch_pseudonyms_are_the_standard_hmac(key):
    values = [HEAD_1, "11010119900101123X01", "张三", ""]
    expected = [
        "P" + hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:20] for v in values
    ]
    assert pseudonyms(values, key=key) == expected
    assert [pseudonym(v, key=key) for v in values] == expected


def test_encode_together_gives_equal_codes_to_equal_strings_across_columns():
    left = pa.chunked_array([pa.array(["a", None]), pa.array(["b", "a"])])
    right = pa.array(["b", "c", None], type=pa.large_string())
    dictionary, (a, b) = encode_together([left, right])
    assert a.tolist()[1] == -1 and b.tolist()[2] == -1
    assert a[0] == a[3] and a[2] == b[0] and len(set(dictionary.to_pylist())) == len(dictionary)
    assert [dictionary[int(c)].as_py() for c in b[:2]] == ["b", "c"]
    assert codes_in(a, b).tolist() == [False, False, True, False]


def test_a_pseudonym_equal_to_a_kept_id_shares_its_code():
    clash = pseudonym(HEAD_1, key=KEY)  # an opaque id that happens to be HEAD_1's pseudonym
    dictionary, codes = encode_together([pa.array([HEAD_1, clash, "M1", None])])
    renamed, (new,) = pseudonymise_codes(dictionary, codes, key=KEY)
    assert new[0] == new[1] and new[2] != new[0] and new[3] == -1
    assert take_codes(renamed, new).to_pylist() == [clash, clash, "M1", None]
    assert len(set(renamed.to_pylist())) == len(renamed)


def test_pseudonymise_columns_keeps_index_missing_and_opaque_ids():
    first = pd.Series([HEAD_1, None, "H1"], index=[5, 6, 7], dtype="str")
    second = pd.Series(["H1", HEAD_3], dtype=object)
    out_first, out_second = pseudonymise_columns([first, second], key=KEY)
    assert out_first.index.tolist() == [5, 6, 7] and str(out_first.dtype) == "str"
    assert out_first[5] == pseudonym(HEAD_1, key=KEY) and pd.isna(out_first[6])
    assert out_first[7] == "H1" and out_second.tolist() == ["H1", pseudonym(HEAD_3, key=KEY)]


@pytest.mark.parametrize("name", ["household_type", "county"])
def test_text_is_normalised_per_distinct_value_like_value_by_value(name):
    """Text is read, not judged: a category outside the allowed values is the column rules' to
    report (tests/features/contract/test_columns.py), so it keeps its normalised text here."""
    spec = CONTRACT["households"].column(name)
    cells = [" 脱贫户 ", "脱 贫户", "一般农户", "ＡＢ（元）", None, "  ", "H1 ", "脱贫户"] * 3
    parsed = parse_column(pd.Series(cells, dtype="str"), spec)
    assert not parsed.bad.any()
    for cell, value, empty in zip(cells, parsed.values, parsed.empty, strict=True):
        text = normalise_text(cell) if cell is not None else ""
        if spec.kind == "category":
            text = "".join(text.split())
        assert empty == (text == "")
        assert (pd.isna(value) and empty) or value == text
    assert str(parsed.values.dtype) == "str"


def test_ascii_ids_are_trimmed_without_a_python_loop():
    spec = CONTRACT["members"].column("person_id")
    parsed = parse_column(pd.Series([" A1 ", None, "", "B2"], dtype="str"), spec)
    assert parsed.values.tolist()[0] == "A1" and parsed.values.tolist()[3] == "B2"
    assert parsed.values.isna().tolist() == [False, True, True, False]
    assert parsed.empty.tolist() == [False, True, True, False] and not parsed.bad.any()


def _check_digit(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def test_check_digits_and_lengths_are_judged_like_gb_11643():
    good = [
        f"4523011980{m:02d}{d:02d}{s:03d}" for m in (1, 2) for d in range(1, 29) for s in (1, 2)
    ]
    good = [g + _check_digit(g) for g in good]
    slip = good[3][:17] + ("0" if good[3][17] != "0" else "1")
    lower = next(g for g in good if g.endswith("X")).lower()
    ids = [*good[:3], slip, lower, good[4] + "64", good[5][:16], "H1", None, *good[6:]]
    frame = pd.DataFrame({"person_id": pd.Series(ids, dtype="str")})
    frame["source_row"] = np.arange(2, len(frame) + 2)
    issues = {i.rule: i for i in check_id_numbers(frame, CONTRACT["members"], file="m.csv")}
    assert set(issues) == {"id_check_digit", "id_length"}
    assert issues["id_check_digit"].rows == (5,) and issues["id_check_digit"].count == 1
    assert issues["id_length"].rows == (8,)


def test_card_numbers_are_aligned_both_ways(frames, make_dir):
    card = HEAD_3 + "22"  # members hold HEAD_3's disability card number, medical his ID number
    frames["members"].loc[4, "person_id"] = card
    frames["medical"].loc[1, "person_id"] = HEAD_3
    frames["employment"].loc[1, "person_id"] = WIFE_3 + "13"  # a card; members hold the ID
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    assert tables.medical["person_id"][1] == pseudonym(card, key=KEY)
    assert tables.employment["person_id"][1] == pseudonym(WIFE_3, key=KEY)
    assert not any(c.endswith(":code") for _, f in tables.present() for c in f.columns)


def test_id_numbers_are_recognised_on_bytes_as_the_pattern_says():
    rng = np.random.default_rng(0)
    cells = []
    for _ in range(5000):
        chars = list(HEAD_1 + rng.choice(["", "64", "ABCD"]))
        for position in rng.integers(0, 18, rng.integers(0, 3)):
            chars[position] = rng.choice(list("0123456789Xxa "))
        chars[6:8] = rng.choice(["19", "20", "18", "21", "29"])
        chars[10:14] = f"{rng.integers(0, 20):02d}{rng.integers(0, 40):02d}"
        cells.append("".join(chars))
    ids = pd.Series(cells, dtype="str")
    usual = np.isin(ids.str.len().to_numpy(), [18, 20, 22])
    head18, digits = _id_heads(ids, usual)
    expected = ids.str.match(_ID_HEAD + r"\d{3}[\dXx]").to_numpy(dtype=bool) & usual
    assert 0 < expected.sum() < len(ids) and (head18 == expected).all()
    upper = ids[expected].str[:18].str.upper().to_numpy(dtype="S18")
    assert (digits == upper.view(np.uint8).reshape(-1, 18)).all()
