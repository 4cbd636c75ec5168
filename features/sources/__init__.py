"""One module per contract source; each turns its table into as-of-months × households arrays.

Every module exposes `NAMES` (the catalogue features it produces, in catalogue order) and
`features(grid, tables) -> dict[name, ndarray]` where each array is as-of months × households
(`features.panel.Grid`). A source whose table is None yields NaN arrays (missing, not zero).
"""

from __future__ import annotations

import numpy as np

from features.panel import Grid


def all_missing(grid: Grid, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """NaN for every feature of a table the department did not send."""
    shape = (len(grid.months), grid.n_households)
    return {name: np.full(shape, np.nan) for name in names}


def flag(values: np.ndarray) -> np.ndarray:
    """Booleans as 1.0 / 0.0."""
    return values.astype(np.float64)
