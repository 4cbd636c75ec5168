"""fanpin.risk — monthly scoring, policy rules, explained warning lists, reports and review."""

__version__ = "0.1.0"
