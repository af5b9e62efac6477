"""A process's CPU from the kernel's schedstat: time on a CPU and time runnable but waiting for
one (what a virtual node's contention is read from: straja.eval.vnodes, `straja demo`); and
the machine's idle CPU time, from /proc/stat."""
from __future__ import annotations

import os
from pathlib import Path


def task(path: str | Path) -> tuple[int, int]:
    """(ns on a CPU, ns runnable waiting for one) of the task whose schedstat file is `path`;
    (0, 0) where the kernel has none (or the task is gone)."""
    try:
        run, wait = Path(path).read_text().split()[:2]
    except (OSError, ValueError):
        return 0, 0
    return int(run), int(wait)


def process(pid: int) -> tuple[int, int]:
    """The same, summed over every thread of process `pid`."""
    run = wait = 0
    for thread in Path(f"/proc/{pid}/task").glob("*"):
        r, w = task(thread / "schedstat")
        run, wait = run + r, wait + w
    return run, wait


def idle_s(cpus: set[int], stat: str = "/proc/stat") -> float:
    """Seconds CPUs `cpus` spent idle so far (idle and waiting for I/O: nothing to run), summed;
    0.0 where /proc/stat cannot be read."""
    try:
        lines = Path(stat).read_text().splitlines()
    except OSError:
        return 0.0
    ticks = 0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks += int(fields[3]) + int(fields[4])
    return ticks / os.sysconf("SC_CLK_TCK")
