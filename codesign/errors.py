"""Errors a user can cause; the CLI prints them as one line and exits non-zero.

Anything else escaping to the CLI is a bug in codesign and keeps its traceback.
"""


class CodesignError(Exception):
    """A user mistake or an unmet requirement, explained in one line."""

    exit_code = 2


class ConfigError(CodesignError):
    """A configuration file or value is invalid."""


class DataError(CodesignError):
    """An input data file is missing, corrupt or has the wrong layout."""


class MetricError(CodesignError):
    """A metric was asked for that the sample cannot support (e.g. TPR at an unresolvable FPR)."""


class ModelFileError(CodesignError):
    """A model file is missing, unsafe (Lambda layers) or not loadable."""


class FirmwareError(CodesignError):
    """A model cannot become firmware (unsupported layers, float parts that cannot be quantized, hls4ml failure)."""


class ToolError(CodesignError):
    """An external tool (g++, vitis_hls, yosys) is missing or failed."""
