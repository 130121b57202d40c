"""Firmware: hls4ml conversion with explicit precisions, C-simulation, and the bit-exact numpy emulator.

`build(model, ...)` returns a `Firmware`, whose `csim(x)` (the compiled HLS C++) and
`emulate(x)` (pure numpy) return the same integers for every event.
"""

from codesign.firmware.firmware import Firmware, build, load  # noqa: F401
