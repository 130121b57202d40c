"""Figures drawn in worker processes (matplotlib is single-threaded; reports hold tens of figures).

Workers are spawned, not forked (the caller may hold TensorFlow's threads); with one worker the
figures are drawn in-process. `draw_fn(name, args)` must be a module-level function (picklable).
"""

from __future__ import annotations

from collections.abc import Callable


class Drawing:
    def __init__(self, workers: int, draw_fn: Callable[[str, tuple], dict[str, str]]):
        self.draw_fn = draw_fn
        self.pool = None
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.jobs: dict[str, object] = {}

    def draw(self, key: str, name: str, *args) -> None:
        self.jobs[key] = self.pool.submit(self.draw_fn, name, args) if self.pool else self.draw_fn(name, args)

    def results(self) -> dict[str, dict[str, str]]:
        return {k: v.result() if self.pool else v for k, v in self.jobs.items()}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
