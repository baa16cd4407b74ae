"""What every workflow script does first: send its stderr to the step's log, and make bad input
end the step with one line there instead of a traceback.

Kept free of heavy imports so that a script can call :func:`log_to` before importing pandas,
torch or numba (their warnings then land in the log too)."""

from __future__ import annotations

import sys

from .errors import InputError


def log_to(path) -> None:
    """Redirect ``sys.stderr`` to ``path`` (line-buffered) and install an exception hook: an
    uncaught :class:`InputError` writes ``error: <message>`` as the log's last line and exits
    with status 1; any other exception (a bug, not bad input) keeps its full traceback."""
    log = open(path, "w", buffering=1)
    sys.stderr = log

    def hook(kind, error, traceback):
        if issubclass(kind, InputError):
            print(f"error: {error}", file=log, flush=True)
        else:
            sys.__excepthook__(kind, error, traceback)

    sys.excepthook = hook


def limit_threads(threads: int) -> None:
    """Cap every thread pool a job may use at ``threads``: torch's and the BLAS/OpenMP pools of
    numpy and scipy (EASE's inverse, item-kNN's similarities), so that shards running side by
    side do not oversubscribe the cores."""
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    torch.set_num_threads(threads)
