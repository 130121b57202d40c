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
