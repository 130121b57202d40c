"""Figures drawn in worker processes (matplotlib is single-threaded; reports hold tens of figures).

Workers are spawned, not forked (the caller may hold TensorFlow's threads); with one worker the
figures are drawn in-process. `draw(key, fn, *args)` takes the figure function itself: it must be
a module-level function (spawned workers receive it pickled, by its module and name).
"""

from __future__ import annotations

from collections.abc import Callable


class Drawing:
    def __init__(self, workers: int):
        self.pool = None
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.jobs: dict[str, object] = {}

    def draw(self, key: str, fn: Callable[..., dict[str, str]], *args, **kwargs) -> None:
        """Draw `fn(*args, **kwargs)` (which returns {format: file name}) under `key` of `results()`."""
        self.jobs[key] = self.pool.submit(fn, *args, **kwargs) if self.pool else fn(*args, **kwargs)

    def results(self) -> dict[str, dict[str, str]]:
        return {k: v.result() if self.pool else v for k, v in self.jobs.items()}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

