"""A process's CPU from the kernel's schedstat: time on a CPU and time runnable but waiting for
one (what a virtual node's contention is read from: straja.eval.vnodes, `straja demo`)."""
from __future__ import annotations

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
