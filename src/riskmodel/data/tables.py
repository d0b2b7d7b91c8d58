"""The input tables (six required, ``customer_terms`` optional) as one typed container."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from riskmodel.data import schemas as S


@dataclass(frozen=True)
class Tables:
    """The tables of the data contract, typed as the schemas say.

    Dates are ``datetime64[ns]`` (day precision), ids are strings, booleans are
    ``bool``, ratings nullable ``Int64``.  Produced by the simulator or by
    ``riskmodel.data.validation.load_and_validate``; never mutated in place.
    ``customer_terms`` (the dated history of credit limit, terms, paid-in
    capital and registration checks) is None when the folder has none: the
    features built on those facts are then unavailable (see
    ``riskmodel.features.build.unavailable_features``).
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    financials: pd.DataFrame
    visits: pd.DataFrame
    events: pd.DataFrame
    defaults: pd.DataFrame
    customer_terms: pd.DataFrame | None = None

    @property
    def has_history(self) -> bool:
        """True when the dated history of the customer facts (``customer_terms``) is present."""
        return self.customer_terms is not None

    def as_dict(self) -> dict[str, pd.DataFrame]:
        """The tables present, by name (an absent optional table is left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, frames: dict[str, pd.DataFrame]) -> "Tables":
        missing = [n for n in S.TABLE_NAMES if n not in frames]
        if missing:
            raise KeyError(f"missing tables: {missing}")
        return cls(**{n: frames[n] for n in S.ALL_TABLE_NAMES if n in frames})
