"""Benchmarks report speed as ratios to a reference measured in the same run.

In each pytest-benchmark group the test whose name contains `reference` is the
denominator; the summary at the end prints every member's time per event (per call
where no `events` count is recorded in extra_info) relative to the reference's.
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
    terminalreporter.section("codesign ratios (time per event / group reference)")
    for group, benches in sorted(groups.items()):
        refs = [b for b in benches if "reference" in b.name]
        ref = refs[0] if refs else None
        def per_event(b):
            return b.stats.mean / b.extra_info.get("events", 1)

        for b in benches:
            events = b.extra_info.get("events")
            rate = f"{events / b.stats.mean:>14,.4g} events/s" if events else " " * 23
            ratio = f"{per_event(b) / per_event(ref):8.3f}x reference time/event" if ref is not None else ""
            terminalreporter.write_line(f"{group:<18} {b.name:<55} {b.stats.mean * 1e3:10.2f} ms {rate} {ratio}")
