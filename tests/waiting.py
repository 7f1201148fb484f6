"""Waiting on a condition, for tests that must pass on a busy machine: no wall-clock budget, only a
safety net that turns a hang into a failure."""

import time

SAFETY = 300.0  # seconds: far beyond any wait on an idle or a loaded machine; only a hang reaches it


def wait_until(condition, safety=SAFETY):
    """Return once ``condition()`` is true (polled every 50 ms); fail after ``safety`` seconds."""
    end = time.monotonic() + safety
    while not condition():
        assert time.monotonic() < end, f"not true after {safety:.0f} s: {condition.__doc__ or condition}"
        time.sleep(0.05)
