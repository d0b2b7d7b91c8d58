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

THREADS = {
    "OMP_NUM_THREADS": "1",  # LightGBM's default thread count, numba, scikit-learn's OpenMP loops
    "OMP_WAIT_POLICY": "PASSIVE",  # a waiting OpenMP thread sleeps: no spinning against the other worker
    "NUMBA_NUM_THREADS": "1",  # the TreeSHAP and reason-rule kernels (numba prange)
    "OPENBLAS_NUM_THREADS": "1",  # NumPy/SciPy linear algebra (logistic scorecard, calibration)
    "MKL_NUM_THREADS": "1",
}
for _name, _value in THREADS.items():
    os.environ.setdefault(_name, _value)
