#!/usr/bin/env python3
"""Passes `cargo test` output through unchanged and, at the end, prints how
long each test binary took (from one "Running ..." line to the next), the
slowest first, so the suite's growth shows in every CI log.

    cargo test 2>&1 | python3 scripts/test-times.py
"""

import re
import sys
import time

RUNNING = re.compile(r"^\s*(Running|Doc-tests)\s+(.*?)\s*$")


def main():
    times, current, started = [], None, time.monotonic()
    first = started
    for line in sys.stdin:
        sys.stdout.write(line)
        sys.stdout.flush()
        m = RUNNING.match(line)
        if m:
            now = time.monotonic()
            if current:
                times.append((now - started, current))
            current, started = m.group(2), now
    now = time.monotonic()
    if current:
        times.append((now - started, current))
    if not times:
        return
    print("\n==> time per test binary (slowest first)")
    for secs, name in sorted(times, reverse=True):
        print(f"{secs:8.1f} s  {name}")
    print(f"{now - first:8.1f} s  in all")


if __name__ == "__main__":
    main()
