"""Large sweeps split into tasks: on the runner's Dask cluster when there is one, else in this process.

An experiment whose grid is large (one latent dimension of a phase-transition
sweep, one architecture, one student's submission) calls

.. code-block:: python

    results = ilib.parallel.map_tasks(section_function, items)

with a module-level function and picklable items, each carrying its own seed
stream. When the runner's context names a Dask scheduler (``run_all.py
--scheduler ADDRESS``, or the local cluster ``run_all.py`` starts), the items
become tasks on that cluster; otherwise they run here, one after the other.
Either way the results are the same, bit for bit: every task runs with the
thread count the runner gives and draws its randomness only from its own
stream.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from .record import run_context


def _call(fn: Callable, item: Any, threads: Optional[int]) -> Any:
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    return fn(item)


def map_tasks(fn: Callable[[Any], Any], items: Iterable[Any], *, scheduler: Optional[str] = None) -> list:
    """``[fn(item) for item in items]``, on the Dask scheduler of the run context (or ``scheduler``) when there is one.

    ``fn`` must be importable where the tasks run (a module-level function of
    :mod:`ilib`), and every item must be picklable.

    Examples
    --------
    >>> map_tasks(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    items = list(items)
    ctx = run_context()
    address = scheduler or ctx.scheduler
    if not address or len(items) < 2:
        return [fn(x) for x in items]
    from distributed import Client

    with Client(address, set_as_default=False, timeout=60) as client:
        futures = client.map(_call, [fn] * len(items), items, [ctx.threads] * len(items), pure=False)
        return client.gather(futures)
