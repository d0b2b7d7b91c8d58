"""Where the public datasets are (german credit, taiwan): found, or a loud failure, never a skip.

Looked up in order: the ``RISKMODEL_DATASETS`` environment variable, ``<repo>/shared/datasets``,
``<repo>/../shared/datasets`` (the project's checkout sits beside ``shared/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV = "RISKMODEL_DATASETS"


def datasets_dir() -> Path:
    """The folder holding the public datasets; the candidates tried are named when none exists."""
    env = os.environ.get(ENV, "").strip()
    candidates = [Path(env)] if env else [REPO / "shared" / "datasets", REPO.parent / "shared" / "datasets"]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def dataset(relative: str) -> Path:
    """One dataset file; the calling test fails (not skips) when it is absent."""
    path = datasets_dir() / relative
    if not path.is_file():
        pytest.fail(f"public dataset {path} is missing: put the shared datasets beside the checkout "
                    f"(../shared/datasets) or point {ENV} at their folder", pytrace=False)
    return path
