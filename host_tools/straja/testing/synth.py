"""Synthetic node streams for tests and the benchmark: wire bytes made by `protocol.encode_frame`.

A node sweeps one band at `sweep_hz`, sends a STATUS every second, and sees noise plus the
emitters given to it; each frame is one chunk with an arrival time (node time + clock offset +
a small delay), as a port read would give it.
"""
from __future__ import annotations

import heapq
from typing import Callable, Iterable, NamedTuple

import numpy as np

from ..frontends import looks_at
from ..protocol import Frame, Status, Sweep, dbm_to_rssi_code, encode_frame

VIDEO_BAND = (5_645_000, 5_945_000, 2_000)   # start, stop, step kHz: 151 channels
BAND_2G4 = (2_400_000, 2_480_000, 1_000)     # 81 channels


class Emitter(NamedTuple):
    centre_khz: int
    width_khz: int
    dbm: Callable[[float], float | None]   # received power at time s from start; None: off
    hop_khz: tuple = ()                     # a hopper: one of these centres per sweep


class Chunk(NamedTuple):
    t_ns: int
    source: str
    data: bytes


def node_chunks(node_id: int, emitters: Iterable[Emitter], *, t0_ns: int, duration_s: float,
                band=VIDEO_BAND, sweep_hz: float = 10.0, offset_ns: int = 0, noise_dbm=-95.0,
                seed: int = 0, source: str | None = None, looks: float | None = None) -> list[Chunk]:
    """Frames of one node; `looks` (default: the front end that tunes to the band, as
    detector.NodeDetector.looks guesses) sets the scatter of its noise readings."""
    if looks is None:
        looks = looks_at(band[0])
    rng = np.random.default_rng(seed + node_id)
    start, stop, step = band
    freqs = np.arange(start, stop + 1, step)
    emitters = list(emitters)
    out, seq = [], 0
    dt_us = int(1e6 / sweep_hz)
    source = source or f"/dev/fake{node_id}"
    for k in range(int(duration_s * sweep_hz)):
        t_us = 5_000_000 + k * dt_us
        frames = []
        if k % int(sweep_hz) == 0:
            frames.append(Status(5 + k // int(sweep_hz), 1, 0, 1, 100_000, 50_000, 0, 0, 0, 0, "0.1.0"))
        # noise as a chip measures it: the mean of `looks` samples (docs/detection.md)
        dbm = noise_dbm + 10 * np.log10(rng.gamma(looks, 1 / looks, freqs.size))
        for e in emitters:
            level = e.dbm(k / sweep_hz)
            if level is None:
                continue
            centre = e.hop_khz[rng.integers(len(e.hop_khz))] if e.hop_khz else e.centre_khz
            dist = np.abs(freqs - centre) / (e.width_khz / 2)
            on = dist <= 1
            # FM video peaks at its carrier: 6 dB down at the band edges
            shape = level - 6.0 * dist[on] + rng.normal(0, 1, on.sum())
            dbm[on] = np.maximum(dbm[on], shape)
        codes = dbm_to_rssi_code(dbm).tobytes()
        frames.append(Sweep(0, 0, k & 0xFFFF, start, step, 500, dt_us // 2, 0, freqs.size, codes))
        for body in frames:
            wire = encode_frame(Frame(0, node_id, seq & 0xFFFF, t_us, body))
            seq += 1
            arrival = t0_ns + t_us * 1000 + offset_ns + dt_us * 500 + int(rng.integers(0, 300_000))
            out.append(Chunk(arrival, source, wire))
    return out


def merge(streams: Iterable[list[Chunk]]) -> list[Chunk]:
    """All nodes' chunks in arrival order."""
    return list(heapq.merge(*streams, key=lambda c: c.t_ns))
