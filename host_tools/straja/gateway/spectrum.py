"""Spectra thinned to what a browser draws and an uplink carries: the dashboard's live spectra
(straja.web.hub) and the gateway's `spectrum/<node id>` MQTT topic (gateway/mqtt.py) use this.

A sweep's segments are assembled into one row per front end; a row goes out at most `rate_hz`
times a second per node (its front ends take turns), and its channels are reduced to at most
`max_bins` by keeping each group's strongest (a narrow drone link stays visible).
"""
from __future__ import annotations

import time

import numpy as np

from ..protocol import rssi_code_to_dbm


def decimate_peaks(values: np.ndarray, max_bins: int) -> np.ndarray:
    """values reduced to at most max_bins by the maximum of consecutive groups."""
    group = -(-len(values) // max_bins)  # ceil
    if group <= 1:
        return values
    padded = np.full(group * -(-len(values) // group), values.min(), dtype=values.dtype)
    padded[:len(values)] = values
    return padded.reshape(-1, group).max(axis=1)


class SpectrumRow:
    """One front end's sweep being assembled from its segments."""

    def __init__(self, start_khz: int, step_khz: int, total: int):
        self.start_khz, self.step_khz = start_khz, step_khz
        self.codes = np.zeros(total, np.uint8)

    def fits(self, sweep) -> bool:
        return (self.start_khz, self.step_khz, len(self.codes)) == \
            (sweep.start_khz, sweep.step_khz, sweep.total)


class Thinner:
    def __init__(self, rate_hz: float, max_bins: int, now=time.monotonic):
        self.rate_hz, self.max_bins, self.now = rate_hz, max_bins, now
        self.rows: dict[tuple[int, int], SpectrumRow] = {}
        self.last_sent: dict[tuple[int, int], float] = {}

    def sweep(self, node_id: int, t_ns: int, sweep) -> dict | None:
        """A pipeline sweep segment in; a thinned spectrum out when a row is complete and due:
        {node_id, front_end, t_ns, start_khz, stop_khz, dbm: [...]}."""
        key = (node_id, sweep.front_end)
        row = self.rows.get(key)
        if row is None or not row.fits(sweep):
            row = self.rows[key] = SpectrumRow(sweep.start_khz, sweep.step_khz, sweep.total)
        held = sweep.held()
        if sweep.first + len(held) > sweep.total:
            return None  # a malformed segment: the detector judges the node's data, not the view
        row.codes[sweep.first:sweep.first + len(held)] = held
        if sweep.first + len(held) < sweep.total:
            return None
        front_ends = sum(1 for n, _ in self.rows if n == node_id)
        now = self.now()
        if now - self.last_sent.get(key, -1e9) < front_ends / self.rate_hz:
            return None
        self.last_sent[key] = now
        bins = decimate_peaks(row.codes, self.max_bins)
        return {"node_id": node_id, "front_end": sweep.front_end, "t_ns": t_ns,
                "start_khz": row.start_khz,
                "stop_khz": row.start_khz + row.step_khz * (len(row.codes) - 1),
                "dbm": [round(float(v), 1) for v in rssi_code_to_dbm(bins)]}
