"""Test-session set-up: one OpenMP/BLAS thread per process, idle threads that sleep instead of spin.

Why: `make test` runs two xdist workers on a 2-core machine, and the notebooks, the CLI
subprocesses and the service workers each train or score with LightGBM (OpenMP). With
two threads per process and OpenMP's default busy waiting, a worker whose second thread
is descheduled spins at every barrier: one LightGBM fit on 800 rows measured 23 s
instead of 0.6 s next to another busy process (2026-11-30). One thread per process is
right under `-n 2`; the test settings also pass ``models.n_jobs: 1``
(``_tracking_helpers.FAST``, ``_scoring_helpers.OVERRIDES``), because LightGBM's explicit
``n_jobs`` wins over ``OMP_NUM_THREADS``. The variables are set in ``os.environ`` when
pytest imports this file, before any test module loads LightGBM or NumPy's BLAS, so
xdist workers, ``riskmodel`` subprocesses and notebook kernels inherit them. A value
already in the environment is kept (a CI runner with more cores may choose its own).
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import pytest

THREADS = {
    "OMP_NUM_THREADS": "1",  # LightGBM's default thread count, numba, scikit-learn's OpenMP loops
    "OMP_WAIT_POLICY": "PASSIVE",  # a waiting OpenMP thread sleeps: no spinning against the other worker
    "NUMBA_NUM_THREADS": "1",  # the TreeSHAP and reason-rule kernels (numba prange)
    "OPENBLAS_NUM_THREADS": "1",  # NumPy/SciPy linear algebra (logistic scorecard, calibration)
    "MKL_NUM_THREADS": "1",
}
for _name, _value in THREADS.items():
    os.environ.setdefault(_name, _value)


# ------------------------------------------------------------------ xdist: the heavy work first, notebooks apart
#: the test files (and notebook runs) that take longest, longest first (measured 2026-11-30 with
#: `--durations`; the README says how long the suite takes). Under `--dist loadfile` a file is one unit of work given to one
#: worker; xdist hands out the units with the most tests first, which left the one-test notebook runs for
#: the end and serialised the four notebooks on one worker. Starting the long units first keeps the two
#: workers busy until the end. A file missing from the list only runs later; nothing is skipped.
NB_TRAIN = "tests/test_notebooks.py::train-and-explain"  # notebook 02, then 03 on the champion 02 trained
NB_REAL = "tests/test_notebooks.py::test_notebook_executes[04-real-data.ipynb]"  # German and Taiwan credit
HEAVY = (
    "tests/test_spark.py",  # a local[2] Spark session: its JVM threads and the other worker share the cores
    "tests/test_cli_errors.py",
    "tests/test_cli_errors.py::half",  # half of its one-line-error cases: each starts the CLI (seconds of imports)
    NB_TRAIN,
    NB_REAL,
    "tests/test_tracking.py",
    "tests/test_partition_pipeline.py",
    "tests/test_central_tendency.py",
    "tests/test_horizon.py",
    "tests/test_flat.py",
    "tests/test_train_cli.py",
    "tests/test_memo.py",
    "tests/test_service_workers.py",
    "tests/test_scoring.py",
    "tests/test_backtest.py",
)
#: notebook runs that are their own unit of work (03 reads the champion 02 trains, as an analyst runs them)
NOTEBOOK_UNITS = {
    "tests/test_notebooks.py::test_notebook_executes[02-train-and-compare.ipynb]": NB_TRAIN,
    "tests/test_notebooks.py::test_notebook_executes[03-explain-a-customer.ipynb]": NB_TRAIN,
    NB_REAL: NB_REAL,
}


#: test_cli_errors.py runs ~40 `riskmodel` subprocesses (about 8 s each on a busy 2-core machine, mostly
#: importing MLflow and scikit-learn): as one unit it was the longest path of `make test-slow`
CLI_CASES = "tests/test_cli_errors.py::test_user_error_is_one_line_with_exit_code_1["


def unit_of_work(nodeid: str) -> str:
    """The unit xdist gives one worker: the test file, a notebook run of its own (NOTEBOOK_UNITS), or half
    of the CLI error cases (chosen by a checksum of the test id, so every worker computes the same halves)."""
    if nodeid.startswith(CLI_CASES) and zlib.crc32(nodeid.encode()) % 2:
        return "tests/test_cli_errors.py::half"
    return NOTEBOOK_UNITS.get(nodeid, nodeid.split("::", 1)[0])


def _rank(nodeid: str) -> int:
    unit = unit_of_work(nodeid)
    return HEAVY.index(unit) if unit in HEAVY else len(HEAVY)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker, put the heavy units first (stable: a file's own order is kept).

    xdist schedules in this collection order (``loadscopereorder`` is turned off below); a
    run without xdist keeps pytest's usual order, so module fixtures are built once.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _rank(item.nodeid))


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: a run without pytest-xdist ignores it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with the notebook runs as units of their own, heavy units first."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class HeavyFirstFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    config.option.loadscopereorder = False  # keep the collection order (heavy first), not "most tests first"
    return HeavyFirstFileScheduling(config, log)
