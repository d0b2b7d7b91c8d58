"""The six input tables as one typed container passed between stages."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from riskmodel.data import schemas as S


@dataclass(frozen=True)
class Tables:
    """The six tables of the data contract, typed as the schemas say.

    Dates are ``datetime64[ns]`` (day precision), ids are strings, booleans are
    ``bool``, ratings nullable ``Int64``.  Produced by the simulator or by
    ``riskmodel.data.validation.load_and_validate``; never mutated in place.
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    financials: pd.DataFrame
    visits: pd.DataFrame
    events: pd.DataFrame
    defaults: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, frames: dict[str, pd.DataFrame]) -> "Tables":
        missing = [n for n in S.TABLE_NAMES if n not in frames]
        if missing:
            raise KeyError(f"missing tables: {missing}")
        return cls(**{n: frames[n] for n in S.TABLE_NAMES})
