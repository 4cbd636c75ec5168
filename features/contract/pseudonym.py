"""Pseudonymisation of person ids that look like real ID numbers, and masking for display.

ID-card numbers (18 characters, the last may be `X`), disability-card numbers (20) and 22-character
system numbers are personal data: on load they become `"P" + hmac_sha256(key, id)[:20]`, the same in
every table, so joins still work and nothing downstream ever holds the number. Other (opaque) ids are
kept as they are. The key comes from configuration; it is never hard-coded, logged or stored here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.errors import ConfigError
from features.contract.parsing import arrow_strings, encode_together

#: 17 digits then a digit or X (ID card), optionally followed by 2 (disability card) or 4 more.
ID_NUMBER = re.compile(r"^\d{17}[\dXx](?:[0-9A-Za-z]{2}|[0-9A-Za-z]{4})?$")
PSEUDONYM_LENGTH = 20


def looks_like_id_number(value: str) -> bool:
    """True for an 18/20/22-character id that starts with an ID-card number.

    Examples
    --------
    >>> looks_like_id_number("11010119900101123X"), looks_like_id_number("H0001")
    (True, False)
    """
    return bool(ID_NUMBER.match(value))


def pseudonym(value: str, *, key: bytes) -> str:
    """The pseudonym of one id (whether or not it looks like an ID number)."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return "P" + digest[:PSEUDONYM_LENGTH]


def pseudonymise_ids(ids: pd.Series, *, key: bytes) -> pd.Series:
    """Replace the ids that look like ID numbers by their pseudonym; keep the others.

    Parameters
    ----------
    ids
        A `str` column of person ids (NaN allowed).
    key
        The secret key (`risk.config.load_config().privacy.pseudonym_key()`).

    Returns
    -------
    pandas.Series
        Same index, `str` dtype.

    Examples
    --------
    >>> out = pseudonymise_ids(pd.Series(["110101199001011234", "M7"]), key=b"k")
    >>> out[0][0], len(out[0]), out[1]
    ('P', 21, 'M7')
    """
    return pseudonymise_columns([ids], key=key)[0]


def pseudonymise_columns(columns: Sequence[pd.Series], *, key: bytes) -> list[pd.Series]:
    """`pseudonymise_ids` over several columns at once (each distinct id hashed once)."""
    if not columns:
        return []
    texts = [column.astype("str") for column in columns]
    dictionary, codes = encode_together([_arrow(text) for text in texts])
    renamed, codes = pseudonymise_codes(dictionary, codes, key=key)
    if renamed is dictionary:
        return texts  # nothing looked like an ID number
    return [
        pd.Series(take_codes(renamed, column_codes), dtype="str", index=text.index)
        for text, column_codes in zip(texts, codes, strict=True)
    ]


def pseudonymise_codes(
    dictionary: pa.Array, codes: Sequence[np.ndarray], *, key: bytes
) -> tuple[pa.Array, list[np.ndarray]]:
    """Pseudonymise columns held as codes into a dictionary of distinct ids (`encode_together`).

    Only the dictionary is hashed. Returns the new dictionary and codes, still distinct: should a
    pseudonym equal an id kept as it is, the two are given one code.
    """
    if not key:
        raise ConfigError("[privacy] the pseudonym key is empty; set FANPIN_PSEUDONYM_KEY")
    like = looks_like_id_numbers(dictionary)
    if not like.any():
        return dictionary, list(codes)
    hashed = pseudonyms(dictionary.filter(pa.array(like)).to_pylist(), key=key)
    renamed = pc.replace_with_mask(dictionary, pa.array(like), pa.array(hashed, dictionary.type))
    # only a kept id of a pseudonym's length can equal one
    lengths = np.asarray(pc.utf8_length(dictionary).to_numpy(zero_copy_only=False))
    kept = dictionary.filter(pa.array(~like & (lengths == 1 + PSEUDONYM_LENGTH))).to_pylist()
    if len(set(hashed)) == len(hashed) and set(hashed).isdisjoint(kept):
        return renamed, list(codes)
    encoded = pc.dictionary_encode(renamed)
    merged = np.append(np.asarray(encoded.indices.to_numpy(), dtype=np.int32), -1)
    return encoded.dictionary, [merged[c] for c in codes]


def take_codes(dictionary: pa.Array, codes: np.ndarray) -> pa.Array:
    """The strings of `codes` (-1: missing)."""
    return pc.take(dictionary, pa.array(codes, mask=codes < 0))


def pseudonyms(values: Iterable[str], *, key: bytes) -> list[str]:
    """`pseudonym` of many ids: the same HMAC-SHA256 (RFC 2104), the key's pads hashed once."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(padded.translate(_INNER_PAD))
    outer = hashlib.sha256(padded.translate(_OUTER_PAD))
    found = []
    for value in values:
        digest = inner.copy()
        digest.update(value.encode("utf-8"))
        final = outer.copy()
        final.update(digest.digest())
        found.append("P" + final.hexdigest()[:PSEUDONYM_LENGTH])
    return found


_INNER_PAD = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))


def _arrow(text: pd.Series) -> pa.Array | pa.ChunkedArray:
    strings = arrow_strings(text)
    if strings is not None:
        return strings
    return pa.array(text.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def looks_like_id_numbers(strings: pa.Array) -> np.ndarray:
    """`looks_like_id_number` of every string (missing: False), vectorised in Arrow."""
    found = pc.match_substring_regex(strings, ID_NUMBER.pattern)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def mask_id(raw: str) -> str:
    """Mask an identifier for display: keep the first 4 and last 4 characters of ID-like ids.

    Examples
    --------
    >>> mask_id("452301199001011234")
    '4523**********1234'
    >>> mask_id("张三丰"), mask_id("H12")
    ('张**', 'H**')
    """
    text = str(raw)
    if len(text) >= 10:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    if len(text) <= 1:
        return "*"
    return text[0] + "*" * (len(text) - 1)


def mask_if_id_number(value: str) -> str:
    """`mask_id(value)` when the value looks like an ID number, else the value unchanged."""
    return mask_id(value) if ID_NUMBER.match(value.strip()) else value
