"""The small error hierarchy of fanpin.

Every message names what was expected, what came and how to fix it; where a file, row and column are
known they are named too (rows counted the way the user sees them in Excel or a text editor).
"""

from __future__ import annotations


class FanpinError(Exception):
    """Base class: an error the user can fix (the CLI exits 2 and prints the message, no traceback)."""


class DataContractError(FanpinError, ValueError):
    """Input data do not follow DATA_CONTRACT.md."""


class ConfigError(FanpinError, ValueError):
    """`risk.toml` (or an option) is invalid; the message starts with the section name."""
