"""Where the runs of a sweep execute: in this process, in a local process pool, or on a Dask
cluster. Each backend yields results as runs finish, in whatever order they
finish; the store and the metrics never depend on that order.

A worker process that dies (``os._exit``, the out-of-memory killer) does not stop a sweep: the
runs it may have been running are run again one at a time in a fresh pool, and the one that
kills its worker again is handed to ``lost`` (the sweep records it as failed). Dask does the
same with a task that killed its workers (``KilledWorker``).

Nothing happens on import: the process pool uses its own ``multiprocessing`` context
(``forkserver`` where the platform has it, else ``spawn``; never ``set_start_method``), and
Dask is imported only when a Dask backend is made.
"""
from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Sequence

__all__ = ["Backend", "SerialBackend", "ProcessBackend", "DaskBackend", "make_backend", "available_cpus"]


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: ``lost(args, why)``: the result to yield for a job whose worker died (``why``: one line).
Lost = Callable[[Sequence, str], Any]


def _why(e: BaseException) -> str:
    first = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first}".rstrip(": ")


class Backend(ABC):
    """Runs ``fn(*args)`` for every argument tuple and yields the results as they finish.

    ``lost``, if given, makes the result of a job whose worker process died; without it the
    backend's exception propagates.
    """

    name = "base"
    workers = 1

    @abstractmethod
    def map_unordered(self, fn: Callable, jobs: Iterable[Sequence], lost: Lost | None = None) -> Iterator:
        """Yield ``fn(*args)`` for every ``args`` of ``jobs`` as they finish; a job whose worker
        died is handed to ``lost``."""

    def close(self) -> None:
        """Release the workers (a backend can be used for one sweep after another until then)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialBackend(Backend):
    """Every run in this process, one after the other, in plan order."""

    name = "serial"

    def map_unordered(self, fn, jobs, lost=None):
        for args in jobs:
            yield fn(*args)


class ProcessBackend(Backend):
    """A local pool of ``workers`` processes (``concurrent.futures``).

    At most ``2 × workers`` runs are queued at a time, so a long sweep holds little in memory
    and an interrupted one has little in flight. ``start_method`` picks the
    ``multiprocessing`` context (default: ``forkserver`` if available, else ``spawn``).
    """

    name = "processes"

    def __init__(self, workers: int, start_method: str | None = None):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(self.start_method))
        return self._pool

    def _alone(self, fn, args, lost):
        """One job alone in the pool: a suspect of a worker's death."""
        try:
            return self._ensure_pool().submit(fn, *args).result()
        except BrokenProcessPool as e:
            self.close()
            if lost is None:
                raise
            return lost(args, _why(e))

    def map_unordered(self, fn, jobs, lost=None):
        queue = enumerate(jobs)
        pending: dict = {}  # future -> (submission number (ties among simultaneous finishes), args)
        suspects: list = []  # (number, args) in flight when a worker died: run again one at a time
        try:
            while True:
                if suspects:
                    _, args = suspects.pop(0)
                    yield self._alone(fn, args, lost)
                    continue
                broken = False
                for i, args in queue:
                    try:
                        pending[self._ensure_pool().submit(fn, *args)] = (i, args)
                    except BrokenProcessPool:
                        suspects.append((i, args))
                        broken = True
                        break
                    if len(pending) >= 2 * self.workers:
                        break
                if not pending and not broken:
                    return
                if not broken:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in sorted(done, key=lambda f: pending[f][0]):
                        i, args = pending.pop(f)
                        if isinstance(f.exception(), BrokenProcessPool):
                            suspects.append((i, args))
                            broken = True
                        else:
                            yield f.result()
                if broken:  # the pool is gone with every run in it; those that finished first count
                    for f, (i, args) in sorted(pending.items(), key=lambda item: item[1][0]):
                        if f.done() and not f.cancelled() and f.exception() is None:
                            yield f.result()
                        else:
                            suspects.append((i, args))
                    pending.clear()
                    suspects.sort(key=lambda s: s[0])
                    self.close()
        finally:
            for f in pending:
                f.cancel()

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskBackend(Backend):
    """A Dask cluster: ``address`` of a running scheduler (``tcp://host:8786``), or ``"local"``
    for a ``LocalCluster`` of ``workers`` single-threaded processes started here (and stopped
    by :meth:`close`). Needs the ``dask`` extra (``pip install "defisim[dask]"``).

    Workers need defisim installed; results travel back to this process, which alone writes
    the store, so the workers need no shared file system.
    """

    name = "dask"

    def __init__(self, address: str, workers: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the installation
            raise ValueError('Dask is not installed: pip install "defisim[dask]"') from None
        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(n_workers=workers or available_cpus(), threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        else:
            self._client = Client(address)
        self.workers = len(self._client.scheduler_info().get("workers", {})) or (workers or 1)

    def map_unordered(self, fn, jobs, lost=None):
        from distributed import KilledWorker, as_completed

        futures = {self._client.submit(fn, *args, pure=False): args for args in jobs}
        try:
            for f in as_completed(list(futures)):
                try:
                    result = f.result()
                except KilledWorker as e:  # the task killed every worker it was given
                    if lost is None:
                        raise
                    result = lost(futures[f], _why(e))
                yield result
        finally:
            for f in futures:
                f.cancel()

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_backend(workers: int | None = None, dask: str | None = None) -> Backend:
    """The backend for ``workers`` and ``dask``: Dask when ``dask`` is given (an address or
    ``"local"``), else a process pool of ``workers`` (default: every available CPU), or the
    serial backend for one worker.

    >>> make_backend(1).name
    'serial'
    """
    if dask:
        return DaskBackend(dask, workers)
    workers = available_cpus() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return SerialBackend() if workers == 1 else ProcessBackend(workers)
