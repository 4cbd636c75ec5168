"""ID numbers (GB 11643) checked before pseudonymisation: a wrong check digit, a wrong length.

Both are warnings (typing slips the county should correct, not reasons to refuse the data), and
check digits are only judged where most ID numbers pass them (otherwise the ids follow another
scheme). Values in messages are masked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.parsing import arrow_strings
from features.contract.pseudonym import mask_id
from features.contract.schema import ColumnSpec, TableSpec
from features.contract.validation import MAX_EXAMPLES, Issue, flag_rows

#: GB 11643 weights of the first 17 digits, and the check character for each remainder mod 11.
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
#: At most this share of ID numbers with a wrong check digit is read as typing slips (warned).
TYPO_SHARE = 0.2
#: Region code and a 19xx/20xx birth date: an ID number, whatever its length.
_ID_HEAD = r"^\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"


def check_id_numbers(frame: pd.DataFrame, spec: TableSpec, *, file: str) -> list[Issue]:
    """ID numbers with a wrong check digit, or of a wrong length, are reported (warnings).

    Check digits are only judged in a column where most ID numbers pass (at most `TYPO_SHARE`
    fail): otherwise the ids follow another scheme. Must run before pseudonymisation. Values in
    messages are masked.
    """
    if "person_id" not in frame:
        return []
    ids = frame["person_id"].astype("str").fillna("")
    column = spec.column("person_id")
    issues = []
    lengths = ids.str.len().to_numpy()
    usual = np.isin(lengths, [18, 20, 22])
    head18, digits = _id_heads(ids, usual)
    if head18.any():
        remainder = _weighted_digit_sum(digits) % 11
        wrong = np.zeros(len(ids), dtype=bool)
        wrong[np.flatnonzero(head18)] = _ID_CHECK[remainder] != digits[:, 17]
        # typing slips are a few; when most fail, the ids are not GB 11643 numbers (test data)
        if wrong.any() and wrong.sum() <= TYPO_SHARE * head18.sum():
            issues += _id_issue(frame, spec, column, wrong, ids, file=file, rule="id_check_digit",
                                zh="证件号码校验位不正确", en="ID number(s) with a wrong check digit",
                                expected="GB 11643 check digit (last of the 18)")  # fmt: skip
    odd = _matches(ids, ~usual, _ID_HEAD + r"[\dXx]*$")
    return issues + _id_issue(frame, spec, column, odd, ids, file=file, rule="id_length",
                              zh="证件号码位数不对", en="ID number(s) of a wrong length",
                              expected="18 characters (20 for a disability card, 22 for a system number)")  # fmt: skip


def _weighted_digit_sum(digits: np.ndarray) -> np.ndarray:
    """GB 11643's weighted sum of the first 17 digits of each row (ASCII codes), in blocks (an
    (n, 17) int64 copy of millions of ids would be a quarter gigabyte)."""
    total = np.empty(len(digits), dtype=np.int64)
    step = 1 << 16
    for start in range(0, len(digits), step):
        block = digits[start : start + step, :17].astype(np.int64) - 48
        total[start : start + step] = block @ _ID_WEIGHTS
    return total


def _matches(ids: pd.Series, rows: np.ndarray, pattern: str) -> np.ndarray:
    """`ids.str.match(pattern)` in `rows`, False elsewhere (the pattern run on those rows only)."""
    found = np.zeros(len(ids), dtype=bool)
    if rows.all():
        found[:] = ids.str.match(pattern).to_numpy(dtype=bool)
    elif rows.any():
        found[rows] = ids[rows].str.match(pattern).to_numpy(dtype=bool)
    return found


def _id_heads(ids: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows among `rows` that start with an ID number (`_ID_HEAD`, 3 digits, a digit or X), and
    those first 18 characters, upper-cased, as an (n, 18) byte array.

    Pure-ASCII ids are judged on their bytes (what the pattern says, position by position);
    others by the pattern.
    """
    if not rows.any():
        return np.zeros(len(ids), dtype=bool), np.zeros((0, 18), dtype=np.uint8)
    chosen = ids if rows.all() else ids[rows]
    strings = arrow_strings(chosen)
    if strings is None or not pc.all(pc.string_is_ascii(strings)).as_py():
        head18 = _matches(ids, rows, _ID_HEAD + r"\d{3}[\dXx]")
        first = ids[head18].str[:18].str.upper().to_numpy(dtype="S18")
        return head18, first.view(np.uint8).reshape(-1, 18)
    first = _first_18_bytes(strings)
    starts = _starts_with_id_number(first)
    head18 = np.zeros(len(ids), dtype=bool)
    head18[np.flatnonzero(rows)[starts]] = True
    digits = first[starts]
    check = digits[:, 17]  # the only place a letter can be (x upper-cased)
    check[check == ord("x")] = ord("X")
    return head18, digits


def _first_18_bytes(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The first 18 bytes of ASCII strings at least 18 long, as an (n, 18) byte array."""
    first = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    if not pc.all(pc.equal(pc.binary_length(first), 18)).as_py():
        first = pc.utf8_slice_codeunits(first, 0, 18)
    # 18 bytes each: the values buffer from the first offset on is the array
    width = np.int64 if first.type == pa.large_string() else np.int32
    start = np.frombuffer(first.buffers()[1], dtype=width)[first.offset]
    data = np.frombuffer(first.buffers()[2], dtype=np.uint8)[start : start + 18 * len(first)]
    return data.reshape(-1, 18)


def _starts_with_id_number(first: np.ndarray) -> np.ndarray:
    r"""`_ID_HEAD + r"\d{3}[\dXx]"` on (n, 18) ASCII bytes: 6 digits, 19|20, 2 digits, a month
    01–12, a day 01–31, 3 digits, a digit or X/x."""

    def between(column: int, low: str, high: str) -> np.ndarray:
        return (first[:, column] >= ord(low)) & (first[:, column] <= ord(high))

    def equal(column: int, char: str) -> np.ndarray:
        return first[:, column] == ord(char)

    digits = np.all((first[:, :17] >= ord("0")) & (first[:, :17] <= ord("9")), axis=1)
    century = (equal(6, "1") & equal(7, "9")) | (equal(6, "2") & equal(7, "0"))
    month = (equal(10, "0") & between(11, "1", "9")) | (equal(10, "1") & between(11, "0", "2"))
    day = (
        (equal(12, "0") & between(13, "1", "9"))
        | between(12, "1", "2")
        | (equal(12, "3") & between(13, "0", "1"))
    )
    check = between(17, "0", "9") | equal(17, "X") | equal(17, "x")
    return digits & century & month & day & check


def _id_issue(
    frame: pd.DataFrame,
    spec: TableSpec,
    column: ColumnSpec,
    mask: np.ndarray,
    ids: pd.Series,
    *,
    file: str,
    rule: str,
    zh: str,
    en: str,
    expected: str,
) -> list[Issue]:
    return flag_rows(
        "warning", rule, frame, mask, table=spec.name, file=file, column=column,
        values=[mask_id(v) for v in ids[mask].head(MAX_EXAMPLES)], zh=f"{{count}}个{zh}",
        en=f"{{count}} {en}; 请核对 check them", expected=expected,
    )  # fmt: skip
