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
    with status 1; any other exception (a bug, not bad input) keeps its full traceback. A job
    that ends normally writes its peak memory and CPU time last (what a cluster job must ask for)."""
    import atexit
    import resource
    import time

    log = open(path, "w", buffering=1)
    sys.stderr = log
    started = time.perf_counter()

    failed = []  # an error's line stays the log's last

    def usage() -> None:
        if failed:
            return
        own = resource.getrusage(resource.RUSAGE_SELF)  # ru_maxrss: kilobytes on Linux
        cpu = own.ru_utime + own.ru_stime
        print(
            f"job resources: peak resident memory {own.ru_maxrss / 2**20:.2f} GB, CPU {cpu:.1f} s, wall "
            f"{time.perf_counter() - started:.1f} s",
            file=log,
            flush=True,
        )

    atexit.register(usage)

    def hook(kind, error, traceback):
        failed.append(kind)
        if issubclass(kind, InputError):
            print(f"error: {error}", file=log, flush=True)
        else:
            sys.__excepthook__(kind, error, traceback)

    sys.excepthook = hook


def limit_threads(threads: int) -> None:
    """Cap every thread pool a job may use at ``threads``: the BLAS/OpenMP pools of numpy and
    scipy (EASE's inverse, item-kNN's similarities) and torch's, so that shards running side by
    side do not oversubscribe the cores. torch is not imported for it (2-3 s, which most jobs
    never need): it takes its pool's size from ``OMP_NUM_THREADS`` when a model imports it."""
    import os

    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


_CLAIMS: list = []  # open lock files: each is held until the process exits


def claim_folder(folder) -> None:
    """Hold an exclusive lock on ``folder`` (``.snakemake/recinfluence.lock``) for the life of
    this process, or raise :class:`InputError` when another process holds it. Snakemake's own
    lock checks and then writes, so two runs started at the same moment can both pass it; a
    kernel lock cannot be taken twice, and it goes with its process, so a killed run leaves none
    behind. Where the file system offers no locks (some network file systems) nothing is held."""
    import errno
    import fcntl
    import os
    from pathlib import Path

    path = Path(folder) / ".snakemake" / "recinfluence.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        if error.errno in (errno.EAGAIN, errno.EACCES):
            raise InputError(
                f"{Path(folder).resolve()}: another Snakemake run ({holder}) is working in this folder; wait for it to "
                "end, or run the other study in its own folder (--directory)"
            ) from None
        return
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    _CLAIMS.append(handle)
