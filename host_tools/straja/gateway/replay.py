"""Replay a recording through the same pipeline a live run uses (docs/gateway.md, "Replay").

Chunks are fed with their recorded arrival times, so the pipeline sees the same inputs and gives
the same events; `speed` only paces the feeding against the wall clock (0: as fast as possible).
The pipeline's node commands go nowhere: a recording has no node to answer them.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

from . import record as rec
from .events import Event
from .pipeline import Pipeline


def feed(pipeline: Pipeline, records: Iterable[rec.Record], *, speed: float = 0.0,
         on_events: Callable[[list[Event]], None] = lambda events: None,
         settle_s: float = 0.0) -> None:
    """Feed `records`; then advance time by settle_s (ends tracks and alerts still open)."""
    start_wall = t_first = last = None
    for r in records:
        if t_first is None:
            t_first, start_wall = r.t_ns, time.monotonic()
        if speed > 0:
            wait = (r.t_ns - t_first) / 1e9 / speed - (time.monotonic() - start_wall)
            if wait > 0:
                time.sleep(wait)
        if r.kind == rec.OPEN:
            out = pipeline.open_source(r.source, r.t_ns)
        elif r.kind == rec.CLOSE:
            out = pipeline.close_source(r.source, r.t_ns)
        else:
            out = pipeline.feed(r.source, r.t_ns, r.data)
        last = r.t_ns
        if out.events:
            on_events(out.events)
    if last is not None and settle_s > 0:
        out = pipeline.tick(last + int(settle_s * 1e9))
        if out.events:
            on_events(out.events)
