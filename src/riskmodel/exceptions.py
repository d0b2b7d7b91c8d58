"""The error hierarchy: every domain error subclasses RiskModelError and the matching builtin."""

from __future__ import annotations


class RiskModelError(Exception):
    """Base of every error riskmodel raises on purpose."""


class ConfigError(RiskModelError, ValueError):
    """params.yaml (or an override) has a wrong key or value."""


class SchemaError(RiskModelError, ValueError):
    """Input tables break the data contract; the message lists every broken rule."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class DataNotFoundError(RiskModelError, FileNotFoundError):
    """An expected input file or folder is missing."""


class UnknownCustomerError(RiskModelError, KeyError):
    """A customer id is not in the data or the score table."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class ModelNotFoundError(RiskModelError, FileNotFoundError):
    """No trained model bundle or registry alias could be found."""


class NoDataError(RiskModelError, ValueError):
    """The data holds nothing to score or explain at the requested date (before any record, far after the last)."""


class UsageError(RiskModelError, ValueError):
    """A command-line option has a value the command cannot use (e.g. an output suffix that contradicts --format)."""
