"""FPGA targets and resource/latency estimation."""
