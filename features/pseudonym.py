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
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import ConfigError

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
    if not key:
        raise ConfigError("[privacy] the pseudonym key is empty; set FANPIN_PSEUDONYM_KEY")
    ids = ids.astype("str")
    like = _id_like(ids)
    if not like.any():
        return ids
    codes, uniques = pd.factorize(ids[like])
    base = hmac.new(key, digestmod=hashlib.sha256)
    hashed = []
    for value in np.asarray(uniques, dtype=object):
        digest = base.copy()
        digest.update(value.encode("utf-8"))
        hashed.append("P" + digest.hexdigest()[:PSEUDONYM_LENGTH])
    out = ids.to_numpy(dtype=object)
    out[like] = np.asarray(hashed, dtype=object)[codes]
    return pd.Series(out, index=ids.index, dtype="str")


def pseudonymise_columns(columns: Sequence[pd.Series], *, key: bytes) -> list[pd.Series]:
    """`pseudonymise_ids` over several columns at once (each distinct id hashed once)."""
    if not columns:
        return []
    together = pseudonymise_ids(pd.concat(columns, ignore_index=True), key=key)
    bounds = np.cumsum([0, *(len(c) for c in columns)])
    return [
        together.iloc[start:stop].set_axis(column.index)
        for column, start, stop in zip(columns, bounds[:-1], bounds[1:], strict=True)
    ]


def _id_like(ids: pd.Series) -> np.ndarray:
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow":
        found = pc.match_substring_regex(pa.array(ids.array), ID_NUMBER.pattern)
        return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
    return ids.fillna("").str.match(ID_NUMBER.pattern).to_numpy(dtype=bool)


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
