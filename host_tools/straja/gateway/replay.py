"""Replay a recording through the same pipeline a live run uses (docs/gateway.md, "Replay").

Chunks are fed with their recorded arrival times, so the pipeline sees the same inputs and gives
the same events; `speed` only paces the feeding against the wall clock (0: as fast as possible).
A paced replay does not sleep through a jump in the recording's times (a gateway stopped for
hours, a clock set back): a gap longer than `gap_max_s` is paced as `gap_max_s` and reported to
`on_gap`; the pipeline still gets the recorded times. The pipeline's node commands go nowhere: a
recording has no node to answer them.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Iterable

from . import record as rec
from .events import Event

if TYPE_CHECKING:  # (`straja replay --help` reads GAP_MAX_S without the pipeline's imports)
    from .pipeline import Pipeline

GAP_MAX_S = 10.0  # of recording time: longer than any gap between a live run's chunks


def feed(pipeline: Pipeline, records: Iterable[rec.Record], *, speed: float = 0.0,
         on_events: Callable[[list[Event]], None] = lambda events: None,
         settle_s: float = 0.0, gap_max_s: float = GAP_MAX_S,
         on_gap: Callable[[float, int], None] = lambda gap_s, t_ns: None) -> None:
    """Feed `records`; then advance time by settle_s (ends tracks and alerts still open).
    With speed > 0, a jump between two records' times of more than gap_max_s forwards (or any
    backwards) is paced as gap_max_s: on_gap(the jump in s, the later record's t_ns) is called."""
    base_t = base_wall = last = None  # the pacing: record time base_t is due at wall base_wall
    for r in records:
        if speed > 0:
            if base_t is None:
                base_t, base_wall = r.t_ns, time.monotonic()
            elif not 0 <= r.t_ns - last <= gap_max_s * 1e9:
                on_gap((r.t_ns - last) / 1e9, r.t_ns)
                base_wall += ((last - base_t) / 1e9 + gap_max_s) / speed
                base_t = r.t_ns
            wait = (r.t_ns - base_t) / 1e9 / speed - (time.monotonic() - base_wall)
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
