"""Process-wide quiet: the library noise every codesign process (CLI or search worker) silences."""

from __future__ import annotations

import logging
import os
import warnings


def quiet_libraries() -> None:
    """TensorFlow's C++ logs, known-harmless QKeras/qonnx warnings, Dask's per-worker INFO lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.worker", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Known and harmless: QKeras quantizers pass through keras.constraints.serialize.
    warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API")
    warnings.filterwarnings("ignore", message="Failed to propagate quantization scales")


_interrupted = False
_main_pid = None


def _on_sigint(signum, frame):
    global _interrupted
    if os.getpid() != _main_pid:
        return  # a forked worker (generator blocks, figure pools): the command's own process stops and ends it
    _interrupted = True
    raise KeyboardInterrupt


def catch_interrupts() -> None:
    """Remember every Ctrl-C: a KeyboardInterrupt raised inside a finaliser (uproot's file objects) is swallowed
    by Python, so the command checks `check_interrupt()` between steps and at its end, and stops with exit 130."""
    import signal
    import sys

    global _main_pid
    _main_pid = os.getpid()
    default = sys.unraisablehook

    def unraisable(info):  # the swallowed interrupt is remembered, not printed as "Exception ignored in ..."
        if not issubclass(info.exc_type, KeyboardInterrupt):
            default(info)

    sys.unraisablehook = unraisable
    signal.signal(signal.SIGINT, _on_sigint)


def check_interrupt() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came while it could not be raised (see `catch_interrupts`)."""
    if _interrupted:
        raise KeyboardInterrupt
