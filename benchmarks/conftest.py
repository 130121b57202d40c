"""Benchmarks report speed as ratios to a reference measured in the same run.

In each pytest-benchmark group the test whose name contains `reference` is the
denominator; the summary at the end prints every other member's mean time relative to
it, and the throughput where a test records `events` in extra_info.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    terminalreporter.section("codesign ratios (mean time / group reference)")
    for group, benches in sorted(groups.items()):
        refs = [b for b in benches if "reference" in b.name]
        ref = refs[0] if refs else None
        for b in benches:
            mean = b.stats.mean
            events = b.extra_info.get("events")
            rate = f"{events / mean:>14,.0f} events/s" if events else " " * 23
            ratio = f"{mean / ref.stats.mean:8.3f}x reference" if ref is not None else ""
            terminalreporter.write_line(f"{group:<18} {b.name:<55} {mean * 1e3:10.2f} ms {rate} {ratio}")
