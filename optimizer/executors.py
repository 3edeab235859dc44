"""Where decomposed groups are solved: executors their owner creates once and closes.

The optimiser keeps no pool of its own. Whoever runs dispatches (the CLI, the service, the
simulator) opens one of these as a context manager around its work and passes it to
:func:`vpp.optimizer.dispatch` (or sets ``DispatchSettings.executor``, for the controller);
without one, groups are solved one after another in the calling thread, with the same
answers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs each call at once in the caller's thread: decomposition without a pool."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to whoever reads the result, as a pool does
            future.set_exception(exc)
        return future


@contextmanager
def process_pool(workers: int | None = None) -> Iterator[Executor]:
    """A pool of ``workers`` processes (all CPUs when None), shut down on leaving.

    Workers are forked where the platform can: quick, and the caller's script is not
    re-imported, so scripts (benchmarks, notebooks) need no ``__main__`` guard; they run
    only the pickled group solves. Processes start on the first solve, so a pool that is
    never used costs nothing.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    context = multiprocessing.get_context(method)
    n = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        yield pool


@contextmanager
def dask_executor(scheduler: str) -> Iterator[Executor]:
    """The executor of one Dask client of ``scheduler`` (``tcp://host:8786``), closed on
    leaving: connect once, solve every dispatch of the run on it."""
    from distributed import Client

    client: Any = Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        yield client.get_executor()
    finally:
        client.close()


@contextmanager
def dispatch_executor(workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    """The Dask scheduler's executor when one is named, else a process pool."""
    if scheduler is not None:
        with dask_executor(scheduler) as executor:
            yield executor
    else:
        with process_pool(workers) as executor:
            yield executor
