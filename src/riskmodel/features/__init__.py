"""Point-in-time features: one module per evidence family, assembled by ``build``."""

from riskmodel.features.build import build_features, build_modelling_table, latest_data_date
from riskmodel.features.labels import build_labels
from riskmodel.features.snapshots import snapshot_dates

__all__ = [
    "build_features",
    "build_labels",
    "build_modelling_table",
    "latest_data_date",
    "snapshot_dates",
]
